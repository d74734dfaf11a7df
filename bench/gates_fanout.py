"""The fan-out part of ``bench.gates`` (``--workers N``): the same runs dispatched to a Celery worker.

It measures the speed-up over the in-process runs, and where the chunks' time went: waiting on
PostgreSQL, or in Python, read from the processes' clock ticks in ``/proc``.
"""

import os
import subprocess
import sys
import tempfile
import time

from bench.gates_world import add_a_days_facts, say

# The project's modules and Django's are imported inside the functions that use them: they need
# django.setup(), which runs only once the arguments have chosen the database.


def database_share(runs) -> float:
    """Of the time the runs' chunks took, the share spent waiting on PostgreSQL."""
    busy = sum(run.chunk_seconds for run in runs)
    return round(sum(run.chunk_sql_seconds for run in runs) / busy, 3) if busy else 0.0


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of every CPU since boot (Linux ``/proc/stat``)."""
    with open("/proc/stat") as handle:
        values = [int(v) for v in handle.readline().split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return sum(values) - idle, sum(values)


def _process_ticks(pids) -> int:
    """User and system clock ticks of these processes (those gone since are skipped)."""
    ticks = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as handle:
            return [int(child) for child in handle.read().split()]
    except OSError:
        return []


def _backends() -> list[int]:
    """The PostgreSQL server processes serving this database (the bench's and the workers')."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        return [row[0] for row in cursor.fetchall()]


def own_cpu() -> tuple[float, float]:
    """CPU seconds so far of this process and of the PostgreSQL backend serving it."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    times = os.times()
    return times.user + times.system, _process_ticks([backend]) / os.sysconf("SC_CLK_TCK")


def fan_out(args, database_url: str, as_of, *, in_process: dict[str, float], reset) -> dict:
    """(d): the same runs dispatched to a worker with ``args.workers`` processes; their speed-ups."""
    from gates import services
    from gates.models import EvaluationRun
    from prm.celery import app

    queue = f"bench-{os.getpid()}"
    log = tempfile.NamedTemporaryFile(prefix="bench-worker-", suffix=".log", delete=False)  # noqa: SIM115
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": args.broker_url,
        "REDIS_URL": args.broker_url,
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only"),
    }
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "prm",
        "worker",
        "--pool",
        "prefork",
        "--concurrency",
        str(args.workers),
        "--queues",
        queue,
        "--hostname",
        f"{queue}@%h",
        "--without-gossip",
        "--without-mingle",
        "--loglevel",
        "WARNING",
    ]
    app.conf.update(broker_url=args.broker_url, task_always_eager=False, task_default_queue=queue)
    # Forget the connections made for the eager configuration, so the chunks go to this broker.
    app._pool = None
    amqp = app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None
    worker = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        time.sleep(3)
        if worker.poll() is not None:
            sys.exit(f"the worker did not start; see {log.name}")

        hertz = os.sysconf("SC_CLK_TCK")
        cpu = {"wall": 0.0, "machine_busy": 0.0, "machine_total": 0.0, "workers": 0.0, "postgresql": 0.0}

        def timed_run() -> tuple[float, EvaluationRun]:
            workers = _children(worker.pid)
            machine_before = _machine_ticks()
            started = time.perf_counter()
            summary = services.evaluate(as_of=as_of, notify=False, chunk_size=args.chunk_size)
            assert summary.dispatched, "the run was not dispatched to the workers"
            workers_before = _process_ticks(workers)
            # Each chunk's task opens and closes its own connection: the backends
            # are sampled as the run goes, each counted from its first sight (from
            # zero if it started during the run) to its last.
            first_seen = {pid: _process_ticks([pid]) for pid in _backends()}
            last_seen = dict(first_seen)
            deadline = time.monotonic() + 900
            while True:
                run = EvaluationRun.objects.get(pk=summary.run_id)
                if run.state != EvaluationRun.State.RUNNING:
                    break
                assert time.monotonic() < deadline, f"the workers did not finish; see {log.name}"
                for pid in _backends():
                    first_seen.setdefault(pid, 0)
                    last_seen[pid] = _process_ticks([pid]) or last_seen.get(pid, 0)
                time.sleep(0.02)
            seconds = time.perf_counter() - started
            machine_after = _machine_ticks()
            for pid in last_seen:
                last_seen[pid] = _process_ticks([pid]) or last_seen[pid]
            cpu["workers"] += (_process_ticks(workers) - workers_before) / hertz
            cpu["postgresql"] += sum(last_seen[pid] - first_seen[pid] for pid in last_seen) / hertz
            cpu["machine_busy"] += (machine_after[0] - machine_before[0]) / hertz
            cpu["machine_total"] += (machine_after[1] - machine_before[1]) / hertz
            cpu["wall"] += seconds
            assert run.state == EvaluationRun.State.DONE, run.error
            return seconds, run

        reset()
        first, first_run = timed_run()
        added = add_a_days_facts(args.partners, args.facts // 200, args.seed + 1)
        nightly, nightly_run = timed_run()
        idle, idle_run = timed_run()
        assert idle_run.statuses_changed == 0
    finally:
        worker.terminate()
        worker.wait(timeout=120)
    runs = [first_run, nightly_run, idle_run]
    figures = {
        "workers": args.workers,
        "chunks": first_run.chunks_total,
        "fan_out_first_run_s": round(first, 3),
        "fan_out_nightly_s": round(nightly, 3),
        "fan_out_nothing_new_s": round(idle, 3),
        "speedup_first_run": round(in_process["first"] / first, 2),
        "speedup": round(in_process["nightly"] / nightly, 2),
        "speedup_nothing_new": round(in_process["idle"] / idle, 2),
        # Chunk time over wall time: how many processes were busy on average.
        "fan_out_busy_processes": round(sum(r.chunk_seconds for r in runs) / (first + nightly + idle), 2),
        "fan_out_database_share": database_share(runs),
        # Where the CPU went over the three runs, in core-seconds (the machine's cores x wall time).
        "fan_out_core_seconds": round(cpu["machine_total"], 1),
        "fan_out_cpu_workers_s": round(cpu["workers"], 1),
        "fan_out_cpu_postgresql_s": round(cpu["postgresql"], 1),
        "fan_out_cpu_others_s": round(cpu["machine_busy"] - cpu["workers"] - cpu["postgresql"], 1),
        "fan_out_cpu_idle_s": round(cpu["machine_total"] - cpu["machine_busy"], 1),
    }
    for label, seconds, run in (
        ("first run", first, first_run),
        ("nightly run", nightly, nightly_run),
        ("nothing new", idle, idle_run),
    ):
        share = run.chunk_sql_seconds / run.chunk_seconds if run.chunk_seconds else 0
        say(
            f"(d) fan-out over {args.workers} processes, {label:<12} {seconds:8.2f} s  "
            f"{run.chunks_total} chunks, {run.chunk_seconds:.2f} s in chunks, {share:.0%} of it waiting on "
            f"PostgreSQL, {run.statuses_changed:,} statuses changed"
            + (f" (after {added:,} new facts)" if run is nightly_run else "")
        )
    say(
        f"(d) CPU over the three runs: {figures['fan_out_core_seconds']} core-seconds available; workers "
        f"(Python) {figures['fan_out_cpu_workers_s']} s, PostgreSQL {figures['fan_out_cpu_postgresql_s']} s, "
        f"other processes on the machine {figures['fan_out_cpu_others_s']} s, idle {figures['fan_out_cpu_idle_s']} s"
    )
    say(
        f"(d) speed-up with {args.workers} processes: first run x{figures['speedup_first_run']}, "
        f"nightly x{figures['speedup']}, nothing new x{figures['speedup_nothing_new']}; "
        f"{figures['fan_out_busy_processes']} processes busy on average"
    )
    return figures
