"""Gate definitions: what a saved gate's results depend on, its audit, retiring, and the versions it records."""

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from core.audit import audit
from gates.models import Gate, GateState
from gates.services.queueing import request_full_evaluation
from gates.services.versions import GATES, next_version
from programs import versioning


@dataclass(frozen=True)
class GateDefinition:
    """What of a gate its partners' results depend on; names and descriptions are not part of it."""

    program_id: int | None
    state: str
    effective_from: datetime.date | None
    effective_to: datetime.date | None
    criteria: Any
    currency: str
    unlocks_tier_id: int | None
    prerequisite_ids: frozenset[int]
    benefit_ids: frozenset[int]


def gate_definition(gate) -> GateDefinition:
    """The decision-relevant state of a saved gate (its relations as stored)."""
    return GateDefinition(
        program_id=gate.program_id,
        state=gate.state,
        effective_from=gate.effective_from,
        effective_to=gate.effective_to,
        criteria=gate.criteria,
        currency=gate.money_currency,
        unlocks_tier_id=gate.unlocks_tier_id,
        prerequisite_ids=frozenset(p.pk for p in gate.prerequisites.all()),
        benefit_ids=frozenset(b.pk for b in gate.unlocks_benefits.all()),
    )


def gate_saved(*, actor, gate, before: GateDefinition | None) -> None:
    """After a gate and its relations are saved: version, audit, and re-evaluation if it matters.

    ``before`` is ``gate_definition`` of the gate as it was (None for a new
    gate). New criteria or a new currency bump the version. Every partner is
    re-evaluated after commit (coalesced with other edits) when something a
    decision reads changed on a gate that is or was active; a new name or
    description queues nothing.
    """
    after = gate_definition(gate)
    if before is not None and (after.criteria != before.criteria or after.currency != before.currency):
        Gate.objects.filter(pk=gate.pk).update(version=next_version(gate))
        gate.refresh_from_db(fields=["version"])
        gate_version_record(sender=Gate, instance=gate)
    audit(
        actor=actor,
        action="gate.created" if before is None else "gate.changed",
        target=gate,
        state=gate.state,
        criteria=gate.criteria,
    )
    was_active = before is not None and before.state == GateState.ACTIVE
    if after != before and (was_active or after.state == GateState.ACTIVE):
        request_full_evaluation()


def gates_retire(*, actor, gates: Iterable) -> int:
    """Retire gates together; their partners are re-evaluated after commit, in one run.

    Gates retired already are left as they are. Returns how many were retired.
    """
    retired = 0
    with transaction.atomic():
        for gate in gates:
            if gate.state == GateState.RETIRED:
                continue
            gate.state = GateState.RETIRED
            gate.save(update_fields=["state", "updated_at"])
            audit(actor=actor, action="gate.retired", target=gate)
            retired += 1
        if retired:
            request_full_evaluation()
    return retired


def gate_version_record(*, sender, instance, raw: bool = False, **_kwargs) -> None:
    """Keep the criteria of a gate's version (signal receiver on every gate save, and at a new version).

    The first save of a version records it; a version's criteria are what
    its statuses were measured against, so they are not overwritten.
    """
    if raw:
        return  # fixtures being loaded
    versioning.version_record(GATES, instance)


def gate_retire(*, actor, gate) -> None:
    gates_retire(actor=actor, gates=[gate])
