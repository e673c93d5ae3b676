"""Moving-window limits, in memory and in the real Redis: exact admission, free refusals, shared counts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest

from switchyard.adapters.ratelimits import SWEEP_EVERY, LimitsRateLimiter, WindowLog, rate_limiter_for
from switchyard.core.errors import ConfigurationError, Unavailable
from switchyard.core.http import Rate

Factory = Callable[[], LimitsRateLimiter]


@pytest.fixture(params=["memory", "redis"])
def store_url(request: pytest.FixtureRequest) -> str | None:
    return None if request.param == "memory" else request.getfixturevalue("redis_url")


@pytest.fixture
async def make(store_url: str | None, unique_prefix: str) -> AsyncIterator[Factory]:
    """Limiters over the same store (one process's memory, or one Redis prefix): replicas, for Redis."""
    made: list[LimitsRateLimiter] = []
    memory = rate_limiter_for(None) if store_url is None else None

    def factory() -> LimitsRateLimiter:
        limiter = memory or rate_limiter_for(store_url, prefix=unique_prefix)
        made.append(limiter)
        return limiter

    yield factory
    for limiter in made:
        await limiter.close()


async def warm(limiter: LimitsRateLimiter, calls: int = 100) -> None:
    """Open the pool's connections first, so that the timed part measures limiting, not connecting."""
    await asyncio.gather(*(limiter.hit("warm-up", [Rate(10_000, 1)]) for _ in range(calls)))


async def test_ten_per_second_admits_exactly_ten_of_a_hundred_concurrent_calls(make: Factory) -> None:
    limiter = make()
    await warm(limiter)
    started = time.monotonic()
    answers = await asyncio.gather(*(limiter.hit("tenant:t1", [Rate(10, 1)]) for _ in range(100)))
    elapsed = time.monotonic() - started
    assert elapsed < 1.0
    assert sum(answer is None for answer in answers) == 10
    waits = [answer for answer in answers if answer is not None]
    assert len(waits) == 90
    assert all(0 < wait <= 1.0 for wait in waits)
    assert min(waits) >= 1.0 - elapsed - 0.05  # the first ten calls leave the window about a second later


async def test_the_window_moves_on_and_the_wait_was_honest(make: Factory) -> None:
    limiter = make()
    rates = [Rate(3, 1)]
    assert [await limiter.hit("k", rates) for _ in range(3)] == [None, None, None]
    wait = await limiter.hit("k", rates)
    assert wait is not None and 0.5 < wait <= 1.0
    await asyncio.sleep(wait + 0.02)
    assert await limiter.hit("k", rates) is None


async def test_a_call_refused_by_one_rate_is_counted_by_none(make: Factory) -> None:
    limiter = make()
    per_second, per_minute = Rate(10, 1), Rate(3, 60)
    assert [await limiter.hit("k", [per_second, per_minute]) for _ in range(3)] == [None] * 3
    refusals = [await limiter.hit("k", [per_second, per_minute]) for _ in range(20)]
    assert all(wait is not None and 55 < wait <= 60 for wait in refusals)
    # the per-second window counted the three calls that went, not the twenty refused ones
    alone = [await limiter.hit("k", [per_second]) for _ in range(8)]
    assert alone[:7] == [None] * 7 and alone[7] is not None


async def test_refused_calls_cost_nothing_over_time(make: Factory) -> None:
    limiter = make()
    rates = [Rate(2, 1), Rate(5, 60)]
    assert [await limiter.hit("k", rates) for _ in range(2)] == [None, None]
    for _ in range(30):
        assert await limiter.hit("k", rates) is not None  # refused by the per-second window only
    await asyncio.sleep(1.05)
    assert [await limiter.hit("k", rates) for _ in range(2)] == [None, None]
    await asyncio.sleep(1.05)
    assert await limiter.hit("k", rates) is None  # the fifth call of the minute: the thirty did not count
    wait = await limiter.hit("k", rates)
    assert wait is not None and 55 < wait <= 60


async def test_keys_are_counted_apart(make: Factory) -> None:
    limiter = make()
    assert await limiter.hit("tenant:a", [Rate(1, 60)]) is None
    assert await limiter.hit("tenant:b", [Rate(1, 60)]) is None
    assert await limiter.hit("tenant:a", [Rate(1, 60)]) is not None


async def test_no_rates_is_no_limit(make: Factory) -> None:
    assert await make().hit("k", []) is None


async def test_the_same_window_named_twice_counts_a_call_once(make: Factory) -> None:
    limiter = make()
    rates = [Rate(2, 60), Rate(2, 60.0), Rate(2, 59.5)]
    assert [await limiter.hit("k", rates) for _ in range(2)] == [None, None]
    assert await limiter.hit("k", rates) is not None


async def test_two_limiters_over_one_redis_share_the_count(redis_url: str, unique_prefix: str) -> None:
    first = rate_limiter_for(redis_url, prefix=unique_prefix)
    second = rate_limiter_for(redis_url, prefix=unique_prefix)
    elsewhere = rate_limiter_for(redis_url, prefix=unique_prefix + "-other")
    try:
        await asyncio.gather(warm(first, 30), warm(second, 30))
        rates = [Rate(10, 1)]
        calls = [first.hit("tenant:t", rates) for _ in range(30)] + [
            second.hit("tenant:t", rates) for _ in range(30)
        ]
        answers = await asyncio.gather(*calls)
        assert sum(answer is None for answer in answers) == 10
        assert await first.hit("tenant:t", rates) is not None
        assert await second.hit("tenant:t", rates) is not None
        assert await elsewhere.hit("tenant:t", rates) is None  # another prefix is another deployment
    finally:
        for limiter in (first, second, elsewhere):
            await limiter.close()


async def test_an_unreachable_redis_is_unavailable_not_unlimited() -> None:
    limiter = rate_limiter_for("redis://127.0.0.1:1/0", timeout=0.5)
    try:
        with pytest.raises(Unavailable) as caught:
            await limiter.hit("k", [Rate(10, 1)])
        assert caught.value.code == "rate_limit.storage_unavailable"
        assert caught.value.status == 503
        with pytest.raises(Unavailable):
            await limiter.hit("k", [Rate(10, 1), Rate(100, 60)])
    finally:
        await limiter.close()


@pytest.mark.parametrize("url", ["http://127.0.0.1:6379", "127.0.0.1:6379", "memcached://x:1"])
def test_a_url_that_is_not_redis_is_refused_at_start(url: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        rate_limiter_for(url)
    assert caught.value.code == "rate_limit.storage_url_invalid"


async def test_memory_windows_follow_the_clock_and_forget_idle_keys() -> None:
    now = [1000.0]
    log = WindowLog(clock=lambda: now[0])
    limiter = LimitsRateLimiter(log)
    assert await limiter.hit("k", [Rate(2, 10)]) is None
    now[0] += 4
    assert await limiter.hit("k", [Rate(2, 10)]) is None
    now[0] += 1
    assert await limiter.hit("k", [Rate(2, 10)]) == pytest.approx(5.0)  # the first call leaves at 1010
    now[0] += 5
    assert await limiter.hit("k", [Rate(2, 10)]) is None
    now[0] += SWEEP_EVERY + 11
    assert await limiter.hit("other", [Rate(1, 1)]) is None  # a write past the sweep time sweeps
    assert await log.reset() == 1  # only "other" is left


async def test_fractional_windows_round_up_never_loosen() -> None:
    limiter = rate_limiter_for(None)
    assert await limiter.hit("k", [Rate(1, 0.5)]) is None
    wait = await limiter.hit("k", [Rate(1, 0.5)])
    assert wait is not None and wait > 0.5  # a one-second window: stricter than declared, never looser
