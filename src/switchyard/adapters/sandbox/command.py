"""The command lines that start a sandbox: bwrap around prlimit around ``python -I -S -B guest.py``.

Pure: what the host looks like (``HostLayout``: which top-level directories are symlinks, where the
interpreter lives, what this bwrap supports) is measured elsewhere and passed in.

Inside bwrap the guest sees a root of its own: ``/usr`` and the Python installation read-only (``/lib``,
``/bin``, ... as the symlinks they are on the host, or read-only too), ``guest.py`` read-only at
``/sandbox/guest.py``, a private size-capped tmpfs at ``/tmp`` (its work dir), fresh ``/proc`` and
``/dev``, no network (a new, loopback-only network namespace), uid and gid 65534, a new session, an empty
environment but for ``ENV``, and the seccomp filter of ``seccomp.py``. Nothing else of the host is there:
no ``/etc``, no ``/root``, no data dir, no virtualenv site-packages. The guest is pid 1 of its pid
namespace (``--as-pid-1``: no reaper process of bwrap's in between), so bwrap reaps it, and bwrap's rusage,
which the host reads when it reaps bwrap, holds the guest's CPU time.

prlimit runs inside, so its limits bind the guest and not bwrap: CPU seconds (soft; the hard limit a second
later sends SIGKILL to code that ignores SIGXCPU; pid 1 ignores it unless handled, so ``guest.py`` handles
it), address space, file size, open files, core dumps off and, where it counts (a user namespace of its
own), processes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from switchyard.settings import Settings

GUEST_INSIDE = "/sandbox/guest.py"
WORK_DIR = "/tmp"  # noqa: S108 - a private tmpfs inside the sandbox, not the host's /tmp
SANDBOX_ID = "65534"  # nobody
ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}
MAX_TASKS = 64  # threads count as tasks for RLIMIT_NPROC
MIB = 1024 * 1024


@dataclass(frozen=True)
class SandboxLimits:
    """What one sandbox may use; ``output_bytes`` and ``wall_seconds`` are per call, the rest per process."""

    wall_seconds: float = 30.0
    cpu_seconds: int = 10
    memory_mb: int = 512
    file_mb: int = 16
    tmpfs_mb: int = 64
    open_files: int = 64
    output_bytes: int = 1024 * 1024

    @classmethod
    def from_settings(cls, settings: Settings) -> SandboxLimits:
        return cls(
            wall_seconds=settings.sandbox_wall_seconds,
            cpu_seconds=settings.sandbox_cpu_seconds,
            memory_mb=settings.sandbox_memory_mb,
            file_mb=settings.sandbox_file_mb,
            tmpfs_mb=settings.sandbox_tmpfs_mb,
            open_files=settings.sandbox_open_files,
            output_bytes=settings.sandbox_output_bytes,
        )


@dataclass(frozen=True)
class HostLayout:
    """The parts of the host a sandbox is built from."""

    python: str  # the interpreter's real path
    python_roots: tuple[str, ...]  # directories it needs (sys.base_prefix; the interpreter's own)
    guest: str  # guest.py on the host
    prlimit: str
    symlinks: dict[str, str] = field(default_factory=dict)  # "/lib": "usr/lib" where the host has these
    system_dirs: tuple[str, ...] = ("/usr",)  # bound read-only: /usr and the real /lib, /bin, ...
    tmpfs_size: bool = True  # this bwrap knows --size (0.5.0 and later)
    disable_userns: bool = True  # this bwrap knows --disable-userns (0.8.0 and later)
    as_pid_1: bool = True  # this bwrap knows --as-pid-1 (0.3.0 and later)


def prlimit_argv(limits: SandboxLimits, prlimit: str, *, count_tasks: bool) -> list[str]:
    argv = [
        prlimit,
        f"--cpu={limits.cpu_seconds}:{limits.cpu_seconds + 1}",
        f"--as={limits.memory_mb * MIB}",
        f"--fsize={limits.file_mb * MIB}",
        f"--nofile={limits.open_files}",
        "--core=0",
    ]
    if count_tasks:  # per user namespace; outside one it would count every process of the server's user
        argv.append(f"--nproc={MAX_TASKS}")
    return [*argv, "--"]


def guest_argv(python: str, guest: str, rpc_in: int, rpc_out: int, work_dir: str) -> list[str]:
    """``-I``: no environment variables, no user site, no script dir on sys.path; ``-S``: no site module."""
    return [python, "-I", "-S", "-B", guest, str(rpc_in), str(rpc_out), work_dir]


def bwrap_argv(
    bwrap: str,
    layout: HostLayout,
    limits: SandboxLimits,
    *,
    seccomp_fd: int,
    rpc_in: int,
    rpc_out: int,
) -> list[str]:
    """The whole command: ``rpc_in``/``rpc_out`` are the guest's ends of its two pipes (kept open)."""
    argv = [bwrap, "--unshare-all", "--unshare-user", "--die-with-parent", "--new-session", "--clearenv"]
    for name, value in ENV.items():
        argv += ["--setenv", name, value]
    argv += ["--uid", SANDBOX_ID, "--gid", SANDBOX_ID]
    if layout.disable_userns:
        argv.append("--disable-userns")
    for path in layout.system_dirs:
        argv += ["--ro-bind", path, path]
    for path, target in sorted(layout.symlinks.items()):
        argv += ["--symlink", target, path]
    for path in layout.python_roots:
        if not any(path == d or path.startswith(d.rstrip("/") + "/") for d in layout.system_dirs):
            argv += ["--ro-bind", path, path]
    argv += ["--ro-bind", layout.guest, GUEST_INSIDE]
    if layout.tmpfs_size:
        argv += ["--size", str(limits.tmpfs_mb * MIB)]
    argv += ["--tmpfs", WORK_DIR, "--proc", "/proc", "--dev", "/dev", "--chdir", WORK_DIR]
    if layout.as_pid_1:
        argv.append("--as-pid-1")
    argv += ["--seccomp", str(seccomp_fd), "--"]
    argv += prlimit_argv(limits, layout.prlimit, count_tasks=True)
    return argv + guest_argv(layout.python, GUEST_INSIDE, rpc_in, rpc_out, WORK_DIR)


def plain_argv(
    layout: HostLayout, limits: SandboxLimits, *, rpc_in: int, rpc_out: int, work_dir: str
) -> list[str]:
    """Without isolation (``sandbox_unsafe_no_isolation``): the same guest under the same rlimits."""
    return prlimit_argv(limits, layout.prlimit, count_tasks=False) + guest_argv(
        layout.python, layout.guest, rpc_in, rpc_out, work_dir
    )
