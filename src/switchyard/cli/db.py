"""``switchyard db``: the database schema. These commands need the database only, not the master keys."""

from __future__ import annotations

import typer

from switchyard.adapters.db import migrate
from switchyard.cli.output import JsonOption, print_fields, print_json, say
from switchyard.cli.runtime import run_with_container
from switchyard.services.container import Container

app = typer.Typer(
    name="db",
    help="Inspect and upgrade the database schema.",
    no_args_is_help=True,
)


@app.command()
def upgrade(as_json: JsonOption = False) -> None:
    """Upgrade the schema to the newest migration (safe to run again; run it before starting new
    replicas in multi-node mode)."""

    async def work(container: Container) -> tuple[str | None, str]:
        return await container.db.upgrade()

    before, after = run_with_container(work, start=False)
    if as_json:
        print_json({"before": before, "after": after, "changed": before != after})
    elif before == after:
        say(f"already at the newest revision {after}")
    else:
        say(f"upgraded: {before or '(empty database)'} -> {after}")


@app.command()
def current(as_json: JsonOption = False) -> None:
    """Show the schema's current revision and whether it is the newest."""

    async def work(container: Container) -> str | None:
        async with container.db.connection() as conn:
            return await conn.run_sync(migrate.current)

    revision = run_with_container(work, start=False)
    newest = migrate.head()
    if as_json:
        print_json({"current": revision, "newest": newest, "is_newest": revision == newest})
        return
    print_fields(
        [
            ("current", revision or "(empty database)"),
            ("newest", newest),
            ("status", "up to date" if revision == newest else "outdated: run switchyard db upgrade"),
        ]
    )
