"""The seccomp filter every sandbox runs under, built with ``pyseccomp`` (libseccomp) and loaded by bwrap.

The default action is to allow: the filter is a deny list for what the namespaces and rlimits do not stop.

* **No new processes.** We run as root, and root is exempt from ``RLIMIT_NPROC``, so the filter is what
  stops a fork bomb: ``fork``, ``vfork`` and ``clone`` without ``CLONE_THREAD`` fail with EPERM, and
  ``clone3`` fails with ENOSYS (its flags sit in a struct seccomp cannot read; glibc then falls back to
  ``clone``, so threads, and asyncio's default executor, still work).
* **No sockets but AF_UNIX**, on top of the empty network namespace.
* **No kernel attack surface a hook never needs:** tracing, mounts, namespaces, keyrings, BPF, perf,
  modules, kexec, io_uring, userfaultfd, cross-process memory access, clocks, swap, reboot, and so on.

Syscalls this architecture does not have are skipped; calls from another ABI (x32, i386 on x86_64) are
killed by libseccomp's bad-architecture action.
"""

from __future__ import annotations

import errno
import socket
import tempfile

from switchyard.core.errors import SandboxUnavailable

CLONE_THREAD = 0x00010000

DENIED = (
    "ptrace", "mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "keyctl", "add_key",
    "request_key", "bpf", "perf_event_open", "kexec_load", "kexec_file_load", "init_module",
    "finit_module", "delete_module", "userfaultfd", "io_uring_setup", "io_uring_enter",
    "io_uring_register", "process_vm_readv", "process_vm_writev", "personality", "acct", "swapon",
    "swapoff", "reboot", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "syslog",
    "open_by_handle_at", "name_to_handle_at", "fsopen", "fsmount", "fsconfig", "move_mount",
    "open_tree", "mount_setattr", "quotactl", "lookup_dcookie", "vhangup", "sethostname",
    "setdomainname", "iopl", "ioperm",
)  # fmt: skip


def build_filter() -> bytes:
    """The filter as a BPF program, the bytes bwrap's ``--seccomp FD`` reads.

    Blocking: call it once, off the event loop. ``SandboxUnavailable`` when libseccomp is missing.
    """
    try:
        import pyseccomp as sc
    except (ImportError, RuntimeError) as exc:  # RuntimeError: the module found no libseccomp
        raise SandboxUnavailable(
            f"libseccomp cannot be loaded ({exc})",
            remediation="Install libseccomp (Debian: apt-get install libseccomp2).",
        ) from None

    def known(name: str) -> bool:
        return int(sc.resolve_syscall(sc.Arch.NATIVE, name)) >= 0

    denied = sc.ERRNO(errno.EPERM)
    rules = sc.SyscallFilter(defaction=sc.ALLOW)
    if known("clone3"):
        rules.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    rules.add_rule(denied, "clone", sc.Arg(0, sc.MASKED_EQ, CLONE_THREAD, 0))
    for name in ("fork", "vfork"):
        if known(name):
            rules.add_rule(denied, name)
    rules.add_rule(denied, "socket", sc.Arg(0, sc.NE, socket.AF_UNIX))
    rules.add_rule(denied, "socketpair", sc.Arg(0, sc.NE, socket.AF_UNIX))
    for name in DENIED:
        if known(name):
            rules.add_rule(denied, name)
    with tempfile.TemporaryFile() as sink:
        rules.export_bpf(sink)
        sink.seek(0)
        return sink.read()
