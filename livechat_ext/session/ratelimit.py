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
    that keeps sending past ten times the limit is abusive (close 4008).

    Two token buckets (`rate`/`burst`, and ten times both for abuse) kept in one
    object: there is one per connection."""

    __slots__ = ("_abuse", "_abuse_stamp", "_burst", "_normal", "_rate", "_stamp")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self._rate = rate
        self._burst = float(burst)
        self._normal = float(burst)
        self._abuse = float(burst) * 10
        self._stamp = self._abuse_stamp = now

    def check(self, now: float) -> Verdict:
        rate, burst = self._rate, self._burst
        # the abuse bucket: ten times the rate and the burst
        abuse = min(burst * 10, self._abuse + max(now - self._abuse_stamp, 0.0) * rate * 10)
        self._abuse_stamp = now
        if abuse < 1.0:
            self._abuse = abuse
            return Verdict.ABUSE
        self._abuse = abuse - 1.0
        normal = min(burst, self._normal + max(now - self._stamp, 0.0) * rate)
        self._stamp = now
        if normal < 1.0:
            self._normal = normal
            return Verdict.DROP
        self._normal = normal - 1.0
        return Verdict.ALLOW
