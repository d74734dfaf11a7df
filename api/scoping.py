"""Who is calling: the principal every API read and write hands to the one door.

The principal is the integration token when the request carries one (it sees
what its issuer sees, narrowed to its partners), otherwise the signed-in
user. Views pass it to ``visible_to`` and ``actionable_by``; the narrowing to
a token's partners happens there, so no view can forget it.
"""

from api.models import IntegrationToken


def request_token(request) -> IntegrationToken | None:
    auth = getattr(request, "auth", None)
    return auth if isinstance(auth, IntegrationToken) else None


def request_principal(request):
    """The token of a token-authenticated request, otherwise its user."""
    token = request_token(request)
    return token if token is not None else request.user
