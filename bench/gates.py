"""Benchmark of the gate evaluation on PostgreSQL.

    python -m bench.gates --partners 100000 --facts 5000000

builds synthetic partners and facts in a database of its own (``prm_bench_gates``
on the PostgreSQL server of ``DATABASE_URL``, or ``--database-url``), defines ten
active gates over every kind of metric, and prints:

  (a) full   the set-based evaluation of every active gate for every partner
             (first run, writing every result, then a second run that finds
             nothing to change);
  (b) naive  the per-partner reference (ORM queries per leaf and partner) on a
             sample, extrapolated to all partners, its results asserted equal
             to (a);
  (c) floor  one plain GROUP BY per fact table over the same rows;
  (d) forecast  the at-risk forecast of every passing gate through its horizon,
             after the nightly run (first run, opening every episode, then a
             run that finds nothing new), as a ratio to (c): ``forecast_ratio``;
  (e) what-if  a simulation of every gate at once (each with one target
             raised) over every partner, as the admin queues it, run in this
             process: one measuring pass through the nightly planner, writing
             nothing but its report, as a ratio to (c): ``simulation_ratio``;

with the ratios a/c and b/a, the queries and the peak memory of the process,
the time to re-evaluate one partner, and a final JSON line with every figure.

With ``--workers N`` it then starts a Celery worker with N processes on the
Redis broker of ``--broker-url`` (default ``redis://127.0.0.1:6379/6``) and
runs the same three evaluations again, chunked and dispatched to it:

  (d) fan-out  the first run, the nightly run after another day's new facts,
               and the run with nothing new, each compared with (a) as a
               speed-up (``speedup`` is the nightly run's), with where the
               chunks' time went: waiting on PostgreSQL, or in Python.
"""

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from urllib.parse import urlparse, urlunparse

import psycopg

# The project's modules and Django's are imported inside the functions that use them: they need
# django.setup(), which runs only once the arguments have chosen the database.


GATES = [
    (
        "Registered",
        {
            "metric": "partner_attribute",
            "attribute": "status",
            "op": "in",
            "target": ["active", "onboarding"],
        },
    ),
    (
        "Silver",
        {
            "all": [
                {"metric": "certified_people", "op": ">=", "target": 2},
                {
                    "metric": "sales_amount",
                    "window": {"kind": "rolling_months", "months": 12},
                    "op": ">=",
                    "target": "100000",
                },
            ]
        },
    ),
    (
        "Gold",
        {
            "all": [
                {
                    "metric": "certified_people",
                    "certification_types": ["sales-engineer"],
                    "op": ">=",
                    "target": 5,
                },
                {
                    "metric": "sales_amount",
                    "window": {"kind": "rolling_months", "months": 12},
                    "op": ">=",
                    "target": "500000",
                },
                {
                    "metric": "engagement_points",
                    "window": {"kind": "year_to_date"},
                    "op": ">=",
                    "target": 200,
                },
            ]
        },
    ),
    (
        "Platinum",
        {
            "all": [
                {"metric": "service_offerings", "min_level": 2, "op": ">=", "target": 3},
                {
                    "metric": "sales_amount",
                    "window": {"kind": "rolling_months", "months": 12},
                    "op": ">=",
                    "target": "1500000",
                },
                {
                    "metric": "won_deals",
                    "window": {"kind": "rolling_months", "months": 12},
                    "op": ">=",
                    "target": 10,
                },
            ]
        },
    ),
    (
        "Quarterly $500k",
        {"metric": "sales_amount", "window": {"kind": "quarter_to_date"}, "op": ">=", "target": "500000"},
    ),
    (
        "UK cloud above £1M",
        {
            "all": [
                {"metric": "partner_attribute", "attribute": "country", "op": "in", "target": ["GB"]},
                {
                    "metric": "sales_amount",
                    "product_lines": ["cloud"],
                    "currency": "GBP",
                    "window": {"kind": "rolling_months", "months": 12},
                    "op": ">=",
                    "target": "1000000",
                },
            ]
        },
    ),
    (
        "Advanced certification",
        {"metric": "certified_people", "advanced_only": True, "op": ">=", "target": 1},
    ),
    (
        "Security specialist",
        {
            "any": [
                {"metric": "certified_people", "tracks": ["security"], "op": ">=", "target": 2},
                {
                    "metric": "service_offerings",
                    "offerings": ["mdr"],
                    "min_level": 3,
                    "op": ">=",
                    "target": 1,
                },
            ]
        },
    ),
    (
        "Engaged",
        {
            "metric": "engagement_points",
            "activity_types": ["co-marketing", "business-plan"],
            "window": {"kind": "rolling_days", "days": 180},
            "op": ">=",
            "target": 100,
        },
    ),
    (
        "Tenured EMEA",
        {
            "all": [
                {"metric": "months_since_joining", "op": ">=", "target": 12},
                {
                    "not": {
                        "metric": "partner_attribute",
                        "attribute": "region",
                        "op": "in",
                        "target": ["apac"],
                    }
                },
            ]
        },
    ),
]


def _database_url(argument: str | None) -> str:
    base = argument or os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres"
    parsed = urlparse(base)
    if parsed.scheme not in {"postgres", "postgresql"}:
        sys.exit("bench.gates measures PostgreSQL: give a postgres:// DATABASE_URL or --database-url")
    if argument:
        return base
    return urlunparse(parsed._replace(path="/prm_bench_gates"))


def _ensure_database(url: str) -> None:
    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = urlunparse(parsed._replace(path="/postgres", scheme="postgresql"))
    with psycopg.connect(admin, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')


def _setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("SECRET_KEY", "bench-only")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "prm.settings")
    os.environ.pop("CELERY_BROKER_URL", None)
    import django

    django.setup()


def _say(message: str) -> None:
    print(message, flush=True)


def generate(partners: int, facts: int, seed: int) -> dict[str, int]:
    """Synthetic data, written by PostgreSQL itself (generate_series) so that building it stays quick."""
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    random.seed(seed)
    sales = facts * 50 // 100
    certifications = facts * 20 // 100
    activities = facts * 25 // 100
    proficiencies = min(facts - sales - certifications - activities, partners * 5)
    people = max(partners * 3, certifications // 2)
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(%s)", [seed / 1_000_000])
        cursor.execute(
            "TRUNCATE partners_partner, partners_person, partners_certification, partners_sale, "
            "partners_engagementactivity, partners_serviceproficiency, partners_exchangerate, "
            "partners_dailyrate, partners_productline, partners_certificationtype, partners_activitytype, "
            "partners_serviceoffering, programs_program, programs_tier, programs_benefit, gates_gate, "
            "gates_gatestatus, gates_gatestatuschange, gates_partnertier, gates_tierchange, gates_benefitgrant, "
            "gates_segmentmembership, gates_evaluationrun, gates_measuredigest, deals_deal RESTART IDENTITY CASCADE"
        )
        cursor.execute(
            "INSERT INTO partners_productline (code, name) VALUES "
            "('cloud', 'Cloud'), ('security', 'Security'), ('networking', 'Networking'), "
            "('analytics', 'Analytics'), ('services', 'Services')"
        )
        cursor.execute(
            "INSERT INTO partners_certificationtype (code, name, track, is_advanced, validity_months) VALUES "
            "('sales-engineer', 'Sales engineer', 'presales', false, 24), "
            "('sales-fundamentals', 'Sales', 'sales', false, 24), "
            "('cloud-architect', 'Cloud architect', 'technical', true, 36), "
            "('security-specialist', 'Security', 'security', true, 24), "
            "('delivery', 'Delivery', 'services', false, 24)"
        )
        cursor.execute(
            "INSERT INTO partners_activitytype (code, name, default_points) VALUES "
            "('training', 'Training', 20), ('webinar', 'Webinar', 10), ('co-marketing', 'Co-marketing', 50), "
            "('business-plan', 'Business plan', 40), ('event', 'Event', 30)"
        )
        cursor.execute(
            "INSERT INTO partners_serviceoffering (code, name) VALUES ('migration', 'Migration'), "
            "('mdr', 'MDR'), ('assessment', 'Assessment'), ('data-platform', 'Data'), ('audit', 'Audit')"
        )
        cursor.execute(
            """
            INSERT INTO partners_partner (name, partner_type, business_model, country, region, status,
                                          joined_on, website, created_at, updated_at)
            SELECT 'Partner ' || i,
                   (ARRAY['reseller','var','msp','mssp','si','isv','referral'])[1 + mod(i, 7)],
                   (ARRAY['resell','services','managed','referral'])[1 + mod(i, 4)],
                   (ARRAY['GB','DE','FR','US','CA','JP','AU','BR'])[1 + mod(i / 7, 8)],
                   (ARRAY['emea','emea','emea','na','na','apac','apac','latam'])[1 + mod(i / 7, 8)],
                   CASE WHEN mod(i, 20) = 0 THEN 'suspended' WHEN mod(i, 13) = 0 THEN 'onboarding' ELSE 'active' END,
                   CURRENT_DATE - (random() * 2000)::int, '', now(), now()
            FROM generate_series(1, %s) AS i
            """,
            [partners],
        )
        cursor.execute(
            """
            INSERT INTO partners_person (partner_id, first_name, last_name, email, job_title, is_active,
                                         external_id, created_at)
            SELECT 1 + mod(i - 1, %s), 'First', 'Last ' || i, 'p' || i || '@example.com', '', mod(i, 17) <> 0, '', now()
            FROM generate_series(1, %s) AS i
            """,
            [partners, people],
        )
        # Facts arrive over time from every partner: rows in no particular partner order.
        cursor.execute(
            """
            INSERT INTO partners_certification (person_id, certification_type_id, issued_on, expires_on, source,
                                                external_id, created_at, updated_at)
            SELECT 1 + (random() * (%s - 1))::int, 1 + (random() * 4)::int, d, d + (365 * 2), 'bench', '', now(), now()
            FROM (SELECT CURRENT_DATE - (random() * 1000)::int AS d FROM generate_series(1, %s)) AS g
            """,
            [people, certifications],
        )
        cursor.execute(
            """
            INSERT INTO partners_sale (partner_id, amount, currency, product_line_id, region, closed_on, deal_id,
                                       customer_name, source, external_id, created_at, updated_at)
            SELECT 1 + (random() * (%s - 1))::int, round((500 + random() * 90000)::numeric, 2),
                   (ARRAY['USD','USD','EUR','GBP','JPY'])[1 + (random() * 4)::int], 1 + (random() * 4)::int,
                   (ARRAY['emea','na','apac','latam'])[1 + (random() * 3)::int],
                   CURRENT_DATE - (random() * 540)::int, NULL, '', 'bench', '', now(), now()
            FROM generate_series(1, %s)
            """,
            [partners, sales],
        )
        cursor.execute(
            """
            INSERT INTO partners_engagementactivity (partner_id, activity_type_id, points, occurred_on, description,
                                                     source, external_id, created_at, updated_at)
            SELECT 1 + (random() * (%s - 1))::int, 1 + (random() * 4)::int, (ARRAY[10, 20, 30, 40, 50])[1 + (random() * 4)::int],
                   CURRENT_DATE - (random() * 400)::int, '', 'bench', '', now(), now()
            FROM generate_series(1, %s)
            """,
            [partners, activities],
        )
        cursor.execute(
            """
            INSERT INTO partners_serviceproficiency (partner_id, offering_id, level, since, source, external_id, updated_at)
            SELECT p, o, 1 + (random() * 2)::int, CURRENT_DATE - (random() * 700)::int, 'bench', '', now()
            FROM (SELECT DISTINCT 1 + (random() * (%s - 1))::int AS p, 1 + (random() * 4)::int AS o
                  FROM generate_series(1, %s)) AS pairs
            """,
            [partners, proficiencies],
        )
        cursor.execute("SELECT count(*) FROM partners_serviceproficiency")
        proficiencies = cursor.fetchone()[0]
        for currency, rate in (("EUR", 1.08), ("GBP", 1.27), ("JPY", 0.0067)):
            cursor.execute(
                """
                INSERT INTO partners_exchangerate (currency, valid_from, rate)
                SELECT %s, (date_trunc('month', CURRENT_DATE) - make_interval(months => m))::date,
                       round((%s * (1 + (random() - 0.5) / 25))::numeric, 6)
                FROM generate_series(0, 24) AS m
                """,
                [currency, rate],
            )
        cursor.execute("ANALYZE")
    from core.exchange import daily_rates_rebuild

    for currency in ("EUR", "GBP", "JPY"):
        daily_rates_rebuild(currency)
    _define_gates()
    return {
        "sales": sales,
        "certifications": certifications,
        "activities": activities,
        "proficiencies": proficiencies,
        "people": people,
    }


def add_a_days_facts(partners: int, count: int, seed: int) -> int:
    """New sales, activities and certifications dated today, as a day of ingestion would bring."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(%s)", [(seed + 1) / 1_000_000])
        cursor.execute(
            """
            INSERT INTO partners_sale (partner_id, amount, currency, product_line_id, region, closed_on, deal_id,
                                       customer_name, source, external_id, created_at, updated_at)
            SELECT 1 + (random() * (%s - 1))::int, round((5000 + random() * 200000)::numeric, 2), 'USD',
                   1 + (random() * 4)::int, 'emea', CURRENT_DATE, NULL, '', 'bench', '', now(), now()
            FROM generate_series(1, %s)
            """,
            [partners, count // 2],
        )
        cursor.execute(
            """
            INSERT INTO partners_engagementactivity (partner_id, activity_type_id, points, occurred_on, description,
                                                     source, external_id, created_at, updated_at)
            SELECT 1 + (random() * (%s - 1))::int, 3, 50, CURRENT_DATE, '', 'bench', '', now(), now()
            FROM generate_series(1, %s)
            """,
            [partners, count // 2],
        )
    return count // 2 * 2


def _define_gates() -> None:
    from gates.models import Gate, GateState
    from programs.models import Program, Tier

    program = Program.objects.create(name="Bench program", slug="bench", base_currency="USD")
    tiers = {
        name: Tier.objects.create(program=program, name=name, rank=rank)
        for rank, name in enumerate(["Registered", "Silver", "Gold", "Platinum"], start=1)
    }
    for name, criteria in GATES:
        Gate.objects.create(
            program=program,
            name=name,
            state=GateState.ACTIVE,
            criteria=criteria,
            unlocks_tier=tiers.get(name),
        )


def floor_seconds() -> float:
    """One plain GROUP BY per fact table: the least any evaluation must read."""
    from django.db import connection

    queries = [
        "SELECT partner_id, count(*), sum(amount) FROM partners_sale GROUP BY partner_id",
        "SELECT p.partner_id, count(*) FROM partners_certification c JOIN partners_person p ON p.id = c.person_id "
        "GROUP BY p.partner_id",
        "SELECT partner_id, sum(points) FROM partners_engagementactivity GROUP BY partner_id",
        "SELECT partner_id, count(*) FROM partners_serviceproficiency GROUP BY partner_id",
    ]
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for sql in queries:
            cursor.execute(sql)
            cursor.fetchall()
    return time.perf_counter() - started


def _draft_of(criteria):
    """The criteria with the first whole-number target raised by one: a draft that moves some partners."""
    raised = False

    def walk(node):
        nonlocal raised
        if isinstance(node, dict) and len(node) == 1 and next(iter(node)) in ("all", "any", "not"):
            kind, children = next(iter(node.items()))
            return {
                kind: [walk(child) for child in children] if isinstance(children, list) else walk(children)
            }
        if not raised and isinstance(node, dict) and isinstance(node.get("target"), int):
            raised = True
            return {**node, "target": node["target"] + 1}
        return node

    return walk(criteria)


def simulate_every_gate(gates, as_of):
    """(e) A what-if of every gate at once over every partner, as the admin's action queues it (no broker)."""
    from django.contrib.auth import get_user_model

    from gates.whatif import whatif_entry, whatif_queue

    user, _ = get_user_model().objects.get_or_create(
        username="bench-whatif", defaults={"is_staff": True, "is_superuser": True}
    )
    entries = [
        whatif_entry(gate, criteria=_draft_of(gate.criteria), currency=gate.money_currency) for gate in gates
    ]
    started = time.perf_counter()
    run = whatif_queue(actor=user, entries=entries, as_of=as_of)
    elapsed = time.perf_counter() - started
    run.refresh_from_db()
    assert run.state == "done", run.error
    return elapsed, run


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _database_share(runs) -> float:
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


def _own_cpu() -> tuple[float, float]:
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
        "fan_out_database_share": _database_share(runs),
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
        _say(
            f"(d) fan-out over {args.workers} processes, {label:<12} {seconds:8.2f} s  "
            f"{run.chunks_total} chunks, {run.chunk_seconds:.2f} s in chunks, {share:.0%} of it waiting on "
            f"PostgreSQL, {run.statuses_changed:,} statuses changed"
            + (f" (after {added:,} new facts)" if run is nightly_run else "")
        )
    _say(
        f"(d) CPU over the three runs: {figures['fan_out_core_seconds']} core-seconds available; workers "
        f"(Python) {figures['fan_out_cpu_workers_s']} s, PostgreSQL {figures['fan_out_cpu_postgresql_s']} s, "
        f"other processes on the machine {figures['fan_out_cpu_others_s']} s, idle {figures['fan_out_cpu_idle_s']} s"
    )
    _say(
        f"(d) speed-up with {args.workers} processes: first run x{figures['speedup_first_run']}, "
        f"nightly x{figures['speedup']}, nothing new x{figures['speedup_nothing_new']}; "
        f"{figures['fan_out_busy_processes']} processes busy on average"
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--partners", type=int, default=10_000)
    parser.add_argument("--facts", type=int, default=500_000)
    parser.add_argument("--sample", type=int, default=200, help="partners evaluated by the naive reference")
    parser.add_argument("--database-url", help="a PostgreSQL database to fill (default: prm_bench_gates)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reuse", action="store_true", help="keep the data already generated")
    parser.add_argument(
        "--workers", type=int, default=0, help="also run the evaluation on a worker with this many processes"
    )
    parser.add_argument(
        "--broker-url", default="redis://127.0.0.1:6379/6", help="the Redis broker for --workers"
    )
    parser.add_argument(
        "--chunk-size", type=int, help="partners per chunk (default PRM_EVALUATION_CHUNK_SIZE)"
    )
    args = parser.parse_args()
    url = _database_url(args.database_url)
    _ensure_database(url)
    _setup_django(url)

    from django.core.management import call_command
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from gates import services
    from gates.metrics import load_references
    from gates.models import Gate, GateStatus
    from gates.reference import evaluate_partner_naively
    from gates.validation import parse_criteria
    from partners.models import Partner

    call_command("migrate", verbosity=0)
    if args.reuse and Partner.objects.count() == args.partners:
        _say("reusing the data already generated")
        counts = {}
    else:
        started = time.perf_counter()
        counts = generate(args.partners, args.facts, args.seed)
        _say(
            f"generated {args.partners:,} partners and {args.facts:,} facts {counts} in {time.perf_counter() - started:.1f} s"
        )
    gates = list(Gate.objects.filter(state="active").order_by("id"))
    as_of = timezone.localdate()

    floor = min(floor_seconds() for _ in range(2))
    _say(f"(c) floor: one GROUP BY per fact table          {floor:8.2f} s")

    from gates.models import (
        BenefitGrant,
        EvaluationRun,
        GateForecast,
        GateRiskEpisode,
        GateStatusChange,
        MeasureDigest,
        PartnerTier,
        TierChange,
    )

    for model in (
        GateForecast,
        GateRiskEpisode,
        GateStatusChange,
        TierChange,
        BenefitGrant,
        PartnerTier,
        GateStatus,
        EvaluationRun,
        MeasureDigest,
    ):
        model.objects.all().delete()
    reset_queries()
    with CaptureQueriesContext(connection) as captured:
        cpu_before = _own_cpu()
        started = time.perf_counter()
        summary = services.evaluate(as_of=as_of, notify=False, chunk_size=args.chunk_size)
        full_first = time.perf_counter() - started
        cpu_first = [after - before for after, before in zip(_own_cpu(), cpu_before, strict=True)]
    queries = len(captured)
    measuring = sum(
        1 for q in captured if q["sql"].lstrip().upper().startswith("SELECT") and "GROUP BY" in q["sql"]
    )
    _say(
        f"(a) full evaluation, first run (writes all)     {full_first:8.2f} s  "
        f"{summary.statuses_written:,} statuses, {summary.tiers_changed:,} tier moves, {queries:,} queries "
        f"({measuring} aggregate reads)"
    )
    # A night's worth of new facts (0.5 % more, spread over random partners),
    # then the nightly run that measures everything and writes what moved.
    added = add_a_days_facts(args.partners, args.facts // 200, args.seed)
    cpu_before = _own_cpu()
    started = time.perf_counter()
    nightly = services.evaluate(as_of=as_of, notify=False, chunk_size=args.chunk_size)
    full = time.perf_counter() - started
    cpu_nightly = [after - before for after, before in zip(_own_cpu(), cpu_before, strict=True)]
    _say(
        f"(a) full evaluation, nightly run                {full:8.2f} s  after {added:,} new facts: "
        f"{nightly.statuses_written:,} statuses rewritten, {nightly.statuses_changed:,} changed, "
        f"{nightly.tiers_changed:,} tier moves"
    )
    cpu_before = _own_cpu()
    started = time.perf_counter()
    idle = services.evaluate(as_of=as_of, notify=False, chunk_size=args.chunk_size)
    full_idle = time.perf_counter() - started
    cpu_idle = [after - before for after, before in zip(_own_cpu(), cpu_before, strict=True)]
    assert idle.statuses_written == 0, "a run right after another must find nothing to change"
    _say(f"(a) full evaluation, nothing new                {full_idle:8.2f} s")

    # (d) The at-risk forecast, as the nightly task runs it after the evaluation.
    from gates.forecast import forecasts_refresh

    with CaptureQueriesContext(connection) as captured:
        started = time.perf_counter()
        forecast = forecasts_refresh(as_of=as_of, notify=False)
        forecast_first = time.perf_counter() - started
    forecast_queries = len(captured)
    started = time.perf_counter()
    forecast_again = forecasts_refresh(as_of=as_of, notify=False)
    forecast_idle = time.perf_counter() - started
    assert forecast_again.started == 0, "a forecast right after another must open no episode"
    _say(
        f"(d) forecast, first run (opens every episode)   {forecast_first:8.2f} s  "
        f"{forecast.at_risk:,} at risk of {forecast.partners:,} partners passing a gate, "
        f"{forecast.days_measured} days measured, {forecast_queries:,} queries"
    )
    _say(f"(d) forecast, nothing new                       {forecast_idle:8.2f} s")

    # (e) The what-if: every gate at once, each with one target moved, over every partner.
    simulation, simulation_run = simulate_every_gate(gates, as_of)
    _say(
        f"(e) what-if of {len(gates)} gates, every partner   {simulation:8.2f} s  "
        f"{simulation_run.result['movers_total']:,} movers, {simulation_run.chunks_total} chunks, "
        f"one measuring pass"
    )

    # (b) The naive reference on a sample, compared with (a), then extrapolated.
    sample_ids = sorted(
        random.Random(args.seed).sample(range(1, args.partners + 1), min(args.sample, args.partners))
    )
    refs = load_references()
    trees = [
        (gate, parse_criteria(gate.criteria, default_currency=gate.money_currency, references=refs))
        for gate in gates
    ]
    stored = {(s.partner_id, s.gate_id): s for s in GateStatus.objects.filter(partner_id__in=sample_ids)}
    started = time.perf_counter()
    mismatches = 0
    for partner in Partner.objects.filter(id__in=sample_ids):
        for gate, tree in trees:
            outcome = evaluate_partner_naively(tree, partner, as_of, refs)
            status = stored[(partner.id, gate.id)]
            from gates.engine import serialise

            if [serialise(leaf.value) for leaf in outcome.leaves] != status.measures or (
                outcome.passed != (status.status == "passed") and not gate.prerequisites.exists()
            ):
                mismatches += 1
    naive_sample = time.perf_counter() - started
    assert mismatches == 0, f"{mismatches} results differ between the naive and the set-based evaluation"
    naive = naive_sample * args.partners / len(sample_ids)
    _say(
        f"(b) naive per-partner reference (extrapolated)  {naive:8.2f} s  "
        f"({len(sample_ids)} partners in {naive_sample:.2f} s; results equal to (a))"
    )

    # One partner, as after a new fact: the same code path as the nightly run.
    timings = []
    for partner_id in sample_ids[:50]:
        started = time.perf_counter()
        services.evaluate_partner(partner_id, as_of=as_of)
        timings.append(time.perf_counter() - started)
    timings.sort()
    one_partner_ms = timings[len(timings) // 2] * 1000

    figures = {
        "partners": args.partners,
        "facts": args.facts,
        "gates": len(gates),
        "full_s": round(full, 3),
        "full_first_run_s": round(full_first, 3),
        "full_nothing_new_s": round(full_idle, 3),
        "naive_s": round(naive, 3),
        "floor_s": round(floor, 3),
        "full_over_floor": round(full / floor, 2),
        "full_first_run_over_floor": round(full_first / floor, 2),
        "naive_over_full": round(naive / full, 1),
        "forecast_s": round(forecast_idle, 3),
        "forecast_first_run_s": round(forecast_first, 3),
        "forecast_ratio": round(forecast_idle / floor, 2),
        "forecast_first_run_ratio": round(forecast_first / floor, 2),
        "forecast_over_full": round(forecast_idle / full, 2),
        "simulation_s": round(simulation, 3),
        "simulation_ratio": round(simulation / floor, 2),
        "simulation_over_full": round(simulation / full, 2),
        "simulation_movers": simulation_run.result["movers_total"],
        "forecast_at_risk": forecast.at_risk,
        "forecast_days_measured": forecast.days_measured,
        "forecast_queries": forecast_queries,
        "queries": queries,
        "aggregate_queries": measuring,
        "peak_mb": round(peak_mb(), 1),
        "one_partner_ms": round(one_partner_ms, 2),
        "one_partner_p90_ms": round(timings[int(len(timings) * 0.9)] * 1000, 2),
    }
    in_process_runs = list(
        EvaluationRun.objects.filter(kind=EvaluationRun.Kind.FULL).order_by("started_at")[:3]
    )
    figures["in_process_database_share"] = _database_share(in_process_runs)
    # The same accounting as (d): CPU of this process (Python) and of its PostgreSQL backend.
    figures["in_process_cpu_python_s"] = round(cpu_first[0] + cpu_nightly[0] + cpu_idle[0], 1)
    figures["in_process_cpu_postgresql_s"] = round(cpu_first[1] + cpu_nightly[1] + cpu_idle[1], 1)
    _say(
        f"(a) CPU over the three runs in one process: Python {figures['in_process_cpu_python_s']} s, "
        f"PostgreSQL {figures['in_process_cpu_postgresql_s']} s, wall {full_first + full + full_idle:.1f} s"
    )
    if args.workers:
        figures.update(
            fan_out(
                args,
                url,
                as_of,
                in_process={"first": full_first, "nightly": full, "idle": full_idle},
                reset=lambda: [
                    model.objects.all().delete()
                    for model in (
                        GateStatusChange,
                        TierChange,
                        BenefitGrant,
                        PartnerTier,
                        GateStatus,
                        EvaluationRun,
                        MeasureDigest,
                    )
                ],
            )
        )
    _say(
        f"a/c = {figures['full_over_floor']} (first run {figures['full_first_run_over_floor']}, "
        f"nothing new {round(full_idle / floor, 2)}), "
        f"b/a = {figures['naive_over_full']}, d/c = {figures['forecast_ratio']} "
        f"(first run {figures['forecast_first_run_ratio']}, d/a = {figures['forecast_over_full']}), "
        f"e/c = {figures['simulation_ratio']}, peak {figures['peak_mb']} MB, "
        f"one partner {figures['one_partner_ms']} ms (median of {len(timings)})"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
