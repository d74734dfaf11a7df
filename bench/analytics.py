"""Benchmark of the analytics pages' data on PostgreSQL.

    python -m bench.analytics --partners 100000 --facts 5000000

builds the gate benchmark's synthetic world (``bench.gates_world``) in a database
of its own (``prm_bench_analytics`` on the PostgreSQL server of ``DATABASE_URL``,
or ``--database-url``), evaluates it at the last four quarter ends and today so
that the tier history has four quarters to show, and then times the data of each
analytics page as a vendor-wide channel manager asks for it (the whole world in
sight, no filter), and a partner's own figures page for the world's first
partner, best of ``--repeat`` runs, against the floor: one plain GROUP BY per
fact table over the same rows (``bench.gates_world.floor_seconds``).

It prints one line per figure (seconds, ratio to the floor, queries) and ends
with one JSON line of every figure: ``<name>_seconds``, ``<name>_ratio`` and
``<name>_queries`` for each.
"""

import argparse
import datetime
import json
import time
from collections.abc import Callable

from bench.gates_world import database_url, ensure_database, floor_seconds, generate, say, setup_django

# The project's modules are imported inside the functions that use them: they need django.setup(),
# which runs only once the arguments have chosen the database.


def _quarter_ends(today: datetime.date, count: int) -> list[datetime.date]:
    """The last ``count`` quarter ends before ``today``, oldest first."""
    ends = []
    year, quarter = today.year, (today.month - 1) // 3 + 1
    for _ in range(count):
        quarter -= 1
        if quarter == 0:
            year, quarter = year - 1, 4
        month = quarter * 3
        first_of_next = datetime.date(year + (month == 12), month % 12 + 1, 1)
        ends.append(first_of_next - datetime.timedelta(days=1))
    return sorted(ends)


# The cohort the benchmark compares; the synthetic world holds this certification type.
COHORT = "certification:cloud-architect"


def figures() -> dict[str, Callable]:
    """Each analytics page's data, as a callable of (principal, filters, today)."""
    from analytics.cohorts import compare, parse_cohort
    from analytics.funnel import gate_funnel
    from analytics.leaderboards import leaderboards
    from analytics.lifetime import lifetime_value
    from analytics.partner_figures import partner_figures
    from analytics.roi import program_roi
    from analytics.tiers import tier_movement
    from partners.models import Partner

    # A partner's own page: its figures and the medians of its peers, for the world's first partner
    # (its peers are every partner of its type in the programs open to it).
    partner = Partner.objects.order_by("pk").first()

    return {
        "funnel": lambda principal, filters, today: gate_funnel(principal, filters, as_of=today),
        "tiers": lambda principal, filters, today: tier_movement(principal, filters, today=today),
        "roi": lambda principal, filters, today: program_roi(principal, filters, today=today),
        "leaderboards": lambda principal, filters, today: leaderboards(principal, filters, today=today),
        # The cohort page as the enablement question asks it: partners holding the cloud architect
        # certification against the rest (the parse reads the certification type, as the page does).
        "cohorts": lambda principal, filters, today: compare(
            principal, filters, parse_cohort(COHORT), today=today
        ),
        "lifetime": lambda principal, filters, today: lifetime_value(principal, filters, today=today),
        "partner_figures": lambda principal, filters, today: partner_figures(partner, filters, today=today),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--partners", type=int, default=10_000)
    parser.add_argument("--facts", type=int, default=500_000)
    parser.add_argument("--database-url", help="a PostgreSQL database to fill (default: prm_bench_analytics)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each figure; the best counts")
    parser.add_argument("--reuse", action="store_true", help="keep the data already generated and evaluated")
    args = parser.parse_args()
    url = args.database_url or database_url(None).rsplit("/", 1)[0] + "/prm_bench_analytics"
    ensure_database(url)
    setup_django(url)

    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from analytics.filters import parse_filters
    from gates import services
    from partners.models import Partner

    call_command("migrate", verbosity=0)
    today = timezone.localdate()
    if args.reuse and Partner.objects.count() == args.partners:
        say("reusing the data already generated")
    else:
        started = time.perf_counter()
        counts = generate(args.partners, args.facts, args.seed)
        say(f"generated {args.partners:,} partners and {args.facts:,} facts {counts}")
        for day in [*_quarter_ends(today, 4), today]:
            services.evaluate(as_of=day, notify=False)
        say(
            f"generated and evaluated at four quarter ends and today in {time.perf_counter() - started:.1f} s"
        )

    user_model = get_user_model()
    principal = user_model.objects.filter(username="bench-analytics").first()
    if principal is None:
        principal = user_model.objects.create_superuser("bench-analytics", "bench@example.com", None)
    filters = parse_filters({}, principal)

    floor = min(floor_seconds() for _ in range(2))
    say(f"floor: one GROUP BY per fact table   {floor:8.3f} s")
    result: dict[str, float | int] = {
        "partners": args.partners,
        "facts": args.facts,
        "floor_seconds": round(floor, 3),
    }
    for name, figure in figures().items():
        best = float("inf")
        queries = 0
        for _ in range(args.repeat):
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                figure(principal, filters, today)
                best = min(best, time.perf_counter() - started)
            queries = len(captured)
        ratio = best / floor if floor else 0.0
        say(f"{name:<12} {best:8.3f} s  {ratio:6.2f} x floor  {queries:3d} queries")
        result.update(
            {f"{name}_seconds": round(best, 3), f"{name}_ratio": round(ratio, 2), f"{name}_queries": queries}
        )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
