from livechat_ext.session.ratelimit import FrameLimiter, TokenBucket, Verdict


def test_bucket_allows_burst_then_refills_at_rate():
    bucket = TokenBucket(rate=2, burst=3, now=0.0)
    assert [bucket.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.take(0.5) and not bucket.take(0.5)  # one token back
    assert sum(bucket.take(100.0) for _ in range(10)) == 3  # never above burst


def test_bucket_survives_time_going_backwards():
    bucket = TokenBucket(rate=1, burst=1, now=10.0)
    assert bucket.take(10.0)
    assert not bucket.take(5.0)  # no refill from a clock that went back


def test_limiter_drops_over_limit_then_flags_abuse():
    limiter = FrameLimiter(rate=1, burst=2, now=0.0)
    verdicts = [limiter.check(0.0) for _ in range(25)]
    assert verdicts[:2] == [Verdict.ALLOW, Verdict.ALLOW]
    assert set(verdicts[2:20]) == {Verdict.DROP}
    assert verdicts[20:] == [Verdict.ABUSE] * 5  # ten times the burst spent


def test_limiter_within_rate_never_drops():
    limiter = FrameLimiter(rate=10, burst=5, now=0.0)
    for i in range(1000):
        assert limiter.check(i * 0.1) is Verdict.ALLOW


def test_sustained_double_rate_is_dropped_but_not_abuse():
    limiter = FrameLimiter(rate=10, burst=5, now=0.0)
    seen = {limiter.check(i * 0.05) for i in range(2000)}
    assert seen == {Verdict.ALLOW, Verdict.DROP}
