"""Connector packages: a ``.zip`` holding ``manifest.json``, optional hook code, a README and an icon.

Pure: bytes in, values out. ``archive`` reads a zip without trusting it (paths, file types, sizes, zip
bombs, native code), ``inspection`` turns a safe archive into an ``InspectedPackage`` (the definition, its
hooks, the code module), ``versions`` orders semantic versions and ``build`` writes a deterministic zip.
Every refusal is an ``InvalidInput`` (or ``PayloadTooLarge``) with a stable ``package.*`` code.
"""

from __future__ import annotations

from switchyard.core.packages.archive import PackageLimits
from switchyard.core.packages.build import build_package, object_key, package_filename
from switchyard.core.packages.inspection import CODE_MODULE, InspectedPackage, inspect_package
from switchyard.core.packages.versions import is_newer, semver_key

__all__ = [
    "CODE_MODULE",
    "InspectedPackage",
    "PackageLimits",
    "build_package",
    "inspect_package",
    "is_newer",
    "object_key",
    "package_filename",
    "semver_key",
]
