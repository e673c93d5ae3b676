"""Settings: the tenant, its console users, changing one's password, and the server's non-secret settings
(``services/server_facts.py`` decides what of the configuration may be shown)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import RedirectResponse

from switchyard.api.deps import ContainerDep
from switchyard.core.errors import InvalidInput, RateLimited, SwitchyardError
from switchyard.services.console_accounts import Signed
from switchyard.services.container import Container
from switchyard.services.server_facts import server_facts
from switchyard.web.guard import ConsoleRoute, SignedDep
from switchyard.web.templating import render

router = APIRouter(prefix="/console/settings", route_class=ConsoleRoute, include_in_schema=False)


async def _page(
    request: Request,
    container: Container,
    signed: Signed,
    *,
    changed: bool = False,
    error: SwitchyardError | None = None,
    status: int = 200,
) -> Response:
    tenant_id = signed.principal.tenant_id
    context = {
        "title": "Settings",
        "section": "settings",
        "signed": signed,
        "tenant": await container.tenancy.get_tenant(tenant_id),
        "users": await container.console.list_users(tenant_id),
        "facts": server_facts(container.settings),
        "changed": changed,
        "error": error,
    }
    return render(request, "console/settings.html", context, status=status)


@router.get("")
async def settings_page(
    request: Request, container: ContainerDep, signed: SignedDep, changed: Annotated[str, Query()] = ""
) -> Response:
    return await _page(request, container, signed, changed=changed == "password")


@router.post("/password")
async def change_password(
    request: Request,
    container: ContainerDep,
    signed: SignedDep,
    current: Annotated[str, Form()] = "",
    new: Annotated[str, Form()] = "",
    confirm: Annotated[str, Form()] = "",
) -> Response:
    try:
        if new != confirm:
            raise InvalidInput(
                "the new password and its confirmation differ",
                code="console.password_mismatch",
                remediation="Type the same new password twice.",
            )
        await container.console.change_password(signed, current, new)
    except InvalidInput as exc:  # a wrong or weak password: the form is shown again with the reason
        return await _page(request, container, signed, error=exc, status=400)
    except RateLimited as exc:
        return await _page(request, container, signed, error=exc, status=exc.status)
    return RedirectResponse("/console/settings?changed=password", status_code=303)
