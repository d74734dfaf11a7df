"""Reads that every app shares: what a user may see of any model."""

from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import models
from django.db.models import OuterRef, Subquery
from django.db.models.functions import Coalesce, Greatest

from partners.models import users_visible_to


def has_door(model: type[models.Model]) -> bool:
    """Whether what a staff user sees of ``model`` depends on his coverage (``visible_to``, or the
    users' door). Program definitions have a door too, but staff see every one of them."""
    if model is get_user_model():
        return True
    queryset = model._default_manager.all()
    return hasattr(queryset, "visible_to") and not getattr(queryset, "same_for_all_staff", False)


def visible(queryset: models.QuerySet, user) -> models.QuerySet:
    """``queryset`` narrowed to what ``user`` may see, through its model's door.

    Models with a ``visible_to(user)`` queryset method go through it; logins
    through ``users_visible_to``; vendor-wide reference data (product lines,
    certification types, programs...) has no door and stays as it is.
    """
    door = getattr(queryset, "visible_to", None)
    if door is not None:
        return door(user)
    if queryset.model is get_user_model():
        return users_visible_to(user, queryset)
    return queryset


def logins_with_updated_at(users: models.QuerySet) -> models.QuerySet:
    """``users`` with ``updated_at``: when each login last changed, for a directory's sync.

    ``auth.User`` has no such column. A login's changes (name, email, whether it may sign in,
    staff or not; never a sign-in alone) and its membership's (joining, a new role, leaving)
    are recorded in the history by database triggers, whatever wrote them, so the latest of
    those events dates it; a login with none since the history began, by when it joined. The
    events carry the database's clock: compare ``updated_at`` with ``updated_at``.
    """
    login_events = apps.get_model("history", "LoginEvent")._default_manager
    membership_events = apps.get_model("partners", "MembershipEvent")._default_manager

    def latest(events: models.QuerySet) -> Subquery:
        return Subquery(events.order_by("-pgh_created_at").values("pgh_created_at")[:1])

    return users.annotate(
        updated_at=Greatest(
            "date_joined",
            Coalesce(latest(login_events.filter(pgh_obj_id=OuterRef("pk"))), "date_joined"),
            Coalesce(latest(membership_events.filter(user_id=OuterRef("pk"))), "date_joined"),
        )
    )
