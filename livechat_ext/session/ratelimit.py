"""A token bucket, and the per-connection limiter built from two of them.
Time comes in as an argument: no clock is read here."""

from __future__ import annotations

import enum


class TokenBucket:
    """Refills `rate` tokens a second up to `burst`; `take(now)` spends one if it can."""

    __slots__ = ("_stamp", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._stamp = now

    def take(self, now: float) -> bool:
        self._tokens = min(self.burst, self._tokens + max(now - self._stamp, 0.0) * self.rate)
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

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self._normal = TokenBucket(rate, burst, now)
        self._abuse = TokenBucket(rate * 10, burst * 10, now)

    def check(self, now: float) -> Verdict:
        if not self._abuse.take(now):
            return Verdict.ABUSE
        return Verdict.ALLOW if self._normal.take(now) else Verdict.DROP
