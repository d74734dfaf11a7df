from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

from partners.roles import CHANNEL_MANAGERS, ensure_channel_manager_group


class Command(BaseCommand):
    help = (
        "Create the channel managers' group with its permissions, or bring it up to date. "
        "migrate runs this too; it is safe to run again."
    )

    def handle(self, *args, **options) -> None:
        existed = Group.objects.filter(name=CHANNEL_MANAGERS).exists()
        group = ensure_channel_manager_group()
        self.stdout.write(
            f"{CHANNEL_MANAGERS}: {group.permissions.count()} permissions "
            f"({'brought up to date' if existed else 'created'})."
        )
