"""The filters every analytics figure takes, read from a URL's query string so a view can be shared.

An unknown value is an error next to its parameter, never a silently wider figure.
"""

import datetime
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from urllib.parse import urlencode

from django.db.models import QuerySet

from gates.models import PartnerTier
from partners.models import BusinessModel, Partner, PartnerType, Region
from programs.models import Program, Tier

# The parameters the filters read; an API view refuses any other.
PARAMETERS = ("program", "region", "partner_type", "business_model", "tier", "near", "start", "end", "step")

DEFAULT_NEAR_PERCENT = Decimal(10)
MAX_NEAR_PERCENT = Decimal(100)
STEPS = ("month", "quarter")


class FilterError(ValueError):
    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{name}: {message}" for name, message in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class Filters:
    program: Program | None = None
    region: str = ""
    partner_type: str = ""
    business_model: str = ""
    tier: Tier | None = None
    near_percent: Decimal = DEFAULT_NEAR_PERCENT
    start: datetime.date | None = None
    end: datetime.date | None = None
    step: str = "month"
    given: dict[str, str] = field(default_factory=dict)
    # A program or tier named that the principal cannot see (or that does not exist): the
    # figures count nothing, as a list filtered on a hidden id answers empty.
    unknown: dict[str, str] = field(default_factory=dict)

    @property
    def matches_nothing(self) -> bool:
        return bool(self.unknown)

    def query_string(self, **overrides: str) -> str:
        """The filters as a query string, for links and the CSV export."""

        values = {**self.given, **overrides}
        return urlencode({name: value for name, value in values.items() if value})

    def partners(self, principal) -> QuerySet[Partner]:
        """The partners the figures count: those the principal sees (the one door), filtered."""
        partners = Partner.objects.visible_to(principal)
        if self.matches_nothing:
            return partners.none()
        if self.region:
            partners = partners.filter(region=self.region)
        if self.partner_type:
            partners = partners.filter(partner_type=self.partner_type)
        if self.business_model:
            partners = partners.filter(business_model=self.business_model)
        if self.tier is not None:
            partners = partners.filter(pk__in=PartnerTier.objects.filter(tier=self.tier).values("partner_id"))
        return partners


def _date(text: str, name: str, errors: dict[str, str]) -> datetime.date | None:
    if not text:
        return None
    try:
        day = datetime.date.fromisoformat(text)
    except ValueError:
        errors[name] = "Expected a date such as 2026-01-31."
        return None
    return day


def parse_filters(params, principal, *, allow_empty: bool = True) -> Filters:
    """Filters from a query dict; raises ``FilterError`` naming each parameter that is wrong.

    A program or tier is found among the programs the principal may see, so an
    id or slug out of sight answers like one that does not exist: the figures
    count nothing (``Filters.unknown`` says why). A form sends its empty
    choices; the API refuses a parameter given empty (``allow_empty=False``).
    """
    errors: dict[str, str] = {}
    if not allow_empty:
        for name in PARAMETERS:
            if name in params and not str(params.get(name, "")).strip():
                errors[name] = "Give a value or leave the parameter out."
    given = {
        name: str(params.get(name, "")).strip() for name in PARAMETERS if str(params.get(name, "")).strip()
    }
    unknown: dict[str, str] = {}
    program = None
    if slug := given.get("program"):
        program = Program.objects.visible_to(principal).filter(slug=slug).first()
        if program is None:
            unknown["program"] = "No such program."
    choices = {"region": Region, "partner_type": PartnerType, "business_model": BusinessModel}
    chosen = {}
    for name, choice in choices.items():
        value = given.get(name, "")
        if value and value not in choice.values:
            errors[name] = f"Expected one of {', '.join(choice.values)}."
        chosen[name] = value
    tier = None
    if tier_text := given.get("tier"):
        tiers = Tier.objects.filter(program__in=Program.objects.visible_to(principal))
        if not (tier_text.isdigit() and len(tier_text) < 10 and int(tier_text) >= 1):
            errors["tier"] = "Expected a tier's id."
        else:
            tier = tiers.filter(pk=int(tier_text)).first()
            if tier is None:
                unknown["tier"] = "No such tier."
    near = DEFAULT_NEAR_PERCENT
    if near_text := given.get("near"):
        try:
            near = Decimal(near_text)
        except InvalidOperation:
            near = Decimal(-1)
        if not near.is_finite() or near < 0 or near > MAX_NEAR_PERCENT:
            errors["near"] = "Expected a percentage between 0 and 100."
            near = DEFAULT_NEAR_PERCENT
    start = _date(given.get("start", ""), "start", errors)
    end = _date(given.get("end", ""), "end", errors)
    if start and end and end < start:
        errors["end"] = "The end comes before the start."
    step = given.get("step", "month")
    if step not in STEPS:
        errors["step"] = "Expected month or quarter."
    if errors:
        raise FilterError(errors)
    return Filters(
        program=program,
        tier=tier,
        near_percent=near,
        start=start,
        end=end,
        step=step,
        given=given,
        unknown=unknown,
        **chosen,
    )
