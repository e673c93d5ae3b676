"""The FastAPI application: routes, error rendering, request context, and the container's lifecycle."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.routing import Route

from switchyard import __version__, logs
from switchyard.api import problems
from switchyard.api.middleware import BodyLimitMiddleware, RequestContextMiddleware
from switchyard.api.routes import (
    actions,
    agent,
    connections,
    connector_auth,
    connectors,
    health,
    integrations,
    mcp,
    mcp_config,
    oauth,
    operate,
    packages,
    proxy,
    secrets,
    tenancy,
)
from switchyard.api.routes.packages import UPLOAD_PREFIXES, package_upload_limit
from switchyard.mcp.http import McpHttpEndpoint
from switchyard.services.container import Container, build
from switchyard.settings import Settings
from switchyard.web import mount as web


def create_app(settings: Settings | None = None, *, container: Container | None = None) -> FastAPI:
    """An app over ``container`` (tests pass one in, already started) or one built from ``settings``."""
    owned = container is None
    resolved = container or build(settings or Settings())
    if (
        not logs.is_configured()
    ):  # an embedding program's own set-up wins; otherwise never structlog's default
        logs.configure(resolved.settings.log_level, resolved.settings.log_format)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if owned:
            await resolved.start(upgrade=resolved.settings.auto_migrate)
        resolved.upkeep.start()  # a serving process keeps tokens fresh (SWITCHYARD_UPKEEP_INTERVAL_SECONDS)
        await resolved.sandbox.start()  # and a warm pool of sandboxes (SWITCHYARD_SANDBOX_WARM_POOL)
        try:
            async with mcp_endpoint.running():  # the MCP sessions of /mcp
                yield
        finally:
            await resolved.upkeep.stop()
            if owned:
                await resolved.close()

    app = FastAPI(
        title="Switchyard",
        version=__version__,
        description="Connect end users' third-party accounts and act on them.",
        lifespan=lifespan,
    )
    app.state.container = resolved
    mcp_endpoint = McpHttpEndpoint(resolved)
    problems.install(app)
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=resolved.settings.max_request_bytes,
        exempt_prefixes=(proxy.router.prefix + "/",),  # the proxy streams and enforces its own limit
        larger=tuple(
            (prefix, package_upload_limit(resolved.settings))
            for prefix in UPLOAD_PREFIXES + web.UPLOAD_PREFIXES
        ),
    )
    app.add_middleware(RequestContextMiddleware)  # outermost: every response, 413 included, gets an id
    app.include_router(health.router)
    app.include_router(tenancy.router)
    app.include_router(secrets.router)
    app.include_router(proxy.router)
    app.include_router(operate.router)
    app.include_router(packages.router)
    app.include_router(packages.apps)
    app.include_router(actions.router)  # before connectors: /{connector_id}/actions is its own route
    app.include_router(connector_auth.router)  # before connectors: /{connector_id}/auth is its own route
    app.include_router(connectors.router)
    app.include_router(integrations.router)
    app.include_router(oauth.router)
    app.include_router(connections.router)
    app.include_router(connections.credentials_router)
    app.include_router(mcp.router)
    app.include_router(mcp.metadata)
    app.router.routes.append(Route("/mcp", mcp_endpoint, methods=["GET", "POST", "DELETE"]))
    app.include_router(agent.router)
    app.include_router(mcp_config.router)
    web.install(app)
    return app
