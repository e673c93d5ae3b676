"""How a sandbox process ends: reaped here with ``os.wait4``, and its death told from the kernel's evidence.

The process is the host's child: bwrap, whose only child is the guest (pid 1 of the sandbox, which bwrap
reaps), or, without isolation, the guest itself. asyncio would reap it too and throw the rusage away, so
the sandbox is started with ``subprocess`` and reaped here, through a pidfd (or a thread where the kernel
or a seccomp profile offers none). The rusage of the reaped process covers its reaped children: the CPU
time it reports is the guest's (bwrap's own is a few milliseconds).

* died of SIGXCPU (or exited 128 + SIGXCPU, as bwrap and the guest's own handler report it), or of SIGKILL
  after at least the soft CPU limit: ``sandbox.cpu_exceeded`` (the hard limit, a second later, is a
  SIGKILL);
* died of SIGKILL sooner: ``sandbox.killed``, from outside (the kernel's OOM killer, an operator);
* anything else: ``sandbox.crashed``, with the first output of the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
from collections.abc import Callable

from switchyard.adapters.sandbox.command import SandboxLimits
from switchyard.core.errors import SandboxError

__all__ = ["exit_error", "watch_exit"]

Exited = Callable[[int, float | None], None]  # (returncode as Popen's: -N for signal N, CPU seconds or None)


def exit_error(code: int, cpu: float | None, limits: SandboxLimits, output: str = "") -> SandboxError:
    """How a process that ended on its own ended: ``code`` as ``Popen.returncode``, ``cpu`` the seconds it
    and its reaped children used (None: unknown), ``output`` the start of what it wrote."""
    number = -code if code < 0 else code - 128 if code > 128 else 0  # bwrap passes on 128 + signal
    spent = cpu is not None and cpu >= limits.cpu_seconds  # at or past the soft limit
    if number == signal.SIGXCPU or (number == signal.SIGKILL and spent):
        return SandboxError(
            f"the code used more than {limits.cpu_seconds} s of CPU time", code="sandbox.cpu_exceeded"
        )
    if number == signal.SIGKILL:
        used = "" if cpu is None else f" after {cpu:.2f} s of CPU time"
        return SandboxError(
            f"the sandbox process was killed from outside{used}, e.g. by the kernel's out-of-memory killer",
            code="sandbox.killed",
            remediation="See the host's kernel log (dmesg) and free memory; a retry may succeed.",
        )
    detail = f"the sandbox exited with status {code}" + (f": {output}" if output else "")
    return SandboxError(detail, code="sandbox.crashed")


def watch_exit(pid: int, exited: Exited) -> None:
    """Reap ``pid``, a child of this process nobody else waits for, and tell ``exited`` on the loop."""
    loop = asyncio.get_running_loop()
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):  # Linux before 5.3, or a seccomp profile that denies it

        def wait() -> None:
            code, cpu = _wait4(pid, 0) or (-signal.SIGKILL, None)
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is left to tell
                loop.call_soon_threadsafe(exited, code, cpu)

        threading.Thread(target=wait, name=f"sandbox-reaper-{pid}", daemon=True).start()
        return

    def readable() -> None:
        outcome = _wait4(pid, os.WNOHANG)
        if outcome is not None:
            loop.remove_reader(pidfd)
            os.close(pidfd)
            exited(*outcome)

    loop.add_reader(pidfd, readable)


def _wait4(pid: int, options: int) -> tuple[int, float | None] | None:
    try:
        done, status, usage = os.wait4(pid, options)
    except ChildProcessError:  # reaped by someone else: how it ended is unknown
        return -signal.SIGKILL, None
    if done == 0:
        return None
    return os.waitstatus_to_exitcode(status), usage.ru_utime + usage.ru_stime
