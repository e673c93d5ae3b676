"""Integrations: a tenant's configured connectors, and the form that creates one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import RedirectResponse

from switchyard.api.deps import ContainerDep
from switchyard.core.errors import SwitchyardError
from switchyard.services.integrations import PROVIDERS, IntegrationSpec
from switchyard.web.guard import ConsoleRoute, SignedDep
from switchyard.web.templating import render

router = APIRouter(prefix="/console/integrations", route_class=ConsoleRoute, include_in_schema=False)

PROVIDER_HELP = {
    "builtin": "Switchyard runs the OAuth flow with your OAuth app's client id and secret.",
    "direct": "End users type in their own API key or password; no OAuth app is needed.",
    "nango": "A Nango server you run holds the connections; Switchyard proxies through it.",
}


@router.get("")
async def integrations(request: Request, container: ContainerDep, signed: SignedDep) -> Response:
    found = await container.integrations.list_integrations(signed.principal)
    context = {"title": "Integrations", "section": "integrations", "signed": signed, "integrations": found}
    return render(request, "console/integrations.html", context)


@router.get("/new")
async def new_integration(
    request: Request, container: ContainerDep, signed: SignedDep, connector: Annotated[str, Query()] = ""
) -> Response:
    return await _form(request, container, signed, {"connector_id": connector}, error=None)


@router.post("")
async def create_integration(
    request: Request,
    container: ContainerDep,
    signed: SignedDep,
    key: Annotated[str, Form()] = "",
    connector_id: Annotated[str, Form()] = "",
    auth_provider: Annotated[str, Form()] = "builtin",
    auth_type: Annotated[str, Form()] = "",
    client_id: Annotated[str, Form()] = "",
    client_secret: Annotated[str, Form()] = "",
    client_secret_ref: Annotated[str, Form()] = "",
    scopes: Annotated[str, Form()] = "",
) -> Response:
    spec = IntegrationSpec(
        fields=frozenset(
            {"key", "connector_id", "auth_provider"}
            | _given(auth_type, client_id, client_secret, client_secret_ref, scopes)
        ),
        key=key.strip() or connector_id,
        connector_id=connector_id,
        auth_provider=auth_provider,
        auth_type=auth_type or None,
        client_id=client_id.strip() or None,
        client_secret=client_secret or None,
        client_secret_ref=client_secret_ref.strip() or None,
        scopes=scopes.split() or None,
    )
    try:
        created = await container.integrations.create(signed.principal, spec)
    except SwitchyardError as exc:
        shown = {  # the client secret is never sent back
            "key": key,
            "connector_id": connector_id,
            "auth_provider": auth_provider,
            "auth_type": auth_type,
            "client_id": client_id,
            "client_secret_ref": client_secret_ref,
            "scopes": scopes,
        }
        return await _form(request, container, signed, shown, error=exc)
    return RedirectResponse(f"/console/integrations#{created.key}", status_code=303)


@router.post("/{key}/delete")
async def delete_integration(key: str, container: ContainerDep, signed: SignedDep) -> Response:
    await container.integrations.delete(signed.principal, key)
    return RedirectResponse("/console/integrations", status_code=303)


def _given(auth_type: str, client_id: str, secret: str, secret_ref: str, scopes: str) -> set[str]:
    """The optional fields the form filled in (an empty one leaves the service's default)."""
    named = {
        "auth_type": auth_type,
        "client_id": client_id.strip(),
        "client_secret": secret,
        "client_secret_ref": secret_ref.strip(),
        "scopes": scopes.strip(),
    }
    return {name for name, value in named.items() if value}


async def _form(
    request: Request,
    container: ContainerDep,
    signed: SignedDep,
    values: dict[str, str],
    *,
    error: SwitchyardError | None,
) -> Response:
    entries = await container.catalog.list(signed.principal.tenant_id)
    definitions = {entry.definition.name: entry.definition for entry in entries}
    chosen = definitions.get(str(values.get("connector_id") or ""))
    context = {
        "title": "New integration",
        "section": "integrations",
        "signed": signed,
        "definitions": list(definitions.values()),
        "chosen": chosen,
        "auth_types": chosen.auth_types() if chosen else [],
        "providers": [(name, PROVIDER_HELP[name]) for name in PROVIDERS],
        "values": values,
        "error": error,
    }
    return render(request, "console/integration_new.html", context, status=error.status if error else 200)
