"""The tenant's secrets: list and create, and per secret its versions, access log, rotation and deletion.

A value goes in through a password field and never comes back out: pages show only the masks the
secrets service computes.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import RedirectResponse

from switchyard.api.deps import ContainerDep
from switchyard.core.errors import Conflict, InvalidInput, PayloadTooLarge, SwitchyardError
from switchyard.core.secrets import SecretType
from switchyard.services.console_accounts import Signed
from switchyard.services.container import Container
from switchyard.services.secrets import SecretChanges
from switchyard.web.guard import ConsoleRoute, SignedDep
from switchyard.web.templating import render

router = APIRouter(prefix="/console/secrets", route_class=ConsoleRoute, include_in_schema=False)
PAGE = 50
TYPES = tuple(t.value for t in SecretType)
SHOWN = (InvalidInput, Conflict, PayloadTooLarge)  # refusals shown in the page next to the form


def _secret_path(name: str) -> str:
    return f"/console/secrets/{quote(name, safe='')}"


async def _list_page(
    request: Request,
    container: Container,
    signed: Signed,
    *,
    after: str = "",
    error: SwitchyardError | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    listed = await container.secrets.list_secrets(signed.principal, after=after or None, limit=PAGE)
    context = {
        "title": "Secrets",
        "section": "secrets",
        "signed": signed,
        "secrets": listed.items,
        "next_cursor": listed.next_cursor,
        "types": TYPES,
        "error": error,
        "form": form or {"name": "", "type": SecretType.GENERIC.value, "description": ""},
    }
    return render(request, "console/secrets.html", context, status=status)


async def _detail_page(
    request: Request,
    container: Container,
    signed: Signed,
    name: str,
    *,
    before: str = "",
    error: SwitchyardError | None = None,
    status: int = 200,
) -> Response:
    view = await container.secrets.get(signed.principal, name)
    _, versions = await container.secrets.versions(signed.principal, name)
    log = await container.secrets.access_log(signed.principal, name, before=before or None, limit=PAGE)
    context = {
        "title": f"Secret {view.secret.name}",
        "section": "secrets",
        "signed": signed,
        "view": view,
        "path": _secret_path(view.secret.name),
        "versions": sorted(versions, key=lambda v: v.version, reverse=True),
        "log": log,
        "error": error,
    }
    return render(request, "console/secret.html", context, status=status)


@router.get("")
async def secrets_page(
    request: Request,
    container: ContainerDep,
    signed: SignedDep,
    after: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    return await _list_page(request, container, signed, after=after)


@router.post("")
async def create_secret(
    request: Request,
    container: ContainerDep,
    signed: SignedDep,
    name: Annotated[str, Form()] = "",
    value: Annotated[str, Form()] = "",
    type: Annotated[str, Form()] = SecretType.GENERIC.value,
    description: Annotated[str, Form()] = "",
) -> Response:
    name = name.strip()
    try:
        await container.secrets.create(
            signed.principal,
            name=name,
            value=value,
            type=type or SecretType.GENERIC.value,
            description=description.strip() or None,
        )
    except SHOWN as exc:
        form = {"name": name, "type": type, "description": description}
        return await _list_page(request, container, signed, error=exc, form=form, status=exc.status)
    return RedirectResponse(_secret_path(name), status_code=303)


@router.get("/{name}")
async def secret_page(
    request: Request,
    name: str,
    container: ContainerDep,
    signed: SignedDep,
    before: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    return await _detail_page(request, container, signed, name, before=before)


@router.post("/{name}/rotate")
async def rotate_secret(
    request: Request,
    name: str,
    container: ContainerDep,
    signed: SignedDep,
    value: Annotated[str, Form()] = "",
) -> Response:
    try:
        await container.secrets.update(signed.principal, name, SecretChanges(fields=frozenset(), value=value))
    except SHOWN as exc:
        return await _detail_page(request, container, signed, name, error=exc, status=exc.status)
    return RedirectResponse(_secret_path(name), status_code=303)


@router.post("/{name}/delete")
async def delete_secret(name: str, container: ContainerDep, signed: SignedDep) -> Response:
    await container.secrets.delete(signed.principal, name)
    return RedirectResponse("/console/secrets", status_code=303)
