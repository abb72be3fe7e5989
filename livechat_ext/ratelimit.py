"""A token bucket, and the per-connection limiter built from two of them."""

from __future__ import annotations

import enum
import time
from collections.abc import Callable


class TokenBucket:
    """Refills `rate` tokens a second up to `burst`; `take()` spends one if it can."""

    __slots__ = ("_clock", "_stamp", "_tokens", "burst", "rate")

    def __init__(
        self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._stamp = clock()

    def take(self) -> bool:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


class Verdict(enum.Enum):
    ALLOW = "allow"
    DROP = "drop"
    ABUSE = "abuse"


class FrameLimiter:
    """Per-connection rate limit: frames over `rate`/`burst` are dropped; a client
    that keeps sending past ten times the limit is abusive (close 4008)."""

    __slots__ = ("_abuse", "_normal")

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._normal = TokenBucket(rate, burst, clock)
        self._abuse = TokenBucket(rate * 10, burst * 10, clock)

    def check(self) -> Verdict:
        if not self._abuse.take():
            return Verdict.ABUSE
        return Verdict.ALLOW if self._normal.take() else Verdict.DROP
