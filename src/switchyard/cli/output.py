"""How the CLI prints: data on stdout (JSON with ``--json``, else plain lines or Rich tables), errors and
progress on stderr. User data is never read as Rich markup. Also how it asks: confirmations and hidden input.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime
from enum import Enum
from typing import Annotated, Any

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table
from rich.text import Text

from switchyard.core.clock import as_utc
from switchyard.core.errors import ConfigurationError, InvalidInput, SwitchyardError

JsonOption = Annotated[
    bool, typer.Option("--json", help="Print machine-readable JSON on stdout (and nothing else there).")
]
TenantOption = Annotated[
    str, typer.Option("--tenant", "-t", metavar="TENANT", help="The tenant's name or id.")
]
YesOption = Annotated[
    bool, typer.Option("--yes", "-y", help="Go ahead without asking (required when there is no terminal).")
]

stderr_console = Console(stderr=True, highlight=False)
# A pipe gets whole rows, never folded at 80 columns: scripts grep them.
_stdout_console = Console(highlight=False, width=None if sys.stdout.isatty() else 10_000)


def _to_json(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, datetime):
        return as_utc(value).isoformat().replace("+00:00", "Z")
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"cannot print {type(value).__name__} as JSON")


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=_to_json) + "\n")
    sys.stdout.flush()


def say(message: str) -> None:
    """One human line on stdout."""
    typer.echo(message)


def print_fields(fields: Sequence[tuple[str, object]]) -> None:
    """``label: value`` lines, labels aligned; ``None`` shows as ``-``."""
    width = max((len(label) for label, _ in fields), default=0)
    for label, value in fields:
        typer.echo(f"{label + ':':<{width + 1}} {show(value)}")


def print_table(columns: Sequence[str], rows: Iterable[Sequence[object]], *, empty: str) -> None:
    materialised = [[show(cell) for cell in row] for row in rows]
    if not materialised:
        typer.echo(empty)
        return
    table = Table(*columns, box=None, pad_edge=False, header_style="bold")
    for row in materialised:
        table.add_row(*(Text(cell, overflow="fold") for cell in row))
    _stdout_console.print(table)


def show(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return as_utc(value).strftime("%Y-%m-%d %H:%M:%SZ")
    if isinstance(value, set | frozenset | list | tuple):
        return ", ".join(sorted(str(item) for item in value)) or "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def report_error(exc: SwitchyardError) -> int:
    """Print ``error [code]: detail`` (and the remediation) on stderr; returns the exit code."""
    typer.echo(f"error [{exc.code}]: {exc.detail}", err=True)
    if exc.remediation:
        typer.echo(f"remediation: {exc.remediation}", err=True)
    return 2 if isinstance(exc, ConfigurationError) else 1


def require_confirmation(yes: bool, verb: str, what: str) -> None:
    """Refuse to ``verb`` ``what`` when --yes is absent and there is no terminal to ask on."""
    if not yes and not sys.stdin.isatty():
        raise InvalidInput(
            f"refusing to {verb} {what} without confirmation",
            code="cli.confirmation_required",
            remediation=f"Pass --yes to {verb} without a prompt.",
        )


def read_hidden(label: str) -> str:
    """A secret from stdin (one trailing newline dropped), or asked for twice without echo on a terminal."""
    if sys.stdin.isatty():
        prompted: str = typer.prompt(label, hide_input=True, confirmation_prompt=True, err=True)
        return prompted
    return sys.stdin.read().removesuffix("\n").removesuffix("\r")
