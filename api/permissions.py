"""Who may call what.

Reads are open to every signed-in user: the querysets decide what each one
sees, and an object outside them answers 404. Writes need the model
permissions the viewset names for the action (channel managers hold them
through their group) and, with a token, a read-write token.
"""

from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS, BasePermission

from api.scoping import request_token


class ApiAccess(BasePermission):
    message = "You do not have permission to do this."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not user or not user.is_authenticated or not user.is_active:
            return False
        if request.method in SAFE_METHODS:
            return True
        if _no_handler(view, request.method):
            return True  # DRF answers 405 with the methods allowed
        token = request_token(request)
        if token is not None and not token.can_write:
            raise PermissionDenied("This token is read-only: ask for a read-write token to send data.")
        required = view_write_permissions(view)
        if required is None:
            # The action decides itself (e.g. through a service that checks the actor).
            return True
        return bool(required) and user.has_perms(required)


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
