"""``switchyard integrations``: a tenant's configurations of connectors (OAuth client, scopes, provider).

A client secret is never a command-line value (shell history, process lists): it is read from stdin, or
named as a reference to a tenant secret. It is only ever shown masked.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Literal

import typer

from switchyard.api.catalog_schemas import IntegrationList, IntegrationOut
from switchyard.cli.output import (
    JsonOption,
    TenantOption,
    YesOption,
    print_fields,
    print_json,
    print_table,
    read_hidden,
    require_confirmation,
    say,
)
from switchyard.cli.runtime import run_with_container, tenant_principal
from switchyard.core.models import Integration
from switchyard.services.container import Container
from switchyard.services.integrations import IntegrationSpec

app = typer.Typer(
    name="integrations",
    help="A tenant's integrations: which connector, auth provider and OAuth client its end users connect with.",
    no_args_is_help=True,
)

KeyArgument = Annotated[
    str,
    typer.Argument(
        metavar="KEY", help="The integration's key, unique per tenant (e.g. github-prod).", show_default=False
    ),
]


@app.command()
def create(
    tenant: TenantOption,
    key: KeyArgument,
    connector: Annotated[
        str,
        typer.Option("--connector", metavar="ID", help="The connector id (see: switchyard connectors list)."),
    ],
    auth_provider: Annotated[
        Literal["builtin", "direct", "nango"],
        typer.Option(
            help="builtin: Switchyard runs OAuth itself; direct: API keys, basic auth and app passwords, "
            "checked live; nango: a Nango server runs the flow."
        ),
    ] = "builtin",
    auth_type: Annotated[
        str | None,
        typer.Option(
            metavar="TYPE", help="The connector's auth method, e.g. oauth2 or api_key (default: its first)."
        ),
    ] = None,
    client_id: Annotated[str | None, typer.Option(metavar="ID", help="The OAuth client id.")] = None,
    client_secret_stdin: Annotated[
        bool,
        typer.Option(
            "--client-secret-stdin",
            help="Read the OAuth client secret from stdin (asked for without echo on a terminal); it is "
            "sealed in the vault.",
        ),
    ] = False,
    client_secret_ref: Annotated[
        str | None,
        typer.Option(
            metavar="SECRET_NAME", help="Use the tenant secret of this name as the OAuth client secret."
        ),
    ] = None,
    scopes: Annotated[
        list[str] | None,
        typer.Option(
            "--scope",
            "-s",
            metavar="SCOPE",
            help="A scope to request; repeat for more (default: the connector's default scopes).",
        ),
    ] = None,
    redirect_url: Annotated[
        str | None,
        typer.Option(
            metavar="URL",
            help="Where the provider sends the browser back (default: SWITCHYARD_PUBLIC_BASE_URL/oauth/callback).",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Configure a connector for a tenant under a new key. OAuth needs --client-id and a client secret
    (--client-secret-stdin or --client-secret-ref)."""
    if client_secret_stdin and client_secret_ref is not None:
        raise typer.BadParameter("give either --client-secret-stdin or --client-secret-ref, not both")
    client_secret = read_hidden(f"Client secret of {key}") if client_secret_stdin else None
    draft = IntegrationSpec(
        fields=frozenset(),
        key=key,
        connector_id=connector,
        auth_provider=auth_provider,
        auth_type=auth_type,
        client_id=client_id,
        client_secret=client_secret,
        client_secret_ref=client_secret_ref,
        scopes=scopes,
        redirect_url=redirect_url,
    )
    given = {f.name for f in dataclasses.fields(draft) if getattr(draft, f.name) is not None}
    spec = dataclasses.replace(draft, fields=frozenset(given - {"fields"}))

    async def work(container: Container) -> Integration:
        principal = await tenant_principal(container, tenant)
        return await container.integrations.create(principal, spec)

    integration = run_with_container(work)
    if as_json:
        print_json(IntegrationOut.of(integration))
        return
    say(f"created integration {key}")
    _print_integration(integration)


@app.command("list")
def list_integrations(
    tenant: TenantOption,
    connector: Annotated[
        str | None, typer.Option("--connector", metavar="ID", help="Only this connector's.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List a tenant's integrations, client secrets masked."""

    async def work(container: Container) -> list[Integration]:
        principal = await tenant_principal(container, tenant)
        return await container.integrations.list_integrations(principal, connector_id=connector)

    integrations = run_with_container(work)
    if as_json:
        print_json(IntegrationList(integrations=[IntegrationOut.of(i) for i in integrations]))
        return
    print_table(
        ["KEY", "CONNECTOR", "PROVIDER", "AUTH", "CLIENT ID", "CLIENT SECRET", "SCOPES", "CREATED"],
        (
            [
                i.key,
                i.connector_id,
                i.auth_provider,
                i.auth_type,
                i.client_id,
                _secret(i),
                " ".join(i.scopes) or None,
                i.created_at,
            ]
            for i in integrations
        ),
        empty="no integrations; create one with: switchyard integrations create",
    )


@app.command()
def show(tenant: TenantOption, key: KeyArgument, as_json: JsonOption = False) -> None:
    """Show one integration; the client secret is masked."""

    async def work(container: Container) -> Integration:
        principal = await tenant_principal(container, tenant)
        return await container.integrations.get(principal, key)

    integration = run_with_container(work)
    if as_json:
        print_json(IntegrationOut.of(integration))
    else:
        _print_integration(integration)


@app.command()
def delete(tenant: TenantOption, key: KeyArgument, yes: YesOption = False) -> None:
    """Delete an integration and its sealed client secret. Asks first unless --yes; without a terminal to
    ask on, --yes is required."""
    require_confirmation(yes, "delete", f"integration {key!r}")

    async def work(container: Container) -> None:
        principal = await tenant_principal(container, tenant)
        found = await container.integrations.get(principal, key)
        if not yes:
            typer.confirm(f"Delete integration {key!r} ({found.connector_id})?", abort=True, err=True)
        await container.integrations.delete(principal, key)

    run_with_container(work)
    say(f"deleted integration {key}")


def _secret(integration: Integration) -> str | None:
    if integration.client_secret_ref:
        return f"secret {integration.client_secret_ref}"
    if integration.client_secret_masked:
        return f"{integration.client_secret_masked} (masked)"
    return None


def _print_integration(integration: Integration) -> None:
    i = integration
    print_fields(
        [
            ("key", i.key),
            ("connector", i.connector_id),
            ("auth provider", i.auth_provider),
            ("auth type", i.auth_type),
            ("client id", i.client_id),
            ("client secret", _secret(i)),
            ("scopes", " ".join(i.scopes) or None),
            ("redirect url", i.redirect_url),
            ("created", i.created_at),
            ("updated", i.updated_at),
            ("id", i.id),
        ]
    )
