"""From an uploaded zip to an ``InspectedPackage``: the archive checks, then the manifest, then the code.

A package holds ``manifest.json`` at its root (a connector definition, seed 000's shape accepted), and,
when an action names a ``hook``, its code: a module ``connector.py`` or a package ``connector/__init__.py``
beside any pure-Python modules it imports. ``README.md`` and an icon are optional.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from switchyard.core.errors import InvalidInput
from switchyard.core.manifest.loader import load
from switchyard.core.manifest.schema import Definition
from switchyard.core.packages.archive import PackageLimits, read_archive, refuse

MANIFEST = "manifest.json"
CODE_MODULE = "connector"
CODE_FILES = (f"{CODE_MODULE}.py", f"{CODE_MODULE}/__init__.py")
README = "readme.md"  # compared case-insensitively


@dataclass(frozen=True)
class InspectedPackage:
    definition: Definition
    manifest_source: str  # manifest.json as uploaded
    files: tuple[str, ...]  # every file in the archive, sorted
    has_code: bool
    module: str  # the module the sandbox imports: "connector"
    readme: str | None
    sha256: str  # of the archive
    size: int  # of the archive, in bytes
    hooks: tuple[str, ...]  # the hooks the definition's actions declare, in order, once each


def inspect_package(data: bytes, limits: PackageLimits) -> InspectedPackage:
    """Check a package zip in full; every refusal is an ``InvalidInput`` with a ``package.*`` code (an
    oversized archive is a ``PayloadTooLarge``)."""
    archive = read_archive(data, limits, keep=lambda name: name == MANIFEST or name.casefold() == README)
    if MANIFEST not in archive.kept:
        raise _manifest_missing(archive.files)
    source = _text(archive.kept[MANIFEST])
    definition = _definition(source)
    hooks = tuple(dict.fromkeys(action.hook for action in definition.actions if action.hook is not None))
    present = [name for name in CODE_FILES if name in archive.files]
    if len(present) > 1:
        raise refuse(
            "package.code_ambiguous",
            f"the package holds both {CODE_FILES[0]} and {CODE_FILES[1]}",
            "Keep one of them: the module or the package.",
        )
    if hooks and not present:
        raise refuse(
            "package.code_missing",
            f"the actions declare the hooks {', '.join(hooks)} but the package has no {CODE_FILES[0]}",
            f"Add {CODE_FILES[0]} (or {CODE_FILES[1]}) defining async def NAME(ctx, input) for each hook.",
            hooks=list(hooks),
        )
    readme = next((archive.kept[name] for name in archive.files if name.casefold() == README), None)
    return InspectedPackage(
        definition=definition,
        manifest_source=source,
        files=archive.files,
        has_code=bool(present),
        module=CODE_MODULE,
        readme=readme.decode("utf-8", errors="replace") if readme is not None else None,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        hooks=hooks,
    )


def _manifest_missing(files: tuple[str, ...]) -> InvalidInput:
    nested = [name for name in files if name.count("/") == 1 and name.endswith(f"/{MANIFEST}")]
    remediation = (
        f"The package has {nested[0]!r}: zip the contents of that folder, not the folder itself."
        if len(nested) == 1
        else f"Put {MANIFEST} at the root of the zip."
    )
    return refuse("package.manifest_missing", f"the package has no {MANIFEST} at its root", remediation)


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _manifest_invalid(f"it is not UTF-8 text (byte {exc.start})", None) from None


def _definition(source: str) -> Definition:
    try:
        document = json.loads(source, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        raise _manifest_invalid(f"it is not JSON ({exc.msg})", exc.lineno) from None
    except _DuplicateKey as exc:
        raise _manifest_invalid(f"the key {exc.key!r} appears twice in one object", None) from None
    if not isinstance(document, dict):
        raise _manifest_invalid("it is not a JSON object", 1)
    try:
        return load(source, MANIFEST)
    except InvalidInput as exc:
        raise InvalidInput(
            exc.detail,
            code="package.manifest_invalid",
            remediation=exc.remediation,
            extra=exc.extra,
        ) from None


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key[:64]


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def _manifest_invalid(message: str, line: int | None) -> InvalidInput:
    return InvalidInput(
        f"{MANIFEST} is not a valid connector definition: {message}",
        code="package.manifest_invalid",
        remediation="Check manifest.json against the schema (switchyard connectors schema).",
        extra={"problems": [{"path": "", "line": line, "message": message}]},
    )
