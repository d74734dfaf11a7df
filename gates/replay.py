"""Replay against history: a gate's draft or past version decided on past month or quarter ends.

A channel manager asks what a rule would have done: ``replay_queue`` records
a ``ReplayRun`` for one gate (its draft, or any version it had) over the
month or quarter ends of a span, and queues ``gates.tasks.replay_run_task``,
which calls ``replay_run``. For each date it measures the requester's
partners as of that day through the engine's ``Measurer`` (the one the
nightly run and the forecast use), once for both series:

* *replayed*: the gates in effect on the day, with the replayed gate's
  criteria in place of its own (and taking part even on days it was not
  in effect yet);
* *live*: the gates in effect on the day under the version each had then.

Each partner's tier on a date is the highest tier of the gate's program whose
gate it passes, prerequisites decided in order. Facts carry their dates
(sales by close date, certifications by issue and expiry, activities by
date, deals by registration, completions by day); with ``known_then`` a fact
counts on a date only if it was stored by the end of that day
(``created_at``), which answers "what we would have known" rather than
"what would have happened".

The report is the run's rows (``ReplayRow``: per date and tier, partners
under each series), never partners' results: nothing is written to statuses,
tiers, grants, history or events.

What it cannot tell is said in ``NOTES``: the tiers are those qualified for,
without the grace periods and overrides that the daily run applies between
evaluations; partner attributes and people's being active are as they are
today; a fact edited since counts as it is now.
"""

import datetime
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core.background import task
from criteria.tree import CriteriaError
from gates.engine import Measurer, compile_decider, fetch_days
from gates.metrics import load_references
from gates.models import Gate, GateState, GateVersion, ReplayRow, ReplayRun
from gates.services.runs import partner_chunks
from gates.subjects import GateSubject, _topological
from gates.validation import parse_criteria
from partners.models import Partner, sees_every_partner
from programs.models import Tier

logger = logging.getLogger(__name__)

NO_TIER = "No tier"
# Two years of month ends at most: a replay is a report, not a second nightly history.
MAX_DATES = 24
NOTES = (
    "Tiers are those qualified for on each date; grace periods and overrides, which the daily "
    "run applies between evaluations, are not replayed.",
    "Partner attributes (country, status, type) and whether people are active are as they are today.",
    "A fact edited since it was recorded counts as it is now.",
    "Gates retired since are left out on every date.",
)


class ReplayError(Exception):
    """A replay cannot be queued as asked; ``errors`` maps fields to messages."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(errors)
        self.errors = errors


# --- asking -----------------------------------------------------------------------------------


def replay_dates(*, period: str, count: int, today: datetime.date | None = None) -> list[datetime.date]:
    """The last ``count`` month or quarter ends before ``today``, oldest first.

    The period running today is not over, so its end is never among them.
    """
    today = today or timezone.localdate()
    months = 1 if period == ReplayRun.Period.MONTH else 3
    # The first day of the running period; the day before it ends the last finished one.
    start = datetime.date(today.year, (today.month - 1) // months * months + 1, 1)
    dates: list[datetime.date] = []
    while len(dates) < count:
        end = start - datetime.timedelta(days=1)
        dates.append(end)
        start = datetime.date(end.year, end.month - months + 1, 1)
    return sorted(dates)


def replay_entry(gate: Gate, *, version: int | None = None) -> dict[str, Any]:
    """What to replay of ``gate``: the version numbered ``version``, else its draft, else its current criteria.

    Raises ``ReplayError`` for a version the gate never had.
    """
    criteria, currency, number, draft = gate.criteria, gate.money_currency, gate.version, False
    if version is not None:
        found = GateVersion.objects.filter(gate=gate, version=version).first()
        if found is None and version != gate.version:
            raise ReplayError({"version": [f"The gate has no version {version}."]})
        if found is not None:
            criteria, currency, number = found.criteria, found.currency, found.version
            draft = found.state == GateVersion.State.DRAFT
    else:
        found = GateVersion.objects.filter(gate=gate, state=GateVersion.State.DRAFT).first()
        if found is not None:
            criteria, currency, number, draft = found.criteria, found.currency, found.version, True
    return {
        "gate": gate.pk,
        "name": gate.name,
        "program": gate.program_id,
        "version": number,
        "draft": draft,
        "criteria": criteria,
        "currency": currency,
        "prerequisites": sorted(gate.prerequisites.values_list("pk", flat=True)),
        "unlocks_tier": gate.unlocks_tier_id,
    }


def replay_queue(
    *,
    actor,
    gate: Gate,
    version: int | None = None,
    period: str = ReplayRun.Period.QUARTER,
    count: int = 8,
    known_then: bool = True,
    today: datetime.date | None = None,
) -> ReplayRun:
    """Record a replay of ``gate`` over the last ``count`` period ends, over the partners ``actor`` sees.

    Raises ``ReplayError`` (errors by field) for an unknown version or
    period, a count out of range or criteria that do not validate. Side
    effect: ``gates.tasks.replay_run_task`` is queued once the run is
    committed (run in this process when no broker is configured).
    """
    errors: dict[str, list[str]] = {}
    if period not in ReplayRun.Period.values:
        errors["period"] = [f"Choose one of: {', '.join(ReplayRun.Period.values)}."]
    if not 1 <= count <= MAX_DATES:
        errors["count"] = [f"Replay between 1 and {MAX_DATES} dates."]
    if errors:
        raise ReplayError(errors)
    entry = replay_entry(gate, version=version)
    try:
        parse_criteria(entry["criteria"], default_currency=entry["currency"])
    except CriteriaError as exc:
        raise ReplayError({"criteria": list(exc.errors)}) from exc
    if sees_every_partner(actor):
        scope = "every partner"
    else:
        covered = Partner.objects.visible_to(actor).count()
        scope = f"the {covered:,} partner{'' if covered == 1 else 's'} you cover"
    dates = replay_dates(period=period, count=count, today=today)
    with transaction.atomic():
        run = ReplayRun.objects.create(
            gate=gate,
            requested_by=actor if getattr(actor, "pk", None) else None,
            gate_entry=entry,
            period=period,
            dates=[day.isoformat() for day in dates],
            known_then=known_then,
            scope=scope,
            notes=list(NOTES),
        )
        run_id = run.pk
        transaction.on_commit(lambda: task("gates.tasks.replay_run_task").delay(run_id))
    return run


# --- running ----------------------------------------------------------------------------------


def replay_run(run_id: int, *, chunk_size: int | None = None) -> ReplayRun | None:
    """Carry out a queued replay; None when it was taken up already (a second delivery).

    Writes nothing but the run's own row and its report rows: its progress
    after every date, then its rows, or its error if it fails (and the
    error is raised).
    """
    now = timezone.now()
    claimed = ReplayRun.objects.filter(pk=run_id, state=ReplayRun.State.QUEUED).update(
        state=ReplayRun.State.RUNNING, started_at=now, progress_at=now
    )
    if not claimed:
        return None
    run = ReplayRun.objects.select_related("requested_by").get(pk=run_id)
    try:
        rows = _replay(run, chunk_size or settings.PRM_EVALUATION_CHUNK_SIZE)
        with transaction.atomic():
            ReplayRow.objects.bulk_create(rows)
            run.state, run.finished_at = ReplayRun.State.DONE, timezone.now()
            run.save(update_fields=["state", "finished_at", "notes"])
    except BaseException as exc:
        ReplayRun.objects.filter(pk=run_id).update(
            state=ReplayRun.State.FAILED, finished_at=timezone.now(), error=repr(exc)[:2000]
        )
        raise
    return run


STALE_NOTE = "The worker stopped or never took the replay up; ask for it again."


def replay_mark_lost(run: ReplayRun) -> ReplayRun:
    """End, as failed, a run no worker took up or that stopped showing progress; returns it as stored.

    A conditional update, as for what-ifs: a worker that finishes meanwhile wins.
    """
    threshold = timezone.now() - datetime.timedelta(minutes=settings.PRM_EVALUATION_STALE_MINUTES)
    if run.state == ReplayRun.State.QUEUED and run.created_at < threshold:
        waited = Q(state=ReplayRun.State.QUEUED, created_at__lt=threshold)
    elif run.state == ReplayRun.State.RUNNING and run.progress_at and run.progress_at < threshold:
        waited = Q(state=ReplayRun.State.RUNNING, progress_at__lt=threshold)
    else:
        return run
    ReplayRun.objects.filter(waited, pk=run.pk).update(
        state=ReplayRun.State.FAILED, finished_at=timezone.now(), error=STALE_NOTE
    )
    run.refresh_from_db()
    return run


class _Definitions:
    """Every gate with the criteria of each of its versions, read once for all the dates."""

    def __init__(self, run: ReplayRun):
        self.entry = run.gate_entry
        self.references = load_references()
        self.gates = list(
            Gate.objects.filter(state=GateState.ACTIVE)
            .select_related("program")
            .prefetch_related("prerequisites")
            .order_by("id")
        )
        self.versions: dict[int, list[GateVersion]] = defaultdict(list)
        for version in GateVersion.objects.exclude(state=GateVersion.State.DRAFT).order_by(
            "gate_id", "version"
        ):
            self.versions[version.gate_id].append(version)
        self.program_id: int = self.entry["program"]
        self.ladder = list(Tier.objects.filter(program_id=self.program_id).order_by("rank"))
        self._parsed: dict[tuple[int, int], GateSubject] = {}
        self.unrecorded: set[str] = set()

    def live_on(self, day: datetime.date) -> list[GateSubject]:
        """The gates in effect on ``day``, each under the version it had then."""
        subjects = []
        for gate in self.gates:
            if gate.effective_from and gate.effective_from > day:
                continue
            if gate.effective_to and gate.effective_to < day:
                continue
            if gate.created_at.date() > day and gate.effective_from is None:
                continue  # not defined yet
            subject = self._subject(gate, day)
            if subject is not None:
                subjects.append(subject)
        return _topological(subjects)

    def replayed_on(self, day: datetime.date, live: list[GateSubject]) -> list[GateSubject]:
        """The gates in effect on ``day`` with the replayed criteria in place of the replayed gate's."""
        entry = self.entry
        key = (entry["gate"], -1)
        subject = self._parsed.get(key)
        if subject is None:
            criteria = parse_criteria(
                entry["criteria"], default_currency=entry["currency"], references=self.references
            )
            subject = self._parsed[key] = GateSubject(
                id=entry["gate"],
                name=entry["name"],
                program_id=entry["program"],
                version=entry["version"] or 0,
                criteria=criteria,
                decide=compile_decider(criteria),
                prerequisites=list(entry["prerequisites"]),
                unlocks_tier_id=entry["unlocks_tier"],
                benefit_ids=set(),
            )
        return _topological([gate for gate in live if gate.id != entry["gate"]] + [subject])

    def _subject(self, gate: Gate, day: datetime.date) -> GateSubject | None:
        criteria_json, currency, number = gate.criteria, gate.money_currency, gate.version
        published = [v for v in self.versions.get(gate.id, []) if v.state != GateVersion.State.SCHEDULED]
        in_force = [v for v in published if (v.effective_from or v.created_at.date()) <= day]
        if in_force:
            version = in_force[-1]
            criteria_json, currency, number = version.criteria, version.currency, version.version
        elif published:
            # Versions are recorded from the first one published: what the gate said before is not.
            version = published[0]
            criteria_json, currency, number = version.criteria, version.currency, version.version
            self.unrecorded.add(gate.name)
        key = (gate.id, number)
        if key in self._parsed:
            return self._parsed[key]
        try:
            criteria = parse_criteria(criteria_json, default_currency=currency, references=self.references)
        except CriteriaError:
            self.unrecorded.add(gate.name)
            return None
        subject = self._parsed[key] = GateSubject(
            id=gate.id,
            name=gate.name,
            program_id=gate.program_id,
            version=number,
            criteria=criteria,
            decide=compile_decider(criteria),
            prerequisites=[p.id for p in gate.prerequisites.all()],
            unlocks_tier_id=gate.unlocks_tier_id,
            benefit_ids=set(),
        )
        return subject


def _tier_of(gates: list[GateSubject], keys: list[list[int]], values: list[Any], ladder_ids: dict[int, int]):
    """The position on the ladder of the highest tier whose gate passes (0: none), prerequisites in order."""
    passed: set[int] = set()
    best = 0
    for gate, gate_keys in zip(gates, keys, strict=True):
        if gate.prerequisites and not all(p in passed for p in gate.prerequisites):
            continue
        if gate.decide([values[key] for key in gate_keys]):
            passed.add(gate.id)
            position = ladder_ids.get(gate.unlocks_tier_id or 0, 0)
            best = max(best, position)
    return best


@dataclass
class _Day:
    day: datetime.date
    live: list[GateSubject]
    replayed: list[GateSubject]
    measurer: Measurer
    live_keys: list[list[int]]
    replayed_keys: list[list[int]]
    counts: dict[str, Counter[int]] = field(
        default_factory=lambda: {"live": Counter(), "replayed": Counter()}
    )


def _replay(run: ReplayRun, chunk_size: int) -> list[ReplayRow]:
    user = run.requested_by
    scope = Partner.objects.visible_to(user) if user is not None else Partner.objects.none()
    definitions = _Definitions(run)
    ladder = definitions.ladder
    ladder_ids = {tier.id: position for position, tier in enumerate(ladder, start=1)}
    labels = [(None, NO_TIER), *((tier, tier.name) for tier in ladder)]
    series = []
    for iso in run.dates:
        day = datetime.date.fromisoformat(iso)
        live = definitions.live_on(day)
        series.append((day, live, definitions.replayed_on(day, live)))
    # Every day's measurer measures the leaves of every day (a version published mid-span
    # adds a few): the same columns each day, so the days share each table's scan.
    trees = list(
        {
            id(gate.criteria): gate.criteria for _, live, replayed in series for gate in live + replayed
        }.values()
    )
    days: list[_Day] = []
    for day, live, replayed in series:
        measurer = Measurer(
            trees,
            as_of=day,
            references=definitions.references,
            known_by=day if run.known_then else None,
        )
        live_keys = [measurer.keys_for(gate.criteria) for gate in live]
        replayed_keys = [measurer.keys_for(gate.criteria) for gate in replayed]
        days.append(_Day(day, live, replayed, measurer, live_keys, replayed_keys))
    last_day = max(measured_day.day for measured_day in days)
    joined = dict(scope.filter(joined_on__lte=last_day).values_list("pk", "joined_on"))
    chunks = list(partner_chunks(chunk_size, sorted(joined)))
    ReplayRun.objects.filter(pk=run.pk).update(partners_total=len(joined), chunks_total=len(chunks))
    for index, (first_id, last_id, only) in enumerate(chunks):
        # One query per table and chunk for every date (``fetch_days``), not one per date.
        sources = fetch_days([measured_day.measurer for measured_day in days], first_id, last_id, only)
        for measured_day, day_sources in zip(days, sources, strict=True):
            measured = measured_day.measurer.measure(first_id, last_id, sources=day_sources, only=only)
            for partner_id, values in measured.items():
                joined_on = joined.get(partner_id)
                if joined_on is None or joined_on > measured_day.day:
                    continue  # not in the program yet on that day
                measured_day.counts["live"][
                    _tier_of(measured_day.live, measured_day.live_keys, values, ladder_ids)
                ] += 1
                measured_day.counts["replayed"][
                    _tier_of(measured_day.replayed, measured_day.replayed_keys, values, ladder_ids)
                ] += 1
        ReplayRun.objects.filter(pk=run.pk).update(chunks_done=index + 1, progress_at=timezone.now())
    rows = [
        ReplayRow(
            run=run,
            day=measured_day.day,
            position=position,
            tier=tier,
            tier_name=name,
            replayed=measured_day.counts["replayed"][position],
            live=measured_day.counts["live"][position],
        )
        for measured_day in days
        for position, (tier, name) in enumerate(labels)
    ]
    if definitions.unrecorded:
        names = ", ".join(sorted(definitions.unrecorded))
        run.notes = [
            *run.notes,
            f"Before their first recorded version, these gates are measured under it: {names}.",
        ]
    return rows


# --- reading ----------------------------------------------------------------------------------


def replay_report(run: ReplayRun) -> dict[str, Any]:
    """The run's rows by date: per date, the tiers with their partners under each series (one query)."""
    by_day: dict[datetime.date, list[dict[str, Any]]] = defaultdict(list)
    tiers: dict[int, str] = {}
    for row in run.rows.order_by("day", "position"):
        tiers[row.position] = row.tier_name
        by_day[row.day].append({"tier": row.tier_name, "replayed": row.replayed, "live": row.live})
    return {
        "tiers": [tiers[position] for position in sorted(tiers)],
        "dates": [
            {
                "day": day.isoformat(),
                "tiers": items,
                "partners": sum(item["live"] for item in items),
                "moved": sum(abs(item["replayed"] - item["live"]) for item in items) // 2,
            }
            for day, items in sorted(by_day.items())
        ],
    }
