"""FastAPI dependencies: the container, and the principal behind the request's API key."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from switchyard.core.models import Principal
from switchyard.services.container import Container


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def get_principal(
    request: Request, container: Annotated[Container, Depends(get_container)]
) -> Principal:
    return await container.api_keys.authenticate(bearer(request))


ContainerDep = Annotated[Container, Depends(get_container)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
