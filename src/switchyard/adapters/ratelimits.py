"""Moving-window rate limits with the ``limits`` library: in process memory (one node) or Redis (replicas).

Both modes run the library's async ``MovingWindowRateLimiter``; only its storage differs.

* **Redis** (``rate_limiter_for("redis://...")``): the library's ``RedisStorage`` over a connection pool of
  the ``redis`` package (the same client the circuit breakers use), keys under ``<prefix>:ratelimit/...``.
  Taking a slot is one Lua script, atomic across replicas; each list expires with its window.
* **Memory** (the default): ``WindowLog``, a storage of our own behind the same strategy. The library's own
  async memory storage re-arms an expiry task after every hit that walks every key and hands each one to a
  worker thread; inside a running event loop that measured 50-90 µs per hit, against 4-6 µs for one rate
  here (most of it the library's strategy layer). Each key is a deque of hit times, trimmed when read; idle
  keys are swept once a minute. Nothing in it awaits, so a ``hit`` over several rates cannot interleave
  with another: it takes a slot in each window in turn and, when one refuses, gives back those it took.

A refused call is counted against no rate; its wait is the longest, over the full windows, until the
oldest call in that window leaves it. With one rate (the usual case) taking a slot is one atomic step in
either store. With several rates in Redis, ``hit`` first reads every window and refuses when any is full,
else takes a slot in each, fullest first: two replicas can both pass the reading and then race for the last
slot of one window, and the loser was already counted in the windows it took before. Under such a race the
limiter errs towards refusing, never towards letting more through.

Windows are whole seconds: a ``Rate`` with a fractional window is rounded up (stricter, never looser).
Storage failures become ``Unavailable`` (``rate_limit.storage_unavailable``): a limit that cannot be checked
refuses the call rather than let unlimited traffic through.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Sequence

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import MovingWindowSupport, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import ConfigurationError as LimitsConfigurationError
from limits.errors import StorageError
from redis.asyncio import ConnectionPool
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from switchyard.core.errors import ConfigurationError, Unavailable
from switchyard.core.http import Rate

NAMESPACE = "ratelimit"
MIN_WAIT = 0.001  # a refusal always names a positive wait
SWEEP_EVERY = 60.0
_STORAGE_ERRORS = (StorageError, RedisError, OSError)


class WindowLog(Storage, MovingWindowSupport):
    """In-process moving windows for the library's strategy: per key, the times of the calls it let through.

    Only the moving-window part of the storage contract is served; the counter methods of other strategies
    refuse. Times come from ``clock`` (monotonic by default), which the limiter also reads for waits.
    """

    STORAGE_SCHEME = None  # not reachable by URL: built directly

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(None)
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._spans: dict[str, int] = {}
        self._next_sweep = clock() + SWEEP_EVERY

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return ValueError

    def _window(self, key: str, expiry: int, now: float) -> deque[float] | None:
        hits = self._hits.get(key)
        if hits is not None:
            cutoff = now - expiry
            while hits and hits[0] <= cutoff:
                hits.popleft()
        return hits

    async def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        now = self.clock()
        if now >= self._next_sweep:
            self._sweep(now)
        hits = self._window(key, expiry, now)
        if hits is None:
            hits = self._hits[key] = deque()
            self._spans[key] = expiry
        if len(hits) + amount > limit:
            return False
        hits.extend([now] * amount)
        return True

    async def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        now = self.clock()
        hits = self._window(key, expiry, now)
        if not hits:
            return now, 0
        return hits[0], len(hits)  # a slot frees when the oldest call leaves the window

    def give_back(self, key: str) -> None:
        """Forget the newest call of ``key``: a slot taken by a call that another window then refused."""
        hits = self._hits.get(key)
        if hits:
            hits.pop()

    def _sweep(self, now: float) -> None:
        self._next_sweep = now + SWEEP_EVERY
        idle = [key for key, hits in self._hits.items() if not hits or hits[-1] <= now - self._spans[key]]
        for key in idle:
            del self._hits[key], self._spans[key]

    async def clear(self, key: str) -> None:
        self._hits.pop(key, None)
        self._spans.pop(key, None)

    async def reset(self) -> int | None:
        count = len(self._hits)
        self._hits.clear()
        self._spans.clear()
        return count

    async def check(self) -> bool:
        return True

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        raise NotImplementedError("WindowLog serves moving windows only")

    async def get(self, key: str) -> int:
        raise NotImplementedError("WindowLog serves moving windows only")

    async def get_expiry(self, key: str) -> float:
        raise NotImplementedError("WindowLog serves moving windows only")


def _item(rate: Rate) -> RateLimitItem:
    return RateLimitItemPerSecond(rate.amount, max(1, math.ceil(rate.seconds)), namespace=NAMESPACE)


class LimitsRateLimiter:
    """``ports.RateLimiter`` over the ``limits`` moving-window strategy and the given storage."""

    def __init__(self, storage: Storage, *, pool: ConnectionPool | None = None) -> None:
        self._strategy = MovingWindowRateLimiter(storage)
        self._log = storage if isinstance(storage, WindowLog) else None
        self._clock = self._log.clock if self._log is not None else time.time  # the storage's own clock
        self._pool = pool
        self._items: dict[Rate, RateLimitItem] = {}

    def _items_for(self, rates: Sequence[Rate]) -> list[RateLimitItem]:
        items = []
        for rate in rates:
            item = self._items.get(rate)
            if item is None:
                item = self._items[rate] = _item(rate)
            items.append(item)
        return items if len(items) == 1 else list(dict.fromkeys(items))  # one window counts a call once

    async def hit(self, key: str, rates: Sequence[Rate]) -> float | None:
        """None when the call may go now (and it is counted), else the seconds to wait (nothing counted)."""
        if not rates:
            return None
        try:
            return await self._hit(key, self._items_for(rates))
        except _STORAGE_ERRORS as exc:
            raise Unavailable(
                "the rate-limit store is unreachable",
                code="rate_limit.storage_unavailable",
                remediation="Check that Redis (SWITCHYARD_REDIS_URL) is up and reachable.",
            ) from exc

    async def _hit(self, key: str, items: list[RateLimitItem]) -> float | None:
        strategy = self._strategy
        if len(items) == 1:
            if await strategy.hit(items[0], key):
                return None
            return await self._wait(items[0], key)
        if self._log is not None:
            return await self._hit_in_memory(key, items, self._log)
        stats = [await strategy.get_window_stats(item, key) for item in items]
        resets = [seen.reset_time for seen in stats if seen.remaining < 1]
        if resets:
            return self._until(max(resets))
        fullest_first = sorted(zip(stats, items, strict=True), key=lambda pair: pair[0].remaining)
        for _, item in fullest_first:
            if not await strategy.hit(item, key):
                return await self._wait(item, key)
        return None

    async def _hit_in_memory(self, key: str, items: list[RateLimitItem], log: WindowLog) -> float | None:
        """Take a slot in each window; on a refusal, give the ones taken back (nothing awaits meanwhile)."""
        for position, item in enumerate(items):
            if not await self._strategy.hit(item, key):
                for taken in items[:position]:
                    log.give_back(taken.key_for(key))
                stats = [await self._strategy.get_window_stats(each, key) for each in items]
                return self._until(max(seen.reset_time for seen in stats if seen.remaining < 1))
        return None

    async def _wait(self, item: RateLimitItem, key: str) -> float:
        return self._until((await self._strategy.get_window_stats(item, key)).reset_time)

    def _until(self, reset: float) -> float:
        return max(reset - self._clock(), MIN_WAIT)

    async def clear(self, key: str, rates: Sequence[Rate]) -> None:
        """Forget the counts of ``key`` (an operator's reset; also used by tests)."""
        for item in self._items_for(rates):
            await self._strategy.clear(item, key)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()


def _storage_url(redis_url: str) -> str:
    scheme, sep, rest = redis_url.partition("://")
    schemes = {"redis": "async+redis", "rediss": "async+rediss", "unix": "async+redis+unix"}
    if not sep or scheme.lower() not in schemes:
        raise ConfigurationError(
            f"the Redis URL must start with redis://, rediss:// or unix:// (got {scheme or redis_url!r})",
            code="rate_limit.storage_url_invalid",
        )
    return f"{schemes[scheme.lower()]}://{rest}"


def rate_limiter_for(
    redis_url: str | None, *, prefix: str = "switchyard", timeout: float = 1.0
) -> LimitsRateLimiter:
    """In memory without a Redis URL (one process); shared through Redis with one (every replica)."""
    if not redis_url:
        return LimitsRateLimiter(WindowLog())
    url = _storage_url(redis_url)
    try:
        pool = ConnectionPool.from_url(
            redis_url,
            socket_connect_timeout=timeout,
            socket_timeout=timeout,
            retry=Retry(NoBackoff(), 1),  # one immediate retry: a pooled connection may have gone stale
        )
        storage = RedisStorage(
            url,
            wrap_exceptions=True,
            implementation="redispy",
            key_prefix=prefix,
            connection_pool=pool,  # type: ignore[arg-type]  # handed on to the client, which takes a pool
        )
    except (LimitsConfigurationError, ValueError) as exc:
        raise ConfigurationError(
            f"the rate-limit store cannot use this Redis URL: {exc}", code="rate_limit.storage_url_invalid"
        ) from exc
    return LimitsRateLimiter(storage, pool=pool)
