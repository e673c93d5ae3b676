"""``switchyard tenants``: create and list tenants (workspaces)."""

from __future__ import annotations

from typing import Annotated

import typer

from switchyard.api.schemas import ApiKeyCreated, TenantOut
from switchyard.cli.output import JsonOption, print_fields, print_json, print_table, say
from switchyard.cli.runtime import run_with_container
from switchyard.core.models import Tenant
from switchyard.core.scopes import Scope
from switchyard.services.apikeys import NewKey
from switchyard.services.container import Container

app = typer.Typer(name="tenants", help="Create and list tenants.", no_args_is_help=True)

ADMIN_KEY_NAME = "admin"


@app.command()
def create(
    name: Annotated[str, typer.Argument(metavar="NAME", help="1-63 lowercase letters, digits and '-'.")],
    as_json: JsonOption = False,
) -> None:
    """Create a tenant and its first API key (named "admin", scope admin). The key is shown only once."""

    async def work(container: Container) -> tuple[Tenant, NewKey]:
        tenant = await container.tenancy.create_tenant(name)
        issued = await container.api_keys.issue(tenant.id, name=ADMIN_KEY_NAME, scopes=[Scope.ADMIN.value])
        return tenant, issued

    tenant, issued = run_with_container(work)
    if as_json:
        created = ApiKeyCreated.of_new(issued)
        print_json({"tenant": TenantOut.model_validate(tenant), "api_key": created})
        return
    print_fields([("tenant", tenant.name), ("tenant id", tenant.id), ("admin key id", issued.key.id)])
    say(f"admin key: {issued.plaintext}")
    say("This key is shown only once: store it now.")


@app.command("list")
def list_tenants(as_json: JsonOption = False) -> None:
    """List every tenant."""

    async def work(container: Container) -> list[Tenant]:
        return await container.tenancy.list_tenants()

    tenants = run_with_container(work)
    if as_json:
        print_json({"tenants": [TenantOut.model_validate(tenant) for tenant in tenants]})
        return
    print_table(
        ["ID", "NAME", "CREATED"],
        ([t.id, t.name, t.created_at] for t in tenants),
        empty="no tenants yet; create one with: switchyard tenants create NAME",
    )
