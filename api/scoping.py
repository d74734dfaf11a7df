"""What the caller of a request may see: the user's visibility, narrowed by the token's scope.

Every viewset reads through these helpers, which start from the models'
``visible_to(user)`` querysets (the one door to visibility) and only ever
narrow them: a token never sees more than the manager who issued it.
"""

from api.models import IntegrationToken
from partners.models import Partner


def request_token(request) -> IntegrationToken | None:
    auth = getattr(request, "auth", None)
    return auth if isinstance(auth, IntegrationToken) else None


def visible_partners(request):
    """Partners the caller may see (and, with a read-write token or staff rights, write facts for)."""
    partners = Partner.objects.visible_to(request.user)
    token = request_token(request)
    if token is not None and not token.all_partners:
        partners = partners.filter(pk__in=token.partners.values("pk"))
    return partners


def narrow_to_token(queryset, request, partner_path: str = "partner"):
    """Restrict a queryset already passed through ``visible_to(user)`` to the token's partners."""
    token = request_token(request)
    if token is None or token.all_partners:
        return queryset
    return queryset.filter(**{f"{partner_path}__in": token.partners.values("pk")})


def covers_all_partners(request) -> bool:
    """Whether the caller acts vendor-wide (no token, or a token for all partners)."""
    token = request_token(request)
    return token is None or token.all_partners
