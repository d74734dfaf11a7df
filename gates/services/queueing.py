"""Queueing evaluations: on-change re-evaluation debounced per partner, and runs queued by request."""

from collections.abc import Sequence

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.background import task
from gates.models import EvaluationRun
from gates.services.runs import runs_mark_stale


def _debounce_key(partner_id: int) -> str:
    return f"gates:reevaluate:{partner_id}"


def request_reevaluation(partner_ids) -> None:
    """Re-evaluate these partners shortly after the current transaction commits.

    A burst of facts causes one evaluation per partner: the first request
    marks the partners pending in the shared cache and queues one task for
    all of them ``PRM_FACT_DEBOUNCE_SECONDS`` ahead; later requests for a
    pending partner add nothing. Each mark is claimed atomically (``SET NX``),
    so of two processes asking at once exactly one queues the partner. The
    task clears the marks before it measures, so a fact that lands while it
    runs queues the next evaluation.
    """
    ids = sorted({int(partner_id) for partner_id in partner_ids})
    if ids:
        transaction.on_commit(lambda: _queue_reevaluation(ids))


# Partners per queued task: one set-based evaluation each.
REEVALUATION_BATCH = 2000


def _queue_reevaluation(partner_ids: list[int]) -> None:
    evaluate_partners_task = task("gates.tasks.evaluate_partners_task")
    delay = settings.PRM_FACT_DEBOUNCE_SECONDS
    claimed = claim_marks(
        [_debounce_key(partner_id) for partner_id in partner_ids], timeout=max(delay * 6, 60)
    )
    due = [partner_id for partner_id, mine in zip(partner_ids, claimed, strict=True) if mine]
    for start in range(0, len(due), REEVALUATION_BATCH):
        evaluate_partners_task.apply_async(args=(due[start : start + REEVALUATION_BATCH],), countdown=delay)


def claim_marks(keys: Sequence[str], *, timeout: int) -> list[bool]:
    """Set each key in the shared cache unless it is set; True for the keys this call set.

    Each claim is atomic (Redis ``SET NX``, ``cache.add`` elsewhere). On Redis
    the claims of a batch travel in one round trip.
    """
    shared = caches["default"]
    if isinstance(shared, RedisCache) and len(keys) > 1:
        client = shared._cache.get_client(write=True)
        pipeline = client.pipeline(transaction=False)
        for key in keys:
            # Whole numbers are stored as they are, as RedisCache.add would store them.
            pipeline.set(shared.make_and_validate_key(key), 1, nx=True, ex=timeout)
        return [bool(done) for done in pipeline.execute()]
    return [shared.add(key, 1, timeout=timeout) for key in keys]


def clear_reevaluation_requests(partner_ids: Sequence[int]) -> None:
    cache.delete_many([_debounce_key(partner_id) for partner_id in partner_ids])


def _forecast_key(partner_id: int) -> str:
    return f"gates:forecast:{partner_id}"


def request_reevaluated_forecast(partner_ids: Sequence[int]) -> None:
    """Forecast these partners, just re-evaluated on new facts, once per burst, after commit.

    The forecast follows ``PRM_FORECAST_DEBOUNCE_SECONDS`` later, and partners
    re-evaluated meanwhile join it, as facts join a re-evaluation: with a
    fact a second, a partner is re-evaluated every second but forecast once,
    so the workers spend their time on the evaluations that partners wait to
    see. The task clears the marks before it measures.
    """
    ids = sorted({int(partner_id) for partner_id in partner_ids})
    if ids:
        transaction.on_commit(lambda: _queue_forecast(ids))


def _queue_forecast(partner_ids: list[int]) -> None:
    delay = settings.PRM_FORECAST_DEBOUNCE_SECONDS
    claimed = claim_marks(
        [_forecast_key(partner_id) for partner_id in partner_ids], timeout=max(delay * 6, 60)
    )
    due = [partner_id for partner_id, mine in zip(partner_ids, claimed, strict=True) if mine]
    if due:
        task("gates.tasks.forecast_gates_task").apply_async(args=(due,), countdown=delay)


def clear_forecast_requests(partner_ids: Sequence[int]) -> None:
    cache.delete_many([_forecast_key(partner_id) for partner_id in partner_ids])


# The mark of a full evaluation queued and not started yet.
_FULL_RUN_PENDING_KEY = "gates:full-run-pending"


def evaluation_queue_partner(partner_id: int) -> EvaluationRun:
    """Record a queued run of one partner and queue it after the current transaction commits.

    Runs queued earlier whose task was lost are marked stale on the way, so
    none waits forever (``runs_mark_stale``).
    """
    runs_mark_stale(holding_full_lock=False)
    run = EvaluationRun.objects.create(
        kind=EvaluationRun.Kind.PARTNER,
        partner_id=partner_id,
        state=EvaluationRun.State.QUEUED,
        as_of=timezone.localdate(),
        partners_total=1,
    )
    evaluate_partner_task = task("gates.tasks.evaluate_partner_task")
    transaction.on_commit(lambda: evaluate_partner_task.delay(partner_id, run.pk))
    return run


def evaluation_queue_full() -> EvaluationRun:
    """The queued run of every partner, recorded now or joined if one waits; queued after commit.

    The next run of every partner to start carries it out, whichever request
    or edit queued that run (``run_start``). At most one such run waits: the
    database holds it (``evaluation_run_one_full_queued``), so two requests
    at the same moment join the same run.
    """
    fields = {"kind": EvaluationRun.Kind.FULL, "state": EvaluationRun.State.QUEUED}
    waiting = EvaluationRun.objects.filter(**fields).order_by("id").first()
    if waiting is None:
        try:
            with transaction.atomic():
                waiting = EvaluationRun.objects.create(**fields, as_of=timezone.localdate())
        except IntegrityError:
            waiting = EvaluationRun.objects.get(**fields)
    request_full_evaluation()
    return waiting


def request_full_evaluation() -> None:
    """Re-evaluate every partner after the current transaction commits, once per burst of edits.

    The first request to commit queues the run
    ``PRM_DEFINITION_DEBOUNCE_SECONDS`` ahead and marks it pending in the
    shared cache (claimed atomically, so two processes cannot both queue it);
    requests while it is pending join it, whether they come from the same
    transaction (a program saved with its tiers) or from others. The run
    clears the mark as it starts, so an edit during a run queues the next one.
    """
    transaction.on_commit(_queue_full_evaluation)


def _queue_full_evaluation() -> None:
    delay = settings.PRM_DEFINITION_DEBOUNCE_SECONDS
    # The mark outlives a lost task (a broker restart) only for a while.
    [claimed] = claim_marks([_FULL_RUN_PENDING_KEY], timeout=max(delay * 6, 300))
    if claimed:
        task("gates.tasks.evaluate_all_gates").apply_async(countdown=delay)


def full_evaluation_started() -> None:
    """A full run starts and reads the definitions: later edits need a run of their own."""
    cache.delete(_FULL_RUN_PENDING_KEY)
