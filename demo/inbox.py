"""The demo's inboxes: what the seeded events and the calendar call for, and two announcements.

Called by ``demo.seed.seed_demo`` last. Items are read from the outbox the
seed's evaluations and deals wrote (the same service the outbox's signal
calls after each commit), so the demo shows what a real run writes; items
are keyed, announcements found by title, so a second run adds nothing.
"""

from django.utils import timezone

from events.models import OutboxEvent
from inbox import services
from inbox.models import Announcement
from programs.models import Program

ANNOUNCEMENTS = [
    (
        "Welcome to your inbox",
        "Tier changes, warnings, approvals, claims due and expiring certifications arrive here. "
        "Choose on the preferences page which ones you also want by email, at once or in a daily digest.",
        None,
    ),
    (
        "Partner summit registrations are open",
        "Join the channel team in London on the first Tuesday of next quarter: sessions on co-selling, "
        "the new security specialisation and the MDF calendar.",
        "main",
    ),
]


def seed_inbox() -> int:
    """Write the demo's items; returns how many were asked for (existing ones are skipped)."""
    written = services.items_from_outbox(
        str(pk) for pk in OutboxEvent.objects.order_by("occurred_at").values_list("pk", flat=True)
    )
    written += services.due_items_create()
    main = Program.objects.filter(parent__isnull=True).order_by("pk").first()
    for title, body, audience in ANNOUNCEMENTS:
        program = main if audience == "main" else None
        announcement, created = Announcement.objects.get_or_create(
            title=title, defaults={"body": body, "published_at": timezone.now()}
        )
        if created and program is not None:
            announcement.programs.set([program])
        written += services.announcement_deliver(announcement_id=announcement.pk)
    return written
