"""``switchyard connectors upload|download|download-all|versions|rollback|delete``: connector packages on a
server (seed 000's workflow). ``create`` and ``package`` (local files) live in ``package_files.py``,
``migrate`` (and the progress bar) in ``migrate.py``.

These commands talk to a Switchyard server's package API through ``remote.Remote``; the server comes from ``--api-url``/``--token`` or a profile saved by ``switchyard login``
(``profiles.py``). Long transfers show a progress bar on stderr when stdout is a terminal (never with
``--json``); without one, each package or version done is one line on stdout.
"""

from __future__ import annotations

import asyncio
import hashlib
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from switchyard.cli.migrate import progress_bar
from switchyard.cli.output import (
    JsonOption,
    YesOption,
    print_fields,
    print_json,
    print_table,
    require_confirmation,
    say,
)
from switchyard.cli.package_files import write_whole
from switchyard.cli.profiles import ApiUrlOption, Profile, ProfileOption, TokenOption, resolve
from switchyard.cli.remote import Remote, package_file, safe_filename
from switchyard.cli.runtime import configure_logging, load_settings
from switchyard.core.errors import SwitchyardError

T = TypeVar("T")

NameArgument = Annotated[str, typer.Argument(metavar="NAME", help="The package (connector) name.")]


def remote_session(
    api_url: str | None, token: str | None, profile: str | None, work: Callable[[Remote], Awaitable[T]]
) -> T:
    """Run ``work`` against the server named by the flags or the profile."""
    settings = load_settings()
    configure_logging(settings)
    return with_remote(resolve(settings, api_url, token, profile), work)


def with_remote(target: Profile, work: Callable[[Remote], Awaitable[T]]) -> T:
    async def session() -> T:
        async with Remote(target) as remote:
            return await work(remote)

    return asyncio.run(session())


def upload(
    file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE.zip", exists=True, dir_okay=False, readable=True, help="A package .zip."
        ),
    ],
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace an uploaded version, or upload one older than the latest."),
    ] = False,
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Upload a package .zip to a Switchyard server. The server validates it (and checks its code in the
    sandbox); a new version becomes the current one. The same or an older version needs --force."""
    data = file.read_bytes()

    async def work(remote: Remote) -> dict[str, Any]:
        return await remote.upload(data, file.name, force=force)

    answer = remote_session(api_url, token, profile, work)
    if as_json:
        print_json(answer)
        return
    package, version = answer.get("package", {}), answer.get("version", {})
    print_fields(
        [
            ("name", package.get("name")),
            ("version", version.get("version")),
            ("current version", package.get("current_version")),
            ("sha256", version.get("sha256")),
        ]
    )


def list_remote(api_url: str | None, token: str | None, profile: str | None, as_json: bool) -> None:
    """``connectors list`` with a server: its uploaded packages."""

    async def work(remote: Remote) -> list[dict[str, Any]]:
        return await remote.packages()

    packages = remote_session(api_url, token, profile, work)
    if as_json:
        print_json({"packages": packages})
        return
    print_table(
        ["NAME", "DISPLAY NAME", "CURRENT", "LATEST", "VERSIONS", "UPDATED"],
        (
            [
                p.get("name"),
                p.get("display_name"),
                p.get("current_version"),
                p.get("latest_version"),
                p.get("versions"),
                _when(p.get("updated_at")),
            ]
            for p in packages
        ),
        empty="no packages uploaded",
    )


def versions(
    name: NameArgument,
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    """List the uploaded versions of a package, newest first, with the current one marked."""

    async def work(remote: Remote) -> list[dict[str, Any]]:
        return await remote.versions(name)

    found = remote_session(api_url, token, profile, work)
    if as_json:
        print_json({"versions": found})
        return
    print_table(
        ["VERSION", "CURRENT", "SIZE", "SHA256", "ACTIONS", "UPLOADED"],
        (
            [
                v.get("version"),
                bool(v.get("current")),
                v.get("size"),
                str(v.get("sha256", ""))[:16],
                v.get("actions"),
                _when(v.get("uploaded_at")),
            ]
            for v in found
        ),
        empty=f"{name} has no versions",
    )


def rollback(
    name: NameArgument,
    version: Annotated[str, typer.Argument(metavar="VERSION", help="An uploaded version, e.g. 1.0.0.")],
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Make an uploaded version the current one again (or any uploaded version: forward too)."""

    async def work(remote: Remote) -> dict[str, Any]:
        return await remote.rollback(name, version)

    answer = remote_session(api_url, token, profile, work)
    if as_json:
        print_json(answer)
        return
    say(f"{name}: the current version is now {answer.get('current_version', version)}")


def delete(
    name: NameArgument,
    yes: YesOption = False,
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Delete a package and every uploaded version of it from the server. Asks first on a terminal;
    without one, --yes is required."""
    require_confirmation(yes, "delete", f"package {name!r}")

    async def work(remote: Remote) -> None:
        if not yes:
            found = await remote.package(name)
            count = found.get("versions", "?")
            typer.confirm(f"Delete package {name} and its {count} version(s)?", abort=True, err=True)
        await remote.delete(name)

    remote_session(api_url, token, profile, work)
    if as_json:
        print_json({"deleted": name})
        return
    say(f"deleted package {name}")


def download(
    name: NameArgument,
    version: Annotated[
        str | None, typer.Option("--version", metavar="V", help="Default: the current version.")
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", metavar="PATH", help="A file, or a directory (default: ./NAME-vVERSION.zip)."
        ),
    ] = None,
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Download one version of a package as its .zip (checked against the server's sha256)."""

    async def work(remote: Remote) -> tuple[Path, int, str]:
        got = await remote.download(name, version)
        filename = safe_filename(got.filename) if got.filename else package_file(name, version or "current")
        target = output / filename if output is not None and output.is_dir() else output or Path(filename)
        write_whole(target, got.data)
        return target, len(got.data), got.sha256

    target, size, sha256 = remote_session(api_url, token, profile, work)
    if as_json:
        print_json({"name": name, "file": str(target), "size": size, "sha256": sha256})
        return
    say(f"saved {target} ({size} bytes, sha256 {sha256})")


def download_all(
    output: Annotated[
        Path, typer.Option("--output", "-o", metavar="DIR", help="The directory to save the .zip files in.")
    ],
    all_versions: Annotated[
        bool, typer.Option("--all-versions", help="Every uploaded version, not just the current ones.")
    ] = False,
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Download every package's current version (or every version) into DIR as NAME-vVERSION.zip. Files
    already there with the same sha256 are kept as they are."""
    output.mkdir(parents=True, exist_ok=True)
    show_lines = not as_json and not sys.stdout.isatty()

    async def work(remote: Remote) -> dict[str, list[dict[str, Any]]]:
        wanted: list[dict[str, Any]] = []
        for found in await remote.packages():
            listed = await remote.versions(found["name"])
            chosen = listed if all_versions else [v for v in listed if v.get("current")]
            wanted += [{"package": found["name"], **v} for v in chosen]
        saved: list[dict[str, Any]] = []
        unchanged: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        with progress_bar(not as_json, len(wanted), sum(int(v.get("size") or 0) for v in wanted)) as bar:
            for item in wanted:
                name, version = item["package"], item["version"]
                target = output / package_file(name, version)
                record = {"package": name, "version": version, "file": str(target), "sha256": item["sha256"]}
                bar.describe(f"{name} {version}")
                if target.is_file() and _sha256(target) == item["sha256"]:
                    unchanged.append(record)
                    bar.advance(int(item.get("size") or 0))
                    continue
                try:
                    got = await remote.download(name, version, on_bytes=bar.add_bytes)
                except SwitchyardError as exc:
                    failed.append({**record, "code": exc.code, "detail": exc.detail})
                    if show_lines:
                        say(f"failed {name} {version}: [{exc.code}] {exc.detail}")
                    continue
                finally:
                    bar.advance(0)
                write_whole(target, got.data)
                saved.append({**record, "size": len(got.data)})
                if show_lines:
                    say(f"saved {target}")
        return {"saved": saved, "unchanged": unchanged, "failed": failed}

    result = remote_session(api_url, token, profile, work)
    if as_json:
        print_json({"output": str(output), **result})
    else:
        if result["unchanged"]:
            say(f"{len(result['unchanged'])} file(s) already up to date")
        failures = f"; {len(result['failed'])} failed" if result["failed"] else ""
        say(f"downloaded {len(result['saved'])} package file(s) to {output}{failures}")
    if result["failed"]:
        raise typer.Exit(1)


def _when(value: Any) -> object:
    """An ISO 8601 time from the server, shown like every other time of the CLI."""
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return value


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
