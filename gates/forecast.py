"""At-risk forecasts: which partners passing a gate today would stop passing it, when, and why.

The forecast measures with the evaluation's own engine (``Measurer``) at
future days, assuming nothing new arrives: certifications expire, facts
leave rolling windows, calendar windows turn over, months since joining
grow. It measures only on the days an input changes (``forecast_dates``),
and for each such day only the partners whose inputs change then, with one
aggregate query per fact table (none for sales and activities, whose sums
move by the facts leaving and entering their windows: ``forecast_moves``):
the number of queries grows with the days in the horizon, never with the
partners. That measuring is ``gates.forecast_measure``; this module says what
its risks mean and stores them.

``forecasts_refresh`` stores the outcome (``GateForecast``), opens and
closes at-risk episodes (``GateRiskEpisode``), notifies an episode once at
its start and again only when its failing day moves closer, and sends the
``gate_at_risk`` and ``gate_recovered`` signals after commit.

It honours the tier engine (``gates.tiers``): the risk on the gate of the
tier a partner earned says the day the tier would go after its grace
(``tier_lost_on``); a tier held by an override is not at risk while the
override holds, and when the override ends within the horizon the tier goes
no earlier than its end; a partner already keeping a tier in grace is shown
in grace, with the day grace ends.
"""

import datetime
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import dateformat, timezone

from core.background import task
from criteria.references import References
from criteria.tree import Leaf
from gates.events import forecast_events
from gates.forecast_dates import ONE_DAY
from gates.forecast_measure import Forecast, Risk, forecast_risks
from gates.metrics import METRICS, counted
from gates.models import (
    Gate,
    GateForecast,
    GateRiskEpisode,
    PartnerTier,
    RiskEpisodeEnd,
)
from gates.planning import notify_changes
from gates.selectors import leaf_progress
from gates.signals import gate_at_risk, gate_forecasts_changed, gate_recovered
from gates.subjects import Subjects, load_subjects
from gates.tiers import tier_lost_on
from partners.models import Certification

logger = logging.getLogger(__name__)


# Names listed in a fix before "…".
FIX_NAMES = 3


def _day(day: datetime.date) -> str:
    return dateformat.format(day, "j F Y")


# --- what to say about a risk ------------------------------------------------------------


@dataclass
class RiskText:
    criterion: str
    shortfall: str
    fix: str
    renewals: list[dict[str, Any]] = field(default_factory=list)


def _gap(leaf: Leaf, value: Any) -> Any | None:
    """How much more of a numeric criterion's measure would meet it, for ``>=`` and ``>``."""
    if leaf.op not in {">=", ">"} or value is None:
        return None
    try:
        target, current = Decimal(str(leaf.target)), Decimal(str(value))
    except ArithmeticError:
        return None
    gap = target - current
    if METRICS[leaf.metric].spec.value_kind == "money":
        return gap + (Decimal("0.01") if leaf.op == ">" else 0)
    return int(gap) + (1 if leaf.op == ">" else 0)


def certification_type_ids(leaf: Leaf, refs: References) -> set[int] | None:
    """The certification types a ``certified_people`` criterion counts (None: every type)."""
    type_ids: set[int] | None = None
    if leaf.params.get("certification_types"):
        type_ids = {refs.certification_types.get(code, -1) for code in leaf.params["certification_types"]}
    if leaf.params.get("tracks"):
        track_ids = {i for track in leaf.params["tracks"] for i in refs.certification_tracks.get(track, [])}
        type_ids = track_ids if type_ids is None else type_ids & track_ids
    if leaf.params.get("advanced_only"):
        advanced = set(refs.advanced_certifications)
        type_ids = advanced if type_ids is None else type_ids & advanced
    return type_ids


def describe_risks(
    risks: dict[tuple[int, int], Risk], subjects: Subjects, gate_names: dict[int, str]
) -> dict[tuple[int, int], RiskText]:
    """The criterion, the shortfall in plain words and the cheapest fix, for every risk (one query)."""
    refs = subjects.references
    expiring: dict[tuple[int, datetime.date], list[tuple[int, str, int, str]]] = defaultdict(list)
    cert_risks = [r for r in risks.values() if r.leaf is not None and r.leaf.metric == "certified_people"]
    if cert_risks:
        rows = Certification.objects.filter(
            person__partner_id__in=sorted({r.partner_id for r in cert_risks}),
            person__is_active=True,
            expires_on__in=sorted({r.fails_on - ONE_DAY for r in cert_risks}),
        ).order_by("person__last_name", "person__first_name", "id")
        for partner_id, expires_on, person_id, first, last, type_id, type_name in rows.values_list(
            "person__partner_id",
            "expires_on",
            "person_id",
            "person__first_name",
            "person__last_name",
            "certification_type_id",
            "certification_type__name",
        ):
            if expires_on is not None:  # the filter says so; the type does not
                expiring[(partner_id, expires_on)].append((person_id, f"{first} {last}", type_id, type_name))
    texts = {}
    for key, risk in risks.items():
        texts[key] = _describe(risk, refs, gate_names, expiring)
    return texts


def _describe(risk: Risk, refs: References, gate_names: dict[int, str], expiring) -> RiskText:
    on = _day(risk.fails_on)
    if risk.leaf is None:
        name = gate_names.get(risk.prerequisite_id or 0, "a prerequisite")
        return RiskText(
            criterion=f"the prerequisite gate “{name}”",
            shortfall=f"the prerequisite gate “{name}” would no longer be met on {on}",
            fix=f"Keep the gate “{name}” met.",
        )
    leaf = risk.leaf
    progress = leaf_progress(leaf, risk.value, refs, risk.fails_on)
    criterion = f"{progress.description} {leaf.op} {progress.target_display}"
    gap = _gap(leaf, progress.value)
    money = METRICS[leaf.metric].spec.value_kind == "money"
    if gap is not None and money:
        amount = leaf_progress(leaf, gap, refs, risk.fails_on).value_display
        shortfall = f"{amount} of {progress.description} before {on}"
        fix = f"Win {amount} of {progress.description} before {on}."
    elif gap is not None:
        shortfall = f"{gap} more {counted(gap, progress.description)} (would have {progress.value_display} of {progress.target_display} on {on})"
        fix = f"Add {gap} more {counted(gap, progress.description)} before {on}."
    else:
        shortfall = f"{progress.sentence} on {on}"
        fix = f"Keep {progress.description} {leaf.op} {progress.target_display}."
    renewals: list[dict[str, Any]] = []
    if leaf.metric == "certified_people":
        type_ids = certification_type_ids(leaf, refs)
        expiry = risk.fails_on - ONE_DAY
        seen: set[int] = set()
        for person_id, name, type_id, type_name in expiring.get((risk.partner_id, expiry), []):
            if (type_ids is None or type_id in type_ids) and person_id not in seen:
                seen.add(person_id)
                renewals.append(
                    {
                        "person": person_id,
                        "name": name,
                        "certification": type_name,
                        "expires_on": expiry.isoformat(),
                    }
                )
        if renewals:
            names = ", ".join(r["name"] for r in renewals[:FIX_NAMES]) + (
                ", …" if len(renewals) > FIX_NAMES else ""
            )
            count = len(renewals)
            fix = (
                f"{count} certification{'s' if count != 1 else ''} expire{'s' if count == 1 else ''} "
                f"on {_day(expiry)}: {names}. Renew {'them' if count != 1 else 'it'} before then"
                + (f", or certify {gap} more {counted(gap, 'people')}." if gap else ".")
            )
    return RiskText(criterion=criterion, shortfall=shortfall, fix=fix, renewals=renewals)


# --- what the tier engine would do ---------------------------------------------------------


@dataclass(frozen=True)
class TierHold:
    """What a partner's tier row in a program says about the tier it would lose."""

    earned_tier_id: int | None
    grace_until: datetime.date | None
    override_in_force: bool
    override_expires_on: datetime.date | None


@dataclass(frozen=True)
class TierOutlook:
    """The tier consequence of a forecast row: when the earned tier would go, and what holds it."""

    tier_lost_on: datetime.date | None = None
    override_until: datetime.date | None = None
    grace_until: datetime.date | None = None


@dataclass
class TierForecast:
    outlooks: dict[tuple[int, int], TierOutlook] = field(default_factory=dict)  # of the risks kept
    held_by_override: set[tuple[int, int]] = field(default_factory=set)  # risks an override outlasts
    in_grace: dict[tuple[int, int], TierOutlook] = field(default_factory=dict)  # tiers kept in grace


def tier_holds(
    subjects: Subjects,
    *,
    today: datetime.date,
    risky_partner_ids: set[int],
    partner_ids: Sequence[int] | None,
) -> dict[tuple[int, int], TierHold]:
    """(partner, program) -> its tier row, for the partners at risk and every partner in grace or overridden.

    One query: a partner neither at risk, in grace nor overridden has nothing
    to forecast about its tier.
    """
    if not subjects.tier_gates:
        return {}
    rows = PartnerTier.objects.filter(program_id__in=sorted(subjects.tier_gates)).filter(
        Q(partner_id__in=sorted(risky_partner_ids))
        | Q(grace_until__isnull=False)
        | Q(override_tier__isnull=False)
    )
    if partner_ids is not None:
        rows = rows.filter(partner_id__in=list(partner_ids))
    holds = {}
    for partner_id, program_id, earned, grace_until, override_tier, override_expires_on in rows.values_list(
        "partner_id", "program_id", "earned_tier_id", "grace_until", "override_tier_id", "override_expires_on"
    ):
        in_force = override_tier is not None and (override_expires_on is None or override_expires_on >= today)
        holds[(partner_id, program_id)] = TierHold(earned, grace_until, in_force, override_expires_on)
    return holds


def forecast_tiers(
    forecast: Forecast,
    subjects: Subjects,
    holds: dict[tuple[int, int], TierHold],
    horizons: dict[int, int],
) -> TierForecast:
    """Apply the tier engine's grace and overrides to the gate risks; find the tiers already in grace.

    * a risk on a gate unlocking a tier of a program where an override holds
      the tier held beyond the gate's horizon is not a risk: whatever the
      gates say, the partner keeps the tier through the horizon;
    * a risk on the gate of the tier the partner earned says the day the tier
      would go (``tier_lost_on``): after the tier's grace, and not before the
      day after an override ending within the horizon;
    * a partner keeping its earned tier in grace (its gate no longer passed)
      is in grace on that gate until ``grace_until``.
    """
    result = TierForecast()
    gate_tiers = {
        gate.id: gate.unlocks_tier_id for gate in subjects.gates if gate.unlocks_tier_id is not None
    }
    for key, risk in forecast.risks.items():
        tier_id = gate_tiers.get(risk.gate_id)
        if tier_id is None:
            continue
        tier = subjects.tiers[tier_id]
        hold = holds.get((risk.partner_id, tier.program_id))
        if hold is None:
            continue
        horizon_end = forecast.today + datetime.timedelta(days=risk.horizon_days)
        if hold.override_in_force and (
            hold.override_expires_on is None or hold.override_expires_on >= horizon_end
        ):
            result.held_by_override.add(key)
            continue
        override_until = hold.override_expires_on if hold.override_in_force else None
        lost = None
        if hold.earned_tier_id == tier_id:
            lost = tier_lost_on(
                fails_on=risk.fails_on,
                grace_days=tier.grace_days,
                override_expires_on=hold.override_expires_on,
                overridden=hold.override_in_force,
            )
        result.outlooks[key] = TierOutlook(tier_lost_on=lost, override_until=override_until)
    tier_gate = {
        tier.id: gate_id for program_gates in subjects.tier_gates.values() for tier, gate_id in program_gates
    }
    for (partner_id, _program_id), hold in holds.items():
        gate_id = tier_gate.get(hold.earned_tier_id) if hold.earned_tier_id is not None else None
        if hold.grace_until is None or gate_id is None or not horizons.get(gate_id):
            continue
        if gate_id in forecast.passing.get(partner_id, set()):
            continue  # qualifies again: the next evaluation ends the grace
        tier = subjects.tiers[hold.earned_tier_id]  # type: ignore[index]
        result.in_grace[(partner_id, gate_id)] = TierOutlook(
            tier_lost_on=tier_lost_on(
                fails_on=None,
                grace_days=tier.grace_days,
                grace_until=hold.grace_until,
                override_expires_on=hold.override_expires_on,
                overridden=hold.override_in_force,
            ),
            override_until=hold.override_expires_on if hold.override_in_force else None,
            grace_until=hold.grace_until,
        )
    return result


# --- storing, episodes, notifications ----------------------------------------------------


@dataclass
class ForecastSummary:
    partners: int = 0
    at_risk: int = 0
    started: int = 0
    notified: int = 0
    recovered: int = 0
    failed: int = 0
    overridden: int = 0  # episodes ended because an override holds the tier through the horizon
    in_grace: int = 0
    days_measured: int = 0


def _risk_line(
    gate_name: str, tier_name: str | None, row: GateForecast, fails_on: datetime.date, *, closer: bool
) -> str:
    what = f"your {tier_name} tier (the gate “{gate_name}”)" if tier_name else f"the gate “{gate_name}”"
    when = "now" if closer else ""
    line = (
        f"At risk: {what} would {when + ' ' if when else ''}no longer be met on {_day(fails_on)} "
        f"unless something changes: {row.shortfall}. {row.fix}"
    )
    return line + (f" {tier_consequence(row, tier_name)}" if tier_name and row.tier_lost_on else "")


def tier_consequence(row: GateForecast, tier_name: str | None) -> str:
    """What the tier engine would make of the failing gate, in a sentence; empty when the tier is not at stake."""
    if row.tier_lost_on is None or row.tier_kept_until is None or not tier_name:
        return ""
    held = f"An override holds the tier until {_day(row.override_until)}. " if row.override_until else ""
    if row.fails_on is not None and row.tier_lost_on == row.fails_on:
        return f"{held}The tier has no grace period: you would lose {tier_name} that day."
    return f"{held}You would keep {tier_name} until {_day(row.tier_kept_until)} and lose it on {_day(row.tier_lost_on)}."


_FORECAST_FIELDS = [
    "at_risk",
    "fails_on",
    "criterion_path",
    "criterion",
    "shortfall",
    "fix",
    "renewals",
    "tier_lost_on",
    "override_until",
    "grace_until",
    "horizon_days",
    "as_of",
    "episode_started_on",
    "notified_fails_on",
    "updated_at",
]


def forecasts_refresh(
    *, partner_ids: Sequence[int] | None = None, as_of: datetime.date | None = None, notify: bool = True
) -> ForecastSummary:
    """Forecast every gate in effect for every partner (or ``partner_ids``) and apply the episodes.

    Precondition: the evaluation of ``as_of`` has run, so stored statuses and
    tiers say which gates pass today and which tiers are in grace or held by
    an override. Writes the forecasts and episodes of the partners in scope in
    one transaction; after commit, notifies each new episode and each episode
    whose failing day moved closer (one mail per partner, the gate status
    mechanism), and sends ``gate_at_risk`` / ``gate_recovered`` per episode and
    ``gate_forecasts_changed`` once when running episodes moved or ended (the
    inbox rewrites their items from it). A risk an override outlasts is no risk: its episode ends as ``overridden``. Running
    it twice on the same day writes and sends nothing the second time.
    """
    today = as_of or timezone.localdate()
    subjects = load_subjects(as_of=today, with_segments=False)
    gate_rows = {
        gate_id: (name, horizon, tier)
        for gate_id, name, horizon, tier in Gate.objects.filter(id__in=subjects.gate_ids).values_list(
            "id", "name", "forecast_horizon_days", "unlocks_tier__name"
        )
    }
    horizons = {gate_id: row[1] for gate_id, row in gate_rows.items()}
    forecast = forecast_risks(subjects, today=today, horizons=horizons, partner_ids=partner_ids)
    holds = tier_holds(
        subjects,
        today=today,
        risky_partner_ids={partner_id for partner_id, _gate_id in forecast.risks},
        partner_ids=partner_ids,
    )
    tiers = forecast_tiers(forecast, subjects, holds, horizons)
    for key in tiers.held_by_override:
        del forecast.risks[key]
    names = {gate_id: row[0] for gate_id, row in gate_rows.items()}
    texts = describe_risks(forecast.risks, subjects, names)
    summary = ForecastSummary(
        partners=len(forecast.passing),
        at_risk=len(forecast.risks),
        in_grace=len(tiers.in_grace),
        days_measured=forecast.days_measured,
    )
    now = timezone.now()
    events: dict[int, list[str]] = defaultdict(list)
    started: list[tuple[GateForecast, GateRiskEpisode]] = []
    ended: list[tuple[GateForecast, GateRiskEpisode | None, str]] = []
    moved: list[tuple[int, int]] = []  # running episodes whose forecast changed
    closer: list[tuple[int, int]] = []  # of them, those told again
    with transaction.atomic():
        scope_rows = GateForecast.objects.select_for_update()
        scope_episodes = GateRiskEpisode.objects.filter(ended_on__isnull=True)
        if partner_ids is not None:
            scope_rows = scope_rows.filter(partner_id__in=list(partner_ids))
            scope_episodes = scope_episodes.filter(partner_id__in=list(partner_ids))
        existing = {(row.partner_id, row.gate_id): row for row in scope_rows}
        episodes = {(e.partner_id, e.gate_id): e for e in scope_episodes}
        new_rows: dict[tuple[int, int], GateForecast] = {}
        changed_rows: dict[tuple[int, int], GateForecast] = {}
        new_episodes: list[GateRiskEpisode] = []
        changed_episodes: dict[tuple[int, int], GateRiskEpisode] = {}
        for key, risk in forecast.risks.items():
            text = texts[key]
            outlook = tiers.outlooks.get(key, TierOutlook())
            row = existing.get(key)
            fields = {
                "at_risk": True,
                "fails_on": risk.fails_on,
                "criterion_path": risk.leaf.path if risk.leaf is not None else "",
                "criterion": text.criterion,
                "shortfall": text.shortfall,
                "fix": text.fix,
                "renewals": text.renewals,
                "tier_lost_on": outlook.tier_lost_on,
                "override_until": outlook.override_until,
                "grace_until": None,
                "horizon_days": risk.horizon_days,
            }
            starting = row is None or not row.at_risk
            if row is None:
                row = GateForecast(partner_id=risk.partner_id, gate_id=risk.gate_id, as_of=today)
                new_rows[key] = row
            elif any(getattr(row, name) != value for name, value in fields.items()) or starting:
                changed_rows[key] = row
            for name, value in fields.items():
                setattr(row, name, value)
            row.as_of, row.updated_at = today, now
            episode = episodes.get(key)
            gate_name, _horizon, tier_name = gate_rows[risk.gate_id]
            if starting or episode is None:
                row.episode_started_on, row.notified_fails_on = today, risk.fails_on
                episode = GateRiskEpisode(
                    partner_id=risk.partner_id,
                    gate_id=risk.gate_id,
                    started_on=today,
                    first_fails_on=risk.fails_on,
                    fails_on=risk.fails_on,
                    notifications=1,
                    last_notified_at=now,
                )
                new_episodes.append(episode)
                started.append((row, episode))
                events[risk.partner_id].append(
                    _risk_line(gate_name, tier_name, row, risk.fails_on, closer=False)
                )
                summary.started += 1
                summary.notified += 1
                continue
            if key in changed_rows:
                moved.append(key)
            if episode.fails_on != risk.fails_on:
                episode.fails_on = risk.fails_on
                changed_episodes[key] = episode
            if row.notified_fails_on is None or risk.fails_on < row.notified_fails_on:
                # The failing day moved closer than the last warning said: warn again.
                row.notified_fails_on = risk.fails_on
                changed_rows.setdefault(key, row)
                episode.notifications += 1
                episode.last_notified_at = now
                changed_episodes[key] = episode
                events[risk.partner_id].append(
                    _risk_line(gate_name, tier_name, row, risk.fails_on, closer=True)
                )
                closer.append(key)
                summary.notified += 1
        for key, row in existing.items():
            if not row.at_risk or key in forecast.risks:
                continue
            passes = row.gate_id in forecast.passing.get(row.partner_id, set())
            if key in tiers.held_by_override:
                reason = RiskEpisodeEnd.OVERRIDDEN
            else:
                reason = RiskEpisodeEnd.RECOVERED if passes else RiskEpisodeEnd.FAILED
            row.at_risk, row.fails_on, row.notified_fails_on = False, None, None
            row.shortfall, row.fix, row.renewals = "", "", []
            row.tier_lost_on, row.override_until = None, None
            row.as_of, row.updated_at = today, now
            changed_rows[key] = row
            episode = episodes.get(key)
            if episode is not None:
                episode.ended_on, episode.end_reason = today, reason
                changed_episodes[key] = episode
            ended.append((row, episode, reason))
            if reason == RiskEpisodeEnd.OVERRIDDEN:
                summary.overridden += 1
            elif passes:
                summary.recovered += 1
            else:
                summary.failed += 1
        _apply_grace(tiers, existing, new_rows, changed_rows, gate_rows, today, now)
        GateForecast.objects.bulk_create(list(new_rows.values()), batch_size=1000)
        GateForecast.objects.bulk_update(list(changed_rows.values()), _FORECAST_FIELDS, batch_size=1000)
        # Close before opening: one open episode per partner and gate at any time.
        GateRiskEpisode.objects.bulk_update(
            list(changed_episodes.values()),
            ["fails_on", "notifications", "last_notified_at", "ended_on", "end_reason"],
            batch_size=1000,
        )
        GateRiskEpisode.objects.bulk_create(new_episodes, batch_size=1000)
        if notify and events:
            lines = {partner_id: list(partner_lines) for partner_id, partner_lines in events.items()}
            transaction.on_commit(lambda: notify_changes(lines))
        forecast_events(started, ended)
        transaction.on_commit(lambda: _send_signals(started, ended))
        if moved or ended:
            changes = {
                "moved": moved,
                "closer": closer,
                "ended": [(row.partner_id, row.gate_id, str(reason)) for row, _episode, reason in ended],
                "as_of": today,
            }
            transaction.on_commit(lambda: gate_forecasts_changed.send(sender=GateForecast, **changes))
    return summary


def _apply_grace(
    tiers: TierForecast,
    existing: dict[tuple[int, int], GateForecast],
    new_rows: dict[tuple[int, int], GateForecast],
    changed_rows: dict[tuple[int, int], GateForecast],
    gate_rows: Mapping[int, tuple[str, int, str | None]],
    today: datetime.date,
    now: datetime.datetime,
) -> None:
    """Mark the rows of tiers kept in grace, and clear the mark where the grace is over.

    A tier in grace is not an at-risk episode (its gate has already failed,
    and the grace was told when it started): the row only shows it, with the
    day the grace ends and the day the tier goes.
    """
    for key, outlook in tiers.in_grace.items():
        gate_name, horizon, tier_name = gate_rows[key[1]]
        last_day = outlook.grace_until
        assert last_day is not None
        fields: dict[str, Any] = {
            "at_risk": False,
            "fails_on": None,
            "shortfall": f"the gate “{gate_name}” is no longer met; the {tier_name} tier is kept in grace until {_day(last_day)}",
            "fix": f"Meet the gate “{gate_name}” again by {_day(last_day)} to keep the {tier_name} tier.",
            "renewals": [],
            "tier_lost_on": outlook.tier_lost_on,
            "override_until": outlook.override_until,
            "grace_until": last_day,
            "horizon_days": horizon,
        }
        row = existing.get(key)
        if row is None:
            row = GateForecast(partner_id=key[0], gate_id=key[1], as_of=today)
            new_rows[key] = row
        elif key in changed_rows or any(getattr(row, name) != value for name, value in fields.items()):
            changed_rows[key] = row
        else:
            continue
        for name, value in fields.items():
            setattr(row, name, value)
        row.as_of, row.updated_at = today, now
    for key, row in existing.items():
        if row.grace_until is None or key in tiers.in_grace or row.at_risk:
            continue
        row.grace_until, row.tier_lost_on, row.override_until = None, None, None
        row.shortfall, row.fix = "", ""
        row.as_of, row.updated_at = today, now
        changed_rows[key] = row


def _send_signals(started, ended) -> None:
    for row, episode in started:
        gate_at_risk.send(sender=GateForecast, forecast=row, episode=episode)
    for row, episode, reason in ended:
        gate_recovered.send(sender=GateForecast, forecast=row, episode=episode, reason=str(reason))


def request_forecast(partner_ids: Sequence[int] | None = None) -> None:
    """Queue the forecast (of every partner, or of ``partner_ids``) after the current transaction commits."""
    ids = sorted({int(p) for p in partner_ids}) if partner_ids is not None else None

    def queue() -> None:
        task("gates.tasks.forecast_gates_task").delay(ids)

    transaction.on_commit(queue)
