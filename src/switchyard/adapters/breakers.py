"""Circuit breakers per key (tenant and provider), in process memory or shared by replicas through Redis.

One state machine, two stores::

    closed --(threshold consecutive failures)--> open --(cool-down)--> half-open
      ^                                           ^                        |
      +------------- trial succeeds --------------+---- trial fails -------+

* closed: calls go out; a success forgets the failures counted so far.
* open: ``check`` raises ``CircuitOpen`` with the seconds left in the cool-down.
* half-open: the first ``check`` takes the one trial; the others keep getting ``CircuitOpen`` until the
  trial is recorded. A trial that is never recorded (its caller crashed) lapses after ``trial_timeout``, and
  the next caller becomes the trial. A success or failure recorded while open with no trial taken comes
  from a call that went out before the breaker opened, and changes nothing.

``MemoryBreakers`` serve one process: nothing in them awaits, so the transitions cannot interleave.
``RedisBreakers`` keep each breaker in one Redis hash changed only by one Lua script, so every transition is
atomic across replicas; the script reads Redis's clock (no skew between replicas), and every write renews
the key's expiry (the cool-down, the trial timeout and ``forget_after``), so idle breakers vanish.

Why not purgatory: its Redis store reads and writes the state as separate commands (two replicas can both
open, or both half-open, a breaker), lets every call through once half-open instead of one trial, sets no
expiry on its keys, fixes their prefix, and counts failures from exceptions raised inside a context block
rather than from the answers the proxy records. The few dozen lines here give exactly those semantics.

When Redis fails, the breakers fail open: calls go out as if closed, and a warning is logged (at most once a
``warn_every`` seconds) while Redis is skipped for ``pause`` seconds. A breaker is a protection, not a
source of truth: losing Redis must not stop every provider call of every tenant, and the rate limits and
timeouts still bound the load on a failing provider.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from switchyard.core.errors import CircuitOpen, ConfigurationError
from switchyard.logs import get_logger

log = get_logger("switchyard.breakers")
FORGET_AFTER = 600.0  # a breaker idle this long (after its cool-down and trial) is forgotten
SWEEP_EVERY = 60.0


def _open(key: str, retry_after: float) -> CircuitOpen:
    return CircuitOpen(f"calls to {key} are paused after repeated failures", retry_after=retry_after)


@dataclass
class _State:
    failures: int = 0
    open_until: float = 0.0  # 0: closed
    trial_until: float = 0.0  # 0: no trial taken since the breaker opened
    touched: float = 0.0


class MemoryBreakers:
    """``ports.CircuitBreakers`` for one process."""

    def __init__(
        self,
        *,
        threshold: int,
        cooldown: float,
        trial_timeout: float = 30.0,
        forget_after: float = FORGET_AFTER,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold, self.cooldown, self.trial_timeout = threshold, cooldown, trial_timeout
        self._ttl = cooldown + trial_timeout + forget_after
        self._clock = clock
        self._states: dict[str, _State] = {}
        self._next_sweep = clock() + SWEEP_EVERY

    async def check(self, key: str) -> None:
        state = self._states.get(key)
        if state is None or not state.open_until:
            return
        now = self._clock()
        if now < state.open_until:
            raise _open(key, state.open_until - now)
        if now < state.trial_until:
            raise _open(key, min(self.cooldown, state.trial_until - now))
        state.trial_until = now + self.trial_timeout
        state.touched = now

    async def record(self, key: str, *, success: bool) -> None:
        now = self._clock()
        if now >= self._next_sweep:
            self._sweep(now)
        state = self._states.get(key)
        if state is not None and state.open_until and not state.trial_until:
            return  # a call from before the breaker opened
        if success:
            self._states.pop(key, None)
            return
        if state is None:
            state = self._states[key] = _State()
        state.touched = now
        if state.trial_until:  # the trial failed: another cool-down
            state.open_until, state.trial_until = now + self.cooldown, 0.0
            return
        state.failures += 1
        if state.failures >= self.threshold:
            state.open_until = now + self.cooldown

    def _sweep(self, now: float) -> None:
        self._next_sweep = now + SWEEP_EVERY
        for key in [key for key, state in self._states.items() if state.touched + self._ttl <= now]:
            del self._states[key]

    async def close(self) -> None:
        return None


# KEYS[1] the breaker's hash; ARGV: operation (check | ok | fail), threshold, cool-down ms, trial ms, ttl ms.
# Fields: f failures, o open until (ms, absent when closed), t trial lease until (ms, absent when none).
# check returns 0 when the call may go, else the milliseconds to wait.
_SCRIPT = """
local key, op = KEYS[1], ARGV[1]
local threshold, cooldown, trial, ttl = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local state = redis.call('HMGET', key, 'f', 'o', 't')
local failures, open_until, trial_until = tonumber(state[1]) or 0, tonumber(state[2]), tonumber(state[3])
if op == 'check' then
  if not open_until then return 0 end
  if now < open_until then return open_until - now end
  if trial_until and now < trial_until then return math.max(math.min(cooldown, trial_until - now), 1) end
  redis.call('HSET', key, 't', now + trial)
  redis.call('PEXPIRE', key, ttl)
  return 0
end
if open_until and not trial_until then return 0 end
if op == 'ok' then
  redis.call('DEL', key)
  return 0
end
if trial_until then
  redis.call('HSET', key, 'o', now + cooldown)
  redis.call('HDEL', key, 't')
else
  failures = redis.call('HINCRBY', key, 'f', 1)
  if failures >= threshold then redis.call('HSET', key, 'o', now + cooldown) end
end
redis.call('PEXPIRE', key, ttl)
return 0
"""


class RedisBreakers:
    """``ports.CircuitBreakers`` shared by every replica using the same Redis and prefix."""

    def __init__(
        self,
        client: Redis,
        *,
        threshold: int,
        cooldown: float,
        trial_timeout: float = 30.0,
        forget_after: float = FORGET_AFTER,
        prefix: str = "switchyard",
        pause: float = 1.0,
        warn_every: float = 30.0,
    ) -> None:
        self._client = client
        self._script = client.register_script(_SCRIPT)
        self._prefix = f"{prefix}:breaker:"
        self._limits = (
            threshold,
            math.ceil(cooldown * 1000),
            math.ceil(trial_timeout * 1000),
            math.ceil((cooldown + trial_timeout + forget_after) * 1000),
        )
        self._pause, self._warn_every = pause, warn_every
        self._skip_until = 0.0
        self._warned_at = -math.inf

    async def _run(self, op: str, key: str) -> int:
        now = time.monotonic()
        if now < self._skip_until:
            return 0
        try:
            return int(await self._script(keys=[self._prefix + key], args=[op, *self._limits]))
        except (RedisError, OSError) as exc:
            self._skip_until = now + self._pause
            if now - self._warned_at >= self._warn_every:
                self._warned_at = now
                log.warning(
                    "breakers.redis_unavailable",
                    error=type(exc).__name__,
                    detail=str(exc)[:200],
                    fail_open=True,
                )
            return 0

    async def check(self, key: str) -> None:
        wait_ms = await self._run("check", key)
        if wait_ms > 0:
            raise _open(key, wait_ms / 1000)

    async def record(self, key: str, *, success: bool) -> None:
        await self._run("ok" if success else "fail", key)

    async def close(self) -> None:
        await self._client.aclose()


def breakers_for(
    redis_url: str | None,
    *,
    threshold: int,
    cooldown: float,
    prefix: str = "switchyard",
    trial_timeout: float = 30.0,
    timeout: float = 1.0,
) -> MemoryBreakers | RedisBreakers:
    """In memory without a Redis URL (one process); shared through Redis with one (every replica)."""
    if not redis_url:
        return MemoryBreakers(threshold=threshold, cooldown=cooldown, trial_timeout=trial_timeout)
    try:
        client = Redis.from_url(
            redis_url,
            socket_connect_timeout=timeout,
            socket_timeout=timeout,
            retry=Retry(NoBackoff(), 1),  # one immediate retry: a pooled connection may have gone stale
        )
    except ValueError as exc:
        raise ConfigurationError(
            f"the circuit breakers cannot use this Redis URL: {exc}", code="breaker.storage_url_invalid"
        ) from exc
    return RedisBreakers(
        client, threshold=threshold, cooldown=cooldown, trial_timeout=trial_timeout, prefix=prefix
    )
