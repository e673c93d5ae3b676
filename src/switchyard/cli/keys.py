"""``switchyard keys``: tenant API keys (create, list, revoke) and the master keys (see master_keys.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from switchyard.api.schemas import ApiKeyCreated, ApiKeyOut
from switchyard.cli import master_keys
from switchyard.cli.output import JsonOption, TenantOption, print_fields, print_json, print_table, say
from switchyard.cli.runtime import run_with_container, tenant_principal
from switchyard.core.clock import utcnow
from switchyard.core.models import ApiKey
from switchyard.core.scopes import Scope
from switchyard.services.apikeys import NewKey
from switchyard.services.container import Container

app = typer.Typer(
    name="keys",
    help="Tenant API keys, and the master keys that encrypt every stored credential.",
    no_args_is_help=True,
)
app.command("rotate-master")(master_keys.rotate_master)
app.command("status")(master_keys.status)
app.command("prune")(master_keys.prune)

_KNOWN_SCOPES = ", ".join(scope.value for scope in Scope)


def created_key_view(issued: NewKey) -> ApiKeyCreated:
    """The JSON shape of a new key, plaintext included (the API returns the same)."""
    return ApiKeyCreated.of_new(issued)


@app.command()
def create(
    tenant: TenantOption,
    name: Annotated[
        str, typer.Option("--name", "-n", metavar="NAME", help="What the key is for, 1-128 characters.")
    ],
    scopes: Annotated[
        list[str],
        typer.Option(
            "--scope", "-s", metavar="SCOPE", help=f"A scope to grant; repeat for more. {_KNOWN_SCOPES}."
        ),
    ],
    expires_in_days: Annotated[
        int | None, typer.Option(min=1, help="Expire the key after this many days (default: never).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Issue an API key for a tenant. The key is shown only once."""
    expires_at = utcnow() + timedelta(days=expires_in_days) if expires_in_days else None

    async def work(container: Container) -> NewKey:
        principal = await tenant_principal(container, tenant)
        return await container.api_keys.issue(
            principal.tenant_id, name=name, scopes=scopes, expires_at=expires_at
        )

    issued = run_with_container(work)
    if as_json:
        print_json(created_key_view(issued))
        return
    key = issued.key
    print_fields(
        [("key id", key.id), ("name", key.name), ("scopes", key.scopes), ("expires", key.expires_at)]
    )
    say(f"key: {issued.plaintext}")
    say("This key is shown only once: store it now.")


@app.command("list")
def list_keys(tenant: TenantOption, as_json: JsonOption = False) -> None:
    """List a tenant's API keys (their public prefix only; keys cannot be shown again)."""

    async def work(container: Container) -> list[ApiKey]:
        principal = await tenant_principal(container, tenant)
        return await container.api_keys.list_keys(principal.tenant_id)

    keys = run_with_container(work)
    if as_json:
        print_json({"api_keys": [ApiKeyOut.of(key) for key in keys]})
        return
    print_table(
        ["ID", "NAME", "PREFIX", "SCOPES", "CREATED", "LAST USED", "EXPIRES", "REVOKED"],
        (
            [
                k.id,
                k.name,
                f"syk_{k.lookup}",
                k.scopes,
                k.created_at,
                k.last_used_at,
                k.expires_at,
                k.revoked_at,
            ]
            for k in keys
        ),
        empty="no API keys",
    )


@app.command()
def revoke(
    tenant: TenantOption,
    key_id: Annotated[
        str, typer.Argument(metavar="KEY_ID", help="The key's id (key_...), as keys list shows it.")
    ],
) -> None:
    """Revoke an API key: it stops authenticating at once. Revoking twice is harmless."""

    async def work(container: Container) -> None:
        principal = await tenant_principal(container, tenant)
        await container.api_keys.revoke(principal.tenant_id, key_id)

    run_with_container(work)
    say(f"revoked {key_id}")
