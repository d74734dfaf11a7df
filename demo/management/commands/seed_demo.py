from django.core.management.base import BaseCommand, CommandParser

from demo.seed import DEMO_PASSWORD, seed_demo


class Command(BaseCommand):
    help = "Create the demo program, partners, facts and logins. Safe to run again: nothing is duplicated."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--partners", type=int, default=60, help="How many partners to create (default 60)."
        )

    def handle(self, *args, partners: int, **options) -> None:
        if partners < 1:
            self.stderr.write("--partners must be at least 1")
            raise SystemExit(2)
        result = seed_demo(partners=partners)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data ready: {result.partners} partners, {result.people} people, "
                f"{result.certifications} certifications, {result.sales} sales, {result.activities} activities."
            )
        )
        self.stdout.write("")
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        self.stdout.write(
            "  partner      a partner admin of Acme Cloud Solutions   http://127.0.0.1:8000/portal/"
        )
        self.stdout.write(
            "  distributor  a user of Northwind Distribution           http://127.0.0.1:8000/portal/"
        )
        self.stdout.write(
            "  manager      a channel manager (EMEA)                   http://127.0.0.1:8000/admin/"
        )
        self.stdout.write(
            "  admin        a superuser                                http://127.0.0.1:8000/admin/"
        )
