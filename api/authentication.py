"""Integration tokens in the ``Authorization`` header: ``Bearer prm_…`` (or ``Token prm_…``)."""

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed, Throttled

from accounts.addresses import client_address
from accounts.throttles import api_token_failures_per_address
from api.models import IntegrationToken
from api.services import token_touch
from history.context import annotate as history_annotate

KEYWORDS = {b"bearer", b"token"}


class IntegrationTokenAuthentication(BaseAuthentication):
    """Authenticates as the channel manager who issued the token; ``request.auth`` is the token.

    Wrong tokens are counted per client address (``PRM_API_TOKEN_FAILURE_RATE``).
    Past the limit, every request with a token from that address answers 429
    with ``Retry-After`` before its token is even looked at, a right one too:
    otherwise the answer to a guess would tell whether it was right.
    """

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() not in KEYWORDS:
            return None
        address = client_address(request) or ""
        wait = api_token_failures_per_address.wait(address)
        if wait is not None:
            raise Throttled(wait=wait)
        try:
            return self._authenticate_token(parts)
        except AuthenticationFailed:
            api_token_failures_per_address.hit(address)
            raise

    def _authenticate_token(self, parts: list[bytes]):
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
        # A write through the token is recorded with the token beside its issuer.
        history_annotate(token=token.pk)
        return token.issued_by, token

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'
