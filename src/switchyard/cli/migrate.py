"""``switchyard connectors migrate``: copy every version of every package from one server to another, and the
progress bar the long package transfers share (``migrate`` and ``download-all``).

A version already at the destination with the same sha256 is skipped, so a second run copies nothing. A
version whose number is at the destination with a different sha256 is left alone and reported in ``failed``
(reason ``differs``, exit code 1) unless ``--replace-different`` is given. The command is registered with
the other package commands (``connectors.py``, through ``packages.py``).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

from switchyard.cli.output import JsonOption, print_json, say, stderr_console
from switchyard.cli.profiles import named
from switchyard.cli.remote import Remote, package_file
from switchyard.cli.runtime import configure_logging, load_settings
from switchyard.core.errors import ClientError, InvalidInput, SwitchyardError
from switchyard.core.packages import semver_key

DIFFERS = "differs"
DIFFERS_CODE = "cli.migrate_version_differs"
_RETRY_FORCED = ("package.version_not_newer", "package.version_exists")


def migrate(
    source: Annotated[
        str, typer.Option("--from", metavar="PROFILE", help="The profile of the server to copy from.")
    ],
    destination: Annotated[
        str, typer.Option("--to", metavar="PROFILE", help="The profile of the server to copy to.")
    ],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would be copied.")] = False,
    replace_different: Annotated[
        bool,
        typer.Option(
            "--replace-different",
            help="Replace a destination version whose number matches but whose sha256 differs "
            "(default: leave it, report it as failed and exit 1).",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Copy every version of every package from one server to another, oldest version first, skipping
    versions already there with the same sha256 (so a second run copies nothing), then make the source's
    current version current at the destination. Profiles come from `switchyard login --profile NAME`."""
    settings = load_settings()
    configure_logging(settings)
    if source == destination:
        raise InvalidInput(
            "--from and --to name the same profile",
            code="cli.migrate_same_server",
            remediation="Name two different servers' profiles.",
        )
    origin, target = named(settings, source), named(settings, destination)
    if origin == target:
        raise InvalidInput(
            f"--from {source} and --to {destination} are the same server and key",
            code="cli.migrate_same_server",
            remediation="Name two different servers' profiles.",
        )

    async def work() -> dict[str, Any]:
        async with Remote(origin) as here, Remote(target) as there:
            migration = Migration(
                here, there, dry_run=dry_run, as_json=as_json, replace_different=replace_different
            )
            return await migration.run()

    summary = asyncio.run(work())
    if as_json:
        print_json(summary)
    else:
        _say_summary(summary, destination)
    if summary["failed"]:
        raise typer.Exit(1)


class Migration:
    """Copies every version missing at the destination (and, when asked, every different one), oldest
    first, then makes the source's current version current there."""

    def __init__(
        self,
        source: Remote,
        destination: Remote,
        *,
        dry_run: bool,
        as_json: bool,
        replace_different: bool = False,
    ) -> None:
        self.source = source
        self.destination = destination
        self.dry_run = dry_run
        self.as_json = as_json
        self.replace_different = replace_different
        self.lines = not as_json and not sys.stdout.isatty()
        self.failure_lines: list[str] = []
        self.summary: dict[str, Any] = {
            "dry_run": dry_run,
            "copied": [],
            "skipped": [],
            "failed": [],
            "current": [],
        }

    async def run(self) -> dict[str, Any]:
        there = {p["name"]: p for p in await self.destination.packages()}
        plans: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
        for package in sorted(await self.source.packages(), key=lambda p: str(p["name"])):
            name = package["name"]
            present = (
                {v["version"]: v.get("sha256") for v in await self.destination.versions(name)}
                if name in there
                else {}
            )
            todo = []
            for version in oldest_first(await self.source.versions(name)):
                item = _item(name, version)
                if item["version"] not in present:
                    todo.append({**item, "replaces": False})
                elif present[item["version"]] == item["sha256"]:
                    self.summary["skipped"].append({**item, "reason": "already at the destination"})
                elif self.replace_different:
                    todo.append({**item, "replaces": True})
                else:
                    self._differs(item, present[item["version"]])
            plans.append((package, todo))
        total = [item for _, todo in plans for item in todo]
        with progress_bar(not self.as_json, len(total), sum(i["size"] for i in total)) as bar:
            for package, todo in plans:
                for item in todo:
                    await self._copy(item, bar)
                if not self.dry_run:
                    await self._make_current(package)
        if not self.as_json and not self.lines:  # the bar hid them: say why the exit code will be 1
            for line in self.failure_lines:
                say(line)
        return self.summary

    def _differs(self, item: dict[str, Any], theirs: Any) -> None:
        name, version = item["package"], item["version"]
        ours, other = str(item["sha256"] or "?")[:12], str(theirs or "?")[:12]
        detail = (
            f"{name} {version} is at the destination with different contents: "
            f"sha256 {ours} at the source, {other} at the destination"
        )
        self.summary["failed"].append(
            {**item, "reason": DIFFERS, "code": DIFFERS_CODE, "detail": detail, "destination_sha256": theirs}
        )
        self._failure(
            f"failed {name} {version}: differs: source sha256 {ours}, destination sha256 {other} "
            "(--replace-different replaces it)"
        )

    async def _copy(self, item: dict[str, Any], bar: Bar) -> None:
        name, version = item["package"], item["version"]
        bar.describe(f"{name} {version}")
        if self.dry_run:
            self.summary["copied"].append(item)
            bar.advance(item["size"])
            self._line(f"would copy {name} {version}")
            return
        try:
            got = await self.source.download(name, version, on_bytes=bar.add_bytes)
            filename = package_file(name, version)
            forced = bool(item["replaces"])
            try:
                await self.destination.upload(got.data, filename, force=forced)
            except ClientError as exc:
                if forced or exc.code not in _RETRY_FORCED:
                    raise
                if exc.code == "package.version_exists" and not self.replace_different:
                    raise  # uploaded there since it was listed: never replaced without --replace-different
                forced = True
                await self.destination.upload(got.data, filename, force=True)
        except SwitchyardError as exc:
            self.summary["failed"].append({**item, "code": exc.code, "detail": exc.detail})
            self._failure(f"failed {name} {version}: [{exc.code}] {exc.detail}")
        else:
            self.summary["copied"].append({**item, "forced": forced})
            self._line(
                f"copied {name} {version}" + (" (replaced a different upload)" if item["replaces"] else "")
            )
        bar.advance(0)

    async def _make_current(self, package: dict[str, Any]) -> None:
        name, wanted = package["name"], package.get("current_version")
        failed = {(i["package"], i["version"]) for i in self.summary["failed"]}
        if not wanted or (name, wanted) in failed:
            return
        try:
            now = (await self.destination.package(name)).get("current_version")
            if now != wanted:
                await self.destination.rollback(name, wanted)
                self.summary["current"].append({"package": name, "version": wanted, "was": now})
                self._line(f"made {name} {wanted} current (was {now})")
        except SwitchyardError as exc:
            self.summary["failed"].append(
                {"package": name, "version": wanted, "code": exc.code, "detail": exc.detail}
            )
            self._failure(f"failed to make {name} {wanted} current: [{exc.code}] {exc.detail}")

    def _line(self, text: str) -> None:
        if self.lines:
            say(text)

    def _failure(self, text: str) -> None:
        self.failure_lines.append(text)
        self._line(text)


def oldest_first(listed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The server lists versions newest first; semantic order when every version parses."""
    try:
        return sorted(listed, key=lambda v: semver_key(v["version"]))
    except (InvalidInput, TypeError, KeyError):
        return list(reversed(listed))


def _item(name: str, version: dict[str, Any]) -> dict[str, Any]:
    return {
        "package": name,
        "version": version["version"],
        "sha256": version.get("sha256"),
        "size": int(version.get("size") or 0),
    }


def _say_summary(summary: dict[str, Any], destination: str) -> None:
    copied, skipped, failed = (len(summary[key]) for key in ("copied", "skipped", "failed"))
    verb = "would copy" if summary["dry_run"] else "copied"
    if not copied and not failed:
        say(f"nothing to copy: all {skipped} version(s) are already at {destination}")
        return
    say(f"{verb} {copied} version(s) to {destination}, skipped {skipped} already there, failed {failed}")


class Bar:
    """A progress bar over bytes, its label counting items, on stderr; a no-op when hidden."""

    def __init__(self, progress: Progress | None, items: int, size: int) -> None:
        self.progress = progress
        self.items = items
        self.done = 0
        self.task: TaskID | None = None
        if progress is not None:
            self.task = progress.add_task(f"[0/{items}]", total=size or None)

    def describe(self, text: str) -> None:
        if self.progress is not None and self.task is not None:
            self.progress.update(self.task, description=f"[{self.done + 1}/{self.items}] {text}")

    def add_bytes(self, count: int) -> None:
        if self.progress is not None and self.task is not None:
            self.progress.advance(self.task, count)

    def advance(self, skipped_bytes: int) -> None:
        """One item done; ``skipped_bytes`` were not transferred but count as done."""
        self.done += 1
        if self.progress is not None and self.task is not None and skipped_bytes:
            self.progress.advance(self.task, skipped_bytes)


@contextmanager
def progress_bar(enabled: bool, items: int, size: int) -> Iterator[Bar]:
    """Shown only when asked for and stdout is a terminal (a script's pipe gets plain lines instead)."""
    if not enabled or not sys.stdout.isatty():
        yield Bar(None, items, size)
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=stderr_console) as progress:
        yield Bar(progress, items, size)
