"""Reads of the inbox, all through ``InboxItem.objects.visible_to``."""

from inbox.models import Delivery, InboxItem, InboxKind, InboxPreference


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
