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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from celery import current_app, group
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from core.background import task
from core.exchange import daily_rates_extend
from core.locks import session_lock
from gates.engine import Measurer
from gates.models import EvaluationRun, MeasureDigest
from gates.planning import ChunkPlan, plan_chunk, write_plan
from gates.signals import evaluation_finished
from gates.subjects import cached_subjects, load_subjects
from partners.models import Partner

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


def partner_chunks(
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
        for first_id, last_id, only in partner_chunks(chunk_size, partner_ids):
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
        bounds = [[first_id, last_id] for first_id, last_id, _ in partner_chunks(chunk_size, None)]
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
LOST_RUN_NOTE = "The run was queued but no worker took it up in time; ask for it again."


def runs_mark_stale(*, holding_full_lock: bool) -> int:
    """Mark runs whose worker died, or whose task never reached one, as stale; returns how many.

    A running run without progress for ``PRM_EVALUATION_STALE_MINUTES`` is
    taken for dead. A run that holds the full-run lock (PostgreSQL) knows at
    once that no other run of every partner (all gates, or one gate) in one
    process is alive, since such a run holds the lock to its end: each of
    them still "running" is one whose worker was killed. A run dispatched to
    the workers holds the lock only to start, so only its heartbeat tells.
    A run of one partner queued that long was lost with its task (a broker
    restart); a queued run of every partner is left to the next full run,
    which carries it out (``run_start``).
    """
    now = timezone.now()
    threshold = now - datetime.timedelta(minutes=settings.PRM_EVALUATION_STALE_MINUTES)
    lost = Q(heartbeat_at__lt=threshold) | Q(heartbeat_at__isnull=True, started_at__lt=threshold)
    if holding_full_lock:
        lost |= Q(kind__in=[EvaluationRun.Kind.FULL, EvaluationRun.Kind.GATE], fanned_out=False)
    stopped = (
        EvaluationRun.objects.filter(state=EvaluationRun.State.RUNNING)
        .filter(lost)
        .update(state=EvaluationRun.State.STALE, finished_at=now, error=STALE_RUN_NOTE)
    )
    never_started = EvaluationRun.objects.filter(
        state=EvaluationRun.State.QUEUED, kind=EvaluationRun.Kind.PARTNER, started_at__lt=threshold
    ).update(state=EvaluationRun.State.STALE, finished_at=now, error=LOST_RUN_NOTE)
    return stopped + never_started


def evaluate_partner(
    partner_id: int, *, as_of: datetime.date | None = None, run_id: int | None = None
) -> EvaluationSummary:
    """Re-evaluate one partner after its facts changed: the same code as the nightly run."""
    return evaluate(partner_ids=[partner_id], as_of=as_of, run_id=run_id)


def _run_take_up(run_id: int) -> EvaluationRun | None:
    """The queued run ``run_id``, now running; None if it is gone or already taken up."""
    taken = EvaluationRun.objects.filter(pk=run_id, state=EvaluationRun.State.QUEUED).update(
        state=EvaluationRun.State.RUNNING, started_at=timezone.now()
    )
    return EvaluationRun.objects.get(pk=run_id) if taken else None
