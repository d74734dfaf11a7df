"""The limits on requests that probe for accounts and credentials, each per client address or target."""

from django.conf import settings

from accounts.ratelimit import SlidingWindowLimit

reset_requests_per_address = SlidingWindowLimit(
    "password-reset-address", lambda: settings.PRM_PASSWORD_RESET_RATE_PER_ADDRESS
)
reset_requests_per_email = SlidingWindowLimit(
    "password-reset-email", lambda: settings.PRM_PASSWORD_RESET_RATE_PER_EMAIL
)
api_token_failures_per_address = SlidingWindowLimit(
    "api-token-failures", lambda: settings.PRM_API_TOKEN_FAILURE_RATE
)
applications_per_address = SlidingWindowLimit(
    "partner-application-address", lambda: settings.PRM_APPLICATION_RATE_PER_ADDRESS
)
