"""Integration tokens in the ``Authorization`` header: ``Bearer prm_…`` (or ``Token prm_…``)."""

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

from api.models import IntegrationToken
from api.services import token_touch

KEYWORDS = {b"bearer", b"token"}


class IntegrationTokenAuthentication(BaseAuthentication):
    """Authenticates as the channel manager who issued the token; ``request.auth`` is the token."""

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() not in KEYWORDS:
            return None
        if len(parts) != 2:
            raise AuthenticationFailed(
                _("Send the token after the keyword: “Authorization: Bearer <token>”.")
            )
        try:
            raw = parts[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise AuthenticationFailed(_("This token is not valid.")) from exc
        token = IntegrationToken.objects.find(raw)
        if token is None:
            raise AuthenticationFailed(_("This token is not valid."))
        if token.revoked_at is not None:
            raise AuthenticationFailed(_("This token has been revoked."))
        if token.expires_at is not None and token.expires_at <= timezone.now():
            raise AuthenticationFailed(_("This token has expired."))
        if not token.issued_by.is_active:
            raise AuthenticationFailed(_("The account that issued this token is no longer active."))
        token_touch(token)
        return token.issued_by, token

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'
