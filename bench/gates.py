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
             nothing but its report, as a ratio to (c) measured again just
             before and after it: ``simulation_ratio``;
  (f) replay  the Silver gate's draft replayed on the last quarter end, then on
             the last 8, over every partner as known then, beside the live
             versions: ``replay_ratio`` is the 8 dates over the one (at most 8),
             ``replay_unshared_ratio`` the same with each date's own queries;

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
import random
import resource
import time

from bench.gates_fanout import database_share, fan_out, own_cpu
from bench.gates_world import (
    add_a_days_facts,
    database_url,
    ensure_database,
    floor_seconds,
    generate,
    say,
    setup_django,
)

# The project's modules and Django's are imported inside the functions that use them: they need
# django.setup(), which runs only once the arguments have chosen the database.


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


def replay_silver(gates, count, *, shared=True):
    """(f) The Silver gate's draft replayed on the last ``count`` quarter ends, as the admin queues it.

    ``shared=False`` measures each date with its own queries, as a reference for
    what sharing each table's scan between the dates saves.
    """
    import datetime

    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from gates import replay
    from gates.models import Gate, GateVersion
    from gates.replay import replay_queue
    from gates.services import gate_draft_save

    # The synthetic gates stand since before the facts: live on every date replayed.
    since = timezone.now() - datetime.timedelta(days=5 * 365)
    Gate.objects.update(created_at=since)
    GateVersion.objects.update(created_at=since)

    user, _ = get_user_model().objects.get_or_create(
        username="bench-whatif", defaults={"is_staff": True, "is_superuser": True}
    )
    silver = next(gate for gate in gates if gate.name == "Silver")
    gate_draft_save(actor=user, gate=silver, criteria=_draft_of(silver.criteria), currency=silver.currency)
    shared_fetch = replay.fetch_days
    if not shared:
        replay.fetch_days = lambda measurers, *chunk: [m.fetch_sources(*chunk) for m in measurers]
    try:
        started = time.perf_counter()
        run = replay_queue(actor=user, gate=silver, count=count, known_then=True)
        elapsed = time.perf_counter() - started
    finally:
        replay.fetch_days = shared_fetch
    run.refresh_from_db()
    assert run.state == "done", run.error
    moved = sum(abs(row.replayed - row.live) for row in run.rows.all()) // 2
    return elapsed, moved


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


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
    url = database_url(args.database_url)
    ensure_database(url)
    setup_django(url)

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
        say("reusing the data already generated")
        counts = {}
    else:
        started = time.perf_counter()
        counts = generate(args.partners, args.facts, args.seed)
        say(
            f"generated {args.partners:,} partners and {args.facts:,} facts {counts} in {time.perf_counter() - started:.1f} s"
        )
    gates = list(Gate.objects.filter(state="active").order_by("id"))
    as_of = timezone.localdate()

    floor = min(floor_seconds() for _ in range(2))
    say(f"(c) floor: one GROUP BY per fact table          {floor:8.2f} s")

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
        cpu_before = own_cpu()
        started = time.perf_counter()
        summary = services.evaluate(as_of=as_of, notify=False, chunk_size=args.chunk_size)
        full_first = time.perf_counter() - started
        cpu_first = [after - before for after, before in zip(own_cpu(), cpu_before, strict=True)]
    queries = len(captured)
    measuring = sum(
        1 for q in captured if q["sql"].lstrip().upper().startswith("SELECT") and "GROUP BY" in q["sql"]
    )
    say(
        f"(a) full evaluation, first run (writes all)     {full_first:8.2f} s  "
        f"{summary.statuses_written:,} statuses, {summary.tiers_changed:,} tier moves, {queries:,} queries "
        f"({measuring} aggregate reads)"
    )
    # A night's worth of new facts (0.5 % more, spread over random partners),
    # then the nightly run that measures everything and writes what moved.
    added = add_a_days_facts(args.partners, args.facts // 200, args.seed)
    cpu_before = own_cpu()
    started = time.perf_counter()
    nightly = services.evaluate(as_of=as_of, notify=False, chunk_size=args.chunk_size)
    full = time.perf_counter() - started
    cpu_nightly = [after - before for after, before in zip(own_cpu(), cpu_before, strict=True)]
    say(
        f"(a) full evaluation, nightly run                {full:8.2f} s  after {added:,} new facts: "
        f"{nightly.statuses_written:,} statuses rewritten, {nightly.statuses_changed:,} changed, "
        f"{nightly.tiers_changed:,} tier moves"
    )
    cpu_before = own_cpu()
    started = time.perf_counter()
    idle = services.evaluate(as_of=as_of, notify=False, chunk_size=args.chunk_size)
    full_idle = time.perf_counter() - started
    cpu_idle = [after - before for after, before in zip(own_cpu(), cpu_before, strict=True)]
    assert idle.statuses_written == 0, "a run right after another must find nothing to change"
    say(f"(a) full evaluation, nothing new                {full_idle:8.2f} s")

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
    say(
        f"(d) forecast, first run (opens every episode)   {forecast_first:8.2f} s  "
        f"{forecast.at_risk:,} at risk of {forecast.partners:,} partners passing a gate, "
        f"{forecast.days_measured} days measured, {forecast_queries:,} queries"
    )
    say(f"(d) forecast, nothing new                       {forecast_idle:8.2f} s")

    # (e) The what-if: every gate at once, each with one target moved, over every partner. Its
    # ratio is to the floor measured just before and after it: on a shared machine the load moves
    # in the minutes between the opening floor and this point, and with it every figure.
    floor_before = min(floor_seconds() for _ in range(2))
    simulation, simulation_run = simulate_every_gate(gates, as_of)
    simulation_floor = min(floor_before, min(floor_seconds() for _ in range(2)))
    say(
        f"(e) what-if of {len(gates)} gates, every partner   {simulation:8.2f} s  "
        f"{simulation_run.result['movers_total']:,} movers, {simulation_run.chunks_total} chunks, "
        f"one measuring pass; {simulation / simulation_floor:.2f} x the floor beside it ({simulation_floor:.2f} s)"
    )

    # (f) Replay against history: one quarter end, then eight.
    replay_one, _ = replay_silver(gates, 1)
    replay_eight, replay_moved = replay_silver(gates, 8)
    replay_unshared, _ = replay_silver(gates, 8, shared=False)
    say(
        f"(f) replay of Silver on 1 quarter end           {replay_one:8.2f} s\n"
        f"(f) replay of Silver on 8 quarter ends          {replay_eight:8.2f} s  "
        f"{replay_eight / replay_one:.2f} x one date, {replay_moved:,} partner-dates moved\n"
        f"(f) the same, each date its own queries         {replay_unshared:8.2f} s"
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
    say(
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
        "simulation_ratio": round(simulation / simulation_floor, 2),
        "simulation_floor_s": round(simulation_floor, 3),
        "simulation_over_opening_floor": round(simulation / floor, 2),
        "simulation_over_full": round(simulation / full, 2),
        "simulation_movers": simulation_run.result["movers_total"],
        "replay_one_date_s": round(replay_one, 3),
        "replay_8_dates_s": round(replay_eight, 3),
        "replay_ratio": round(replay_eight / replay_one, 2),
        "replay_8_dates_unshared_s": round(replay_unshared, 3),
        "replay_unshared_ratio": round(replay_unshared / replay_one, 2),
        "replay_over_full": round(replay_eight / full, 2),
        "replay_moved": replay_moved,
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
    figures["in_process_database_share"] = database_share(in_process_runs)
    # The same accounting as (d): CPU of this process (Python) and of its PostgreSQL backend.
    figures["in_process_cpu_python_s"] = round(cpu_first[0] + cpu_nightly[0] + cpu_idle[0], 1)
    figures["in_process_cpu_postgresql_s"] = round(cpu_first[1] + cpu_nightly[1] + cpu_idle[1], 1)
    say(
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
    say(
        f"a/c = {figures['full_over_floor']} (first run {figures['full_first_run_over_floor']}, "
        f"nothing new {round(full_idle / floor, 2)}), "
        f"b/a = {figures['naive_over_full']}, d/c = {figures['forecast_ratio']} "
        f"(first run {figures['forecast_first_run_ratio']}, d/a = {figures['forecast_over_full']}), "
        f"e/c = {figures['simulation_ratio']}, f8/f1 = {figures['replay_ratio']}, peak {figures['peak_mb']} MB, "
        f"one partner {figures['one_partner_ms']} ms (median of {len(timings)})"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
