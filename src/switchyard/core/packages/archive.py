"""Reading an uploaded ``.zip`` without trusting it.

Every entry of the central directory is checked before any byte is inflated: a safe relative path (no
zip slip), a regular file or a directory (no symlinks, devices, FIFOs), not encrypted, stored or deflated,
no native code by name, and declared sizes and ratios within the limits. Then each file is inflated in
chunks while the bytes are counted, since headers can lie: the count, not the header, is held to the
limits, and a file whose content does not match its header (size or CRC) is refused.

Only stored and deflated members are accepted: Python's zipfile inflates bzip2 and LZMA members without an
output bound per call, so one small chunk could expand into a large allocation before any count is made.

Errors name the offending path (shortened) and never echo file contents.
"""

from __future__ import annotations

import io
import re
import stat
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from switchyard.core.errors import InvalidInput, PayloadTooLarge

CHUNK = 64 * 1024
RATIO_FLOOR = 64 * 1024  # members smaller than this (unpacked) are too small to be a bomb by ratio
MAX_NAME = 512
NATIVE_NAME = re.compile(r"\.(so|pyd|dylib|dll|exe)(\.\d+)*$", re.IGNORECASE)
NATIVE_MAGIC = (
    b"\x7fELF",  # Linux and most Unixes
    b"\xfe\xed\xfa\xce",  # Mach-O, 32 and 64 bit, both byte orders
    b"\xfe\xed\xfa\xcf",
    b"\xce\xfa\xed\xfe",
    b"\xcf\xfa\xed\xfe",
)
METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}
_DRIVE = re.compile(r"^[A-Za-z]:")
_READ_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    ValueError,
    NotImplementedError,
    RuntimeError,
)


class _LimitSettings(Protocol):
    @property
    def package_max_bytes(self) -> int: ...
    @property
    def package_max_unpacked_bytes(self) -> int: ...
    @property
    def package_max_files(self) -> int: ...
    @property
    def package_max_ratio(self) -> int: ...


@dataclass(frozen=True)
class PackageLimits:
    max_bytes: int = 10 * 1024 * 1024
    max_unpacked_bytes: int = 50 * 1024 * 1024
    max_files: int = 1000
    max_ratio: int = 100

    @classmethod
    def from_settings(cls, settings: _LimitSettings) -> PackageLimits:
        return cls(
            max_bytes=settings.package_max_bytes,
            max_unpacked_bytes=settings.package_max_unpacked_bytes,
            max_files=settings.package_max_files,
            max_ratio=settings.package_max_ratio,
        )


@dataclass(frozen=True)
class Archive:
    files: tuple[str, ...]  # every file's name, sorted; directories left out
    kept: dict[str, bytes]  # the contents of the files the caller asked to keep
    unpacked: int  # bytes counted while inflating


def refuse(code: str, detail: str, remediation: str | None = None, **extra: object) -> InvalidInput:
    return InvalidInput(detail, code=code, remediation=remediation, extra=dict(extra) or None)


def shown(name: str) -> str:
    """A member name fit for an error message: printable, and short."""
    text = name if len(name) <= 120 else f"{name[:117]}..."
    return repr(text)


def read_archive(data: bytes, limits: PackageLimits, keep: Callable[[str], bool]) -> Archive:
    """Check ``data`` as a package zip and inflate it; the files for which ``keep`` says yes are returned."""
    if not data:
        raise refuse(
            "package.empty", "the package is empty", "Upload the .zip built by switchyard connectors package."
        )
    if len(data) > limits.max_bytes:
        raise PayloadTooLarge(
            f"the package is {len(data)} bytes; the limit is {limits.max_bytes}",
            code="package.too_large",
            remediation="Leave tests, build output and data files out of the package.",
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (*_READ_ERRORS, struct.error, zipfile.LargeZipFile):
        raise refuse("package.not_zip", "the package is not a zip archive", "Upload a .zip file.") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > limits.max_files:
            raise refuse(
                "package.too_many_files",
                f"the package holds {len(infos)} entries; the limit is {limits.max_files}",
                limit=limits.max_files,
            )
        files = _check_entries(infos, limits, len(data))
        kept, unpacked = _inflate(archive, files, limits, keep)
    return Archive(tuple(sorted(info.filename for info in files)), kept, unpacked)


def _check_entries(infos: list[zipfile.ZipInfo], limits: PackageLimits, size: int) -> list[zipfile.ZipInfo]:
    files: list[zipfile.ZipInfo] = []
    seen: set[str] = set()
    declared = compressed = 0
    for info in infos:
        name = info.orig_filename
        _check_name(name)
        is_dir = _check_type(info, name)
        folded = name.rstrip("/").casefold()
        if folded in seen:
            raise refuse("package.unsafe_path", f"the package holds {shown(name)} twice", duplicate=True)
        seen.add(folded)
        if info.flag_bits & 0x41:  # bit 0: encrypted; bit 6: strong encryption
            raise refuse(
                "package.encrypted", f"{shown(name)} is encrypted", "Zip the files without a password."
            )
        if is_dir:
            continue
        if info.compress_type not in METHODS:
            raise refuse(
                "package.unsupported_compression",
                f"{shown(name)} is compressed with method {info.compress_type}; only stored and deflate are read",
                "Build the package with switchyard connectors package, or zip with deflate.",
            )
        if NATIVE_NAME.search(name):
            raise _native(name)
        declared += info.file_size
        compressed += info.compress_size
        if declared > limits.max_unpacked_bytes:
            raise _unpacked_too_large(limits)
        if info.file_size > RATIO_FLOOR and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise _bomb(name, limits)
        files.append(info)
    if compressed > size:  # members sharing (overlapping) compressed data: a non-recursive zip bomb
        raise refuse("package.zip_bomb", "the package's members overlap", "Build the package again.")
    _check_tree(files)
    return files


def _check_name(name: str) -> None:
    reason = _unsafe(name)
    if reason is not None:
        raise refuse(
            "package.unsafe_path",
            f"the member {shown(name)} has {reason}",
            "Package paths are relative, with / between parts and no '..'.",
        )


def _unsafe(name: str) -> str | None:
    if not name or name == "/":
        return "an empty name"
    if len(name) > MAX_NAME:
        return f"a name longer than {MAX_NAME} characters"
    if any(ord(char) < 32 or ord(char) == 127 for char in name):
        return "control characters in its name"
    if "\\" in name:
        return "a backslash in its path"
    if name.startswith("/"):
        return "an absolute path"
    if _DRIVE.match(name):
        return "a drive letter"
    parts = name[:-1].split("/") if name.endswith("/") else name.split("/")
    if ".." in parts:
        return "a '..' segment"
    if any(part in ("", ".") for part in parts):
        return "an empty or '.' segment"
    return None


def _check_type(info: zipfile.ZipInfo, name: str) -> bool:
    """True for a directory entry; a refusal for links and special files."""
    kind = stat.S_IFMT(info.external_attr >> 16)
    if kind == stat.S_IFLNK:
        raise refuse("package.symlink", f"{shown(name)} is a symbolic link", "Package the file itself.")
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR) or (kind == stat.S_IFDIR and not name.endswith("/")):
        raise refuse("package.special_file", f"{shown(name)} is not a regular file or directory")
    return name.endswith("/")


def _check_tree(files: list[zipfile.ZipInfo]) -> None:
    """A file may not also be a directory of another member (``a`` and ``a/b``)."""
    names = {info.filename.casefold() for info in files}
    for info in files:
        parts = info.filename.casefold().split("/")
        for depth in range(1, len(parts)):
            parent = "/".join(parts[:depth])
            if parent in names:
                raise refuse(
                    "package.unsafe_path",
                    f"{shown(parent)} is both a file and the directory of {shown(info.filename)}",
                )


def _inflate(
    archive: zipfile.ZipFile, files: list[zipfile.ZipInfo], limits: PackageLimits, keep: Callable[[str], bool]
) -> tuple[dict[str, bytes], int]:
    kept: dict[str, bytes] = {}
    total = 0
    for info in files:
        name = info.filename
        chunks: list[bytes] | None = [] if keep(name) else None
        head = b""
        count = 0
        try:
            with archive.open(info) as stream:
                while chunk := stream.read(CHUNK):
                    count += len(chunk)
                    total += len(chunk)
                    if count > info.file_size:
                        raise refuse("package.zip_bomb", f"{shown(name)} inflates past its declared size")
                    if total > limits.max_unpacked_bytes:
                        raise _unpacked_too_large(limits)
                    if count > RATIO_FLOOR and count > limits.max_ratio * max(info.compress_size, 1):
                        raise _bomb(name, limits)
                    if len(head) < 4:
                        head += chunk[: 4 - len(head)]
                    if chunks is not None:
                        chunks.append(chunk)
        except _READ_ERRORS:
            raise refuse(
                "package.corrupt",
                f"{shown(name)} is damaged: its content does not match its header",
                "Build the package again.",
            ) from None
        if count != info.file_size:
            raise refuse("package.corrupt", f"{shown(name)} is shorter than its header says")
        if head.startswith(NATIVE_MAGIC):
            raise _native(name)
        if chunks is not None:
            kept[name] = b"".join(chunks)
    return kept, total


def _native(name: str) -> InvalidInput:
    return refuse(
        "package.native_code",
        f"{shown(name)} is native code; packages hold Python source only",
        "Leave compiled extensions out; vendor pure-Python modules only.",
    )


def _bomb(name: str, limits: PackageLimits) -> InvalidInput:
    return refuse(
        "package.zip_bomb",
        f"{shown(name)} is compressed more than {limits.max_ratio} times",
        "Leave generated or padded data out of the package.",
        max_ratio=limits.max_ratio,
    )


def _unpacked_too_large(limits: PackageLimits) -> InvalidInput:
    return refuse(
        "package.too_large",
        f"the package's files unpack to more than {limits.max_unpacked_bytes} bytes",
        "Leave tests, build output and data files out of the package.",
        limit=limits.max_unpacked_bytes,
    )
