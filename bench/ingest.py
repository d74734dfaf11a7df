"""Benchmark of fact ingestion through the REST API on PostgreSQL.

    python -m bench.ingest --rows 50000 --batch 5000

fills a database of its own (``prm_bench_ingest`` on the PostgreSQL server of
``DATABASE_URL``, or ``--database-url``) with partners and reference data,
serves the application with gunicorn, and measures won sales sent as a
channel manager's integration would send them:

  (a) api     rows per second POSTed to /api/v1/sales/bulk/ over HTTP, every
              row created (parsing, validation, lookups, upsert, the per-row
              report and the re-evaluation requests, as in production);
  (b) resend  the same batches again, as a retry after a timeout: every row
              reported unchanged, nothing written;
  (c) update  the batches again with one row in ten changed;
  (d) floor   a plain ``bulk_create`` of the same rows, already built as model
              instances, into the same empty table.

Re-evaluation tasks go to a Redis broker (``--broker-url``) and are not run, as
with a production worker busy elsewhere, and their debounce marks to a Redis
cache (``--cache-url``); both are emptied at the end. The first batch of a run
queues one task per partner it touches; that cost is also measured alone and
reported (``reevaluation_queue_s``) beside the rate without it. The database is checked afterwards to
hold each row once with the amounts sent. The last line is one JSON object with
every figure; the target is ``api_over_floor`` of at least a third.
"""

import argparse
import datetime
import http.client
import json
import os
import random
import socket
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import psycopg
import redis

# The project's modules and Django's are imported inside the functions that use them: they need
# django.setup(), which runs only once the arguments have chosen the database.


ROOT = Path(__file__).resolve().parent.parent
CURRENCIES = ["USD", "USD", "USD", "EUR", "GBP"]
PRODUCT_LINES = ["cloud", "security", "networking", "analytics", "services"]


def _say(message: str) -> None:
    print(message, flush=True)


def _database_url(argument: str | None) -> str:
    base = argument or os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres"
    parsed = urlparse(base)
    if parsed.scheme not in {"postgres", "postgresql"}:
        sys.exit("bench.ingest measures PostgreSQL: give a postgres:// DATABASE_URL or --database-url")
    if argument:
        return base
    return urlunparse(parsed._replace(path="/prm_bench_ingest"))


def _ensure_database(url: str) -> None:
    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = urlunparse(parsed._replace(path="/postgres", scheme="postgresql"))
    with psycopg.connect(admin, autocommit=True) as connection:
        if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            connection.execute(f'CREATE DATABASE "{name}"')


def _environment(url: str, broker: str, cache: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": url,
        # As in production: the debounce marks of the re-evaluation requests live in
        # Redis (a per-process memory cache keeps only a few hundred).
        "REDIS_URL": cache,
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only-not-a-secret"),
        "DEBUG": "False",
        "ALLOWED_HOSTS": "127.0.0.1",
        # gunicorn serves plain HTTP on the loopback.
        "SECURE_SSL_REDIRECT": "False",
        "CELERY_BROKER_URL": broker,
        "PRM_API_TOKEN_RATE": "100000/min",
        "DJANGO_SETTINGS_MODULE": "prm.settings",
        "LOG_LEVEL": "WARNING",
    }


def prepare(partners: int, seed: int) -> str:
    """Reference data, partners, a channel manager seeing every partner, and its read-write token."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission
    from django.core.management import call_command
    from django.db import connection

    from api.models import TokenScope
    from api.services import token_issue
    from core.exchange import daily_rates_rebuild
    from core.models import ExchangeRate
    from partners.models import Partner, ProductLine
    from partners.roles import ensure_channel_manager_group

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE partners_sale, partners_partner, partners_productline, partners_exchangerate, "
            "partners_dailyrate, partners_auditentry, api_integrationtoken RESTART IDENTITY CASCADE"
        )
    ProductLine.objects.bulk_create(ProductLine(code=code, name=code.title()) for code in PRODUCT_LINES)
    for currency, rate in (("EUR", "1.08"), ("GBP", "1.27")):
        ExchangeRate.objects.create(
            currency=currency, valid_from=datetime.date(2015, 1, 1), rate=Decimal(rate)
        )
        daily_rates_rebuild(currency)
    regions = ["emea", "na", "apac", "latam"]
    Partner.objects.bulk_create(
        Partner(
            name=f"Partner {n}",
            partner_type="reseller",
            business_model="resell",
            country="GB",
            region=regions[n % 4],
            status="active",
        )
        for n in range(partners)
    )
    manager, _ = get_user_model().objects.get_or_create(username="bench-manager", defaults={"is_staff": True})
    manager.groups.add(ensure_channel_manager_group())
    manager.user_permissions.add(Permission.objects.get(codename="view_all_partners"))
    _, secret = token_issue(actor=manager, name="Benchmark", scope=TokenScope.READ_WRITE, all_partners=True)
    return secret


def make_rows(count: int, partner_ids: list[int], seed: int) -> list[dict]:
    rng = random.Random(seed)
    today = datetime.date.today()
    rows = []
    for n in range(count):
        currency = rng.choice(CURRENCIES)
        rows.append(
            {
                "external_id": f"opp-{n:08d}",
                "partner": rng.choice(partner_ids),
                "amount": f"{rng.randint(500, 90_000)}.{rng.randint(0, 99):02d}",
                "currency": currency,
                "product_line": rng.choice(PRODUCT_LINES),
                "closed_on": (today - datetime.timedelta(days=rng.randint(1, 700))).isoformat(),
                "customer_name": f"Customer {rng.randint(1, 50_000)}",
            }
        )
    return rows


def floor_seconds(rows: list[dict]) -> float:
    """A plain bulk insert of the same rows, built beforehand, into the empty table."""
    from django.db import connection, transaction

    from partners.models import Partner, ProductLine, Sale

    lines = dict(ProductLine.objects.values_list("code", "id"))
    regions = dict(Partner.objects.values_list("id", "region"))
    instances = [
        Sale(
            partner_id=row["partner"],
            amount=Decimal(row["amount"]),
            currency=row["currency"],
            product_line_id=lines[row["product_line"]],
            region=regions[row["partner"]],
            closed_on=datetime.date.fromisoformat(row["closed_on"]),
            customer_name=row["customer_name"],
            source="floor",
            external_id=row["external_id"],
        )
        for row in rows
    ]
    _empty_sales()
    started = time.perf_counter()
    with transaction.atomic():
        Sale.objects.bulk_create(instances, batch_size=1000)
    elapsed = time.perf_counter() - started
    _empty_sales()
    connection.close()  # hold no connection while the server writes
    return elapsed


def _empty_sales() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE partners_sale RESTART IDENTITY CASCADE")
    connection.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(environment: dict[str, str], workers: int) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    server = subprocess.Popen(  # noqa: S603 (our own gunicorn, fixed arguments)
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "prm.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--timeout",
            "300",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=environment,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/healthz")
            if connection.getresponse().status < 500:
                return server, port
        except OSError:
            time.sleep(0.2)
    server.terminate()
    sys.exit("gunicorn did not start")


def send(port: int, secret: str, bodies: list[bytes]) -> tuple[float, dict[str, int]]:
    """POST every batch on one kept-alive connection; returns the seconds taken and the summed report."""
    totals = {"created": 0, "updated": 0, "unchanged": 0, "rejected": 0}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    started = time.perf_counter()
    for body in bodies:
        connection.request("POST", "/api/v1/sales/bulk/", body=body, headers=headers)
        response = connection.getresponse()
        payload = response.read()
        if response.status != 200:
            sys.exit(f"the API answered {response.status}: {payload[:500]!r}")
        report = json.loads(payload)
        for key in totals:
            totals[key] += report[key]
    elapsed = time.perf_counter() - started
    connection.close()
    return elapsed, totals


def _bodies(rows: list[dict], batch: int) -> list[bytes]:
    return [
        json.dumps({"source": "crm", "records": rows[start : start + batch]}).encode()
        for start in range(0, len(rows), batch)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=5_000, help="records per request (the API takes 5,000)")
    parser.add_argument("--partners", type=int, default=2_000)
    parser.add_argument("--workers", type=int, default=1, help="gunicorn workers (one client sends in turn)")
    parser.add_argument("--database-url", help="a PostgreSQL database to fill (default: prm_bench_ingest)")
    parser.add_argument(
        "--broker-url",
        default="redis://127.0.0.1:6379/12",
        help="where re-evaluation tasks are queued (emptied afterwards)",
    )
    parser.add_argument(
        "--cache-url",
        default="redis://127.0.0.1:6379/11",
        help="the web processes' cache (emptied afterwards)",
    )
    parser.add_argument("--runs", type=int, default=3, help="API runs (and floor runs beside them)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    url = _database_url(args.database_url)
    _ensure_database(url)
    environment = _environment(url, args.broker_url, args.cache_url)
    os.environ.update(
        {
            key: environment[key]
            for key in (
                "DATABASE_URL",
                "SECRET_KEY",
                "DJANGO_SETTINGS_MODULE",
                "CELERY_BROKER_URL",
                "REDIS_URL",
            )
        }
    )
    import django

    django.setup()
    from django.db.models import Count, Sum

    from partners.models import Partner, Sale

    started = time.perf_counter()
    secret = prepare(args.partners, args.seed)
    partner_ids = list(Partner.objects.values_list("id", flat=True))
    rows = make_rows(args.rows, partner_ids, args.seed)
    _say(
        f"prepared {args.partners:,} partners and {args.rows:,} sales in {time.perf_counter() - started:.1f} s"
    )

    # The machine may be shared: every figure is the best of its runs, the floor
    # measured before, between and after the API's runs (a high floor can only
    # lower the ratio).
    floors = [floor_seconds(rows)]
    server, port = start_server(environment, args.workers)
    try:
        bodies = _bodies(rows, args.batch)
        api_runs = []
        for run in range(args.runs):
            _empty_sales()
            _empty_redis(args.cache_url)  # every run finds no re-evaluation pending, as the first
            elapsed, created = send(port, secret, bodies)
            assert created["created"] == args.rows, created
            api_runs.append(elapsed)
            _say(f"    api run {run + 1}: {args.rows / elapsed:,.0f} rows/s")
            if run + 1 < args.runs:
                floors.append(floor_seconds(rows))
        api_s = min(api_runs)
        api_rate = args.rows / api_s
        _say(
            f"(a) api: every row created                      {api_rate:10,.0f} rows/s  ({api_s:.2f} s, "
            f"{len(bodies)} requests of {args.batch:,}, best of {args.runs})"
        )

        resend_s, unchanged = send(port, secret, bodies)
        assert unchanged["unchanged"] == args.rows, unchanged
        _say(
            f"(b) resend: every row unchanged                 {args.rows / resend_s:10,.0f} rows/s  ({resend_s:.2f} s)"
        )

        changed = [dict(row) for row in rows]
        for row in changed[::10]:
            row["amount"] = str(Decimal(row["amount"]) + 1)
        update_s, updated = send(port, secret, _bodies(changed, args.batch))
        assert (
            updated["updated"] == len(changed[::10])
            and updated["unchanged"] == args.rows - updated["updated"]
        )
        _say(
            f"(c) update: one row in ten changed              {args.rows / update_s:10,.0f} rows/s  ({update_s:.2f} s)"
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
        _empty_redis(args.broker_url)
        _empty_redis(args.cache_url)

    stored = Sale.objects.filter(source="crm").aggregate(rows=Count("id"), total=Sum("amount"))
    expected_total = sum(Decimal(row["amount"]) for row in changed)
    assert stored["rows"] == args.rows, stored
    assert stored["total"] == expected_total, (stored["total"], expected_total)
    _say(f"checked: {stored['rows']:,} rows stored once each, amounts as sent ({stored['total']:,} in all)")
    floors.append(floor_seconds(rows))
    floor_s = min(floors)

    # What the first batch of each API run spends queueing one re-evaluation per
    # partner it touched (gates.services.request_reevaluation: one task message
    # each), measured alone here against the same broker.
    from gates.services import request_reevaluation

    _empty_redis(args.cache_url)
    touched = sorted({row["partner"] for row in rows[: args.batch]})
    started = time.perf_counter()
    request_reevaluation(touched)  # outside a transaction: queued at once
    queue_s = time.perf_counter() - started
    _empty_redis(args.broker_url)
    _empty_redis(args.cache_url)
    _say(
        f"    queueing the re-evaluation of the {len(touched):,} partners of a first batch: {queue_s:.2f} s "
        f"({queue_s / len(touched) * 1000:.1f} ms each)"
    )
    floor_rate = args.rows / floor_s
    _say(
        f"(d) floor: plain bulk_create                    {floor_rate:10,.0f} rows/s  ({floor_s:.2f} s, "
        f"best of {len(floors)})"
    )

    figures = {
        "rows": args.rows,
        "batch": args.batch,
        "partners": args.partners,
        "workers": args.workers,
        "api_rows_per_s": round(api_rate),
        "floor_rows_per_s": round(floor_rate),
        "api_over_floor": round(api_rate / floor_rate, 3),
        "resend_rows_per_s": round(args.rows / resend_s),
        "update_rows_per_s": round(args.rows / update_s),
        "api_rows_per_s_without_queueing": round(args.rows / max(api_s - queue_s, 1e-9)),
        "reevaluation_queue_s": round(queue_s, 3),
        "partners_in_first_batch": len(touched),
        "api_s": round(api_s, 3),
        "floor_s": round(floor_s, 3),
        "runs": args.runs,
    }
    _say(f"api/floor = {figures['api_over_floor']} (target at least 0.333)")
    print(json.dumps(figures))


def _empty_redis(url: str) -> None:
    """Drop what the run queued and marked: no worker of the benchmark will run the tasks."""
    redis.Redis.from_url(url).flushdb()


if __name__ == "__main__":
    main()
