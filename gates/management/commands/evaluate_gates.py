import datetime

from django.core.management.base import BaseCommand, CommandError, CommandParser

from gates.models import Gate
from gates.services import evaluate
from partners.models import Partner


class Command(BaseCommand):
    help = (
        "Evaluate acceleration gates and segments: all partners or one, all active gates or one. "
        "The same evaluation as the nightly Celery task; --dry-run writes nothing and prints what would change."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--partner", type=int, help="Evaluate this partner only (id).")
        parser.add_argument("--gate", type=int, help="Re-measure this gate only (id).")
        parser.add_argument("--dry-run", action="store_true", help="Print what would change; write nothing.")
        parser.add_argument(
            "--as-of", type=datetime.date.fromisoformat, help="Evaluate as of this day (YYYY-MM-DD)."
        )

    def handle(self, *args, partner=None, gate=None, dry_run=False, as_of=None, **options) -> None:
        if partner is not None and not Partner.objects.filter(pk=partner).exists():
            raise CommandError(f"No partner has the id {partner}.")
        if gate is not None and not Gate.objects.filter(pk=gate).exists():
            raise CommandError(f"No gate has the id {gate}.")
        summary = evaluate(
            partner_ids=[partner] if partner is not None else None,
            gate_ids=[gate] if gate is not None else None,
            as_of=as_of,
            dry_run=dry_run,
        )
        if summary.locked_out:
            self.stdout.write("Another full evaluation is running; nothing done.")
            return
        if summary.dispatched:
            self.stdout.write(
                f"Run {summary.run_id} dispatched to the workers in {summary.chunks} chunks; "
                "its progress is in the admin's evaluation runs."
            )
            return
        for problem in summary.skipped:
            self.stderr.write(f"skipped {problem}")
        names = dict(Partner.objects.filter(id__in=list(summary.events)).values_list("id", "name"))
        for partner_id, lines in sorted(summary.events.items(), key=lambda item: names.get(item[0], "")):
            for line in lines:
                self.stdout.write(f"{names.get(partner_id, partner_id)}: {line}")
        verb = "would change" if dry_run else "changed"
        self.stdout.write(
            self.style.SUCCESS(
                f"{summary.partners} partners evaluated; {summary.statuses_changed} gate statuses {verb}, "
                f"{summary.tiers_changed} tier moves, {summary.benefits_granted} benefits granted and "
                f"{summary.benefits_revoked} revoked, {summary.segment_changes} segment changes"
                + ("" if dry_run else f" (run {summary.run_id})")
                + "."
            )
        )
