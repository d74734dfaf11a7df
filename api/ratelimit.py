"""``RateLimit-*`` headers: how much of its allowance a throttled caller has left.

The throttle that counts a request (``api.throttling``) records its figures on the request;
the middleware writes them on whatever response the request got, a 429 and a 404 included,
so a client can slow down before it is refused. The names are those of the IETF draft
"RateLimit header fields for HTTP": ``RateLimit-Limit`` (calls per window),
``RateLimit-Remaining`` (calls left in it), ``RateLimit-Reset`` (seconds until a call is
freed) and ``RateLimit-Policy`` (``<limit>;w=<window seconds>``). A refused call also carries
``Retry-After``, as DRF sets it.
"""

import math
from dataclasses import dataclass

ATTRIBUTE = "prm_rate_limit"


@dataclass(frozen=True)
class Allowance:
    limit: int
    remaining: int
    reset: int
    window: int

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset),
            "RateLimit-Policy": f"{self.limit};w={self.window}",
        }


def allowance(*, limit: int, window: int, history: list[float], now: float) -> Allowance:
    """From a throttle's sliding window: ``history`` holds the times of the calls it counts,
    newest first; the oldest leaves the window first and frees a call."""
    remaining = max(0, limit - len(history))
    reset = math.ceil(history[-1] + window - now) if history else 0
    return Allowance(limit=limit, remaining=remaining, reset=max(0, reset), window=window)


def record(request, figures: Allowance) -> None:
    # On the Django request, which the middleware sees (DRF's Request wraps it).
    setattr(getattr(request, "_request", request), ATTRIBUTE, figures)


class RateLimitHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        figures = getattr(request, ATTRIBUTE, None)
        if figures is not None:
            for name, value in figures.headers().items():
                response[name] = value
        return response
