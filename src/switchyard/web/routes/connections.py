"""Connections: status, use, errors with their remediation, the live test, metadata and disconnecting."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import RedirectResponse

from switchyard.api.deps import ContainerDep
from switchyard.core.errors import InvalidInput
from switchyard.services.connections import ConnectionFilter
from switchyard.services.verify import Verdict
from switchyard.web.guard import ConsoleRoute, SignedDep, json_ok, wants_json
from switchyard.web.templating import render

router = APIRouter(prefix="/console/connections", route_class=ConsoleRoute, include_in_schema=False)
STATUSES = ("active", "error", "revoking")
PAGE_SIZE = 50


@router.get("")
async def connections(
    request: Request,
    container: ContainerDep,
    signed: SignedDep,
    status: Annotated[str, Query(max_length=20)] = "",
    after: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    where = ConnectionFilter(status=status if status in STATUSES else None)
    found = await container.connection_views.page(
        signed.principal, where, after=after or None, limit=PAGE_SIZE
    )
    context = {
        "title": "Connections",
        "section": "connections",
        "signed": signed,
        "views": found.items,
        "next_cursor": found.next_cursor,
        "statuses": STATUSES,
        "status": status,
    }
    return render(request, "console/connections.html", context)


@router.get("/{connection_id}")
async def connection(
    request: Request, connection_id: str, container: ContainerDep, signed: SignedDep
) -> Response:
    return await _detail(request, container, signed, connection_id)


@router.post("/{connection_id}/test")
async def test_connection(
    request: Request, connection_id: str, container: ContainerDep, signed: SignedDep
) -> Response:
    verdict = await container.connection_actions.test(signed.principal, connection_id)
    if wants_json(request):
        return json_ok(_verdict(verdict))
    return await _detail(request, container, signed, connection_id, verdict=_verdict(verdict))


@router.post("/{connection_id}/metadata")
async def set_metadata(
    request: Request,
    connection_id: str,
    container: ContainerDep,
    signed: SignedDep,
    metadata: Annotated[str, Form()] = "{}",
) -> Response:
    try:
        parsed = json.loads(metadata or "{}")
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        error = InvalidInput("metadata must be a JSON object", code="connection.invalid_metadata")
        return await _detail(request, container, signed, connection_id, error=error, draft=metadata)
    await container.connections.annotate(signed.principal, connection_id, metadata=parsed)
    return RedirectResponse(f"/console/connections/{connection_id}", status_code=303)


@router.post("/{connection_id}/disconnect")
async def disconnect(connection_id: str, container: ContainerDep, signed: SignedDep) -> Response:
    await container.connection_actions.disconnect(signed.principal, connection_id)
    return RedirectResponse("/console/connections", status_code=303)


def _verdict(verdict: Verdict) -> dict[str, object]:
    detail = (
        "The provider accepted the credentials."
        if verdict.success
        else verdict.error or "The provider refused the credentials."
    )
    return {
        "ok": verdict.success,
        "detail": detail,
        "code": verdict.code,
        "status": verdict.status,
        "account_id": verdict.account_id,
    }


async def _detail(
    request: Request,
    container: ContainerDep,
    signed: SignedDep,
    connection_id: str,
    *,
    verdict: dict[str, object] | None = None,
    error: InvalidInput | None = None,
    draft: str | None = None,
) -> Response:
    view = await container.connection_views.get(signed.principal, connection_id)
    metadata = json.dumps(view.connection.metadata, indent=2, sort_keys=True)
    context = {
        "title": f"Connection {view.connection.id}",
        "section": "connections",
        "signed": signed,
        "view": view,
        "c": view.connection,
        "metadata": draft if draft is not None else metadata,
        "verdict": verdict,
        "error": error,
    }
    return render(request, "console/connection.html", context, status=error.status if error else 200)
