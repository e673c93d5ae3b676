"""Runs uploaded connector code in sandboxes: ``SandboxRunner``, the pool of guest processes.

A sandbox (``process.py``) is one ``guest.py`` process under bwrap (``command.py``; how this host starts
one: ``launch.py``; how it ended: ``exits.py``). It serves one call at a time. A *warm* sandbox (started,
nothing loaded) can take any bundle; once it has loaded one it belongs to that bundle's key and tenant
until it is retired, idles past ``idle_seconds``, serves ``max_calls`` calls or has used half its CPU
seconds. A sandbox whose call failed in any way is killed, never reused.

At most ``max_live`` sandbox processes are alive at once (``places.py``): busy, idle, warm, starting, and
closing until reaped all count. A call that needs a new sandbox when that many are alive evicts the least
recently used idle sandbox (of any bundle or tenant) and takes its place once its process is gone; with
none idle it waits, first come first served: a sandbox whose call ended goes straight to a waiting call of
its bundle and tenant, else it is closed to make room. The wait is bounded by ``wall_seconds``, after
which the call fails with ``sandbox.busy`` (not ``sandbox.timeout``: the host is saturated and the code is
not at fault; retry later, or raise ``sandbox_max_live``). The hook's own ``wall_seconds`` start once it
has its sandbox. The warm pool fills only free places: it never evicts, and it never takes one a call
waits for.

How a call ends, and its code: no sandbox within ``wall_seconds``: ``sandbox.busy``; wall clock past
``wall_seconds`` (the sandbox is killed): ``sandbox.timeout``; SIGXCPU, or SIGKILL after at least
``cpu_seconds`` of CPU: ``sandbox.cpu_exceeded``; SIGKILL with less (from outside, e.g. the OOM killer):
``sandbox.killed``; MemoryError: ``sandbox.memory_exceeded``; EFBIG/ENOSPC: ``sandbox.file_too_large``;
too much output: ``sandbox.output_exceeded``; an exception in the hook: ``sandbox.hook_failed``; no such
public function: ``sandbox.hook_missing``; a result that is not JSON: ``sandbox.bad_result``; a module that
does not import: ``sandbox.import_failed``; any other exit: ``sandbox.crashed``. A call in flight (or
waiting) when the runner closes: ``SandboxUnavailable``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from switchyard.adapters.sandbox.command import SandboxLimits
from switchyard.adapters.sandbox.launch import Mode, detect, spawn
from switchyard.adapters.sandbox.places import Places
from switchyard.adapters.sandbox.process import CodeBundle, HostCall, Sandbox
from switchyard.core.errors import SandboxBusy, SandboxError, SandboxUnavailable, SwitchyardError
from switchyard.logs import get_logger

if TYPE_CHECKING:
    from switchyard.settings import Settings

__all__ = ["CodeBundle", "HostCall", "SandboxLimits", "SandboxRunner"]

log = get_logger("switchyard.sandbox")

START_SECONDS = 20.0
MAX_STARTING = 4  # sandboxes started at once: a burst of calls must not fork-storm the host
MAX_IDLE = 64  # loaded sandboxes kept idle, over every bundle; the longest idle goes first


class SandboxRunner:
    """The pool of sandboxes and the calls into them (the public interface the services use)."""

    def __init__(
        self,
        limits: SandboxLimits,
        *,
        unsafe_no_isolation: bool = False,
        warm_pool: int = 2,
        idle_seconds: float = 300.0,
        max_calls: int = 200,
        max_live: int = 16,
        bwrap: str = "bwrap",
    ) -> None:
        self.limits = limits
        self.unsafe_no_isolation = unsafe_no_isolation
        self.warm_pool = warm_pool
        self.idle_seconds = idle_seconds
        self.max_calls = max_calls
        self.max_live = max_live
        self.bwrap = bwrap
        self._mode: Mode | None = None
        self._unavailable: SandboxUnavailable | None = None
        self._probe: asyncio.Lock | None = None
        self._warm: list[Sandbox] = []
        self._idle: dict[str, list[Sandbox]] = {}
        self._busy: set[Sandbox] = set()
        self._alive: set[Sandbox] = set()  # started and not yet discarded, wherever they are
        self._places = Places(max_live)
        self._background: set[asyncio.Task[None]] = set()
        self._refill: asyncio.Task[None] | None = None
        self._reaper: asyncio.Task[None] | None = None
        self._starting = asyncio.Semaphore(MAX_STARTING)
        self._closed = False

    @classmethod
    def from_settings(cls, settings: Settings) -> SandboxRunner:
        return cls(
            SandboxLimits.from_settings(settings),
            unsafe_no_isolation=settings.sandbox_unsafe_no_isolation,
            warm_pool=settings.sandbox_warm_pool,
            idle_seconds=settings.sandbox_idle_seconds,
            max_calls=settings.sandbox_max_calls,
            max_live=settings.sandbox_max_live,
        )

    @property
    def live(self) -> int:
        """Sandbox processes counted against ``max_live`` now (starting, busy, idle, warm, closing)."""
        return self._places.used

    # --- public -----------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Probe and fill the warm pool in the background: never fails (a missing bwrap is logged)."""
        self._spawn_background(self._warm_up())

    async def fill(self) -> None:
        """Wait until the warm pool is full (benchmarks and tests); ``SandboxUnavailable`` as ``run``."""
        await self._ready()
        self._top_up()
        if self._refill is not None:
            await asyncio.shield(self._refill)

    async def inspect(self, bundle: CodeBundle) -> list[str]:
        """Import the bundle's module in a fresh sandbox: the names of its public top-level functions."""
        sandbox = await self._acquire(None)
        try:
            return await sandbox.load(bundle)
        finally:
            self._discard(sandbox)

    async def run(
        self,
        bundle: CodeBundle,
        hook: str,
        payload: dict[str, Any],
        *,
        config: dict[str, Any],
        connection_id: str,
        host: HostCall,
    ) -> Any:
        """Call ``hook(ctx, payload)`` of the bundle: its JSON-able return value."""
        sandbox = await self._acquire(bundle)
        self._busy.add(sandbox)
        kept = False
        try:
            if sandbox.key is None:
                await sandbox.load(bundle)
            value = await sandbox.run(hook, payload, config, connection_id, host)
            kept = self._keep(sandbox)
            return value
        finally:
            self._busy.discard(sandbox)
            if not kept:
                self._discard(sandbox)

    async def retire(self, key_prefix: str) -> None:
        """Close the idle sandboxes of every bundle key starting with ``key_prefix``; busy ones after their
        call."""
        for key in [key for key in self._idle if key.startswith(key_prefix)]:
            for sandbox in self._idle.pop(key):
                self._discard(sandbox)
        for sandbox in self._busy:
            if (sandbox.key or "").startswith(key_prefix):
                sandbox.retired = True

    async def close(self) -> None:
        self._closed = True
        for task in (self._refill, self._reaper):
            if task is not None:
                task.cancel()
        self._places.fail(SandboxUnavailable("the sandbox runner is closed"))
        self._warm.clear()
        self._idle.clear()
        for sandbox in list(self._alive):  # busy, idle, warm, and any handed to a waiting call
            self._discard(sandbox)
        pending = [t for t in (*self._background, self._refill, self._reaper) if t is not None]
        while pending:  # closing one may start the closing of another
            await asyncio.gather(*pending, return_exceptions=True)
            pending = [t for t in self._background if not t.done()]

    # --- getting a sandbox ------------------------------------------------------------------------------

    async def _acquire(self, bundle: CodeBundle | None) -> Sandbox:
        """A sandbox for ``bundle`` (None: a fresh one): its idle one, a warm one, a new one in a free
        place, or, at ``max_live``, what a wait brings."""
        if bundle is not None and (sandbox := self._take_idle(bundle)) is not None:
            return sandbox
        mode = await self._ready()
        self._top_up()
        if (sandbox := self._take_warm()) is not None:
            return sandbox
        if not self._places.take():
            if self._places.short() >= 0:  # with this call, more wait than places are on their way
                self._evict_idle()
            try:
                handed = await self._places.wait(bundle, self.limits.wall_seconds, self._lost)
            except TimeoutError:
                raise SandboxBusy(
                    f"no sandbox came free within {self.limits.wall_seconds:g} s: {self.max_live} are busy",
                    remediation="Retry later, or allow more at once with SWITCHYARD_SANDBOX_MAX_LIVE.",
                ) from None
            if handed is not None:
                return handed
        return await self._start_one(mode)

    def _take_idle(self, bundle: CodeBundle) -> Sandbox | None:
        pool = self._idle.get(bundle.key)
        while pool:
            sandbox = pool.pop()
            fresh = time.monotonic() - sandbox.idle_since < self.idle_seconds
            if sandbox.usable and sandbox.tenant_id == bundle.tenant_id and fresh:
                return sandbox
            self._discard(sandbox)
        return None

    def _take_warm(self) -> Sandbox | None:
        while self._warm:
            sandbox = self._warm.pop(0)
            self._top_up()
            if sandbox.usable:
                return sandbox
            self._discard(sandbox)
        return None

    def _lost(self, sandbox: Sandbox) -> None:
        """A sandbox handed to a call that had given up: to the next one, or back to the pool."""
        if sandbox.key is None:
            self._offer_fresh(sandbox)
        elif not self._keep(sandbox):
            self._discard(sandbox)

    # --- the pool ---------------------------------------------------------------------------------------

    def _keep(self, sandbox: Sandbox) -> bool:
        """A sandbox whose call succeeded: to a call waiting for its bundle, else idle for the next one,
        unless it is spent or a waiting call needs its place."""
        spent = sandbox.calls >= self.max_calls or sandbox.cpu >= self.limits.cpu_seconds / 2
        if self._closed or spent or not sandbox.usable or sandbox.key is None:
            return False
        owner = (sandbox.key, sandbox.tenant_id)
        if self._places.hand(
            sandbox, lambda w: w.bundle is not None and (w.bundle.key, w.bundle.tenant_id) == owner
        ):
            return True
        if self._places.short() > 0:  # a waiting call needs this place more than the bundle does
            return False
        sandbox.idle_since = time.monotonic()
        self._idle.setdefault(sandbox.key, []).append(sandbox)
        if sum(len(pool) for pool in self._idle.values()) > MAX_IDLE:
            self._evict_idle()
        if self._reaper is None or self._reaper.done():
            self._reaper = asyncio.get_running_loop().create_task(self._reap())
        return True

    def _offer_fresh(self, sandbox: Sandbox) -> None:
        """A sandbox that has loaded nothing: to the first waiting call, else to the warm pool."""
        if self._closed:
            self._discard(sandbox)
        elif not self._places.hand(sandbox):
            self._warm.append(sandbox)

    def _evict_idle(self) -> None:
        """Close the least recently used idle sandbox, of any bundle and tenant, if there is one."""
        idle = [sandbox for pool in self._idle.values() for sandbox in pool]
        if not idle:
            return
        oldest = min(idle, key=lambda sandbox: sandbox.idle_since)
        pool = self._idle[oldest.key or ""]
        pool.remove(oldest)
        if not pool:
            del self._idle[oldest.key or ""]
        self._discard(oldest)

    def _discard(self, sandbox: Sandbox) -> None:
        """Close a sandbox in the background; its place is free once its process is gone."""
        if sandbox not in self._alive:
            return  # already closing
        self._alive.discard(sandbox)
        self._places.leaving()
        self._spawn_background(self._close_one(sandbox))

    async def _close_one(self, sandbox: Sandbox) -> None:
        try:
            await sandbox.close()
        finally:
            self._places.gone()

    def _spawn_background(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _top_up(self) -> None:
        if self._closed or self._mode is None or len(self._warm) >= self.warm_pool:
            return
        if self._refill is None or self._refill.done():
            self._refill = asyncio.get_running_loop().create_task(self._fill_warm(self._mode))

    async def _fill_warm(self, mode: Mode) -> None:
        while not self._closed and len(self._warm) < self.warm_pool:  # one at a time: the CPUs are shared
            if not self._places.take():
                return  # at max_live, or calls wait: they come first
            try:
                sandbox = await self._start_one(mode)
            except SwitchyardError as exc:
                if not self._closed:
                    log.warning("sandbox.warm_failed", code=exc.code, detail=exc.detail)
                return
            self._offer_fresh(sandbox)

    async def _reap(self) -> None:
        """Close sandboxes that idled past ``idle_seconds``; ends when none is idle."""
        while self._idle and not self._closed:
            await asyncio.sleep(min(self.idle_seconds / 2, 30.0))
            now = time.monotonic()
            for key in list(self._idle):
                pool = self._idle[key]
                expired = [s for s in pool if now - s.idle_since >= self.idle_seconds or not s.usable]
                for sandbox in expired:
                    pool.remove(sandbox)
                    self._discard(sandbox)
                if not pool:
                    del self._idle[key]

    async def _warm_up(self) -> None:
        try:
            await self._ready()
        except SandboxUnavailable as exc:
            log.warning("sandbox.unavailable", detail=exc.detail, remediation=exc.remediation)
            return
        self._top_up()

    # --- starting sandboxes -----------------------------------------------------------------------------

    async def _start_one(self, mode: Mode) -> Sandbox:
        """Start a sandbox in a place already counted (freed again when it fails to start)."""
        async with self._starting:  # until it is ready: booting is where the CPU goes
            try:
                sandbox = await spawn(mode, self.limits)
            except BaseException:
                self._places.release()
                raise
            self._alive.add(sandbox)
            try:
                async with asyncio.timeout(START_SECONDS):
                    await sandbox.ready
            except BaseException as exc:
                self._discard(sandbox)
                if isinstance(exc, TimeoutError):
                    raise SandboxError("the sandbox did not start in time", code="sandbox.crashed") from None
                raise
        if self._closed:
            self._discard(sandbox)
            raise SandboxUnavailable("the sandbox runner is closed")
        return sandbox

    async def _try_mode(self, mode: Mode) -> None:
        self._places.used += 1  # the probe runs before anything else is started: its place is free
        self._discard(await self._start_one(mode))

    async def _ready(self) -> Mode:
        """How sandboxes start here, probed once: ``SandboxUnavailable`` when they cannot."""
        if self._closed:
            raise SandboxUnavailable("the sandbox runner is closed")
        if self._mode is not None:
            return self._mode
        if self._unavailable is not None:
            raise self._unavailable
        self._probe = self._probe or asyncio.Lock()
        async with self._probe:
            if self._mode is None and self._unavailable is None:
                try:
                    self._mode = await detect(
                        self.bwrap, unsafe_no_isolation=self.unsafe_no_isolation, try_mode=self._try_mode
                    )
                except SandboxUnavailable as exc:
                    self._unavailable = exc
            if self._unavailable is not None:
                raise self._unavailable
            assert self._mode is not None
            return self._mode
