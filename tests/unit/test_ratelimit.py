from livechat_ext.ratelimit import FrameLimiter, TokenBucket, Verdict


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_burst_then_refills_at_rate():
    clock = Clock()
    bucket = TokenBucket(rate=2, burst=3, clock=clock)
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    clock.now = 0.5  # one token back
    assert bucket.take() and not bucket.take()
    clock.now = 100  # never above burst
    assert sum(bucket.take() for _ in range(10)) == 3


def test_limiter_drops_over_limit_then_flags_abuse():
    clock = Clock()
    limiter = FrameLimiter(rate=1, burst=2, clock=clock)
    verdicts = [limiter.check() for _ in range(25)]
    assert verdicts[:2] == [Verdict.ALLOW, Verdict.ALLOW]
    assert set(verdicts[2:20]) == {Verdict.DROP}
    assert verdicts[20:] == [Verdict.ABUSE] * 5  # ten times the burst spent


def test_limiter_within_rate_never_drops():
    clock = Clock()
    limiter = FrameLimiter(rate=10, burst=5, clock=clock)
    for i in range(1000):
        clock.now = i * 0.1
        assert limiter.check() is Verdict.ALLOW


def test_sustained_double_rate_is_dropped_but_not_abuse():
    clock = Clock()
    limiter = FrameLimiter(rate=10, burst=5, clock=clock)
    seen = set()
    for i in range(2000):
        clock.now = i * 0.05
        seen.add(limiter.check())
    assert seen == {Verdict.ALLOW, Verdict.DROP}
