"""Reads of the inbox, all through ``InboxItem.objects.visible_to``."""

from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce

from inbox.models import Announcement, Delivery, InboxItem, InboxKind, InboxPreference
from partners.models import Partner


def inbox_items(viewer):
    """The viewer's items, newest first (paginate it)."""
    return InboxItem.objects.visible_to(viewer).order_by("-created_at", "-id")


def unread_count(viewer) -> int:
    """The bell's figure: one COUNT query (the door's subqueries are part of it)."""
    return InboxItem.objects.visible_to(viewer).unread().count()


def deliveries_of(viewer) -> dict[str, str]:
    """How the viewer wants each kind delivered; kinds without a choice are in-app only."""
    chosen = dict(InboxPreference.objects.filter(user=viewer).values_list("kind", "delivery"))
    return {kind: chosen.get(kind, Delivery.IN_APP) for kind in InboxKind.values}


# --- announcements: what partners see, and who read them ------------------------------------


def announcement_receipts(viewer):
    """The read announcement items of the partners ``viewer`` covers (``Partner``'s door): each
    user's item of an announcement is its read receipt. Staff only; others none."""
    if not getattr(viewer, "is_staff", False):
        return InboxItem.objects.none()
    return InboxItem.objects.filter(
        kind=InboxKind.ANNOUNCEMENT,
        subject_type="inbox.announcement",
        read_at__isnull=False,
        partner__in=Partner.objects.visible_to(viewer),
    )


def read_count_subquery(viewer):
    """For annotating announcements: how many of the covered partners' users read each."""
    receipts = (
        announcement_receipts(viewer)
        .filter(subject_id=OuterRef("pk"))
        .order_by()
        .values("subject_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(receipts), 0)


def read_receipts(*, request_user, announcement: Announcement) -> list[InboxItem]:
    """Who read ``announcement`` and when, among the partners the manager covers: one query."""
    return list(
        announcement_receipts(request_user)
        .filter(subject_id=announcement.pk)
        .select_related("user", "partner")
        .order_by("read_at", "pk")
    )


def announcements_for(viewer):
    """The announcements the viewer sees (the door), newest first, each with ``read_at``: the
    viewer's own read time (their inbox item), in one query."""
    own = InboxItem.objects.filter(
        user=viewer, kind=InboxKind.ANNOUNCEMENT, subject_type="inbox.announcement", subject_id=OuterRef("pk")
    )
    return (
        Announcement.objects.visible_to(viewer)
        .annotate(read_at=Subquery(own.values("read_at")[:1]))
        .order_by("-published_at", "-pk")
    )


def unread_announcements(viewer, *, limit: int = 3) -> list[Announcement]:
    """The dashboard's banner: the newest announcements the viewer has not read. One query."""
    return list(announcements_for(viewer).filter(read_at__isnull=True)[:limit])
