"""Benchmark of webhook delivery to a receiver on loopback, through a real Celery worker.

    python -m bench.webhooks --rate 100 --seconds 20 --burst 2000

uses a database of its own (``prm_bench_webhooks`` on the PostgreSQL server of
``DATABASE_URL``, or ``--database-url``), a Redis broker (``--broker-url``,
emptied before and after), starts ``celery worker`` processes and a receiver
(http.server in a thread of this process, speaking HTTP/1.1 and keeping
connections open as receivers commonly do) that verifies every signature with
the ``standardwebhooks`` package, then measures:

  (a) lag     events committed one per transaction at ``--rate`` per second for
              ``--seconds``: the time from each commit to its receipt, p50,
              p95 and max (target: p95 <= 2 s at 100 events/s);
  (b) burst   ``--burst`` events committed in one transaction (a nightly run's
              bulk insert): events per second from commit to the last receipt;
  (c) enqueue the cost of recording 10,000 events with one ``emit_many`` in one
              transaction, beside a plain ``bulk_create`` of the same rows (the floor).

Every event must arrive once, verified, with the id the outbox gave it. The
last line is one JSON object with every figure.
"""

import argparse
import http.server
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import psycopg
import redis
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

# The project's modules and Django's are imported inside the functions that use them: they need
# django.setup(), which runs only once the arguments have chosen the database.


ROOT = Path(__file__).resolve().parent.parent


def _say(message: str) -> None:
    print(message, flush=True)


def _database_url(argument: str | None) -> str:
    base = argument or os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres"
    parsed = urlparse(base)
    if parsed.scheme not in {"postgres", "postgresql"}:
        sys.exit("bench.webhooks measures PostgreSQL: give a postgres:// DATABASE_URL or --database-url")
    if argument:
        return base
    return urlunparse(parsed._replace(path="/prm_bench_webhooks"))


def _ensure_database(url: str) -> None:
    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = urlunparse(parsed._replace(path="/postgres", scheme="postgresql"))
    with psycopg.connect(admin, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')


class Receiver:
    """Records when each webhook-id first arrives, and whether its signature verified."""

    def __init__(self):
        self.secret = ""
        self.received: dict[str, float] = {}
        self.requests = 0
        self.unverified = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                at = time.time()
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {key.lower(): value for key, value in self.headers.items()}
                try:
                    Webhook(receiver.secret).verify(body, headers)
                    ok = True
                except WebhookVerificationError:
                    ok = False
                with receiver.lock:
                    receiver.requests += 1
                    if ok:
                        receiver.received.setdefault(headers["webhook-id"], at)
                    else:
                        receiver.unverified += 1
                self.send_response(200 if ok else 401)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def wait_for(self, ids: set[str], timeout: float) -> bool:
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                if ids <= self.received.keys():
                    return True
            time.sleep(0.02)
        return False


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _emit_one(partner_id: int, index: int):
    from django.db import transaction

    from events.outbox import emit

    with transaction.atomic():
        event_id = emit(
            "partner.status_changed",
            data={
                "partner_id": partner_id,
                "partner_name": "Bench partner",
                "from_status": "active",
                "to_status": "suspended" if index % 2 else "active",
            },
            partner_id=partner_id,
        )
    return f"evt_{event_id.hex}", time.time()


def _events(partner_id: int, count: int):
    from events.outbox import NewEvent

    return [
        NewEvent(
            "partner.status_changed",
            {"partner_id": partner_id, "partner_name": "Bench partner", "from_status": "a", "to_status": "b"},
            partner_id=partner_id,
        )
        for _ in range(count)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=100.0, help="events per second in the lag phase")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the lag phase")
    parser.add_argument("--burst", type=int, default=2000, help="events committed at once in the burst phase")
    parser.add_argument("--concurrency", type=int, default=2, help="Celery worker processes")
    parser.add_argument("--database-url", help="a PostgreSQL database (default: prm_bench_webhooks)")
    parser.add_argument(
        "--broker-url", default="redis://127.0.0.1:6379/4", help="a Redis database of its own"
    )
    args = parser.parse_args()

    url = _database_url(args.database_url)
    _ensure_database(url)
    environment = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only"),
        "DJANGO_SETTINGS_MODULE": "prm.settings",
        "CELERY_BROKER_URL": args.broker_url,
        "REDIS_URL": args.broker_url,
        "PRM_WEBHOOKS_ALLOW_PRIVATE_URLS": "True",
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(environment)
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import transaction

    from events.models import OutboxEvent
    from events.outbox import emit_many
    from partners.models import Partner
    from webhooks import services
    from webhooks.models import DeliveryAttempt, WebhookDelivery, WebhookSubscription

    call_command("migrate", verbosity=0)
    broker = redis.Redis.from_url(args.broker_url)
    broker.flushdb()
    DeliveryAttempt.objects.all().delete()
    WebhookDelivery.objects.all().delete()
    WebhookSubscription.objects.all().delete()
    OutboxEvent.objects.all().delete()

    owner, _ = get_user_model().objects.get_or_create(
        username="bench-webhooks", defaults={"is_staff": True, "is_superuser": True}
    )
    partner = Partner.objects.filter(name="Bench partner").first() or Partner.objects.create(
        name="Bench partner", partner_type="reseller", business_model="resell", country="GB", region="emea"
    )
    receiver = Receiver()
    subscription = services.subscription_create(
        actor=owner, owner=owner, url=receiver.url, event_types=["partner.status_changed"]
    )
    receiver.secret = subscription.secret

    worker = subprocess.Popen(  # noqa: S603 - this interpreter running celery, no outside input
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "prm",
            "worker",
            "--concurrency",
            str(args.concurrency),
            "--loglevel",
            "WARNING",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env=environment,
    )
    figures: dict = {"rate": args.rate, "seconds": args.seconds, "concurrency": args.concurrency}
    try:
        # Warm up: the worker is ready once one event goes through.
        warm_id, _ = _emit_one(partner.pk, 0)
        if not receiver.wait_for({warm_id}, timeout=60):
            sys.exit("the worker delivered nothing within 60 s")

        # (a) lag at a steady rate, one transaction per event.
        count = int(args.rate * args.seconds)
        committed: dict[str, float] = {}
        start = time.time()
        for index in range(count):
            pause = start + index / args.rate - time.time()
            if pause > 0:
                time.sleep(pause)
            event_id, at = _emit_one(partner.pk, index)
            committed[event_id] = at
        produced_rate = count / (time.time() - start)
        arrived = receiver.wait_for(set(committed), timeout=120)
        lags = [
            receiver.received[event_id] - at
            for event_id, at in committed.items()
            if event_id in receiver.received
        ]
        figures.update(
            lag_events=count,
            lag_delivered=len(lags),
            produced_per_s=round(produced_rate, 1),
            lag_p50_s=round(_percentile(lags, 0.50), 3),
            lag_p95_s=round(_percentile(lags, 0.95), 3),
            lag_max_s=round(max(lags), 3),
            lag_mean_s=round(statistics.fmean(lags), 3),
        )
        _say(
            f"(a) lag      {count} events at {produced_rate:.1f}/s, one transaction each: "
            f"p50 {figures['lag_p50_s']:.3f} s, p95 {figures['lag_p95_s']:.3f} s, max {figures['lag_max_s']:.3f} s "
            f"({len(lags)} delivered{'' if arrived else ', some missing'})"
        )

        # (b) a burst committed at once.
        with transaction.atomic():
            ids = emit_many(_events(partner.pk, args.burst))
        burst_committed = time.time()
        burst_ids = {f"evt_{event_id.hex}" for event_id in ids}
        burst_arrived = receiver.wait_for(burst_ids, timeout=300)
        last = max(receiver.received[event_id] for event_id in burst_ids if event_id in receiver.received)
        burst_seconds = last - burst_committed
        figures.update(
            burst_events=args.burst,
            burst_seconds=round(burst_seconds, 3),
            burst_events_per_s=round(args.burst / burst_seconds, 1),
        )
        _say(
            f"(b) burst    {args.burst} events in one transaction: all received in {burst_seconds:.2f} s, "
            f"{figures['burst_events_per_s']:.0f} events/s{'' if burst_arrived else ' (some missing)'}"
        )
    finally:
        worker.terminate()
        worker.wait(timeout=30)

    # (c) recording 10,000 events in one transaction, against a plain bulk_create (no worker runs:
    # the fan-out tasks queued after commit stay in the broker, emptied below).
    rows = 10_000
    started = time.perf_counter()
    with transaction.atomic():
        emit_many(_events(partner.pk, rows))
    enqueue = time.perf_counter() - started
    started = time.perf_counter()
    with transaction.atomic():
        OutboxEvent.objects.bulk_create(
            [
                OutboxEvent(event_type="partner.status_changed", partner_id=partner.pk, data=event.data)
                for event in _events(partner.pk, rows)
            ],
            batch_size=2000,
        )
    floor = time.perf_counter() - started
    figures.update(enqueue_10k_s=round(enqueue, 3), enqueue_floor_10k_s=round(floor, 3))
    _say(
        f"(c) enqueue  10,000 events with one emit_many: {enqueue:.3f} s; plain bulk_create {floor:.3f} s "
        f"(ratio {enqueue / floor:.2f})"
    )

    delivered = WebhookDelivery.objects.filter(state="delivered").count()
    duplicates = receiver.requests - len(receiver.received) - receiver.unverified
    figures.update(
        delivered_rows=delivered,
        requests=receiver.requests,
        unverified=receiver.unverified,
        duplicates=duplicates,
        lag_p95_over_target=round(figures["lag_p95_s"] / 2.0, 3),
        burst_over_rate=round(figures["burst_events_per_s"] / args.rate, 2),
    )
    _say(
        f"ratios: lag p95 / 2 s target = {figures['lag_p95_over_target']:.2f}; "
        f"burst rate / {args.rate:.0f} events/s = {figures['burst_over_rate']:.1f}; "
        f"requests {receiver.requests}, unverified {receiver.unverified}, duplicates {duplicates}"
    )
    broker.flushdb()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
