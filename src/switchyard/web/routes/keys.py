"""The tenant's API keys: list, issue (the key is shown once, on the answer to the form) and revoke."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from switchyard.api.deps import ContainerDep
from switchyard.core.apikeys import KEY_PREFIX
from switchyard.core.clock import utcnow
from switchyard.core.errors import Forbidden, InvalidInput, SwitchyardError
from switchyard.core.scopes import Scope, allows
from switchyard.services.console_accounts import Signed
from switchyard.services.container import Container
from switchyard.web.guard import ConsoleRoute, SignedDep
from switchyard.web.templating import render

router = APIRouter(prefix="/console/api-keys", route_class=ConsoleRoute, include_in_schema=False)
EXPIRIES = (("", "Never"), ("30", "30 days"), ("90", "90 days"), ("365", "1 year"))


async def _list_page(
    request: Request,
    container: Container,
    signed: Signed,
    *,
    error: SwitchyardError | None = None,
    form: dict[str, object] | None = None,
    status: int = 200,
) -> Response:
    keys = await container.api_keys.list_keys(signed.principal.tenant_id, signed.principal)
    context = {
        "title": "API keys",
        "section": "api-keys",
        "signed": signed,
        "keys": sorted(keys, key=lambda k: k.created_at, reverse=True),
        # what this user may grant: a key never holds more than its issuer (secrets:reveal is explicit)
        "scopes": [scope.value for scope in Scope if allows(signed.principal.scopes, scope)],
        "expiries": EXPIRIES,
        "key_prefix": KEY_PREFIX,
        "error": error,
        "form": form or {"name": "", "scopes": [Scope.ADMIN.value], "expires": ""},
    }
    return render(request, "console/api_keys.html", context, status=status)


@router.get("")
async def keys_page(request: Request, container: ContainerDep, signed: SignedDep) -> Response:
    return await _list_page(request, container, signed)


@router.post("")
async def issue_key(
    request: Request,
    container: ContainerDep,
    signed: SignedDep,
    name: Annotated[str, Form()] = "",
    scopes: Annotated[list[str] | None, Form()] = None,
    expires: Annotated[str, Form()] = "",
) -> Response:
    chosen = scopes or []
    kept: dict[str, object] = {"name": name, "scopes": chosen, "expires": expires}
    days = int(expires) if expires.isdigit() and 1 <= int(expires) <= 3650 else None
    try:
        if expires and days is None:
            raise InvalidInput("choose when the key expires", code="api_key.invalid_expiry")
        issued = await container.api_keys.issue(
            signed.principal.tenant_id,
            name=name,
            scopes=chosen,
            expires_at=utcnow() + timedelta(days=days) if days else None,
            issued_by=signed.principal,
        )
    except (InvalidInput, Forbidden) as exc:
        return await _list_page(request, container, signed, error=exc, form=kept, status=exc.status)
    context = {"title": "API key created", "section": "api-keys", "signed": signed, "issued": issued}
    return render(request, "console/api_key_created.html", context, status=201)


@router.post("/{key_id}/revoke")
async def revoke_key(key_id: str, container: ContainerDep, signed: SignedDep) -> Response:
    await container.api_keys.revoke(signed.principal.tenant_id, key_id, signed.principal)
    return RedirectResponse("/console/api-keys", status_code=303)
