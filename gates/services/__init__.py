"""Gate services: evaluate partners, queue evaluations, simulate, override tiers, and keep gates' versions.

One module per concern; callers use the names re-exported here.

* ``runs``: an evaluation, chunk by chunk over partner ids. For each chunk it
  *plans* (measures every leaf, decides every gate and segment, moves tiers,
  works out the benefits, ``gates.planning``) and then *writes* only what
  changed, in one transaction per chunk with the chunk's partner rows locked.
  A dry run is the plan without the write; two evaluations of the same
  partners take turns; a worker killed mid-run leaves whole chunks written
  and the next run converges; running twice in a row writes nothing the
  second time.
* ``queueing``: on-change re-evaluation, debounced per partner, and runs
  queued by request (the API's ``POST /evaluations/``, definition edits).
* ``simulation``: the what-if of a gate's criteria; writes nothing.
* ``notifications``: the mail telling partners what changed for them.
* ``overrides``: a channel manager's tier override, set and cleared.
* ``definitions``: what a saved gate's results depend on, its audit and retiring.
* ``versions``: drafts, publishing from a date, and two versions compared.
"""

from gates.services.definitions import (
    GateDefinition,
    gate_definition,
    gate_retire,
    gate_saved,
    gate_version_record,
    gates_retire,
)
from gates.services.notifications import changes_notify
from gates.services.overrides import tier_override_clear, tier_override_set
from gates.services.queueing import (
    REEVALUATION_BATCH,
    claim_marks,
    clear_forecast_requests,
    clear_reevaluation_requests,
    evaluation_queue_full,
    evaluation_queue_partner,
    full_evaluation_started,
    request_full_evaluation,
    request_reevaluated_forecast,
    request_reevaluation,
)
from gates.services.runs import (
    FULL_RUN_LOCK,
    HEARTBEAT_INTERVAL,
    STALE_RUN_NOTE,
    ChunkOutcome,
    EvaluationSummary,
    after_run,
    chunk_evaluate,
    evaluate,
    evaluate_partner,
    partner_chunks,
    run_fail,
    run_finish,
    run_start,
    runs_mark_stale,
)
from gates.services.simulation import Simulation, gate_simulate
from gates.services.versions import (
    GATES,
    CriterionRow,
    Mover,
    VersionDiff,
    criteria_diff,
    criteria_lines,
    gate_draft_save,
    gate_version_publish,
    gate_versions_apply_due,
    gate_versions_diff,
    next_version,
)
from programs.versioning import VersionError

__all__ = [
    "FULL_RUN_LOCK",
    "GATES",
    "HEARTBEAT_INTERVAL",
    "REEVALUATION_BATCH",
    "STALE_RUN_NOTE",
    "ChunkOutcome",
    "CriterionRow",
    "EvaluationSummary",
    "GateDefinition",
    "Mover",
    "Simulation",
    "VersionDiff",
    "VersionError",
    "after_run",
    "changes_notify",
    "chunk_evaluate",
    "claim_marks",
    "clear_forecast_requests",
    "clear_reevaluation_requests",
    "criteria_diff",
    "criteria_lines",
    "evaluate",
    "evaluate_partner",
    "evaluation_queue_full",
    "evaluation_queue_partner",
    "full_evaluation_started",
    "gate_definition",
    "gate_draft_save",
    "gate_retire",
    "gate_saved",
    "gate_simulate",
    "gate_version_publish",
    "gate_version_record",
    "gate_versions_apply_due",
    "gate_versions_diff",
    "gates_retire",
    "next_version",
    "partner_chunks",
    "request_full_evaluation",
    "request_reevaluated_forecast",
    "request_reevaluation",
    "run_fail",
    "run_finish",
    "run_start",
    "runs_mark_stale",
    "tier_override_clear",
    "tier_override_set",
]
