"""Who is looking at the portal, and the guards views use.

A viewer is a partner user, a distributor user, staff (channel managers and
administrators) or nobody in particular (a login without an organisation).
Guards answer 404 rather than 403 where a 403 would confirm that something
exists for another kind of user.
"""

from dataclasses import dataclass
from functools import wraps
from typing import Literal

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest

from partners.models import Distributor, Membership, MembershipRole, Partner

ViewerKind = Literal["partner", "distributor", "staff", "none"]


@dataclass(frozen=True)
class Viewer:
    kind: ViewerKind
    membership: Membership | None

    @property
    def partner(self) -> Partner | None:
        return self.membership.partner if self.membership and self.kind == "partner" else None

    @property
    def distributor(self) -> Distributor | None:
        return self.membership.distributor if self.membership and self.kind == "distributor" else None

    @property
    def is_partner_admin(self) -> bool:
        return (
            self.kind == "partner"
            and self.membership is not None
            and self.membership.role == MembershipRole.ADMIN
        )

    @property
    def role(self) -> str:
        return self.membership.role if self.membership else ""


def viewer_for(request: HttpRequest) -> Viewer:
    cached = getattr(request, "_portal_viewer", None)
    if cached is not None:
        return cached
    user = request.user
    membership = Membership.for_user(user)
    kind: ViewerKind
    if user.is_staff:
        kind = "staff"
    elif membership is not None and membership.partner_id is not None:
        kind = "partner"
    elif membership is not None and membership.distributor_id is not None:
        kind = "distributor"
    else:
        kind = "none"
    viewer = Viewer(kind=kind, membership=membership)
    request._portal_viewer = viewer  # type: ignore[attr-defined]
    return viewer


def is_htmx(request: HttpRequest) -> bool:
    """A request from htmx (django-htmx sets ``request.htmx``), answered with a fragment."""
    return bool(getattr(request, "htmx", False))


def portal_view(*kinds: ViewerKind):
    """Login required, and only these kinds of viewer; others get a 404."""

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            viewer = viewer_for(request)
            if kinds and viewer.kind not in kinds:
                raise Http404("Not found.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
