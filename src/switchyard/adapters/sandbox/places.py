"""At most ``size`` sandbox processes alive at once: the places they hold, and the calls that wait for one.

A place is counted from before a process starts until it is reaped (``gone``). ``take`` counts one when
one is free and no call waits for one already; otherwise the call ``wait``s, first come first served, to
be handed a sandbox (one that served its bundle, or a fresh one) or a place a process left. ``short``
tells how many waiting calls have no place on its way (from processes being closed): the runner evicts
an idle sandbox for each.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from switchyard.adapters.sandbox.process import CodeBundle, Sandbox

__all__ = ["Places", "Waiter"]


@dataclass(eq=False)
class Waiter:
    bundle: CodeBundle | None  # None: it needs a fresh sandbox (inspect)
    place: asyncio.Future[Sandbox | None]  # a sandbox handed over, or None: a place to start one in


class Places:
    def __init__(self, size: int) -> None:
        self.size = size
        self.used = 0  # starting, alive and closing processes
        self.closing = 0  # closed, not yet reaped: their places are on their way
        self._waiters: list[Waiter] = []

    def take(self) -> bool:
        """Count one more process, if a place is free and no call waits for one."""
        if self.waiting() or self.used >= self.size:
            return False
        self.used += 1
        return True

    def waiting(self) -> int:
        return sum(1 for waiter in self._waiters if not waiter.place.done())

    def short(self) -> int:
        return self.waiting() - self.closing

    async def wait(
        self, bundle: CodeBundle | None, seconds: float, lost: Callable[[Sandbox], None]
    ) -> Sandbox | None:
        """What comes first to this call within ``seconds`` (else ``TimeoutError``). A sandbox that comes
        as the call gives up (timed out, cancelled) goes to ``lost``; a place goes on to the next call."""
        waiter = Waiter(bundle, asyncio.get_running_loop().create_future())
        self._waiters.append(waiter)
        got = False
        try:
            async with asyncio.timeout(seconds):
                handed = await waiter.place
            got = True
            return handed
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
            place = waiter.place
            if not got and place.done() and not place.cancelled() and place.exception() is None:
                sandbox = place.result()
                if sandbox is None:
                    self.release()
                else:
                    lost(sandbox)

    def hand(self, sandbox: Sandbox, wants: Callable[[Waiter], bool] = lambda waiter: True) -> bool:
        """Give ``sandbox`` to the first waiting call that ``wants`` picks, if there is one."""
        waiter = self._next(wants)
        if waiter is not None:
            waiter.place.set_result(sandbox)
        return waiter is not None

    def leaving(self) -> None:
        """A process is being closed: its place is on its way."""
        self.closing += 1

    def gone(self) -> None:
        """A process that was being closed is reaped."""
        self.closing -= 1
        self.release()

    def release(self) -> None:
        """A free place (a process gone, or never started): to the first waiting call, else uncounted."""
        waiter = self._next(lambda waiter: True)
        if waiter is not None:
            waiter.place.set_result(None)  # the place passes on: still counted
        else:
            self.used -= 1

    def fail(self, error: BaseException) -> None:
        """Every waiting call gets ``error`` (the runner is closed)."""
        for waiter in self._waiters:
            if not waiter.place.done():
                waiter.place.set_exception(error)
        self._waiters.clear()

    def _next(self, wants: Callable[[Waiter], bool]) -> Waiter | None:
        for waiter in self._waiters:
            if not waiter.place.done() and wants(waiter):
                self._waiters.remove(waiter)
                return waiter
        return None
