"""Who may call what.

Reads are open to every signed-in user: the querysets decide what each one
sees, and an object outside them answers 404. Writes need the model
permissions the viewset names for the action (channel managers hold them
through their group) and, with a token, a read-write token. A token that
carries resource scopes (``api.resources``) may moreover call only the
resources they name: ``<resource>:read`` (or ``:write``) to read, ``:write`` to
change; the view names its resource with a ``resource`` attribute.
"""

from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS, BasePermission

from api.resources import UNDECLARED, needed_scope, scopes_allow
from api.scoping import request_token
from core.door import acts_vendor_wide
from programs.models import programs_managed_by

VENDOR_WIDE_ONLY = "This token covers some partners only; changing definitions needs one for all."
NOT_YOUR_PROGRAM = "You do not manage this program: ask its program manager or an administrator."


class ApiAccess(BasePermission):
    message = "You do not have permission to do this."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not user or not user.is_authenticated or not user.is_active:
            return False
        token = request_token(request)
        if request.method in SAFE_METHODS:
            require_resource_scope(token, view, write=False)
            return True
        if _no_handler(view, request.method):
            return True  # DRF answers 405 with the methods allowed
        if token is not None and not token.can_write:
            raise PermissionDenied("This token is read-only: ask for a read-write token to send data.")
        require_resource_scope(token, view, write=True)
        required = view_write_permissions(view)
        if required is None:
            # The action decides itself (e.g. through a service that checks the actor).
            return True
        return bool(required) and user.has_perms(required)


def require_resource_scope(token, view, *, write: bool) -> None:
    """A token with resource scopes calls only the resources they name; one without any, every
    resource its coarse scope allows. A view with ``resource = None`` takes no scope (the
    caller itself, a schema, or an endpoint tokens may not call at all)."""
    if token is None or not token.resource_scopes:
        return
    resource = getattr(view, "resource", UNDECLARED)
    if resource is None:
        return
    if not isinstance(resource, str):  # UNDECLARED
        raise PermissionDenied(
            "This endpoint names no resource scope: a token with resource scopes may not call it."
        )
    if not scopes_allow(token.resource_scopes, resource, write=write):
        needed = needed_scope(resource, write=write)
        alternative = "" if write else f" (or {needed_scope(resource, write=True)})"
        raise PermissionDenied(f"This token lacks the scope {needed}{alternative} that this call needs.")


def _no_handler(view, method: str) -> bool:
    if hasattr(view, "action"):  # a viewset: routed methods have an action
        return view.action is None
    return not hasattr(view, method.lower())


def view_write_permissions(view) -> list[str] | None:
    """The permissions an unsafe action needs: ``write_permissions[action]``, [] (nobody) by default."""
    table = getattr(view, "write_permissions", {})
    action = getattr(view, "action", None)
    if action in table:
        return table[action]
    return []


class ProgramDefinitionMixin:
    """For viewsets of a program's definitions: a change to one (PUT, PATCH, a command) is
    refused before its body is even read unless the caller manages its program."""

    def check_object_permissions(self, request, obj) -> None:
        super().check_object_permissions(request, obj)  # type: ignore[misc]
        if request.method not in SAFE_METHODS:
            require_manageable(self.principal, obj)  # type: ignore[attr-defined]


class VendorWideWritesMixin:
    """For viewsets of the vendor's reference data (exchange rates, codes), the same for every
    partner: a change is refused before its body is read unless the caller acts for every partner."""

    def check_permissions(self, request) -> None:
        super().check_permissions(request)  # type: ignore[misc]
        if request.method not in SAFE_METHODS and not _no_handler(self, request.method):
            require_vendor_wide(self.principal)  # type: ignore[attr-defined]


def require_vendor_wide(principal) -> None:
    """Definitions apply to every partner: a token limited to some partners may not change them."""
    if not acts_vendor_wide(principal):
        raise PermissionDenied(VENDOR_WIDE_ONLY)


def require_program_manager(principal, program) -> None:
    """Changing a program's definitions takes the right to manage it (django-guardian, per program)."""
    require_vendor_wide(principal)
    if not programs_managed_by(principal).filter(pk=program.pk).exists():
        raise PermissionDenied(NOT_YOUR_PROGRAM)


def require_manageable(principal, definition) -> None:
    """``definition`` (a gate, a rule) as stored may be changed by ``principal``: one query."""
    require_vendor_wide(principal)
    if not type(definition)._default_manager.allows(principal, "manage", definition):
        raise PermissionDenied(NOT_YOUR_PROGRAM)
