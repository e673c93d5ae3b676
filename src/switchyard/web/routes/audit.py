"""The audit log: every attempt to open one of the tenant's vault values, newest first, 50 a page."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response

from switchyard.api.deps import ContainerDep
from switchyard.services.audit import OUTCOMES
from switchyard.web.guard import ConsoleRoute, SignedDep
from switchyard.web.templating import render

router = APIRouter(prefix="/console/audit", route_class=ConsoleRoute, include_in_schema=False)
PAGE = 50


@router.get("")
async def audit_page(
    request: Request,
    container: ContainerDep,
    signed: SignedDep,
    before: Annotated[str, Query(max_length=64)] = "",
    outcome: Annotated[str, Query(max_length=16)] = "",
    actor: Annotated[str, Query(max_length=128)] = "",
) -> Response:
    actor = actor.strip()
    records = await container.audit.access_log(
        signed.principal, before=before, limit=PAGE, outcome=outcome, actor=actor
    )
    filters = {key: value for key, value in (("outcome", outcome), ("actor", actor)) if value}
    older = f"?{urlencode({**filters, 'before': records.next_cursor})}" if records.next_cursor else None
    context = {
        "title": "Audit log",
        "section": "audit",
        "signed": signed,
        "records": records.items,
        "older": older,
        "outcomes": OUTCOMES,
        "chosen": {"outcome": outcome, "actor": actor, "paged": bool(before)},
    }
    return render(request, "console/audit.html", context)
