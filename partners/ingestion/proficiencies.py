"""Service proficiencies: a partner's level in a service offering, from a day on."""

from collections.abc import Callable
from typing import Any

from partners.ingestion.parsing import _date, _id, _RowError, _text
from partners.ingestion.pipeline import _Ingestion, _Row
from partners.models import ProficiencyLevel, ServiceOffering, ServiceProficiency

_LEVELS = frozenset(ProficiencyLevel.values)


class ProficienciesIngestion(_Ingestion):
    """A partner holds one proficiency per offering, whichever system sent it.

    A record naming a partner and an offering that another record (of any source,
    or entered by hand) already holds is rejected: the stored one stays as it is
    until it is deleted or changed where it came from.
    """

    kind = "proficiencies"
    model = ServiceProficiency
    fields = frozenset({"external_id", "partner", "offering", "level", "since"})
    compared = ("partner_id", "offering_id", "level", "since")
    # One proficiency per partner and offering across sources: batches of all sources take turns.
    lock_across_sources = True

    def parsers(self) -> dict[str, Callable[[dict], Any]]:
        def level(r):
            value = r.get("level")
            if value is None or value == "":
                raise _RowError("level", "This field is required.")
            if isinstance(value, int) and not isinstance(value, bool) and value in _LEVELS:
                return value
            choices = ", ".join(f"{level.value} ({level.label.lower()})" for level in ProficiencyLevel)
            raise _RowError("level", f"Expected a level: {choices}.")

        return {
            "partner": lambda r: _id(r, "partner"),
            "offering": lambda r: _text(r, "offering", max_length=50, required=True),
            "level": level,
            "since": lambda r: _date(r, "since", latest=self.latest),
        }

    def load_references(self, rows, partner_regions) -> None:
        codes = {row.clean["offering"] for row in rows}
        # Service offerings are the vendor's reference codes, the same for every partner.
        self.offerings = dict(ServiceOffering.objects.filter(code__in=codes).values_list("code", "id"))
        partner_ids = {row.clean["partner"] for row in rows} & set(partner_regions)
        # Who holds each (partner, offering) the batch names: one query for the batch, over the
        # partners the door let it send facts for (partner_regions).
        self.holders: dict[tuple[int, int], int] = {
            (partner_id, offering_id): proficiency_id
            for partner_id, offering_id, proficiency_id in ServiceProficiency.objects.filter(
                partner_id__in=partner_ids, offering_id__in=set(self.offerings.values())
            ).values_list("partner_id", "offering_id", "id")
        }
        self.claimed: dict[tuple[int, int], int] = {}  # (partner, offering) -> index in this batch

    def resolve(self, row: _Row, partner_regions) -> None:
        clean = row.clean
        offering_id = self.offerings.get(clean["offering"])
        if offering_id is None:
            row.reject("offering", f"No service offering has the code {clean['offering']!r}.")
            return
        pair = (clean["partner"], offering_id)
        stored = self.existing.get(row.external_id)
        holder = self.holders.get(pair)
        if holder is not None and (stored is None or stored["id"] != holder):
            row.reject(
                "offering",
                "The partner already has a proficiency in this offering under another record; "
                "change or delete that one.",
            )
            return
        first = self.claimed.setdefault(pair, row.index)
        if first != row.index:
            row.reject(
                "offering", f"The same partner and offering are already in this batch at index {first}."
            )
            return
        row.values = {
            "partner_id": clean["partner"],
            "offering_id": offering_id,
            "level": clean["level"],
            "since": clean["since"],
        }
