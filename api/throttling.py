"""Rate limits: per token, per signed-in user, per anonymous address.

Rates are read from the settings on every request (not frozen at import),
so that they follow ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` as set.
"""

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from accounts.addresses import client_address
from api import ratelimit
from api.scoping import request_token


class _SettingsRateThrottle(SimpleRateThrottle):
    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope or "")

    def allow_request(self, request, view):
        # Rates may change between requests (settings overrides): read them each time.
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        allowed = super().allow_request(request, view)
        counted = getattr(self, "key", None) is not None
        if counted and self.num_requests is not None and self.duration is not None:
            figures = ratelimit.allowance(
                limit=self.num_requests, window=self.duration, history=self.history, now=self.now
            )
            ratelimit.record(request, figures)
        return allowed

    def get_ident(self, request) -> str:
        # The address every sign-in limit uses, behind the trusted proxies only
        # (DRF's own reading believes any X-Forwarded-For a client sends).
        return client_address(request) or ""


class TokenRateThrottle(_SettingsRateThrottle):
    """Calls made with an integration token, counted per token."""

    scope = "token"

    def get_cache_key(self, request, view):
        token = request_token(request)
        if token is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": token.pk}


class SessionUserRateThrottle(_SettingsRateThrottle):
    """Calls made with a browser session, counted per user."""

    scope = "user"

    def get_cache_key(self, request, view):
        if request_token(request) is not None or not request.user or not request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


class AnonymousRateThrottle(_SettingsRateThrottle):
    """Unauthenticated calls, counted per client address."""

    scope = "anon"

    def get_cache_key(self, request, view):
        if request.user and request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
