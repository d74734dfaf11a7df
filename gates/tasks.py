"""Celery tasks: thin wrappers that load ids and call one service."""

import logging

from celery import shared_task
from django.db import OperationalError

from gates import forecast, replay, services, whatif
from programs.versioning import segment_versions_apply_due

logger = logging.getLogger(__name__)


@shared_task(bind=True, autoretry_for=(OperationalError,), retry_backoff=30, max_retries=5)
def evaluate_all_gates(self) -> dict:
    """Every active gate and segment for every partner: nightly, and after definitions change.

    With a broker the run's chunks go to the workers (``evaluate_chunk_task``)
    and this returns at once; the counts are then on the run's row.
    """
    services.full_evaluation_started()
    # Versions published for today take effect before the partners are measured.
    services.gate_versions_apply_due()
    segment_versions_apply_due()
    summary = services.evaluate()
    if summary.locked_out and not self.request.is_eager:
        # The run in progress may have read the definitions before the edit
        # that queued this one: come back after it.
        services.request_full_evaluation()
    elif not summary.dispatched:
        # A dispatched run is forecast by the worker that finishes it (``evaluate_chunk_task``).
        forecast.request_forecast()
    return {
        "run": summary.run_id,
        "chunks": summary.chunks,
        "dispatched": summary.dispatched,
        "partners": summary.partners,
        "changed": summary.statuses_changed,
        "tiers": summary.tiers_changed,
        "skipped": summary.locked_out,
    }


# A chunk is safe to redo (``services.chunk_evaluate``), so it is acknowledged
# only once done, and a chunk whose worker died goes back to the queue.
@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=3)
def evaluate_chunk_task(
    self, run_id: int, index: int, gate_ids: list[int] | None = None, notify: bool = True
) -> dict:
    """One chunk of a full run; the worker that writes the last one finishes the run."""
    try:
        outcome = services.chunk_evaluate(run_id=run_id, index=index, gate_ids=gate_ids, notify=notify)
    except Exception as exc:
        if self.request.retries < self.max_retries:
            raise self.retry(exc=exc, countdown=2**self.request.retries) from exc
        services.run_fail(run_id=run_id, error=exc)
        raise
    if outcome.last:
        services.run_finish(run_id)
        forecast.request_forecast()
    return {"run": run_id, "chunk": index, "partners": outcome.plan.partners if outcome.plan else 0}


@shared_task(autoretry_for=(OperationalError,), retry_backoff=5, max_retries=5)
def evaluate_partners_task(partner_ids: list[int]) -> dict:
    """Partners whose facts changed (debounced by ``services.request_reevaluation``), in one evaluation."""
    services.clear_reevaluation_requests(partner_ids)
    summary = services.evaluate(partner_ids=partner_ids)
    services.request_reevaluated_forecast(partner_ids)
    return {
        "run": summary.run_id,
        "partners": summary.partners,
        "changed": summary.statuses_changed,
        "tiers": summary.tiers_changed,
    }


@shared_task(autoretry_for=(OperationalError,), retry_backoff=5, max_retries=5)
def evaluate_partner_task(partner_id: int, run_id: int | None = None) -> dict:
    """One partner, on request (the API's re-evaluate command), carrying out its queued run."""
    services.clear_reevaluation_requests([partner_id])
    summary = services.evaluate_partner(partner_id, run_id=run_id)
    return {"run": summary.run_id, "changed": summary.statuses_changed, "tiers": summary.tiers_changed}


@shared_task(autoretry_for=(OperationalError,), retry_backoff=30, max_retries=5)
def evaluate_gate_task(gate_id: int) -> dict:
    summary = services.evaluate(gate_ids=[gate_id])
    return {"run": summary.run_id, "changed": summary.statuses_changed}


@shared_task(bind=True, max_retries=5)
def notify_partners_changes(self, changes: list[list]) -> int:
    """Mail a batch of partners what changed ([partner id, lines] each); retry those whose mail failed."""
    recipients, failed = services.changes_notify(changes)
    if failed:
        raise self.retry(args=(failed,), countdown=60 * 2**self.request.retries)
    return recipients


@shared_task(autoretry_for=(OSError,), retry_backoff=60, max_retries=5)
def notify_partner_changes(partner_id: int, lines: list[str]) -> int:
    """One partner's changes (kept for messages queued before changes were batched). Returns the recipients."""
    recipients, failed = services.changes_notify([[partner_id, lines]])
    if failed:
        raise OSError(f"the mail to partner {partner_id} could not be sent")
    return recipients


@shared_task(autoretry_for=(OperationalError,), retry_backoff=30, max_retries=5)
def forecast_gates_task(partner_ids: list[int] | None = None) -> dict:
    """At-risk forecasts after an evaluation: every partner nightly, or the partners just re-evaluated."""
    if partner_ids is not None:
        services.clear_forecast_requests(partner_ids)
    summary = forecast.forecasts_refresh(partner_ids=partner_ids)
    return {"partners": summary.partners, "at_risk": summary.at_risk, "started": summary.started}


# Not retried: a run that fails records its error for the page to show, and is asked for again there.
@shared_task
def whatif_run_task(run_id: int) -> dict:
    """A what-if simulation asked for in the admin; a second delivery of a run taken up does nothing."""
    run = whatif.whatif_run(run_id)
    if run is None:
        return {"run": run_id, "skipped": True}
    return {
        "run": run_id,
        "partners": (run.result or {}).get("partners", 0),
        "movers": (run.result or {}).get("movers_total", 0),
    }


@shared_task
def replay_run_task(run_id: int) -> dict:
    """A replay against history asked for in the admin or the API; a second delivery does nothing."""
    run = replay.replay_run(run_id)
    if run is None:
        return {"run": run_id, "skipped": True}
    return {"run": run_id, "dates": len(run.dates)}
