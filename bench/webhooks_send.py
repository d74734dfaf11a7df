"""Where a webhook delivery's time goes: the sending alone, in this process, without Celery.

    python -m bench.webhooks_send --deliveries 300

uses the database of ``bench.webhooks`` (``prm_bench_webhooks``, or ``--database-url``; run that
benchmark once first to create and migrate it), empties its webhooks and outbox, creates
``--deliveries`` deliveries to a receiver on loopback (the one of ``bench.webhooks``, verifying
every signature) and sends them the way the workers do, a batch per task. It prints the time
per delivery, split into database statements (by kind), resolving and checking the URL,
signing and the HTTP exchange; ``--profile`` adds the functions that took longest. The last
line is one JSON object with every figure.

On a checkout without batched sending (before ``webhooks.services.deliveries_send``) it sends
the deliveries one by one, as those workers did, so the two can be compared.
"""

import argparse
import collections
import cProfile
import json
import os
import pstats
import sys
import time

from bench.webhooks import Receiver, _database_url, _events


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--deliveries", type=int, default=300)
    parser.add_argument("--database-url", help="a PostgreSQL database (default: prm_bench_webhooks)")
    parser.add_argument("--profile", action="store_true", help="print the functions that took longest")
    args = parser.parse_args()

    os.environ.update(
        DATABASE_URL=_database_url(args.database_url),
        SECRET_KEY=os.environ.get("SECRET_KEY", "bench-only"),
        DJANGO_SETTINGS_MODULE="prm.settings",
        PRM_WEBHOOKS_ALLOW_PRIVATE_URLS="True",
        LOG_LEVEL="WARNING",
    )
    os.environ.pop("CELERY_BROKER_URL", None)  # no broker: nothing is queued, this process sends
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection

    from events.models import OutboxEvent
    from partners.models import Partner
    from webhooks import services, signing, transport
    from webhooks.models import DeliveryAttempt, WebhookDelivery, WebhookSubscription

    DeliveryAttempt.objects.all().delete()
    WebhookDelivery.objects.all().delete()
    WebhookSubscription.objects.all().delete()
    OutboxEvent.objects.all().delete()
    owner, _ = get_user_model().objects.get_or_create(
        username="bench-webhooks", defaults={"is_staff": True, "is_superuser": True}
    )
    partner = Partner.objects.filter(name="Bench partner").first()
    if partner is None:
        sys.exit("run python -m bench.webhooks once first: it creates the bench partner")
    receiver = Receiver()
    subscription = services.subscription_create(
        actor=owner, owner=owner, url=receiver.url, event_types=["partner.status_changed"]
    )
    receiver.secret = subscription.secret
    OutboxEvent.objects.bulk_create(
        [
            OutboxEvent(event_type=event.event_type, partner_id=partner.pk, data=dict(event.data))
            for event in _events(partner.pk, args.deliveries)
        ]
    )
    ids = sorted(services.events_fan_out(queue=False))

    statements: collections.Counter = collections.Counter()
    statement_seconds: collections.Counter = collections.Counter()
    phases: collections.Counter = collections.Counter()

    def count_statement(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            kind = sql.split()[0].upper()
            statements[kind] += 1
            statement_seconds[kind] += time.perf_counter() - started

    def timed(name, function):
        def wrapper(*arguments, **keywords):
            started = time.perf_counter()
            try:
                return function(*arguments, **keywords)
            finally:
                phases[name] += time.perf_counter() - started

        return wrapper

    transport.post = timed("http", transport.post)
    services.check_url = timed("resolve_and_check", services.check_url)
    signing.headers = timed("sign", signing.headers)
    batched = hasattr(services, "deliveries_send")
    batch = getattr(services, "DELIVERY_BATCH", 1) if batched else 1
    profile = cProfile.Profile()
    with connection.execute_wrapper(count_statement):
        started = time.perf_counter()
        profile.enable()
        if batched:
            for start in range(0, len(ids), batch):
                services.deliveries_send(ids[start : start + batch])
        else:
            for delivery_id in ids:
                services.delivery_send(delivery_id)
        profile.disable()
        seconds = time.perf_counter() - started
    # Commits are not statements the wrapper sees: the rest of the database time is theirs.
    count = len(ids)
    figures: dict = {
        "deliveries": count,
        "batch": batch,
        "per_s": round(count / seconds, 1),
        "ms_per_delivery": round(1000 * seconds / count, 2),
        "delivered": WebhookDelivery.objects.filter(state="delivered").count(),
        "received": len(receiver.received),
    }
    print(
        f"{count} deliveries, {'batches of ' + str(batch) if batched else 'one by one'}: {seconds:.2f} s, "
        f"{figures['per_s']:.0f}/s, {figures['ms_per_delivery']:.2f} ms each"
    )
    for kind in sorted(statements):
        per = statements[kind] / count
        ms = 1000 * statement_seconds[kind] / count
        figures[f"sql_{kind.lower()}_per_delivery"] = round(per, 3)
        figures[f"sql_{kind.lower()}_ms"] = round(ms, 2)
        print(f"  {kind:9} {per:6.2f} statements and {ms:5.2f} ms per delivery")
    for name in ("resolve_and_check", "sign", "http"):
        figures[f"{name}_ms"] = round(1000 * phases[name] / count, 2)
        print(f"  {name:18} {figures[f'{name}_ms']:5.2f} ms per delivery")
    print(
        f"  delivered {figures['delivered']}, received {figures['received']} (unverified {receiver.unverified})"
    )
    if args.profile:
        pstats.Stats(profile).sort_stats("cumulative").print_stats(20)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
