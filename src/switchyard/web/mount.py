"""Adds the console, the hosted connect page and their assets to the application."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from switchyard.web.routes import (
    audit,
    auth,
    connect,
    connections,
    connectors,
    integrations,
    keys,
    packages,
    secrets,
    settings,
)
from switchyard.web.templating import ASSETS_PATH

ROUTERS = (auth, connectors, integrations, connections, secrets, packages, keys, audit, settings, connect)

#: Console paths that take package uploads, and so the larger body limit.
UPLOAD_PREFIXES = (packages.router.prefix,)


def install(app: FastAPI) -> None:
    app.mount(ASSETS_PATH, StaticFiles(packages=[("switchyard.web", "static")]), name="assets")
    for module in ROUTERS:
        app.include_router(module.router)
