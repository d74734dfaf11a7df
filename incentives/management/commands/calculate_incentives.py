import datetime
import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from incentives import services
from incentives.periods import PeriodError, parse_period
from partners.models import Partner


class Command(BaseCommand):
    help = (
        "Calculate incentives into the ledger: the same calculation the Celery tasks run. Writes only "
        "differences, so it is safe to run again. Ends with one JSON line."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--partner",
            type=int,
            action="append",
            dest="partners",
            metavar="ID",
            help="Only this partner (repeatable).",
        )
        parser.add_argument("--period", help="Only facts dated in this quarter (2025-Q1) or year (2025).")
        parser.add_argument(
            "--close-due",
            action="store_true",
            help="Also close ended quarters and forfeit overdue held payouts (the daily scheduled run).",
        )
        parser.add_argument("--as-of", help="Calculate as of this day (YYYY-MM-DD); today by default.")

    def handle(self, *args, partners, period, close_due, as_of, **options) -> None:
        try:
            scope_period = parse_period(period) if period else None
        except PeriodError as exc:
            raise CommandError(str(exc)) from exc
        try:
            day = datetime.date.fromisoformat(as_of) if as_of else None
        except ValueError as exc:
            raise CommandError(f"--as-of {as_of!r} is not a date: use YYYY-MM-DD.") from exc
        partner_ids = None
        if partners:
            partner_ids = frozenset(partners)
            missing = partner_ids - set(
                Partner.objects.filter(id__in=partner_ids).values_list("id", flat=True)
            )
            if missing:
                raise CommandError(f"No partner with id {', '.join(str(i) for i in sorted(missing))}.")
        result: dict = {}
        if close_due:
            result["daily"] = services.incentives_daily(as_of=day)
        summary = services.calculate(
            scope=services.Scope(partner_ids=partner_ids, period=scope_period), as_of=day
        )
        for problem in summary.problems:
            self.stderr.write(f"rule {problem.rule_id}, {problem.source}: {problem.message}")
        self.stdout.write(
            f"Checked {summary.keys} ledger keys: wrote {summary.entries} entries "
            f"({summary.earnings} earnings, {summary.adjustments} adjustments, {summary.reversals} reversals); "
            f"{len(summary.problems)} problems."
        )
        result.update(summary.as_dict())
        self.stdout.write(json.dumps(result, sort_keys=True))
