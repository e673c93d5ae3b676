"""``switchyard connections``: end users' connected accounts; credentials are only ever shown masked."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from switchyard.api.connection_schemas import ConnectionOut, ConnectionPage, RevocationOut, TestResult
from switchyard.cli.output import (
    JsonOption,
    TenantOption,
    YesOption,
    print_fields,
    print_json,
    print_table,
    require_confirmation,
    say,
)
from switchyard.cli.runtime import every_page, run_with_container, tenant_principal
from switchyard.core.models import Connection, Page, Principal
from switchyard.services.connection_actions import Disconnected
from switchyard.services.connections import MAX_PAGE, ConnectionFilter
from switchyard.services.container import Container
from switchyard.services.verify import Verdict

app = typer.Typer(
    name="connections",
    help="End users' connected accounts: list, show (credentials masked), test and disconnect.",
    no_args_is_help=True,
)

ConnectionArgument = Annotated[
    str, typer.Argument(metavar="ID", help="The connection's id (con_...).", show_default=False)
]


async def all_connections(
    container: Container, principal: Principal, where: ConnectionFilter
) -> list[Connection]:
    """Every connection matching ``where``, all pages."""

    async def fetch(cursor: str | None) -> Page[Connection]:
        return await container.connections.list_connections(principal, where, after=cursor, limit=MAX_PAGE)

    return await every_page(fetch)


@app.command("list")
def list_connections(
    tenant: TenantOption,
    end_user: Annotated[
        str | None, typer.Option("--end-user", metavar="ID", help="Only this end user's (your id for them).")
    ] = None,
    integration: Annotated[
        str | None, typer.Option("--integration", metavar="KEY", help="Only this integration's.")
    ] = None,
    status: Annotated[
        str | None, typer.Option(metavar="STATUS", help="Only connections in this status: active, error, ...")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List a tenant's connections (every page), optionally by end user, integration or status."""

    async def work(container: Container) -> tuple[list[Connection], dict[str, str]]:
        principal = await tenant_principal(container, tenant)
        end_user_id = (await container.tenancy.get_end_user(principal, end_user)).id if end_user else None
        integration_id = (
            (await container.integrations.get(principal, integration)).id if integration else None
        )
        where = ConnectionFilter(end_user_id, integration_id, status)
        found = await all_connections(container, principal, where)
        return found, await _integration_keys(container, principal)

    connections, keys = run_with_container(work)
    if as_json:
        print_json(ConnectionPage(connections=[ConnectionOut.of(c) for c in connections], next_cursor=None))
        return
    print_table(
        ["ID", "INTEGRATION", "CONNECTOR", "END USER", "STATUS", "EXPIRES", "CREATED"],
        (
            [
                c.id,
                keys.get(c.integration_id, c.integration_id),
                c.connector_id,
                c.end_user_id,
                c.status,
                c.expires_at,
                c.created_at,
            ]
            for c in connections
        ),
        empty="no connections",
    )


@app.command()
def show(tenant: TenantOption, connection_id: ConnectionArgument, as_json: JsonOption = False) -> None:
    """Show one connection, its credentials masked."""

    async def work(container: Container) -> tuple[Connection, dict[str, str]]:
        principal = await tenant_principal(container, tenant)
        connection = await container.connections.get(principal, connection_id)
        return connection, await _integration_keys(container, principal)

    c, keys = run_with_container(work)
    if as_json:
        print_json(ConnectionOut.of(c))
        return
    print_fields(
        [
            ("id", c.id),
            ("status", c.status),
            ("error", f"[{c.error_code}] {c.error_detail}" if c.error_code else None),
            ("remediation", c.remediation),
            ("integration", keys.get(c.integration_id, c.integration_id)),
            ("connector", c.connector_id),
            ("end user", c.end_user_id),
            ("auth type", c.auth_type),
            ("account", c.account_id),
            ("scopes", " ".join(c.scopes) or None),
            ("credentials", _pairs(c.credentials_masked) + " (masked)"),
            ("config", _pairs(c.config) or None),
            ("expires", c.expires_at),
            ("last refreshed", c.last_refreshed_at),
            ("last used", c.last_used_at),
            ("created", c.created_at),
            ("updated", c.updated_at),
        ]
    )


@app.command()
def delete(
    tenant: TenantOption,
    connection_id: ConnectionArgument,
    yes: YesOption = False,
    as_json: JsonOption = False,
) -> None:
    """Disconnect: revoke the tokens at the provider (RFC 7009, where the connector has a revocation URL),
    then delete the connection and its sealed credentials. A provider that does not answer leaves the
    connection "revoking" and the revocation is retried in the background. Asks first unless --yes;
    without a terminal to ask on, --yes is required."""
    require_confirmation(yes, "delete", f"connection {connection_id!r}")

    async def work(container: Container) -> Disconnected:
        principal = await tenant_principal(container, tenant)
        connection = await container.connections.get(principal, connection_id)
        if not yes:
            question = f"Delete connection {connection_id} ({connection.connector_id}) and its credentials?"
            typer.confirm(question, abort=True, err=True)
        return await container.connection_actions.disconnect(principal, connection_id)

    done = run_with_container(work)
    if as_json:
        print_json(
            RevocationOut(
                revocation_time=done.revocation_time, service_revocation_status=done.service_revocation_status
            )
        )
        return
    say(f"deleted connection {connection_id} (revocation at the provider: {done.service_revocation_status})")


@app.command("test")
def check_connection(
    tenant: TenantOption, connection_id: ConnectionArgument, as_json: JsonOption = False
) -> None:
    """Check that a connection's credentials work, with the connector's verification request (refreshing
    an expiring token first); exits 1 when they do not."""

    async def work(container: Container) -> Verdict:
        principal = await tenant_principal(container, tenant)
        return await container.connection_actions.test(principal, connection_id)

    verdict = run_with_container(work)
    if as_json:
        print_json(
            TestResult(
                success=verdict.success,
                error=verdict.error,
                code=verdict.code,
                status=verdict.status,
                account_id=verdict.account_id,
            )
        )
    elif verdict.success:
        account = f" (account {verdict.account_id})" if verdict.account_id else ""
        say(f"connection {connection_id} works{account}")
    else:
        code = f" [{verdict.code}]" if verdict.code else ""
        say(f"connection {connection_id} failed{code}: {verdict.error}")
    if not verdict.success:
        raise typer.Exit(1)


async def _integration_keys(container: Container, principal: Principal) -> dict[str, str]:
    """Integration id -> key, to show keys rather than ids."""
    return {i.id: i.key for i in await container.integrations.list_integrations(principal)}


def _pairs(values: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value}" for key, value in values.items())
