"""Settings: the tenant, its console users, changing one's password, and the server's non-secret settings.

Only kinds are shown of what may hold credentials: the database engine (never its URL), the credential
store kind, and the package storage's scheme.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import RedirectResponse

from switchyard import __version__
from switchyard.api.deps import ContainerDep
from switchyard.core.errors import InvalidInput, RateLimited, SwitchyardError
from switchyard.services.console_accounts import Signed
from switchyard.services.container import Container
from switchyard.settings import Settings
from switchyard.web.guard import ConsoleRoute, SignedDep
from switchyard.web.templating import render

router = APIRouter(prefix="/console/settings", route_class=ConsoleRoute, include_in_schema=False)


def _database_kind(settings: Settings) -> str:
    scheme = settings.resolved_database_url.split(":", 1)[0].split("+", 1)[0].lower()
    return {"sqlite": "SQLite", "postgresql": "PostgreSQL", "postgres": "PostgreSQL"}.get(scheme, scheme)


def _storage_kind(settings: Settings) -> str:
    where = settings.connectors_storage
    if not where:
        return "directory in the data dir"
    scheme = where.split("://", 1)[0].lower() if "://" in where else ""
    return {"": "directory", "file": "directory"}.get(scheme, scheme)


def _without_credentials(url: str) -> str:
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]).geturl()


def server_facts(settings: Settings) -> list[tuple[str, str]]:
    """What an operator may see of the configuration: no URL that may hold a password, no key."""
    return [
        ("Public base URL", _without_credentials(settings.public_base_url)),
        ("Database", _database_kind(settings)),
        ("Multi-node coordination (Redis)", "on" if settings.redis_url else "off"),
        ("Credential store", settings.credential_store.value),
        ("Master keys from", "environment" if settings.master_key is not None else "key file"),
        ("Connector package storage", _storage_kind(settings)),
        (
            "Sandbox",
            "no isolation (development only)" if settings.sandbox_unsafe_no_isolation else "bubblewrap",
        ),
        ("Largest package", f"{settings.package_max_bytes // 1024} KiB"),
        ("Version", __version__),
    ]


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
