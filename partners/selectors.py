"""Reads that every app shares: what a user may see of any model."""

from django.contrib.auth import get_user_model
from django.db import models

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
