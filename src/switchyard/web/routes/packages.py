"""Connector packages: list and upload, and per package its versions, roll back and delete.

An upload is a multipart form. The console's script sends it with ``Accept: application/json`` and gets
``{"location": ...}`` or a problem document whose ``problems`` lists what is wrong, one line each; a plain
form post is redirected to the package, or the packages page is shown again with the problems in it.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Request, Response, UploadFile
from fastapi.responses import JSONResponse, RedirectResponse

from switchyard.api import problems
from switchyard.api.deps import ContainerDep
from switchyard.core.errors import InvalidInput, SwitchyardError
from switchyard.services.console_accounts import Signed
from switchyard.services.container import Container
from switchyard.web.guard import ConsoleRoute, SignedDep, json_ok, wants_json
from switchyard.web.templating import render

router = APIRouter(prefix="/console/packages", route_class=ConsoleRoute, include_in_schema=False)


def _package_path(name: str) -> str:
    return f"/console/packages/{quote(name, safe='')}"


def problem_lines(exc: SwitchyardError) -> list[str]:
    """The validation problems an error carries (``extra["problems"]``), one readable line each."""
    lines = []
    for item in exc.extra.get("problems") or []:
        if isinstance(item, dict):
            where = str(item.get("path") or "manifest.json")
            line = item.get("line")
            at = f" (line {line})" if line else ""
            lines.append(f"{where}{at}: {item.get('message', '')}")
        else:
            lines.append(str(item))
    return lines


def _refused_json(exc: SwitchyardError) -> JSONResponse:
    extra: dict[str, Any] = {**exc.extra, "problems": problem_lines(exc)}
    return problems.problem(
        exc.status, exc.code, exc.detail, title=exc.title, remediation=exc.remediation, extra=extra
    )


async def _list_page(
    request: Request,
    container: Container,
    signed: Signed,
    *,
    error: SwitchyardError | None = None,
    status: int = 200,
) -> Response:
    context = {
        "title": "Packages",
        "section": "packages",
        "signed": signed,
        "packages": await container.packages.list(signed.principal.tenant_id),
        "error": error,
        "problems": problem_lines(error) if error else [],
    }
    return render(request, "console/packages.html", context, status=status)


@router.get("")
async def packages_page(request: Request, container: ContainerDep, signed: SignedDep) -> Response:
    return await _list_page(request, container, signed)


@router.post("")
async def upload_package(
    request: Request,
    container: ContainerDep,
    signed: SignedDep,
    file: Annotated[UploadFile | None, File()] = None,
    force: Annotated[str, Form()] = "",
) -> Response:
    try:
        if file is None or not file.filename:
            raise InvalidInput(
                "choose a package file to upload",
                code="package.file_missing",
                remediation="Pick a .zip file.",
            )
        data = await file.read()
        uploaded = await container.packages.upload(
            signed.principal, data, force=force.lower() in {"on", "true", "1", "yes"}
        )
    except SwitchyardError as exc:
        if wants_json(request):
            return _refused_json(exc)
        return await _list_page(request, container, signed, error=exc, status=exc.status)
    location = _package_path(uploaded.view.package.name)
    if wants_json(request):
        return json_ok({"location": location}, status=201)
    return RedirectResponse(location, status_code=303)


@router.get("/{name}")
async def package_page(request: Request, name: str, container: ContainerDep, signed: SignedDep) -> Response:
    view = await container.packages.get(signed.principal.tenant_id, name)
    context = {
        "title": f"Package {view.package.display_name}",
        "section": "packages",
        "signed": signed,
        "view": view,
        "path": _package_path(view.package.name),
    }
    return render(request, "console/package.html", context)


@router.post("/{name}/rollback")
async def rollback(
    name: str, container: ContainerDep, signed: SignedDep, version: Annotated[str, Form()] = ""
) -> Response:
    view = await container.packages.rollback(signed.principal, name, version)
    return RedirectResponse(_package_path(view.package.name), status_code=303)


@router.post("/{name}/delete")
async def delete(name: str, container: ContainerDep, signed: SignedDep) -> Response:
    await container.packages.delete(signed.principal, name)
    return RedirectResponse("/console/packages", status_code=303)
