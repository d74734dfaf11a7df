"""Benchmark of how soon a fact posted through the API shows in the partner's gate status.

    python -m bench.latency --partners 20 --facts 200 --seconds 60

uses a database of its own (``prm_bench_latency`` on the PostgreSQL server of
``DATABASE_URL``, or ``--database-url``) and a Redis database of its own as the
broker and the shared cache (``--redis-url``, emptied before and after). It
defines one program whose gate counts the partners' won sales (all time, in
USD), evaluates every partner once, then serves the application with gunicorn
(``--web-workers``) beside a ``celery worker`` (``--concurrency``) as in
production, and:

* ``--clients`` concurrent clients POST the ``--facts`` won sales, one per
  request to ``/api/v1/sales/bulk/``, at moments drawn at random over
  ``--seconds`` (so some partners get bursts), ``--facts / --partners`` each;
* one reader GETs ``/api/v1/gate-statuses/?gate=…`` every ``--poll`` seconds
  and reads each partner's measured sales.

The k-th sale of a partner is worth 2**k dollars, so the measured sum says
exactly which of a partner's sales an evaluation counted, whatever order
concurrent clients committed them in. A fact's latency runs from just before
its POST is sent to the answer of the first read that counts it (an upper
bound: the status may have changed up to one poll earlier). The worker
re-evaluates a partner ``PRM_FACT_DEBOUNCE_SECONDS`` after the first fact of a
burst (``--debounce`` overrides the setting); the facts of a burst share the
evaluation, which is counted as well. Where the time went is read from the
one-partner runs the worker recorded: the POST, the wait for the evaluation
(the debounce and the queue), the evaluation, and the read that showed it
(medians and p95). The last line is one JSON object with every figure.
"""

import argparse
import dataclasses
import datetime
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import psycopg
import redis

from bench.ingest import start_server

# The project's modules and Django's are imported inside the functions that use them: they need
# django.setup(), which runs only once the arguments have chosen the database.

ROOT = Path(__file__).resolve().parent.parent


def _say(message: str) -> None:
    print(message, flush=True)


def _database_url(argument: str | None) -> str:
    base = argument or os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres"
    parsed = urlparse(base)
    if parsed.scheme not in {"postgres", "postgresql"}:
        sys.exit("bench.latency needs PostgreSQL: give a postgres:// DATABASE_URL or --database-url")
    if argument:
        return base
    return urlunparse(parsed._replace(path="/prm_bench_latency"))


def _ensure_database(url: str) -> None:
    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = urlunparse(parsed._replace(path="/postgres", scheme="postgresql"))
    with psycopg.connect(admin, autocommit=True) as connection:
        if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            connection.execute(f'CREATE DATABASE "{name}"')


def prepare(partners: int) -> tuple[str, int, list[int]]:
    """A program with one gate on won sales, the partners evaluated once, and a read-write token.

    Returns the token's secret, the gate's id and the partners' ids.
    """
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission
    from django.core.management import call_command
    from django.db import connection

    from api.models import TokenScope
    from api.services import token_issue
    from gates import services
    from gates.models import Gate, GateState
    from partners.models import Partner, ProductLine
    from partners.roles import ensure_channel_manager_group
    from prm.celery import app
    from programs.models import Program, Tier

    # Set up in this process, the evaluation too, before the worker starts.
    app.conf.task_always_eager = True
    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE partners_partner, partners_productline, programs_program, gates_evaluationrun, "
            "partners_auditentry, api_integrationtoken RESTART IDENTITY CASCADE"
        )
    ProductLine.objects.create(code="cloud", name="Cloud")
    program = Program.objects.create(name="Resellers", slug="resellers", base_currency="USD")
    gold = Tier.objects.create(program=program, name="Gold", rank=1, grace_days=0)
    gate = Gate.objects.create(
        program=program,
        name="Gold",
        state=GateState.ACTIVE,
        currency="USD",
        unlocks_tier=gold,
        # Half of what a partner's sales add up to: each partner passes along the way.
        criteria={"metric": "sales_amount", "op": ">=", "target": "512", "currency": "USD"},
    )
    Partner.objects.bulk_create(
        Partner(
            name=f"Partner {n}",
            partner_type="reseller",
            business_model="resell",
            country="GB",
            region="emea",
            status="active",
            joined_on=datetime.date.today() - datetime.timedelta(days=400),
        )
        for n in range(partners)
    )
    services.evaluate()
    app.conf.task_always_eager = False
    manager, _ = get_user_model().objects.get_or_create(username="bench-manager", defaults={"is_staff": True})
    manager.groups.add(ensure_channel_manager_group())
    manager.user_permissions.add(Permission.objects.get(codename="view_all_partners"))
    _, secret = token_issue(actor=manager, name="Benchmark", scope=TokenScope.READ_WRITE, all_partners=True)
    ids = list(Partner.objects.order_by("id").values_list("id", flat=True))
    connection.close()  # hold no connection while the server and the worker run
    return secret, gate.pk, ids


def start_worker(environment: dict[str, str], concurrency: int) -> subprocess.Popen:
    """A Celery worker as in production (prefork); returns once it is ready."""
    log = tempfile.NamedTemporaryFile(prefix="prm-bench-latency-worker-", suffix=".log", delete=False)  # noqa: SIM115
    worker = subprocess.Popen(  # noqa: S603 (our own worker, fixed arguments)
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "prm",
            "worker",
            "--pool",
            "prefork",
            "--concurrency",
            str(concurrency),
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "INFO",
        ],
        cwd=ROOT,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while b" ready." not in Path(log.name).read_bytes():
        if worker.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"the worker did not start (see {log.name})")
        time.sleep(0.2)
    return worker


@dataclasses.dataclass
class Fact:
    partner_id: int
    bit: int  # the fact is worth 2**bit dollars
    sent_at: float  # time.time() just before its POST
    answered_at: float  # its POST answered: committed
    seen_at: float = 0.0  # the answer of the first read that counted it


class Reader:
    """Reads the partners' measured sales every ``poll`` seconds; notes when each fact shows."""

    def __init__(self, port: int, secret: str, gate_id: int, poll: float):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = {"Authorization": f"Bearer {secret}"}
        self.path = f"/api/v1/gate-statuses/?gate={gate_id}&page_size=500"
        self.poll = poll
        self.lock = threading.Lock()
        # (partner id, bit) -> the fact (when its POST was sent and answered), until it shows.
        self.pending: dict[tuple[int, int], Fact] = {}
        self.shown: list[Fact] = []
        self.read_seconds: list[float] = []
        self.stopped = threading.Event()

    def expect(self, fact: "Fact") -> None:
        with self.lock:
            self.pending[(fact.partner_id, fact.bit)] = fact

    def measured(self) -> dict[int, int]:
        started = time.time()
        self.connection.request("GET", self.path, headers=self.headers)
        response = self.connection.getresponse()
        payload = response.read()
        if response.status != 200:
            raise RuntimeError(f"the API answered {response.status}: {payload[:300]!r}")
        self.read_seconds.append(time.time() - started)
        return {
            row["partner"]: int(Decimal(str(row["criteria"][0]["value"] or 0)))
            for row in json.loads(payload)["results"]
        }

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                values = self.measured()
            except (OSError, http.client.HTTPException):
                # A read cut short (a gunicorn worker recycled): read again on a new connection.
                self.connection.close()
                continue
            seen_at = time.time()
            with self.lock:
                for key in [key for key in self.pending if values.get(key[0], 0) >> key[1] & 1]:
                    fact = self.pending.pop(key)
                    fact.seen_at = seen_at
                    self.shown.append(fact)
            time.sleep(self.poll)


def post_facts(port: int, secret: str, schedule, reader: Reader, started: float, errors: list) -> None:
    """One client: takes the next fact due, waits for its moment, POSTs it, tells the reader."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    today = datetime.date.today().isoformat()
    while True:
        try:
            at, partner_id, bit = schedule.pop()
        except IndexError:
            return
        time.sleep(max(0.0, started + at - time.time()))
        body = json.dumps(
            {
                "source": "crm",
                "records": [
                    {
                        "external_id": f"latency-{partner_id}-{bit}",
                        "partner": partner_id,
                        "amount": f"{2**bit}.00",
                        "currency": "USD",
                        "product_line": "cloud",
                        "closed_on": today,
                    }
                ],
            }
        ).encode()
        sent_at = time.time()
        connection.request("POST", "/api/v1/sales/bulk/", body=body, headers=headers)
        response = connection.getresponse()
        report = json.loads(response.read())
        if response.status != 200 or report.get("created") != 1:
            errors.append((response.status, report))
            continue
        reader.expect(Fact(partner_id, bit, sent_at, time.time()))


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--partners", type=int, default=20)
    parser.add_argument(
        "--facts", type=int, default=200, help="won sales posted in all (a multiple of partners)"
    )
    parser.add_argument("--seconds", type=float, default=60.0, help="the span the facts are posted over")
    parser.add_argument("--clients", type=int, default=8, help="concurrent API clients posting")
    parser.add_argument("--poll", type=float, default=0.1, help="seconds between two reads of the statuses")
    parser.add_argument("--web-workers", type=int, default=3, help="gunicorn workers (docker-compose.yml's)")
    parser.add_argument("--concurrency", type=int, default=2, help="Celery worker processes")
    parser.add_argument("--debounce", type=int, help="PRM_FACT_DEBOUNCE_SECONDS (default: the setting's)")
    parser.add_argument("--database-url", help="a PostgreSQL database to fill (default: prm_bench_latency)")
    parser.add_argument(
        "--redis-url",
        default="redis://127.0.0.1:6379/13",
        help="broker and cache: a Redis database of its own",
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    per_partner = args.facts // args.partners
    if per_partner * args.partners != args.facts or not 1 <= per_partner <= 60:
        sys.exit("--facts must be 1 to 60 times --partners")

    url = _database_url(args.database_url)
    _ensure_database(url)
    environment = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only-not-a-secret"),
        "DEBUG": "False",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "False",
        "CELERY_BROKER_URL": args.redis_url,
        "REDIS_URL": args.redis_url,
        "PRM_API_TOKEN_RATE": "100000/min",
        "DJANGO_SETTINGS_MODULE": "prm.settings",
        "LOG_LEVEL": "WARNING",
    }
    if args.debounce is not None:
        environment["PRM_FACT_DEBOUNCE_SECONDS"] = str(args.debounce)
    os.environ.update(environment)
    import django

    django.setup()
    from django.conf import settings

    secret, gate_id, partner_ids = prepare(args.partners)
    # Setting the program up queued a run of every partner: the benchmark starts with nothing queued.
    redis.Redis.from_url(args.redis_url).flushdb()
    debounce = settings.PRM_FACT_DEBOUNCE_SECONDS
    _say(
        f"prepared {args.partners} partners, one gate; debounce {debounce} s, {args.web_workers} gunicorn "
        f"workers, {args.concurrency} worker processes, {args.clients} clients"
    )

    rng = random.Random(args.seed)
    schedule = [
        (rng.uniform(0, args.seconds), partner_id, bit)
        for partner_id in partner_ids
        for bit in range(per_partner)
    ]
    # Popped from the end: the earliest last.
    schedule.sort(reverse=True)

    server, port = start_server(environment, args.web_workers)
    worker = start_worker(environment, args.concurrency)
    reader = Reader(port, secret, gate_id, args.poll)
    errors: list = []
    try:
        reading = threading.Thread(target=reader.run, daemon=True)
        reading.start()
        started = time.time()
        clients = [
            threading.Thread(target=post_facts, args=(port, secret, schedule, reader, started, errors))
            for _ in range(args.clients)
        ]
        for client in clients:
            client.start()
        for client in clients:
            client.join()
        posted_in = time.time() - started
        deadline = time.monotonic() + max(30, 3 * debounce)
        while reader.pending and time.monotonic() < deadline:
            time.sleep(0.1)
        reader.stopped.set()
        reading.join(timeout=30)
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        server.terminate()
        server.wait(timeout=30)
        redis.Redis.from_url(args.redis_url).flushdb()

    shown = reader.shown
    if not shown:
        sys.exit(f"no fact showed in a status ({len(errors)} POSTs failed: {errors[:3]})")
    latencies = [fact.seen_at - fact.sent_at for fact in shown]
    parts = breakdown(shown)
    figures = {
        "facts": len(shown),
        "missing": len(reader.pending),
        "errors": len(errors),
        "partners": args.partners,
        "seconds": round(posted_in, 1),
        "clients": args.clients,
        "debounce_s": debounce,
        "web_workers": args.web_workers,
        "worker_concurrency": args.concurrency,
        "evaluations": parts.pop("evaluations"),
        "p50_s": round(statistics.median(latencies), 3),
        "p95_s": round(_percentile(latencies, 0.95), 3),
        "p99_s": round(_percentile(latencies, 0.99), 3),
        "max_s": round(max(latencies), 3),
        **parts,
        "read_p50_s": round(statistics.median(reader.read_seconds), 3),
        "reads": len(reader.read_seconds),
    }
    _say(
        f"{figures['facts']} facts shown ({figures['missing']} never, {figures['errors']} POSTs failed) "
        f"over {figures['seconds']} s, in {figures['evaluations']} evaluations of one partner"
    )
    _say(
        f"POST to status: p50 {figures['p50_s']:.2f} s, p95 {figures['p95_s']:.2f} s, "
        f"p99 {figures['p99_s']:.2f} s, max {figures['max_s']:.2f} s (target: p95 <= 3 s)"
    )
    _say(
        "where it goes (medians): the POST {post_p50_s:.2f} s, waiting for the evaluation "
        "{wait_p50_s:.2f} s (the debounce and the queue), the evaluation {evaluation_p50_s:.2f} s, "
        "until a read shows it {shown_p50_s:.2f} s (one read takes {read_p50_s:.2f} s)".format(**figures)
    )
    _say(
        "and their p95: {post_p95_s:.2f} s, {wait_p95_s:.2f} s, {evaluation_p95_s:.2f} s, "
        "{shown_p95_s:.2f} s".format(**figures)
    )
    print(json.dumps(figures))


def breakdown(shown: list[Fact]) -> dict:
    """Medians and p95 of each leg of a fact's way, from the one-partner runs the worker recorded.

    A fact is counted by the first run of its partner to start after its POST
    was answered (a run starting between the commit and the answer may have
    counted it already: the wait is then slightly overstated).
    """
    from gates.models import EvaluationRun

    runs: dict[int, list[tuple[float, float]]] = {}
    rows = EvaluationRun.objects.filter(kind=EvaluationRun.Kind.PARTNER, finished_at__isnull=False)
    for partner_id, started, finished in rows.values_list("partner_id", "started_at", "finished_at"):
        runs.setdefault(partner_id, []).append((started.timestamp(), finished.timestamp()))
    legs: dict[str, list[float]] = {"post": [], "wait": [], "evaluation": [], "shown": []}
    for fact in shown:
        legs["post"].append(fact.answered_at - fact.sent_at)
        run = min(
            (run for run in runs.get(fact.partner_id, []) if run[0] >= fact.answered_at),
            default=None,
        )
        if run is not None and run[1] <= fact.seen_at:
            legs["wait"].append(run[0] - fact.answered_at)
            legs["evaluation"].append(run[1] - run[0])
            legs["shown"].append(fact.seen_at - run[1])
    return {
        "evaluations": sum(len(partner_runs) for partner_runs in runs.values()),
        **{
            f"{leg}_{name}_s": round(_percentile(values, share), 3) if values else None
            for leg, values in legs.items()
            for name, share in (("p50", 0.5), ("p95", 0.95))
        },
    }


if __name__ == "__main__":
    main()
