"""The connectors marketplace (by category, with search and filters) and a connector's detail."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from switchyard.api.deps import ContainerDep
from switchyard.services.catalog import CatalogFilter
from switchyard.services.marketplace import STATUSES
from switchyard.web.guard import ConsoleRoute, SignedDep
from switchyard.web.templating import render

router = APIRouter(prefix="/console/connectors", route_class=ConsoleRoute, include_in_schema=False)
AUTH_TYPES = ("oauth2", "oauth2_client_credentials", "oauth1", "api_key", "basic", "app_password")


@router.get("")
async def marketplace(
    request: Request,
    container: ContainerDep,
    signed: SignedDep,
    q: Annotated[str, Query(max_length=100)] = "",
    category: Annotated[str, Query(max_length=40)] = "",
    auth: Annotated[str, Query(max_length=40)] = "",
    status: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    where = CatalogFilter(category=category or None, q=q.strip() or None, auth=auth or None)
    shelves = await container.marketplace.shelves(
        signed.principal, where, status=status if status in STATUSES else None
    )
    context = {
        "title": "Connectors",
        "section": "connectors",
        "signed": signed,
        "shelves": shelves,
        "count": sum(len(shelf.listings) for shelf in shelves),
        "categories": await container.marketplace.categories(signed.principal),
        "auth_types": AUTH_TYPES,
        "statuses": STATUSES,
        "chosen": {"q": q, "category": category, "auth": auth, "status": status},
    }
    return render(request, "console/connectors.html", context)


@router.get("/{connector_id}")
async def connector(
    request: Request, connector_id: str, container: ContainerDep, signed: SignedDep
) -> Response:
    entry = await container.catalog.get(signed.principal.tenant_id, connector_id)
    integrations = await container.integrations.list_integrations(signed.principal, connector_id=connector_id)
    actions = [
        (action, json.dumps(action.input_schema, indent=2, sort_keys=True))
        for action in entry.definition.actions
    ]
    context = {
        "title": entry.definition.display_name,
        "section": "connectors",
        "signed": signed,
        "entry": entry,
        "definition": entry.definition,
        "actions": actions,
        "integrations": integrations,
    }
    return render(request, "console/connector.html", context)
