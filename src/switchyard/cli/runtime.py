"""What every operator command shares: settings, a started container, and the principal the CLI acts as.

Operator commands work directly on the database through the services container, as the actor ``cli``
holding every scope. In single-node mode (SQLite) starting the container upgrades the schema; otherwise
it refuses an outdated schema and points at ``switchyard db upgrade``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from pydantic import ValidationError

from switchyard import logs
from switchyard.core.errors import ConfigurationError
from switchyard.core.models import Page, Principal
from switchyard.core.scopes import Scope
from switchyard.services.container import Container, build
from switchyard.settings import Settings

T = TypeVar("T")

CLI_ACTOR = "cli"


def load_settings() -> Settings:
    """Settings from the environment; a bad value is a configuration error, not a validation trace."""
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "SWITCHYARD_" + "_".join(str(part) for part in first["loc"]).upper()
        raise ConfigurationError(
            f"invalid setting {name}: {first['msg']}",
            code="config.invalid",
            remediation=f"Fix or unset {name}.",
        ) from None


def configure_logging(settings: Settings, *, serving: bool = False) -> None:
    """Logs go to stderr; short operator commands only show warnings unless DEBUG is asked for."""
    level = settings.log_level if serving or settings.log_level == "DEBUG" else "WARNING"
    logs.configure(level, settings.log_format.value)


def run_with_container(
    work: Callable[[Container], Awaitable[T]],
    *,
    settings: Settings | None = None,
    start: bool = True,
    serving: bool = False,
) -> T:
    """Build the container, start it (unless ``start`` is false), run ``work`` on it, always close it."""
    resolved = settings or load_settings()
    configure_logging(resolved, serving=serving)

    async def session() -> T:
        container = build(resolved)
        try:
            if start:
                await container.start(upgrade=resolved.auto_migrate)
            return await work(container)
        finally:
            await container.close()

    return asyncio.run(session())


def cli_principal(tenant_id: str) -> Principal:
    return Principal(tenant_id=tenant_id, actor=CLI_ACTOR, scopes=frozenset(scope.value for scope in Scope))


async def tenant_principal(container: Container, tenant: str) -> Principal:
    """The CLI principal inside the tenant named (or identified) by ``tenant``."""
    found = await container.tenancy.find_tenant(tenant)
    return cli_principal(found.id)


async def every_page(fetch: Callable[[str | None], Awaitable[Page[T]]]) -> list[T]:
    """Every item of a keyset-paginated listing: ``fetch(cursor)`` until there is no next cursor."""
    items: list[T] = []
    cursor: str | None = None
    while True:
        page = await fetch(cursor)
        items.extend(page.items)
        if page.next_cursor is None:
            return items
        cursor = page.next_cursor
