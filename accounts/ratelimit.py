"""A sliding-window rate limit kept in the cache that every web process shares.

Each key has a counter per fixed window; the rate over the last full period
is estimated from the current window's count plus the previous window's,
weighted by how much of it still lies within the period. This smooths the
burst a plain fixed window allows at its edge, and every change is one
atomic ``incr``, so concurrent requests cannot overrun the limit as a
read-then-write token bucket kept in a cache could.

Keys are hashed: an email address or a token never appears in the cache.
"""

import contextlib
import hashlib
import math
import time
from collections.abc import Callable

from django.core.cache import cache

# Estimates are fractions: compare with a margin, so 3.0000000000000004 fits in 3.
EPSILON = 1e-9


class SlidingWindowLimit:
    """At most ``count`` events per ``seconds`` for each key, e.g. reset requests per address.

    ``rate`` returns ``(count, seconds)`` and is read at every call, so that a
    changed setting applies at once.
    """

    def __init__(self, scope: str, rate: Callable[[], tuple[int, int]]) -> None:
        self.scope = scope
        self.rate = rate

    def hit(self, key: str) -> int | None:
        """Record one event for ``key`` if the rate allows it.

        Returns None when it was recorded, or the seconds to wait before one
        would be (nothing is recorded then: refused attempts do not extend the wait).
        """
        count, seconds = self.rate()
        now = time.time()
        window = int(now // seconds)
        current_key = self._cache_key(key, window)
        # The counter lives two periods: it is the "previous window" for one more.
        cache.add(current_key, 0, timeout=2 * seconds)
        try:
            current = cache.incr(current_key)
        except ValueError:  # expired between add and incr
            cache.add(current_key, 1, timeout=2 * seconds)
            current = 1
        previous = cache.get(self._cache_key(key, window - 1), 0)
        if self._estimate(previous, current, now, window, seconds) <= count + EPSILON:
            return None
        with contextlib.suppress(ValueError):  # the counter expired meanwhile
            cache.decr(current_key)
        return self._wait(previous, current - 1, now, window, count, seconds)

    def wait(self, key: str) -> int | None:
        """Seconds before one more event for ``key`` would be allowed, or None if it would be now."""
        count, seconds = self.rate()
        now = time.time()
        window = int(now // seconds)
        current = cache.get(self._cache_key(key, window), 0)
        previous = cache.get(self._cache_key(key, window - 1), 0)
        if self._estimate(previous, current + 1, now, window, seconds) <= count + EPSILON:
            return None
        return self._wait(previous, current, now, window, count, seconds)

    def _cache_key(self, key: str, window: int) -> str:
        digest = hashlib.sha256(key.encode()).hexdigest()[:32]
        return f"rate:{self.scope}:{digest}:{window}"

    @staticmethod
    def _estimate(previous: int, current: int, now: float, window: int, seconds: int) -> float:
        elapsed = (now - window * seconds) / seconds
        return previous * (1 - elapsed) + current

    @staticmethod
    def _wait(previous: int, current: int, now: float, window: int, count: int, seconds: int) -> int:
        """Seconds until ``previous * (1 - elapsed) + current + 1 <= count`` holds again."""
        elapsed = (now - window * seconds) / seconds
        room = count - 1 - current
        if room >= 0 and previous > 0:
            needed = 1 - room / previous
            if needed < 1:
                return max(1, math.ceil((needed - elapsed) * seconds - EPSILON))
        # Not within this window: in the next, this window's count becomes the previous one.
        needed_next = max(0.0, 1 - (count - 1) / current) if current else 0.0
        return max(1, math.ceil((1 - elapsed + needed_next) * seconds - EPSILON))
