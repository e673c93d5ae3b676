"""``switchyard connect``: connect an end user's account with OAuth from a terminal.

It starts the authorization code flow (``response_mode="page"``), prints the provider's authorization URL
on stdout and waits, polling the database every second, until the flow's callback has stored a new
connection for that end user and integration. The callback is served by ``switchyard serve``, not by this
command: the provider sends the browser to the integration's redirect URL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Annotated, Any

import typer
from rich.text import Text

from switchyard.cli.connections import all_connections
from switchyard.cli.output import TenantOption, print_fields, say, stderr_console
from switchyard.cli.runtime import run_with_container, tenant_principal
from switchyard.core.errors import Conflict, NotFound, OAuthError, RetriableError, SwitchyardError
from switchyard.core.manifest.schema import FormField
from switchyard.core.models import Connection, EndUser, Principal
from switchyard.services.connections import ConnectionFilter
from switchyard.services.container import Container

POLL_SECONDS = 1.0
_BOOLEANS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def connect(
    integration: Annotated[
        str, typer.Argument(metavar="INTEGRATION", help="The integration's key.", show_default=False)
    ],
    tenant: TenantOption,
    end_user: Annotated[
        str, typer.Option("--end-user", metavar="ID", help="Your id for the end user; created when new.")
    ],
    config: Annotated[
        list[str] | None,
        typer.Option(
            "--config",
            metavar="KEY=VALUE",
            help="A connection-config value the connector asks for (e.g. shop=acme); repeat for more.",
        ),
    ] = None,
    timeout: Annotated[
        int, typer.Option(min=1, metavar="SECONDS", help="Give up after this many seconds.")
    ] = 600,
) -> None:
    """Connect an end user's account through OAuth: print the authorization URL, then wait until the
    provider has sent the browser back to Switchyard (a running `switchyard serve`) and the connection
    exists; print its id and status. Exits 1 when no connection appears within --timeout."""
    values = _parse_config(config or [])

    async def work(container: Container) -> Connection:
        principal = await tenant_principal(container, tenant)
        found = await container.integrations.get(principal, integration)
        user = await _ensure_end_user(container, principal, end_user)
        where = ConnectionFilter(end_user_id=user.id, integration_id=found.id)
        before = {c.id for c in await all_connections(container, principal, where)}
        definition = await container.catalog.definition(principal.tenant_id, found.connector_id)
        started = await container.oauth.start(
            found,
            user.id,
            connection_config=_typed(definition.connection_config, values),
            response_mode="page",
        )
        say(started.authorization_url)
        stderr_console.print(
            Text(
                f"Open the URL above in a browser to connect {integration} for {end_user}; the provider "
                f"sends it back to {container.oauth.redirect_uri(found)}."
            )
        )
        with stderr_console.status(Text(f"Waiting for the connection (up to {timeout}s)...")):
            connection = await _wait_for_new(container, principal, where, before, timeout)
        if connection is None:
            raise await _not_connected(container, started.state, timeout)
        return connection

    try:
        connection = run_with_container(work)
    except KeyboardInterrupt:
        typer.echo("cancelled", err=True)
        raise typer.Exit(130) from None
    print_fields([("connection", connection.id), ("status", connection.status)])


async def _ensure_end_user(container: Container, principal: Principal, external_id: str) -> EndUser:
    try:
        return await container.tenancy.get_end_user(principal, external_id)
    except NotFound:
        pass
    try:
        return await container.tenancy.create_end_user(principal, external_id=external_id)
    except Conflict:  # created meanwhile
        return await container.tenancy.get_end_user(principal, external_id)


async def _wait_for_new(
    container: Container, principal: Principal, where: ConnectionFilter, before: set[str], seconds: float
) -> Connection | None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        new = [c for c in await all_connections(container, principal, where) if c.id not in before]
        if new:
            return new[0]
        remaining = deadline - loop.time()
        if remaining <= 0:
            return None
        await asyncio.sleep(min(POLL_SECONDS, remaining))


async def _not_connected(container: Container, state: str, seconds: int) -> SwitchyardError:
    """Why no connection appeared: the browser never came back, or it did and the flow failed."""
    try:
        await container.oauth.find_state(state)
    except OAuthError as exc:
        if exc.code == "oauth.state_replayed":
            return SwitchyardError(
                "the provider sent the browser back but no connection was made (access denied, or the "
                "code exchange failed; the browser page says why)",
                code="connect.failed",
                remediation="Run switchyard connect again.",
            )
    return RetriableError(
        f"no connection after {seconds}s: the authorization was not completed",
        code="connect.timeout",
        remediation="Run switchyard connect again and approve in the browser within --timeout seconds; "
        "switchyard serve must be running to receive the provider's redirect.",
    )


def _parse_config(items: list[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"--config takes KEY=VALUE, not {item!r}")
        values[key.strip()] = value
    return values


def _typed(fields: Mapping[str, FormField], values: Mapping[str, str]) -> dict[str, Any]:
    """Command-line text as the types the connector's config fields declare; a value that does not convert
    is passed on as text, for the flow to refuse with the field's name."""
    typed: dict[str, Any] = {}
    for name, text in values.items():
        kind = fields[name].type if name in fields else "string"
        try:
            if kind == "integer":
                typed[name] = int(text)
            elif kind == "number":
                typed[name] = float(text)
            elif kind == "boolean":
                typed[name] = _BOOLEANS[text.lower()]
            else:
                typed[name] = text
        except (ValueError, KeyError):
            typed[name] = text
    return typed
