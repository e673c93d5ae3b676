"""The sandbox for uploaded connector code: bubblewrap + prlimit + seccomp around a stdlib-only guest.

* ``command.py``: the limits and the bwrap/prlimit command line (pure);
* ``seccomp.py``: the seccomp filter (libseccomp through ``pyseccomp``);
* ``guest.py``: the runtime inside, spoken to over JSON-RPC on two pipes (never imported by the host);
* ``launch.py``: how this host starts a sandbox (bwrap, or no isolation), probed once; the fork and exec;
* ``process.py``: one sandbox, the host's end of a guest: JSON-RPC, output accounting;
* ``exits.py``: reaping a sandbox's process, and how it died (CPU limit, killed, crashed);
* ``places.py``: the cap on live sandbox processes, and the calls waiting under it;
* ``runner.py``: the pool of sandboxes and the public ``SandboxRunner``.
"""

from switchyard.adapters.sandbox.command import SandboxLimits
from switchyard.adapters.sandbox.runner import CodeBundle, HostCall, SandboxRunner

__all__ = ["CodeBundle", "HostCall", "SandboxLimits", "SandboxRunner"]
