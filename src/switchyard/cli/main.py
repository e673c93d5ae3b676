"""Entry point of the ``switchyard`` console script: the command tree and the one place errors are shown.

Every ``SwitchyardError`` ends here as ``error [<code>]: <detail>`` (and a remediation line) on stderr,
exit code 1, or 2 for configuration errors; never as a traceback.
"""

from __future__ import annotations

import sys

import typer

from switchyard import __version__
from switchyard.cli import connections, connectors, db, integrations, keys, secrets, tenants, users
from switchyard.cli.connect import connect
from switchyard.cli.login import login
from switchyard.cli.mcp import mcp
from switchyard.cli.output import JsonOption, print_json, report_error, say
from switchyard.cli.serve import serve
from switchyard.core.errors import SwitchyardError

app = typer.Typer(
    name="switchyard",
    help="Switchyard: connect end users' third-party accounts and act on them. Settings come from "
    "SWITCHYARD_* environment variables (SWITCHYARD_DATA_DIR, SWITCHYARD_DATABASE_URL, ...).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,  # a rich trace with locals could print key material
)
app.command()(serve)
app.add_typer(db.app, name="db")
app.add_typer(tenants.app, name="tenants")
app.add_typer(keys.app, name="keys")
app.add_typer(secrets.app, name="secrets")
app.add_typer(connectors.app, name="connectors")
app.add_typer(integrations.app, name="integrations")
app.add_typer(connections.app, name="connections")
app.add_typer(users.app, name="users")
app.command()(connect)
app.command()(login)
app.command()(mcp)


@app.command()
def version(as_json: JsonOption = False) -> None:
    """Print the version of Switchyard."""
    if as_json:
        print_json({"version": __version__})
    else:
        say(f"switchyard {__version__}")


def main() -> None:
    try:
        app(prog_name="switchyard")
    except SwitchyardError as exc:
        sys.exit(report_error(exc))


if __name__ == "__main__":
    main()
