"""``switchyard connectors create|package``: a connector package's local files, before any server.

``create`` writes a new package directory from the scaffold; ``package`` builds its ``.zip`` and validates
it as the server will. The commands that talk to a server are in ``packages.py``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import typer

from switchyard.cli import scaffold
from switchyard.cli.output import JsonOption, print_json, report_error, say
from switchyard.cli.remote import package_file, problems_of
from switchyard.cli.runtime import configure_logging, load_settings
from switchyard.core.errors import ClientError, SwitchyardError
from switchyard.core.packages import PackageLimits, build_package, inspect_package

_SKIPPED_DIRS = {"__pycache__", ".git"}
_SKIPPED_SUFFIXES = (".pyc", ".pyo")


def create(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The connector id: lowercase kebab-case.")],
    directory: Annotated[
        Path | None,
        typer.Option("--dir", metavar="PATH", help="Where to create it (default: ./NAME); absent or empty."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Create a new connector package: manifest.json (API key auth, one hook action "hello"), connector.py
    with its hook, a test that runs the hook with a fake ctx under plain pytest, and a README."""
    target = directory or Path(name)
    written = scaffold.create(name, target)
    if as_json:
        print_json({"name": name, "directory": str(target), "files": [str(path) for path in written]})
        return
    say(f"created connector {name} in {target}")
    for path in written:
        say(f"  {path}")
    say(f"next: cd {target} && python -m pytest tests && switchyard connectors package")


def package(
    directory: Annotated[
        Path,
        typer.Argument(metavar="DIR", file_okay=False, exists=True, help="The connector's directory."),
    ] = Path("."),
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", metavar="FILE", help="The .zip to write (default: ./NAME-vVERSION.zip)."
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Build a package .zip from a connector directory and validate it as the server will (manifest,
    paths, sizes). Leaves out tests/, __pycache__, *.pyc, dot-files and earlier NAME-v*.zip builds. An
    invalid package is not written: its problems are listed and the exit code is 1."""
    settings = load_settings()
    configure_logging(settings)
    root = directory.resolve()
    skip = {output.resolve()} if output is not None else set()
    contents = collect(root, skip=skip, name=_manifest_name(root))
    data = build_package(contents)
    try:
        inspected = inspect_package(data, PackageLimits.from_settings(settings))
    except ClientError as exc:
        _report_invalid(exc, as_json)
        raise typer.Exit(1) from None
    definition = inspected.definition
    target = output or Path.cwd() / package_file(definition.name, definition.version)
    write_whole(target, data)
    digest = hashlib.sha256(data).hexdigest()
    if as_json:
        print_json(
            {
                "valid": True,
                "name": definition.name,
                "version": definition.version,
                "file": str(target),
                "size": len(data),
                "sha256": digest,
                "files": sorted(contents),
            }
        )
        return
    say(f"packaged {definition.name} {definition.version}: {len(contents)} files, {len(data)} bytes")
    say(f"wrote {target}")


def collect(root: Path, *, skip: set[Path], name: str | None) -> dict[str, bytes]:
    """The files a package of ``root`` holds, by POSIX path: not tests/, caches, dot-files, old builds."""
    contents: dict[str, bytes] = {}
    for current, dirs, names in os.walk(root):
        here = Path(current)
        top = here == root
        dirs[:] = sorted(
            d
            for d in dirs
            if d not in _SKIPPED_DIRS
            and not d.startswith(".")
            and not (top and d == "tests")
            and not (here / d).is_symlink()
        )
        for filename in sorted(names):
            path = here / filename
            if filename.startswith(".") or filename.endswith(_SKIPPED_SUFFIXES) or path.resolve() in skip:
                continue
            if top and name and filename.startswith(f"{name}-v") and filename.endswith(".zip"):
                continue  # an earlier build of this package
            if path.is_symlink() or not path.is_file():
                typer.echo(f"warning: left out {path} (not a regular file)", err=True)
                continue
            contents[path.relative_to(root).as_posix()] = path.read_bytes()
    return contents


def _manifest_name(root: Path) -> str | None:
    try:
        document = json.loads((root / "manifest.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    value = document.get("name") if isinstance(document, Mapping) else None
    return value if isinstance(value, str) else None


def _report_invalid(error: SwitchyardError, as_json: bool) -> None:
    problems = problems_of(error)
    if as_json:
        print_json(
            {
                "valid": False,
                "code": error.code,
                "detail": error.detail,
                "problems": error.extra.get("errors") or error.extra.get("problems") or [],
            }
        )
        return
    report_error(error)
    for line in problems:
        typer.echo(f"  {line}", err=True)


def write_whole(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` whole or not at all."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.part")
    temporary.write_bytes(data)
    os.replace(temporary, target)
