import datetime
import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from incentives.engine import round_amount
from incentives.reconcile import describe, names_for, reconcile


class Command(BaseCommand):
    help = (
        "Recompute every partner's earnings from the rules and facts and compare with the ledger. Prints "
        "every difference, ends with one JSON line (entries, total per currency, differences) and exits "
        "with status 1 when anything differs. Run it before each payout."
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
        parser.add_argument("--as-of", help="Reconcile as of this day (YYYY-MM-DD); today by default.")

    def handle(self, *args, partners, as_of, **options) -> None:
        try:
            day = datetime.date.fromisoformat(as_of) if as_of else None
        except ValueError as exc:
            raise CommandError(f"--as-of {as_of!r} is not a date: use YYYY-MM-DD.") from exc
        report = reconcile(as_of=day, partner_ids=frozenset(partners) if partners else None)
        partner_names, rule_names = names_for(report)
        for difference in report.differences:
            self.stdout.write("DIFFERENCE " + describe(difference, partner_names, rule_names))
        for problem in report.problems:
            who = partner_names.get(problem.partner_id, problem.partner_id) if problem.partner_id else "-"
            self.stdout.write(
                f"PROBLEM {who} · {rule_names.get(problem.rule_id, problem.rule_id)} · {problem.source}: "
                f"{problem.message}"
            )
        totals = (
            ", ".join(
                f"{round_amount(amount, currency):,f} {currency}"
                for currency, amount in sorted(report.total.items())
            )
            or "nothing"
        )
        verdict = (
            "The ledger agrees with the rules." if report.ok else "The ledger does NOT agree with the rules."
        )
        self.stdout.write(
            f"{report.entries} entries over {report.keys} keys; ledger total {totals}. "
            f"{len(report.differences)} differences, {len(report.problems)} problems. {verdict}"
        )
        self.stdout.write(json.dumps(report.summary(), sort_keys=True))
        if not report.ok:
            raise SystemExit(1)
