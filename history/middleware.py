"""Opens a history context for every request that may write."""

from typing import Any

from django.core.handlers.asgi import ASGIRequest as DjangoASGIRequest
from django.core.handlers.wsgi import WSGIRequest as DjangoWSGIRequest
from pghistory import config
from pghistory.middleware import ASGIRequest, WSGIRequest

from history.context import Door, history_context

# The first path segment names the door; anything else (sign-in, password reset) is the web.
_DOORS = {"admin": Door.ADMIN, "api": Door.API, "portal": Door.PORTAL}


def door_of(path: str) -> str:
    return _DOORS.get(path.lstrip("/").split("/", 1)[0], Door.WEB)


class HistoryMiddleware:
    """Records who (the signed-in user, or the token's issuer once DRF authenticates it), the door
    (admin, API, portal, web) and the path of every write request.

    Reads (GET, HEAD) open no context: they write no tracked rows, and evaluating
    the lazy user would cost them a query. DRF authenticates inside the view;
    pghistory's request classes pass a user set later on to the open context.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def get_context(self, request) -> dict[str, Any]:
        user = getattr(request, "user", None)
        return {
            "door": door_of(request.path),
            "user": user.pk if user is not None and getattr(user, "is_authenticated", False) else None,
            "url": request.path,
        }

    def __call__(self, request):
        if request.method not in config.middleware_methods():
            return self.get_response(request)
        with history_context(**self.get_context(request)):
            if isinstance(request, DjangoWSGIRequest):
                request.__class__ = WSGIRequest
            elif isinstance(request, DjangoASGIRequest):
                request.__class__ = ASGIRequest
            return self.get_response(request)
