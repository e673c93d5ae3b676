"""Circuit breakers, in memory and in the real Redis: opening, the one half-open trial, replicas, fail-open."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio as aioredis
from structlog.testing import capture_logs

from switchyard.adapters.breakers import SWEEP_EVERY, MemoryBreakers, RedisBreakers, breakers_for
from switchyard.core.errors import CircuitOpen, ConfigurationError

COOLDOWN = 0.3
Breakers = MemoryBreakers | RedisBreakers
Factory = Callable[..., Breakers]


@pytest.fixture(params=["memory", "redis"])
def store_url(request: pytest.FixtureRequest) -> str | None:
    return None if request.param == "memory" else request.getfixturevalue("redis_url")


@pytest.fixture
async def make(store_url: str | None, unique_prefix: str) -> AsyncIterator[Factory]:
    made: list[Breakers] = []

    def factory(threshold: int = 3, cooldown: float = COOLDOWN, trial_timeout: float = 5.0) -> Breakers:
        breakers = breakers_for(
            store_url,
            threshold=threshold,
            cooldown=cooldown,
            trial_timeout=trial_timeout,
            prefix=unique_prefix,
        )
        made.append(breakers)
        return breakers

    yield factory
    for breakers in made:
        await breakers.close()


async def fail(breakers: Breakers, key: str, times: int) -> None:
    for _ in range(times):
        await breakers.record(key, success=False)


async def admitted(breakers: Breakers, key: str) -> bool:
    try:
        await breakers.check(key)
    except CircuitOpen:
        return False
    return True


async def open_wait(breakers: Breakers, key: str) -> float:
    with pytest.raises(CircuitOpen) as caught:
        await breakers.check(key)
    assert caught.value.code == "circuit.open" and caught.value.status == 503
    return caught.value.retry_after


async def test_opens_after_threshold_consecutive_failures(make: Factory) -> None:
    breakers = make()
    await fail(breakers, "t:github", 2)
    assert await admitted(breakers, "t:github")
    await fail(breakers, "t:github", 1)
    wait = await open_wait(breakers, "t:github")
    assert 0.2 < wait <= COOLDOWN
    assert await admitted(breakers, "t:slack")  # other keys are other breakers


async def test_a_success_resets_the_count(make: Factory) -> None:
    breakers = make()
    await fail(breakers, "k", 2)
    await breakers.record("k", success=True)
    await fail(breakers, "k", 2)
    assert await admitted(breakers, "k")
    await fail(breakers, "k", 1)
    assert not await admitted(breakers, "k")


async def test_half_open_lets_exactly_one_trial_through_under_concurrency(make: Factory) -> None:
    breakers = make()
    await fail(breakers, "k", 3)
    assert not await admitted(breakers, "k")
    await asyncio.sleep(COOLDOWN + 0.05)
    results = await asyncio.gather(*(admitted(breakers, "k") for _ in range(50)))
    assert results.count(True) == 1
    wait = await open_wait(breakers, "k")  # while the trial is out, the others wait
    assert 0 < wait <= COOLDOWN


async def test_a_successful_trial_closes_the_breaker(make: Factory) -> None:
    breakers = make()
    await fail(breakers, "k", 3)
    await asyncio.sleep(COOLDOWN + 0.05)
    assert await admitted(breakers, "k")
    await breakers.record("k", success=True)
    assert all([await admitted(breakers, "k") for _ in range(5)])
    await fail(breakers, "k", 2)  # counting starts again from zero
    assert await admitted(breakers, "k")


async def test_a_failed_trial_reopens_for_another_cooldown(make: Factory) -> None:
    breakers = make()
    await fail(breakers, "k", 3)
    await asyncio.sleep(COOLDOWN + 0.05)
    assert await admitted(breakers, "k")
    await breakers.record("k", success=False)
    wait = await open_wait(breakers, "k")
    assert 0.2 < wait <= COOLDOWN
    await asyncio.sleep(COOLDOWN + 0.05)
    results = await asyncio.gather(*(admitted(breakers, "k") for _ in range(20)))
    assert results.count(True) == 1  # half-open again: one more trial


async def test_answers_of_calls_sent_before_it_opened_change_nothing(make: Factory) -> None:
    breakers = make()
    await fail(breakers, "k", 3)
    first = await open_wait(breakers, "k")
    await breakers.record("k", success=True)  # a slow call that left while it was still closed
    await fail(breakers, "k", 2)
    assert await open_wait(breakers, "k") <= first  # still open, and the cool-down was not extended


async def test_a_trial_that_never_reports_lapses(make: Factory) -> None:
    breakers = make(trial_timeout=0.2)
    await fail(breakers, "k", 3)
    await asyncio.sleep(COOLDOWN + 0.05)
    assert await admitted(breakers, "k")  # this caller vanishes without recording
    assert not await admitted(breakers, "k")
    await asyncio.sleep(0.25)
    assert await admitted(breakers, "k")  # the next caller becomes the trial
    assert not await admitted(breakers, "k")


async def test_two_replicas_over_one_redis_share_each_breaker(redis_url: str, unique_prefix: str) -> None:
    first = breakers_for(redis_url, threshold=3, cooldown=COOLDOWN, prefix=unique_prefix)
    second = breakers_for(redis_url, threshold=3, cooldown=COOLDOWN, prefix=unique_prefix)
    try:
        await fail(first, "k", 2)
        await fail(second, "k", 1)  # three consecutive failures, seen by two replicas
        assert not await admitted(first, "k")
        assert not await admitted(second, "k")
        await asyncio.sleep(COOLDOWN + 0.05)
        results = await asyncio.gather(*(admitted(replica, "k") for replica in (first, second) * 25))
        assert results.count(True) == 1
        await second.record("k", success=True)
        assert await admitted(first, "k") and await admitted(second, "k")
    finally:
        await first.close()
        await second.close()


async def test_redis_breakers_leave_nothing_behind(redis_url: str, unique_prefix: str) -> None:
    breakers = breakers_for(
        redis_url, threshold=2, cooldown=COOLDOWN, trial_timeout=1.0, prefix=unique_prefix
    )
    client = aioredis.from_url(redis_url)
    key = f"{unique_prefix}:breaker:k"
    try:
        await fail(breakers, "k", 2)
        ttl_ms = await client.pttl(key)
        assert 0 < ttl_ms <= (COOLDOWN + 1.0 + 600) * 1000  # cool-down + trial + forget_after
        await asyncio.sleep(COOLDOWN + 0.05)
        await breakers.check("k")
        await breakers.record("k", success=True)
        assert await client.exists(key) == 0  # closed is the absence of state
        await breakers.record("k", success=True)
        assert await client.exists(key) == 0
    finally:
        await client.aclose()
        await breakers.close()


async def test_an_unreachable_redis_fails_open_with_one_warning() -> None:
    breakers = breakers_for("redis://127.0.0.1:1/0", threshold=1, cooldown=COOLDOWN, timeout=0.5)
    try:
        with capture_logs() as logs:
            started = time.monotonic()
            for _ in range(5):
                await breakers.record("k", success=False)
                await breakers.check("k")  # would be open after one failure: the calls go out instead
            assert time.monotonic() - started < 1.0  # Redis is skipped for a while after it fails
        warnings = [entry for entry in logs if entry["event"] == "breakers.redis_unavailable"]
        assert len(warnings) == 1
        assert warnings[0]["log_level"] == "warning" and warnings[0]["fail_open"] is True
    finally:
        await breakers.close()


async def test_memory_breakers_follow_the_clock_and_forget_idle_state() -> None:
    now = [500.0]
    breakers = MemoryBreakers(
        threshold=2, cooldown=10, trial_timeout=5, forget_after=60, clock=lambda: now[0]
    )
    await fail(breakers, "k", 2)
    now[0] += 4
    assert await open_wait(breakers, "k") == pytest.approx(6.0)
    now[0] += 6
    await breakers.check("k")  # the trial
    now[0] += 1
    assert await open_wait(breakers, "k") == pytest.approx(4.0)  # the trial's lease, under the cool-down
    await fail(breakers, "idle", 1)
    now[0] += SWEEP_EVERY + 80
    await breakers.record("other", success=True)  # a record past the sweep time sweeps
    assert await admitted(breakers, "k") and await admitted(breakers, "idle")
    await breakers.record("idle", success=False)
    assert await admitted(breakers, "idle")  # one failure, counted afresh


@pytest.mark.parametrize("url", ["http://127.0.0.1:6379", "127.0.0.1:6379"])
def test_a_url_that_is_not_redis_is_refused_at_start(url: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        breakers_for(url, threshold=1, cooldown=1)
    assert caught.value.code == "breaker.storage_url_invalid"
