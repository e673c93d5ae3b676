"""Writing a package zip, and the names packages are stored and downloaded under (seed 000's naming)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping

FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip can hold: builds do not depend on the clock
FILE_MODE = 0o100644  # a regular file, rw-r--r--


def package_filename(name: str, version: str) -> str:
    """``my-connector-v1.0.0.zip``, as seed 000 names archives."""
    return f"{name}-v{version}.zip"


def object_key(tenant_id: str, name: str, version: str) -> str:
    """Where a version's archive is kept in the package store: seed 000's name, under the tenant."""
    return f"{tenant_id}/{package_filename(name, version)}"


def build_package(files: Mapping[str, bytes]) -> bytes:
    """A zip of ``files`` (name -> content) that depends on nothing else: names sorted, fixed timestamps
    and modes, deflate at a fixed level. The same files always give the same bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so that the mode below is read as one
            info.external_attr = FILE_MODE << 16
            archive.writestr(info, files[name], compresslevel=9)
    return buffer.getvalue()
