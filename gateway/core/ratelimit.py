"""Request rate limits, counted by the ``limits`` library in a storage every process of a deployment shares
(``memory://`` for the embedded default, a ``redis://`` URL when scaled out)."""

from __future__ import annotations

import functools
import time

from limits import RateLimitItem, parse, storage, strategies

from .errors import RateLimited


class RateLimiter:
    def __init__(self, storage_uri: str = "memory://") -> None:
        self._limiter = strategies.MovingWindowRateLimiter(storage.storage_from_string(storage_uri))

    @staticmethod
    @functools.lru_cache(maxsize=64)
    def parse(rate: str) -> RateLimitItem:
        """``"60/minute"``, ``"10 per second"``: the ``limits`` notation."""
        return parse(rate)

    def hit(self, rate: RateLimitItem, *identity: str, what: str) -> None:
        """Count one event for ``identity``; raise RateLimited (429, Retry-After) once ``rate`` is used up."""
        if not self._limiter.hit(rate, *identity):
            self._refuse(rate, identity, what)

    def check(self, rate: RateLimitItem, *identity: str, what: str) -> None:
        """Raise RateLimited if ``rate`` is used up for ``identity``, without counting an event."""
        if not self._limiter.test(rate, *identity):
            self._refuse(rate, identity, what)

    def _refuse(self, rate: RateLimitItem, identity: tuple[str, ...], what: str) -> None:
        reset = self._limiter.get_window_stats(rate, *identity).reset_time
        raise RateLimited(f"Too many {what}: the limit is {rate}. Try again in a moment.",
                          retry_after=max(1.0, reset - time.time()))
