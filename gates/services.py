"""Evaluation services: measure, decide, and apply the results.

An evaluation works chunk by chunk over partner ids. For each chunk it
*plans* (measures every leaf, decides every gate and segment, moves tiers,
works out the benefits) and then *writes* only what changed, in one
transaction per chunk with the chunk's partner rows locked, so that

* a dry run is the plan without the write;
* two evaluations of the same partners (the nightly run and an on-change
  one) take turns instead of interleaving;
* a worker killed mid-run leaves whole chunks written and the rest as they
  were, and the next run converges;
* running twice in a row writes nothing the second time.
"""

import datetime
import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from celery import current_app, group
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q, QuerySet
from django.utils import dateformat, timezone

from core.audit import audit
from core.background import task
from core.exchange import daily_rates_extend
from core.locks import session_lock
from criteria.tree import evaluate as evaluate_tree
from gates import events as gate_events
from gates.engine import Measurer, serialise
from gates.metrics import METRICS, load_references
from gates.models import (
    EvaluationRun,
    Gate,
    GateOutcome,
    GateState,
    GateStatus,
    GateVersion,
    MeasureDigest,
    PartnerTier,
    TierChange,
    TierChangeReason,
)
from gates.planning import ChunkPlan, notify_changes, plan_chunk, write_plan
from gates.signals import evaluation_finished
from gates.subjects import cached_subjects, load_subjects
from gates.validation import parse_criteria
from partners.models import Membership, MembershipRole, Partner

logger = logging.getLogger(__name__)

# The advisory lock that keeps full evaluations one at a time (core.locks).
FULL_RUN_LOCK = "gates:full-run"


@dataclass
class EvaluationSummary:
    run_id: int | None
    partners: int = 0
    statuses_written: int = 0
    statuses_changed: int = 0
    tiers_changed: int = 0
    benefits_granted: int = 0
    benefits_revoked: int = 0
    segment_changes: int = 0
    events: dict[int, list[str]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    locked_out: bool = False
    # A full run split into chunks; ``dispatched`` when the workers run them (the
    # counts above then stay empty: the run's row collects them as chunks finish).
    chunks: int = 0
    dispatched: bool = False

    def add(self, plan: ChunkPlan) -> None:
        self.partners += plan.partners
        self.statuses_written += len(plan.status_rows)
        self.statuses_changed += plan.statuses_changed
        self.tiers_changed += plan.tiers_changed
        self.benefits_granted += len(plan.grants_new)
        self.benefits_revoked += len(plan.grants_revoked)
        self.segment_changes += len(plan.segment_joins) + len(plan.segment_leaves)
        for partner_id, events in plan.events.items():
            self.events.setdefault(partner_id, []).extend(events)


# --- runs ---------------------------------------------------------------------------


def _chunks(
    chunk_size: int, partner_ids: Sequence[int] | None
) -> Iterator[tuple[int, int, list[int] | None]]:
    """(first id, last id, only these ids or None for the whole range) per chunk."""
    if partner_ids is not None:
        ordered = sorted(set(partner_ids))
        for start in range(0, len(ordered), chunk_size):
            part = ordered[start : start + chunk_size]
            contiguous = part[-1] - part[0] + 1 == len(part)
            yield part[0], part[-1], None if contiguous else part
        return
    last = 0
    while True:
        ids = list(
            Partner.objects.filter(id__gt=last).order_by("id").values_list("id", flat=True)[:chunk_size]
        )
        if not ids:
            return
        yield ids[0], ids[-1], None
        last = ids[-1]


def evaluate(
    *,
    partner_ids: Sequence[int] | None = None,
    gate_ids: Sequence[int] | None = None,
    as_of: datetime.date | None = None,
    dry_run: bool = False,
    chunk_size: int | None = None,
    notify: bool = True,
    run_id: int | None = None,
) -> EvaluationSummary:
    """Evaluate gates (all in effect, or ``gate_ids``) and segments for partners (all, or ``partner_ids``).

    Writes only what changed, chunk by chunk; ``dry_run`` plans and writes
    nothing. Notifications for the changes are queued after each chunk commits.
    A full evaluation while another runs is skipped (``locked_out``).
    ``run_id`` names a queued run (``evaluation_queue_partner``) that this
    evaluation of some partners carries out.
    """
    as_of = as_of or timezone.localdate()
    chunk_size = chunk_size or settings.PRM_EVALUATION_CHUNK_SIZE
    full = partner_ids is None
    if full and not dry_run:
        return _evaluate_everyone(gate_ids=gate_ids, as_of=as_of, chunk_size=chunk_size, notify=notify)
    if not dry_run:
        daily_rates_extend(as_of + datetime.timedelta(days=7))
    # A dry run of everyone reads the definitions afresh; one-partner runs,
    # which come in bursts, reuse them until something is edited.
    load = load_subjects if full else cached_subjects
    subjects = load(as_of=as_of, gate_ids=gate_ids, with_segments=gate_ids is None)
    measurer = Measurer(subjects.trees, as_of=as_of, references=subjects.references)
    run = None
    if not dry_run:
        kind = EvaluationRun.Kind.GATE if gate_ids is not None else EvaluationRun.Kind.PARTNER
        single = partner_ids[0] if partner_ids is not None and len(set(partner_ids)) == 1 else None
        total = len(set(partner_ids)) if partner_ids is not None else Partner.objects.count()
        run = _run_take_up(run_id) if run_id is not None else None
        if run is None:
            run = EvaluationRun.objects.create(
                kind=kind, as_of=as_of, partner_id=single, partners_total=total
            )
        else:
            run.kind, run.as_of, run.partner_id, run.partners_total = kind, as_of, single, total
            run.save(update_fields=["kind", "as_of", "partner", "partners_total"])
    summary = EvaluationSummary(run_id=run.id if run else None, skipped=subjects.skipped)
    measured_at = last_beat = timezone.now()
    # Every partner at once: one pass over each fact table, then chunk by chunk.
    sources = measurer.fetch_sources() if full else None
    try:
        for first_id, last_id, only in _chunks(chunk_size, partner_ids):
            now = timezone.now()
            if dry_run:
                plan = plan_chunk(
                    subjects,
                    measurer,
                    first_id,
                    last_id,
                    now,
                    sources=sources,
                    use_digests=gate_ids is None,
                    only=only,
                )
            else:
                with transaction.atomic():
                    # Lock the chunk's partners: an on-change evaluation of one of
                    # them waits for this chunk, then sees its result.
                    locked = Partner.objects.select_for_update().filter(id__gte=first_id, id__lte=last_id)
                    if only is not None:
                        locked = locked.filter(id__in=only)
                    list(locked.values_list("id", flat=True))
                    # A partner evaluated on its own since the facts were read
                    # holds fresher results than this run: leave it as it is.
                    fresher = (
                        set(
                            MeasureDigest.objects.filter(
                                partner_id__gte=first_id,
                                partner_id__lte=last_id,
                                updated_at__gte=measured_at,
                            ).values_list("partner_id", flat=True)
                        )
                        if sources is not None
                        else set()
                    )
                    plan = plan_chunk(
                        subjects,
                        measurer,
                        first_id,
                        last_id,
                        now,
                        sources=sources,
                        skip=fresher,
                        use_digests=gate_ids is None,
                        only=only,
                        # Runs of some partners or some gates mark the partners they
                        # decided, which a nightly run in progress then leaves alone.
                        mark_evaluated=not full or gate_ids is not None,
                    )
                    write_plan(plan, run=run, now=now, notify=notify)
                if run is not None and now - last_beat > HEARTBEAT_INTERVAL:
                    # A sign of life, so that a run whose worker died can be told from a long one.
                    EvaluationRun.objects.filter(pk=run.pk).update(heartbeat_at=now)
                    last_beat = now
            summary.add(plan)
    except BaseException as exc:
        if run is not None:
            EvaluationRun.objects.filter(pk=run.pk).update(
                state=EvaluationRun.State.FAILED,
                finished_at=timezone.now(),
                error=repr(exc)[:2000],
                partners_evaluated=summary.partners,
                statuses_changed=summary.statuses_changed,
                tiers_changed=summary.tiers_changed,
            )
        raise
    if run is not None:
        EvaluationRun.objects.filter(pk=run.pk).update(
            state=EvaluationRun.State.DONE,
            finished_at=timezone.now(),
            partners_evaluated=summary.partners,
            statuses_changed=summary.statuses_changed,
            tiers_changed=summary.tiers_changed,
        )
        run_id = run.pk
        transaction.on_commit(lambda: after_run(run_id))
    return summary


# --- full runs, chunk by chunk -----------------------------------------------------------------
#
# A run of every partner is split into partner-id ranges, its chunks. Without
# a broker (the demo, tests) they run in order in this process, which reads
# every fact table once for all of them; with one, each chunk is a Celery
# task that any worker may take, reading its own range. The run's row is the
# ledger: the chunks' bounds, the positions of those written, and the counts.
# A chunk writes its results and marks itself written in one transaction,
# with its partners locked, so a chunk lost with its worker is redone from
# what is stored, and a chunk delivered twice is written once.


@dataclass
class ChunkOutcome:
    plan: ChunkPlan | None  # None: nothing was done (written already, or the run is over)
    last: bool  # every chunk of the run is written: the run may finish


def _evaluate_everyone(
    *, gate_ids: Sequence[int] | None, as_of: datetime.date, chunk_size: int, notify: bool
) -> EvaluationSummary:
    """A run of every partner: dispatched to the workers with a broker, chunk by chunk here without."""
    fan_out = not current_app.conf.task_always_eager
    # Held for the whole run in one process, only while starting a dispatched one:
    # the run's row then keeps other runs out until its last chunk is written.
    with session_lock(FULL_RUN_LOCK) as acquired:
        run = (
            run_start(gate_ids=gate_ids, as_of=as_of, chunk_size=chunk_size, fanned_out=fan_out)
            if acquired
            else None
        )
        if run is None:
            logger.info("a full evaluation is already running; this one is skipped")
            return EvaluationSummary(run_id=None, locked_out=True)
        if fan_out:
            if run.chunks_total == 0:
                run_finish(run.pk)
            else:
                chunk_task = task("gates.tasks.evaluate_chunk_task")
                ids = list(gate_ids) if gate_ids is not None else None
                chunks = group(chunk_task.si(run.pk, index, ids, notify) for index in range(run.chunks_total))
                # Once the run's row is there for the workers to read.
                transaction.on_commit(chunks.apply_async)
            return EvaluationSummary(run_id=run.pk, chunks=run.chunks_total, dispatched=True)
        subjects = load_subjects(as_of=as_of, gate_ids=gate_ids, with_segments=gate_ids is None)
        measurer = Measurer(subjects.trees, as_of=as_of, references=subjects.references)
        summary = EvaluationSummary(run_id=run.pk, skipped=subjects.skipped, chunks=run.chunks_total)
        measured_at = timezone.now()
        # Every partner at once: one pass over each fact table, then chunk by chunk.
        prepared = _Prepared(subjects, measurer, measurer.fetch_sources(), measured_at)
        try:
            for index in range(run.chunks_total):
                outcome = chunk_evaluate(
                    run_id=run.pk, index=index, gate_ids=gate_ids, notify=notify, prepared=prepared
                )
                if outcome.plan is not None:
                    summary.add(outcome.plan)
        except BaseException as exc:
            run_fail(run_id=run.pk, error=exc)
            raise
        run_finish(run.pk)
        return summary


def run_start(
    *, gate_ids: Sequence[int] | None, as_of: datetime.date, chunk_size: int, fanned_out: bool
) -> EvaluationRun | None:
    """Record a run of every partner with its chunks; None while another such run is alive.

    The caller holds ``FULL_RUN_LOCK``: a run in one process holds it to its
    end, so one still "running" without being dispatched is dead. A dispatched
    run is alive until it shows no progress for ``PRM_EVALUATION_STALE_MINUTES``.
    """
    daily_rates_extend(as_of + datetime.timedelta(days=7))
    with transaction.atomic():
        runs_mark_stale(holding_full_lock=connection.vendor == "postgresql")
        exclusive = [EvaluationRun.Kind.FULL, EvaluationRun.Kind.GATE]
        if EvaluationRun.objects.filter(state=EvaluationRun.State.RUNNING, kind__in=exclusive).exists():
            return None
        bounds = [[first_id, last_id] for first_id, last_id, _ in _chunks(chunk_size, None)]
        fields = {
            "kind": EvaluationRun.Kind.GATE if gate_ids is not None else EvaluationRun.Kind.FULL,
            "as_of": as_of,
            "fanned_out": fanned_out,
            "chunk_bounds": bounds,
            "chunks_total": len(bounds),
            "partners_total": Partner.objects.count(),
            "heartbeat_at": timezone.now(),
        }
        # A run of every partner carries out the one queued through the API, if any.
        queued = (
            EvaluationRun.objects.select_for_update()
            .filter(state=EvaluationRun.State.QUEUED, kind=EvaluationRun.Kind.FULL)
            .order_by("id")
            .first()
            if gate_ids is None
            else None
        )
        if queued is None:
            return EvaluationRun.objects.create(**fields)
        for name, value in fields.items():
            setattr(queued, name, value)
        queued.state = EvaluationRun.State.RUNNING
        queued.started_at = timezone.now()
        queued.save()
        return queued


@dataclass
class _Prepared:
    """What every chunk of a run reads first: the definitions and, in one process, every partner's facts."""

    subjects: Any
    measurer: Measurer
    sources: dict[str, dict[int, tuple]] | None
    measured_at: datetime.datetime


# The definitions of the run a worker process last took a chunk of, read once per run.
_prepared_for_run: dict[tuple[int, tuple[int, ...] | None], _Prepared] = {}


def _prepare(run: EvaluationRun, gate_ids: Sequence[int] | None) -> _Prepared:
    key = (run.pk, tuple(gate_ids) if gate_ids is not None else None)
    prepared = _prepared_for_run.get(key)
    if prepared is None:
        subjects = load_subjects(as_of=run.as_of, gate_ids=gate_ids, with_segments=gate_ids is None)
        measurer = Measurer(subjects.trees, as_of=run.as_of, references=subjects.references)
        prepared = _Prepared(subjects, measurer, None, run.started_at)
        _prepared_for_run.clear()
        _prepared_for_run[key] = prepared
    return prepared


class _DatabaseTime:
    """An execute wrapper that adds up the time spent waiting on the database."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started


def chunk_evaluate(
    *,
    run_id: int,
    index: int,
    gate_ids: Sequence[int] | None = None,
    notify: bool = True,
    prepared: _Prepared | None = None,
) -> ChunkOutcome:
    """Evaluate and write chunk ``index`` of a run, once; safe to call again for the same chunk.

    Precondition: the run was recorded by ``run_start``. A chunk written
    already, or of a run no longer running (stale, failed), does nothing. The
    chunk's partners are locked from before its check to its commit, so two
    deliveries of one chunk take turns and the second finds it written; a
    chunk interrupted before its commit left nothing and is decided afresh.
    Side effects: notifications on commit (``write_plan``); the run's counts,
    heartbeat and time spent move in the chunk's transaction.
    """
    started = time.perf_counter()
    database = _DatabaseTime()
    with connection.execute_wrapper(database):
        run = EvaluationRun.objects.get(pk=run_id)
        if run.state != EvaluationRun.State.RUNNING:
            return ChunkOutcome(None, last=False)
        if index in run.chunks_finished:
            return ChunkOutcome(None, last=run.chunks_done >= run.chunks_total)
        first_id, last_id = run.chunk_bounds[index]
        sources: dict[str, dict[int, tuple]] | None
        if prepared is None:
            prepared = _prepare(run, gate_ids)
            measured_at = timezone.now()
            sources = prepared.measurer.fetch_sources(first_id, last_id)
        else:
            measured_at, sources = prepared.measured_at, prepared.sources
        with transaction.atomic():
            # The chunk's partners, locked: an on-change evaluation of one of them
            # waits for this chunk, and so does another delivery of this chunk.
            list(
                Partner.objects.select_for_update()
                .filter(id__gte=first_id, id__lte=last_id)
                .values_list("id", flat=True)
            )
            state, finished = (
                EvaluationRun.objects.filter(pk=run_id).values_list("state", "chunks_finished").get()
            )
            if state != EvaluationRun.State.RUNNING or index in finished:
                return ChunkOutcome(None, last=False)
            # A partner evaluated on its own since the facts were read holds
            # fresher results than this run: leave it as it is.
            fresher = set(
                MeasureDigest.objects.filter(
                    partner_id__gte=first_id, partner_id__lte=last_id, updated_at__gte=measured_at
                ).values_list("partner_id", flat=True)
            )
            now = timezone.now()
            plan = plan_chunk(
                prepared.subjects,
                prepared.measurer,
                first_id,
                last_id,
                now,
                sources=sources,
                skip=fresher,
                use_digests=gate_ids is None,
                # A run of some gates marks the partners it decided, which a
                # nightly run in progress then leaves alone.
                mark_evaluated=gate_ids is not None,
            )
            write_plan(plan, run=run, now=now, notify=notify)
            # Last, and briefly: the run's row is shared by every chunk of the run.
            run = EvaluationRun.objects.select_for_update().get(pk=run_id)
            run.chunks_finished = [*run.chunks_finished, index]
            run.chunks_done = len(run.chunks_finished)
            run.partners_evaluated += plan.partners
            run.statuses_changed += plan.statuses_changed
            run.tiers_changed += plan.tiers_changed
            run.heartbeat_at = timezone.now()
            run.chunk_seconds += time.perf_counter() - started
            run.chunk_sql_seconds += database.seconds
            run.save(
                update_fields=[
                    "chunks_finished",
                    "chunks_done",
                    "partners_evaluated",
                    "statuses_changed",
                    "tiers_changed",
                    "heartbeat_at",
                    "chunk_seconds",
                    "chunk_sql_seconds",
                ]
            )
    logger.info(
        "run %s: chunk %s of %s (%s partners) in %.2f s, %.2f s of it in the database",
        run_id,
        index + 1,
        run.chunks_total,
        plan.partners,
        time.perf_counter() - started,
        database.seconds,
    )
    return ChunkOutcome(plan, last=run.chunks_done >= run.chunks_total)


def run_finish(run_id: int) -> bool:
    """Record the end of a run whose chunks are all written, then what follows it; once.

    Safe to call again and from several processes: the conditional update
    lets exactly one caller through. Returns whether this call finished it.
    """
    finished = EvaluationRun.objects.filter(
        pk=run_id, state=EvaluationRun.State.RUNNING, chunks_done__gte=F("chunks_total")
    ).update(state=EvaluationRun.State.DONE, finished_at=timezone.now())
    if finished:
        transaction.on_commit(lambda: after_run(run_id))
    return bool(finished)


def run_fail(*, run_id: int, error: BaseException) -> None:
    """A run that cannot go on: the chunks written stay, the next run converges."""
    EvaluationRun.objects.filter(pk=run_id, state=EvaluationRun.State.RUNNING).update(
        state=EvaluationRun.State.FAILED, finished_at=timezone.now(), error=repr(error)[:2000]
    )


def after_run(run_id: int) -> None:
    """What follows every finished evaluation run, after its results are committed.

    Called once per run, whichever process wrote its last chunk. Add the
    steps that follow a run here, in order. Layers above the gates react
    through ``gates.signals.evaluation_finished`` (connected in their
    ``AppConfig.ready``). Partners' notifications leave as each chunk commits.
    """
    run = EvaluationRun.objects.get(pk=run_id)
    evaluation_finished.send(sender=EvaluationRun, run=run)


# How often a long run records that it is alive.
HEARTBEAT_INTERVAL = datetime.timedelta(minutes=1)
STALE_RUN_NOTE = (
    "The worker stopped before the run finished; the chunks it wrote stay and a later run took over."
)


def runs_mark_stale(*, holding_full_lock: bool) -> int:
    """Mark runs still "running" whose worker died as stale; returns how many.

    A run without progress for ``PRM_EVALUATION_STALE_MINUTES`` is taken for
    dead. A run that holds the full-run lock (PostgreSQL) knows at once that
    no other run of every partner (all gates, or one gate) in one process is
    alive, since such a run holds the lock to its end: each of them still
    "running" is one whose worker was killed. A run dispatched to the
    workers holds the lock only to start, so only its heartbeat tells.
    """
    now = timezone.now()
    threshold = now - datetime.timedelta(minutes=settings.PRM_EVALUATION_STALE_MINUTES)
    lost = Q(heartbeat_at__lt=threshold) | Q(heartbeat_at__isnull=True, started_at__lt=threshold)
    if holding_full_lock:
        lost |= Q(kind__in=[EvaluationRun.Kind.FULL, EvaluationRun.Kind.GATE], fanned_out=False)
    return (
        EvaluationRun.objects.filter(state=EvaluationRun.State.RUNNING)
        .filter(lost)
        .update(state=EvaluationRun.State.STALE, finished_at=now, error=STALE_RUN_NOTE)
    )


def evaluate_partner(
    partner_id: int, *, as_of: datetime.date | None = None, run_id: int | None = None
) -> EvaluationSummary:
    """Re-evaluate one partner after its facts changed: the same code as the nightly run."""
    return evaluate(partner_ids=[partner_id], as_of=as_of, run_id=run_id)


# --- on-change re-evaluation -----------------------------------------------------------


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
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    cache = caches["default"]
    if isinstance(cache, RedisCache) and len(keys) > 1:
        client = cache._cache.get_client(write=True)
        pipeline = client.pipeline(transaction=False)
        for key in keys:
            # Whole numbers are stored as they are, as RedisCache.add would store them.
            pipeline.set(cache.make_and_validate_key(key), 1, nx=True, ex=timeout)
        return [bool(done) for done in pipeline.execute()]
    return [cache.add(key, 1, timeout=timeout) for key in keys]


def clear_reevaluation_requests(partner_ids: Sequence[int]) -> None:
    from django.core.cache import cache

    cache.delete_many([_debounce_key(partner_id) for partner_id in partner_ids])


# The mark of a full evaluation queued and not started yet.
_FULL_RUN_PENDING_KEY = "gates:full-run-pending"


def _run_take_up(run_id: int) -> EvaluationRun | None:
    """The queued run ``run_id``, now running; None if it is gone or already taken up."""
    taken = EvaluationRun.objects.filter(pk=run_id, state=EvaluationRun.State.QUEUED).update(
        state=EvaluationRun.State.RUNNING, started_at=timezone.now()
    )
    return EvaluationRun.objects.get(pk=run_id) if taken else None


def evaluation_queue_partner(partner_id: int) -> EvaluationRun:
    """Record a queued run of one partner and queue it after the current transaction commits."""
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
    or edit queued that run (``run_start``).
    """
    waiting = (
        EvaluationRun.objects.filter(state=EvaluationRun.State.QUEUED, kind=EvaluationRun.Kind.FULL)
        .order_by("id")
        .first()
    )
    run = waiting or EvaluationRun.objects.create(
        kind=EvaluationRun.Kind.FULL, state=EvaluationRun.State.QUEUED, as_of=timezone.localdate()
    )
    request_full_evaluation()
    return run


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
    from django.core.cache import cache

    cache.delete(_FULL_RUN_PENDING_KEY)


# --- what-if ---------------------------------------------------------------------------------


@dataclass
class Simulation:
    evaluated: int = 0
    would_pass: int = 0
    newly_pass: int = 0
    newly_fail: int = 0
    passing_now: int = 0
    leaf_passes: list[tuple[str, str, int]] = field(default_factory=list)
    newly_pass_examples: list[str] = field(default_factory=list)
    newly_fail_examples: list[str] = field(default_factory=list)


def gate_simulate(
    *,
    criteria: Any,
    currency: str,
    gate_id: int | None = None,
    prerequisite_ids: Sequence[int] = (),
    partners: QuerySet[Partner] | None = None,
    as_of: datetime.date | None = None,
    chunk_size: int | None = None,
    examples: int = 10,
) -> Simulation:
    """How many partners a gate would pass, newly pass and newly fail; writes nothing.

    ``gate_id`` compares with that gate's current results (an edited gate);
    without it every pass is new (a draft). ``partners`` limits every count
    and example to those partners: callers pass what their user may see
    (``Partner.objects.visible_to``), so a channel manager learns nothing of
    partners outside his coverage; None means every partner. Raises
    ``CriteriaError`` for an invalid tree.
    """
    as_of = as_of or timezone.localdate()
    references = load_references()
    tree = parse_criteria(criteria, default_currency=currency, references=references)
    measurer = Measurer([tree], as_of=as_of, references=references)
    keys = measurer.keys_for(tree)
    result = Simulation()
    leaf_counts = [0] * len(tree.leaves)
    scope: list[int] | None = None
    statuses = GateStatus.objects.filter(status=GateOutcome.PASSED)
    if partners is not None:
        scope = list(partners.values_list("pk", flat=True))
        statuses = statuses.filter(partner_id__in=partners.values("pk"))
    passing_now: set[int] = set()
    if gate_id is not None:
        passing_now = set(statuses.filter(gate_id=gate_id).values_list("partner_id", flat=True))
    prerequisites_passed: dict[int, int] = defaultdict(int)
    if prerequisite_ids:
        for partner_id in statuses.filter(gate_id__in=prerequisite_ids).values_list("partner_id", flat=True):
            prerequisites_passed[partner_id] += 1
    newly_pass_ids: list[int] = []
    newly_fail_ids: list[int] = []
    required = len(set(prerequisite_ids))
    for first_id, last_id, only in _chunks(chunk_size or settings.PRM_EVALUATION_CHUNK_SIZE, scope):
        for partner_id, values_by_key in measurer.measure(first_id, last_id, only=only).items():
            result.evaluated += 1
            outcome = evaluate_tree(tree, [values_by_key[key] for key in keys])
            for index, leaf_outcome in enumerate(outcome.leaves):
                leaf_counts[index] += leaf_outcome.passed
            passes = outcome.passed and prerequisites_passed[partner_id] == required
            was = partner_id in passing_now
            result.would_pass += passes
            if passes and not was:
                result.newly_pass += 1
                newly_pass_ids.append(partner_id)
            elif was and not passes:
                result.newly_fail += 1
                newly_fail_ids.append(partner_id)
    result.passing_now = len(passing_now)
    shown = newly_pass_ids[:examples] + newly_fail_ids[:examples]
    labels = dict(Partner.objects.filter(id__in=shown).values_list("id", "name"))
    result.newly_pass_examples = [labels[i] for i in newly_pass_ids[:examples]]
    result.newly_fail_examples = [labels[i] for i in newly_fail_ids[:examples]]
    for leaf, count in zip(tree.leaves, leaf_counts, strict=True):
        spec = METRICS[leaf.metric].spec
        description = spec.describe(leaf) if spec.describe else spec.label
        result.leaf_passes.append((leaf.path, f"{description} {leaf.op} {serialise(leaf.target)}", count))
    return result


# --- notifications -----------------------------------------------------------------------------


def changes_notify(changes: Sequence[Sequence[Any]]) -> tuple[int, list[list]]:
    """Mail each partner's active admins and its channel manager what changed for it.

    ``changes`` are [partner id, lines] pairs. Three queries and one mail
    connection whatever their number. Returns the recipients mailed, and the
    pairs whose mail failed (to try again); partners without recipients, or
    deleted since, are skipped.
    """
    from django.core.mail import EmailMessage, get_connection

    lines_by_partner = {int(partner_id): list(lines) for partner_id, lines in changes}
    partners = Partner.objects.filter(pk__in=list(lines_by_partner)).select_related("channel_manager")
    admins: dict[int, set[str]] = defaultdict(set)
    for partner_id, email in Membership.objects.filter(
        partner_id__in=list(lines_by_partner), role=MembershipRole.ADMIN, user__is_active=True
    ).values_list("partner_id", "user__email"):
        if email:
            admins[partner_id].add(email)
    recipients_mailed = 0
    failed: list[list] = []
    with get_connection() as connection:
        for partner in partners.order_by("pk"):
            recipients = set(admins[partner.pk])
            if partner.channel_manager and partner.channel_manager.email:
                recipients.add(partner.channel_manager.email)
            if not recipients:
                continue
            lines = lines_by_partner[partner.pk]
            body = "\n".join(f"• {line}" for line in lines)
            message = EmailMessage(
                subject=f"{partner.name}: your partner program status changed",
                body=f"Hello,\n\nRecent changes for {partner.name}:\n\n{body}\n\nSee the portal for details.\n",
                to=sorted(recipients),
                connection=connection,
            )
            try:
                message.send()
            except OSError:
                logger.warning("the mail about partner %s's changes failed; it will be retried", partner.pk)
                failed.append([partner.pk, lines])
                continue
            recipients_mailed += len(recipients)
    return recipients_mailed, failed


# --- overrides ---------------------------------------------------------------------------------


def tier_override_set(
    *, actor, partner: Partner, program, tier, reason: str, expires_on: datetime.date | None
):
    """A channel manager decides the tier a partner holds, with a reason and an optional expiry.

    Records the change in the tier history and the audit log, and brings the
    partner's benefits in line in the same transaction. Setting the override
    the partner already has (same tier, reason and expiry) writes nothing and
    tells nobody. Raises ``ValueError`` for a tier of another program, an empty
    reason or a past expiry.
    """
    if tier.program_id != program.id:
        raise ValueError("The tier belongs to another program.")
    if not reason.strip():
        raise ValueError("Give the reason for the override.")
    today = timezone.localdate()
    if expires_on is not None and expires_on < today:
        raise ValueError("The override would already have expired.")
    with transaction.atomic():
        Partner.objects.select_for_update().filter(pk=partner.pk).exists()
        row, _ = PartnerTier.objects.get_or_create(partner=partner, program=program)
        if (row.override_tier_id, row.override_reason, row.override_expires_on) == (
            tier.id,
            reason.strip(),
            expires_on,
        ):
            return row
        before = row.tier_id
        row.override_tier = tier
        row.override_reason = reason.strip()
        row.override_expires_on = expires_on
        row.override_by = actor if getattr(actor, "is_authenticated", False) else None
        if row.tier_id != tier.id:
            row.tier = tier
            row.since = today
        row.save()
        until = f" until {dateformat.format(expires_on, 'j F Y')}" if expires_on else ""
        TierChange.objects.create(
            partner=partner,
            program=program,
            from_tier_id=before,
            to_tier=tier,
            reason=TierChangeReason.OVERRIDE_SET,
            effective_on=today,
            actor=row.override_by,
            note=f"{reason.strip()}{until}",
        )
        gate_events.tier_override_events(
            partner_id=partner.pk,
            program_id=program.pk,
            from_tier_id=before,
            to_tier_id=tier.id,
            reason="override_set",
        )
        audit(
            actor=actor,
            action="tier.override_set",
            target=row,
            tier=tier.name,
            reason=reason.strip(),
            expires_on=expires_on.isoformat() if expires_on else None,
        )
        evaluate(partner_ids=[partner.pk], as_of=today)
        message = f"Your tier in {program.name} is set to {tier.name} by your channel manager{until}."
        transaction.on_commit(lambda: notify_changes({partner.pk: [message]}))
    return row


def tier_override_clear(*, actor, partner_tier: PartnerTier, note: str = "") -> PartnerTier:
    """End an override now; the tier the gates earn applies again, with its benefits."""
    today = timezone.localdate()
    with transaction.atomic():
        row = PartnerTier.objects.select_for_update().get(pk=partner_tier.pk)
        if row.override_tier_id is None:
            return row
        before = row.tier_id
        row.override_tier = None
        row.override_reason = ""
        row.override_expires_on = None
        row.override_by = None
        row.tier_id = row.earned_tier_id
        if before != row.tier_id:
            row.since = today
        row.save()
        TierChange.objects.create(
            partner_id=row.partner_id,
            program_id=row.program_id,
            from_tier_id=before,
            to_tier_id=row.tier_id,
            reason=TierChangeReason.OVERRIDE_ENDED,
            effective_on=today,
            actor=actor if getattr(actor, "is_authenticated", False) else None,
            note=note,
        )
        gate_events.tier_override_events(
            partner_id=row.partner_id,
            program_id=row.program_id,
            from_tier_id=before,
            to_tier_id=row.tier_id,
            reason="override_ended",
        )
        audit(actor=actor, action="tier.override_cleared", target=row, note=note)
        evaluate(partner_ids=[row.partner_id], as_of=today)
    return row


# --- gate definitions ------------------------------------------------------------------------


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
        Gate.objects.filter(pk=gate.pk).update(version=_next_version(gate))
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
    _, created = GateVersion.objects.get_or_create(
        gate=instance,
        version=instance.version,
        defaults={"criteria": instance.criteria, "currency": instance.money_currency},
    )
    if created:
        GateVersion.objects.filter(gate=instance, state=GateVersion.State.CURRENT).exclude(
            version=instance.version
        ).update(state=GateVersion.State.SUPERSEDED)


def gate_retire(*, actor, gate) -> None:
    gates_retire(actor=actor, gates=[gate])


# --- versions and publishing -------------------------------------------------------------------


class VersionError(Exception):
    """A version cannot be saved or published as asked; ``errors`` maps fields to messages."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(errors)
        self.errors = errors


def _next_version(gate) -> int:
    from django.db.models import Max

    latest = GateVersion.objects.filter(gate=gate).aggregate(latest=Max("version"))["latest"]
    return max(latest or 0, gate.version) + 1


def gate_draft_save(*, actor, gate, criteria: Any, currency: str | None = None) -> GateVersion:
    """Save the criteria of the gate's next version as its draft (one draft per gate, edited in place).

    The gate itself is left as it is: its partners are measured against the
    current version until the draft is published. Raises ``VersionError``
    for an invalid tree.
    """
    from gates.validation import criteria_errors

    currency = currency if currency is not None else gate.currency
    problems = criteria_errors(criteria, default_currency=currency or gate.program.base_currency)
    if problems:
        raise VersionError({"criteria": problems})
    with transaction.atomic():
        Gate.objects.select_for_update().filter(pk=gate.pk).first()
        draft = GateVersion.objects.filter(gate=gate, state=GateVersion.State.DRAFT).first()
        if draft is None:
            draft = GateVersion(gate=gate, version=_next_version(gate), state=GateVersion.State.DRAFT)
        draft.criteria = criteria
        draft.currency = currency or gate.program.base_currency
        draft.save()
        audit(actor=actor, action="gate.draft_saved", target=gate, version=draft.version, criteria=criteria)
    return draft


def gate_version_publish(
    *, actor, draft: GateVersion, effective_from: datetime.date | None = None
) -> GateVersion:
    """Publish a draft: it becomes the gate's criteria on ``effective_from`` (today or later).

    Published today, the gate changes at once and its partners are
    re-evaluated after commit; published for a later day, the version waits
    as scheduled until ``gate_versions_apply_due`` reaches that day. The
    version before stays, read-only, as what earlier statuses were decided
    under. Audited.
    """
    today = timezone.localdate()
    effective_from = effective_from or today
    if draft.state != GateVersion.State.DRAFT:
        raise VersionError({"version": ["Only a draft is published; this version is read-only."]})
    if effective_from < today:
        raise VersionError({"effective_from": ["A version takes effect today or later, never in the past."]})
    with transaction.atomic():
        draft.effective_from = effective_from
        draft.published_at = timezone.now()
        draft.published_by = actor if getattr(actor, "pk", None) else None
        draft.state = GateVersion.State.SCHEDULED
        draft.save(update_fields=["effective_from", "published_at", "published_by", "state"])
        audit(
            actor=actor,
            action="gate.version_published",
            target=draft.gate,
            version=draft.version,
            effective_from=effective_from.isoformat(),
        )
        if effective_from <= today:
            _make_current(draft)
    return draft


def _make_current(version: GateVersion) -> None:
    gate = Gate.objects.select_for_update().get(pk=version.gate_id)
    GateVersion.objects.filter(gate=gate, state=GateVersion.State.CURRENT).update(
        state=GateVersion.State.SUPERSEDED
    )
    version.state = GateVersion.State.CURRENT
    version.save(update_fields=["state"])
    gate.criteria = version.criteria
    gate.currency = (
        "" if version.currency == gate.program.base_currency and not gate.currency else version.currency
    )
    gate.version = version.version
    gate._publishing = True  # type: ignore[attr-defined]
    gate.save(update_fields=["criteria", "currency", "version", "updated_at"])
    if gate.state == GateState.ACTIVE:
        request_full_evaluation()


def gate_versions_apply_due(day: datetime.date | None = None) -> int:
    """Make current every published version whose day has come (the nightly run calls this first)."""
    day = day or timezone.localdate()
    due = list(
        GateVersion.objects.filter(state=GateVersion.State.SCHEDULED, effective_from__lte=day).order_by(
            "gate_id", "version"
        )
    )
    with transaction.atomic():
        for version in due:
            _make_current(version)
    return len(due)


@dataclass
class VersionDiff:
    before: GateVersion
    after: GateVersion
    before_lines: list[str]
    after_lines: list[str]
    pass_before: int = 0
    pass_after: int = 0
    newly_pass: list[str] = field(default_factory=list)
    newly_fail: list[str] = field(default_factory=list)


def criteria_lines(criteria: Any, currency: str) -> list[str]:
    """Each criterion of a tree in words, with its place in the tree."""
    tree = parse_criteria(criteria, default_currency=currency)
    lines = []
    for leaf in tree.leaves:
        spec = METRICS[leaf.metric].spec
        description = spec.describe(leaf) if spec.describe else spec.label
        lines.append(f"{leaf.path}: {description} {leaf.op} {serialise(leaf.target)}")
    return lines


def gate_versions_diff(
    *, before: GateVersion, after: GateVersion, partners: QuerySet[Partner] | None = None
) -> VersionDiff:
    """Two versions side by side in words, and who passes under each (among ``partners``, the caller's)."""
    diff = VersionDiff(
        before=before,
        after=after,
        before_lines=criteria_lines(before.criteria, before.currency),
        after_lines=criteria_lines(after.criteria, after.currency),
    )
    today = timezone.localdate()
    references = load_references()
    trees = [
        parse_criteria(v.criteria, default_currency=v.currency, references=references)
        for v in (before, after)
    ]
    # One measuring pass for both versions.
    measurer = Measurer(trees, as_of=today, references=references)
    keys = [measurer.keys_for(tree) for tree in trees]
    scope = list(partners.values_list("pk", flat=True)) if partners is not None else None
    moved: list[tuple[int, bool]] = []
    for first_id, last_id, only in _chunks(settings.PRM_EVALUATION_CHUNK_SIZE, scope):
        for partner_id, values_by_key in measurer.measure(first_id, last_id, only=only).items():
            was, now = (
                evaluate_tree(tree, [values_by_key[key] for key in ks]).passed
                for tree, ks in zip(trees, keys, strict=True)
            )
            diff.pass_before += was
            diff.pass_after += now
            if was != now:
                moved.append((partner_id, now))
    names = dict(Partner.objects.filter(id__in=[i for i, _ in moved]).values_list("id", "name"))
    diff.newly_pass = sorted(names[i] for i, now in moved if now)
    diff.newly_fail = sorted(names[i] for i, now in moved if not now)
    return diff
