"""The one door to partner-scoped data: what a principal may see, and what it may do.

A *principal* is a signed-in user, or an integration token acting for the
channel manager who issued it. Every queryset of a model with a path to a
partner offers two methods, modelled on NetBox's ``RestrictedQuerySet.restrict``:

- ``visible_to(principal)``: the rows the principal may know of. A token sees
  what its issuer sees, narrowed to its partners unless it covers them all, so
  the narrowing is part of the door and no view has to remember it.
- ``actionable_by(principal, action)``: the rows the principal may do ``action``
  to (``"decide"`` a deal, ``"manage"`` a gate, ``"send_facts"`` for a partner...).
  It is always a subset of ``visible_to``; a read-only token may act on nothing.

Portal views, API commands, admin actions, services and ingestion ask the same
methods, so a rule about who may act lives once, in the model's queryset.
"""

from typing import Any, Self, TypeVar

from django.db import models
from django.db.models import Exists, OuterRef


class UnknownAction(ValueError):
    """An action a queryset does not define: a typing mistake, never a refusal."""


def principal_user(principal: Any):
    """The user behind a principal: the user itself, or the issuer of a token."""
    if getattr(principal, "is_integration_token", False):
        return principal.issued_by
    return principal


def principal_token(principal: Any):
    """The integration token a principal is, or None for a user."""
    return principal if getattr(principal, "is_integration_token", False) else None


def is_active_user(user: Any) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def may_write(principal: Any) -> bool:
    """A user may try to write; a token only when it was issued read-write."""
    token = principal_token(principal)
    return token is None or bool(token.can_write)


def acts_vendor_wide(principal: Any) -> bool:
    """Whether the principal acts on every partner its user sees (a user, or a token for all partners).

    Definitions (programs, gates, rules) apply to every partner: a token limited
    to some partners may not change them.
    """
    token = principal_token(principal)
    return token is None or bool(token.all_partners)


_Model = TypeVar("_Model", bound=models.Model)


class DoorQuerySet(models.QuerySet[_Model]):
    """A queryset with the two doors. Subclasses define ``visible_to`` and one
    ``_actionable_<action>(principal)`` method per action they allow."""

    def visible_to(self, principal: Any) -> Self:
        raise NotImplementedError(f"{self.model.__name__} has no visible_to door.")

    def actionable_by(self, principal: Any, action: str) -> Self:
        """Rows ``principal`` may do ``action`` to: ``"view"`` is ``visible_to``; any other action
        needs a user, or a read-write token, and the queryset's own rule for it."""
        if action == "view":
            return self.visible_to(principal)
        rule = getattr(self, f"_actionable_{action}", None)
        if rule is None:
            raise UnknownAction(f"{self.model.__name__} defines no action {action!r}.")
        if not is_active_user(principal_user(principal)) or not may_write(principal):
            return self.none()
        return rule(principal)

    def _with_model_permission(self, principal: Any, verb: str) -> Self:
        """Staff holding ``<app>.<verb>_<model>``, on the rows they see (NetBox's default rule)."""
        user = principal_user(principal)
        opts = self.model._meta
        if not user.is_staff or not user.has_perm(f"{opts.app_label}.{verb}_{opts.model_name}"):
            return self.none()
        return self.visible_to(principal)

    def _actionable_change(self, principal: Any) -> Self:
        return self._with_model_permission(principal, "change")

    def _actionable_delete(self, principal: Any) -> Self:
        return self._with_model_permission(principal, "delete")

    def actions_of(self, principal: Any, obj: models.Model, actions: list[str]) -> set[str]:
        """Which of ``actions`` ``principal`` may do to ``obj``, in one query whatever their number."""
        if not actions or obj.pk is None:
            return set()
        checks = {
            f"may_{action}": Exists(self.actionable_by(principal, action).filter(pk=OuterRef("pk")))
            for action in actions
        }
        row = self.model._default_manager.filter(pk=obj.pk).annotate(**checks).values(*checks).first()
        if row is None:
            return set()
        return {action for action in actions if row[f"may_{action}"]}

    def allows(self, principal: Any, action: str, obj: models.Model) -> bool:
        """Whether ``principal`` may do ``action`` to ``obj``: one query."""
        if obj.pk is None:
            return False
        return self.actionable_by(principal, action).filter(pk=obj.pk).exists()


def has_door(model: type[models.Model]) -> bool:
    """Whether a model's default manager offers both doors (what the door test walks)."""
    manager = model._default_manager
    queryset_class = getattr(manager, "_queryset_class", None)
    return (
        queryset_class is not None
        and callable(getattr(queryset_class, "visible_to", None))
        and callable(getattr(queryset_class, "actionable_by", None))
        and getattr(queryset_class, "visible_to", None) is not DoorQuerySet.visible_to
    )
