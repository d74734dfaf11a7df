"""The events the gate engine records in the outbox: gate results and tiers, set-wise.

``plan_events`` turns a chunk's status and tier changes into events and
records them with one bulk insert, in the chunk's transaction: a nightly run
that changes 10,000 statuses adds a few reads of names and one ``emit_many``,
not a transaction per event.
"""

import datetime

from django.utils import timezone

from events.outbox import NewEvent, emit_many
from gates.models import Gate, GateOutcome, TierChangeReason
from partners.models import Partner
from programs.models import Tier

PASSED = GateOutcome.PASSED.value

# What a tier change says to subscribers: a reason may be more than one event.
TIER_EVENTS: dict[str, tuple[str, ...]] = {
    TierChangeReason.PROMOTED: ("tier.changed",),
    TierChangeReason.GRACE_STARTED: ("tier.grace_started",),
    TierChangeReason.GRACE_RECOVERED: ("tier.grace_ended",),
    TierChangeReason.DEMOTED: ("tier.grace_ended", "tier.changed"),
    TierChangeReason.OVERRIDE_SET: ("tier.changed",),
    TierChangeReason.OVERRIDE_ENDED: ("tier.changed",),
}


def gate_event_name(from_status: str, to_status: str) -> str | None:
    """``gate.passed`` on reaching a pass, ``gate.failed`` on losing one; nothing otherwise."""
    if to_status == PASSED and from_status != PASSED:
        return "gate.passed"
    if from_status == PASSED and to_status != PASSED:
        return "gate.failed"
    return None


def plan_events(history, tier_changes) -> None:
    """Record the events of a chunk. ``history`` rows are (partner, gate, from, to, measures,
    changed at); ``tier_changes`` rows (partner, program, from tier, to tier, reason, effective on, ...)."""
    gate_rows = [
        (row[0], row[1], row[2], row[3], row[5], name)
        for row in history
        if (name := gate_event_name(row[2] or "", row[3]))
    ]
    tier_rows = [(*row[:6], name) for row in tier_changes for name in TIER_EVENTS.get(row[4], ())]
    if not gate_rows and not tier_rows:
        return
    partner_ids = {row[0] for row in gate_rows} | {row[0] for row in tier_rows}
    partner_names = dict(Partner.objects.filter(pk__in=partner_ids).values_list("id", "name"))
    gates = {
        gate_id: (name, program_id)
        for gate_id, name, program_id in Gate.objects.filter(
            pk__in={row[1] for row in gate_rows}
        ).values_list("id", "name", "program_id")
    }
    tier_ids = {tier for row in tier_rows for tier in (row[2], row[3]) if tier}
    tier_names = dict(Tier.objects.filter(pk__in=tier_ids).values_list("id", "name"))
    new_events = []
    for partner_id, gate_id, from_status, to_status, changed_at, name in gate_rows:
        gate_name, program_id = gates.get(gate_id, ("", None))
        data = {
            "partner_id": partner_id,
            "partner_name": partner_names.get(partner_id, ""),
            "gate_id": gate_id,
            "gate_name": gate_name,
            "program_id": program_id,
            "from_status": from_status or "",
            "to_status": to_status,
            "changed_at": changed_at,
        }
        new_events.append(NewEvent(name, data, partner_id=partner_id, program_id=program_id))
    for partner_id, program_id, from_tier, to_tier, reason, effective_on, name in tier_rows:
        data = _tier_data(partner_id, partner_names.get(partner_id, ""), program_id, from_tier, to_tier)
        data.update(reason=str(reason), effective_on=effective_on)
        data.update(from_tier_name=tier_names.get(from_tier), to_tier_name=tier_names.get(to_tier))
        new_events.append(NewEvent(name, data, partner_id=partner_id, program_id=program_id))
    emit_many(new_events)


def _tier_data(partner_id, partner_name, program_id, from_tier, to_tier) -> dict:
    return {
        "partner_id": partner_id,
        "partner_name": partner_name,
        "program_id": program_id,
        "from_tier_id": from_tier,
        "to_tier_id": to_tier,
    }


def tier_override_events(
    *,
    partner_id: int,
    program_id: int,
    from_tier_id,
    to_tier_id,
    reason: str,
    on: datetime.date | None = None,
) -> None:
    """The events of a tier a channel manager set or released by hand."""
    plan_events([], [(partner_id, program_id, from_tier_id, to_tier_id, reason, on or timezone.localdate())])


def _iso(day: datetime.date | None) -> str | None:
    return day.isoformat() if day else None


def forecast_events(started, ended) -> None:
    """``gate.at_risk`` for each episode that started, ``gate.recovered`` for each that ended with the
    gate passing again; recorded in the forecast's transaction, with one insert.

    ``started`` holds (forecast, episode) pairs, ``ended`` (forecast, episode, reason) triples as
    ``gates.forecast.forecasts_refresh`` collects them. An episode that ended because the gate
    failed for real is told by ``gate.failed``, from the evaluation.
    """
    recovered = [(row, episode) for row, episode, reason in ended if str(reason) == "recovered"]
    rows = [("gate.at_risk", row) for row, _episode in started] + [
        ("gate.recovered", row) for row, _ in recovered
    ]
    if not rows:
        return
    partner_names = dict(
        Partner.objects.filter(pk__in={row.partner_id for _name, row in rows}).values_list("id", "name")
    )
    gates = {
        gate_id: (name, program_id, tier_id, tier_name or "")
        for gate_id, name, program_id, tier_id, tier_name in Gate.objects.filter(
            pk__in={row.gate_id for _name, row in rows}
        ).values_list("id", "name", "program_id", "unlocks_tier_id", "unlocks_tier__name")
    }
    new_events = []
    for name, row in rows:
        gate_name, program_id, tier_id, tier_name = gates.get(row.gate_id, ("", None, None, ""))
        data = {
            "partner_id": row.partner_id,
            "partner_name": partner_names.get(row.partner_id, ""),
            "gate_id": row.gate_id,
            "gate_name": gate_name,
            "program_id": program_id,
            "fails_on": _iso(row.fails_on),
            "criterion": row.criterion,
            "shortfall": row.shortfall,
            "fix": row.fix,
            "tier_id": tier_id,
            "tier_name": tier_name,
            "tier_lost_on": _iso(row.tier_lost_on),
            "override_until": _iso(row.override_until),
            "grace_until": _iso(row.grace_until),
        }
        new_events.append(NewEvent(name, data, partner_id=row.partner_id, program_id=program_id))
    emit_many(new_events)
