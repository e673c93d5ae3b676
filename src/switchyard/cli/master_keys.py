"""``switchyard keys rotate-master`` and ``switchyard keys status``: the master keys behind the vault."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from switchyard.cli.output import JsonOption, print_fields, print_json, print_table, stderr_console
from switchyard.cli.runtime import run_with_container
from switchyard.services.container import Container
from switchyard.services.keyring import ACTIVE
from switchyard.services.rotation import Progress as ProgressCallback
from switchyard.services.rotation import RotationReport


@dataclass(frozen=True)
class MasterKeyStatus:
    key_id: str
    state: str
    fingerprint: str | None
    vault_items: int
    configured: bool  # this process holds the key material
    created_at: datetime | None
    retired_at: datetime | None


class _PassProgress:
    """Adapts the rotation's (done, total) callback to one progress bar, reset at the start of a pass.

    A pass starts with ``done == 0`` and a fresh total. (A batch whose every compare-and-swap lost to a
    concurrent writer also reports 0; the bar then just restarts, which is harmless.)
    """

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.passes = 0
        self.task: TaskID | None = None

    def __call__(self, done: int, total: int) -> None:
        if self.task is None or done == 0:
            self.passes += 1
            description = f"re-wrapping, pass {self.passes}"
            if self.task is None:
                self.task = self.progress.add_task(description, total=total)
            else:
                self.progress.reset(self.task, total=total, description=description)
        self.progress.update(self.task, completed=done, total=total)


@contextmanager
def _progress_bar(enabled: bool) -> Iterator[ProgressCallback | None]:
    if not enabled:
        yield None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=stderr_console) as progress:
        yield _PassProgress(progress)


def rotate_master(
    key_id: Annotated[
        str | None,
        typer.Option(
            help="Id of the new key. With a key file, a new key is generated under this id (default: a "
            "fresh id). With SWITCHYARD_MASTER_KEY, the id of a key already added there on every node."
        ),
    ] = None,
    resume: Annotated[
        bool,
        typer.Option("--resume", help="Finish an interrupted rotation: sweep to the active key, no new key."),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Rotate the master key online: activate a new key, re-wrap every vault item under it (values are
    never decrypted), then retire old keys nothing references. Their material stays in the key file until
    `switchyard keys prune`."""

    async def work(container: Container) -> RotationReport:
        with _progress_bar(enabled=not as_json) as on_progress:
            if resume:
                return await container.rotation.resume(progress=on_progress)
            return await container.rotation.rotate(key_id=key_id, progress=on_progress)

    report = run_with_container(work)
    if as_json:
        print_json(dataclasses.asdict(report))
        return
    still = ", ".join(f"{kid} ({count} items)" for kid, count in report.still_referenced.items())
    print_fields(
        [
            ("new active key", report.new_key_id),
            ("previous key", report.previous_key_id),
            ("re-wrapped items", report.rewrapped),
            ("passes", report.passes),
            ("retired keys", report.retired),
            ("still referenced", still or None),
            ("items skipped", ", ".join(f"{i} ({c})" for i, c in report.failed.items()) or None),
        ]
    )


def prune(as_json: JsonOption = False) -> None:
    """Remove from the key file the material of retired master keys that no vault item references."""

    async def work(container: Container) -> list[str]:
        return await container.rotation.prune()

    pruned = run_with_container(work)
    if as_json:
        print_json({"pruned": pruned})
        return
    print_fields([("removed keys", pruned or None)])


def status(as_json: JsonOption = False) -> None:
    """Show the master keys: state, how many vault items each one wraps, and which one is active."""

    async def work(container: Container) -> tuple[str, list[MasterKeyStatus]]:
        return container.keyring.describe_source(), await _key_statuses(container)

    source, keys = run_with_container(work)
    active = next((key.key_id for key in keys if key.state == ACTIVE), None)
    if as_json:
        document: dict[str, Any] = {
            "active_key_id": active,
            "source": source,
            "keys": [dataclasses.asdict(key) for key in keys],
        }
        print_json(document)
        return
    print_fields([("active key", active), ("key source", source)])
    print_table(
        ["KEY ID", "STATE", "VAULT ITEMS", "HELD HERE", "CREATED", "RETIRED"],
        ([k.key_id, k.state, k.vault_items, k.configured, k.created_at, k.retired_at] for k in keys),
        empty="no master keys recorded",
    )


async def _key_statuses(container: Container) -> list[MasterKeyStatus]:
    records = await container.keyring.records()
    async with container.db.transaction(write=False) as tx:
        counts = await tx.vault_items.count_by_key()
    held = container.keyring.keys
    statuses = [
        MasterKeyStatus(
            key_id=record.key_id,
            state=record.state,
            fingerprint=record.fingerprint,
            vault_items=counts.get(record.key_id, 0),
            configured=record.key_id in held,
            created_at=record.created_at,
            retired_at=record.retired_at,
        )
        for record in records
    ]
    recorded = {record.key_id for record in records}
    # Items under a key the database has no record of: should not happen, and worth seeing if it does.
    statuses += [
        MasterKeyStatus(kid, "unrecorded", None, count, kid in held, None, None)
        for kid, count in counts.items()
        if kid not in recorded
    ]
    return statuses
