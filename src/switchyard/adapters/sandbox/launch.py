"""Where sandboxes come from: what this host offers (``detect``), and one guest started that way (``spawn``).

bwrap when it is installed and works (even with ``unsafe_no_isolation`` set); else, with
``unsafe_no_isolation``, the guest as a plain process under the same rlimits and a clean environment (a
warning is logged); else ``SandboxUnavailable``. Whether bwrap works is known only by starting a sandbox
with it, which the runner does (it counts every process it starts), through ``try_mode``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from switchyard.adapters.sandbox.command import ENV, HostLayout, SandboxLimits, bwrap_argv, plain_argv
from switchyard.adapters.sandbox.process import Sandbox, clip
from switchyard.adapters.sandbox.seccomp import build_filter
from switchyard.core.errors import SandboxUnavailable, SwitchyardError
from switchyard.logs import get_logger

__all__ = ["REMEDIATION", "Mode", "detect", "spawn"]

log = get_logger("switchyard.sandbox")

GUEST = Path(__file__).with_name("guest.py")
REMEDIATION = (
    "Install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap) on a host that allows user namespaces; "
    "for development only, SWITCHYARD_SANDBOX_UNSAFE_NO_ISOLATION=true runs the code without isolation."
)


@dataclass(frozen=True)
class Mode:
    layout: HostLayout
    bwrap: str | None  # None: no isolation
    seccomp: bytes | None


def _resolve(program: str) -> str | None:
    if os.sep in program:
        return program if os.access(program, os.X_OK) and Path(program).is_file() else None
    return shutil.which(program)


def _host_layout(prlimit: str) -> HostLayout:
    """What the sandbox needs of this host (blocking: a few stat calls)."""
    python = os.path.realpath(sys.executable)
    roots = [os.path.realpath(sys.base_prefix)]
    if not any(python.startswith(root + os.sep) for root in roots):
        roots.append(os.path.dirname(python))
    symlinks, system_dirs = {}, ["/usr"]
    for path in ("/lib", "/lib64", "/lib32", "/libx32", "/bin", "/sbin"):
        if os.path.islink(path):
            symlinks[path] = os.readlink(path)
        elif os.path.isdir(path):
            system_dirs.append(path)
    return HostLayout(
        python=python,
        python_roots=tuple(roots),
        guest=str(GUEST),
        prlimit=os.path.realpath(prlimit),
        symlinks=symlinks,
        system_dirs=tuple(system_dirs),
    )


async def _with_features(layout: HostLayout, bwrap: str) -> HostLayout:
    """``layout`` told which of the options ``bwrap_argv`` may leave out this bwrap knows."""
    process = await asyncio.create_subprocess_exec(
        bwrap, "--help", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=dict(ENV)
    )
    text, _ = await process.communicate()
    return dataclasses.replace(
        layout,
        tmpfs_size=b"--size" in text,
        disable_userns=b"--disable-userns" in text,
        as_pid_1=b"--as-pid-1" in text,
    )


async def detect(
    bwrap_program: str, *, unsafe_no_isolation: bool, try_mode: Callable[[Mode], Awaitable[None]]
) -> Mode:
    """How sandboxes start on this host: ``try_mode`` starts one (and raises ``SwitchyardError`` when it
    cannot); ``SandboxUnavailable`` when none can."""
    prlimit = shutil.which("prlimit")
    if prlimit is None:
        raise SandboxUnavailable(
            "prlimit is not installed",
            remediation="Install util-linux (Debian: apt-get install util-linux).",
        )
    layout = await asyncio.to_thread(_host_layout, prlimit)
    bwrap = _resolve(bwrap_program)
    reason = f"bubblewrap ({bwrap_program}) is not installed"
    if bwrap is not None:
        layout = await _with_features(layout, bwrap)
        seccomp = await asyncio.to_thread(build_filter)
        mode = Mode(layout, bwrap, seccomp)
        try:  # one real sandbox: namespaces, mounts, the filter and the guest all work
            await try_mode(mode)
        except SwitchyardError as exc:
            reason = f"bubblewrap cannot create a sandbox here ({clip(exc.detail, 300)})"
        else:
            return mode
    if not unsafe_no_isolation:
        raise SandboxUnavailable(f"custom connector code cannot run: {reason}", remediation=REMEDIATION)
    log.warning(
        "sandbox.no_isolation",
        reason=reason,
        detail="SWITCHYARD_SANDBOX_UNSAFE_NO_ISOLATION is set: custom code runs as a plain process, "
        "with rlimits but without namespaces or seccomp; never do this in production",
    )
    return Mode(layout, None, None)


async def spawn(mode: Mode, limits: SandboxLimits) -> Sandbox:
    """Start one guest (not yet ready) the way ``mode`` says."""
    work_dir = None
    if mode.bwrap is None:
        work_dir = await asyncio.to_thread(tempfile.mkdtemp, prefix="switchyard-sandbox-")
        layout = mode.layout

        def argv(rpc_in: int, rpc_out: int, seccomp: int) -> list[str]:
            return plain_argv(layout, limits, rpc_in=rpc_in, rpc_out=rpc_out, work_dir=str(work_dir))

    else:
        bwrap, layout = mode.bwrap, mode.layout

        def argv(rpc_in: int, rpc_out: int, seccomp: int) -> list[str]:
            return bwrap_argv(bwrap, layout, limits, seccomp_fd=seccomp, rpc_in=rpc_in, rpc_out=rpc_out)

    try:
        popen, rpc_read, rpc_write = _fork(argv, mode.seccomp, work_dir)
        return await Sandbox.attach(popen, rpc_read, rpc_write, limits, work_dir)
    except BaseException:
        if work_dir is not None:
            await asyncio.to_thread(shutil.rmtree, work_dir, True)
        raise


def _fork(
    argv: Callable[[int, int, int], list[str]], seccomp: bytes | None, work_dir: str | None
) -> tuple[subprocess.Popen[bytes], int, int]:
    """Fork and exec a guest (as asyncio's ``subprocess_exec`` does, in the loop's thread: it is quick).
    ``argv(rpc_in, rpc_out, seccomp_fd)`` is its command, given the guest's ends of its pipes; returned are
    the process and the host's ends (read, write)."""
    to_guest, to_host = os.pipe(), os.pipe()  # (read, write) each; non-inheritable until passed
    child_fds = [to_guest[0], to_host[1]]
    if seccomp is not None:
        filter_fds = os.pipe()
        os.write(filter_fds[1], seccomp)  # a few hundred bytes: well within a pipe's buffer
        os.close(filter_fds[1])
        child_fds.append(filter_fds[0])
    try:
        popen = subprocess.Popen(  # noqa: S603 - our own command line, no shell
            argv(to_guest[0], to_host[1], child_fds[-1]),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=child_fds,
            env=dict(ENV),
            cwd=work_dir or "/",
            start_new_session=True,
        )
    except BaseException as exc:
        os.close(to_guest[1])
        os.close(to_host[0])
        if isinstance(exc, OSError):
            raise SandboxUnavailable(f"the sandbox cannot start: {exc}", remediation=REMEDIATION) from None
        raise
    finally:
        for fd in child_fds:
            os.close(fd)
    return popen, to_host[0], to_guest[1]
