"""Console test helpers: an https client over the app (so Secure cookies are kept) and signing in."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx2
import pytest

from switchyard.api.app import create_app
from switchyard.services.container import Container
from tests.conftest import TenantFixture

OPERATOR_PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_CSRF_META = re.compile(r'name="csrf-token" content="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token a page embeds (in a form field, or the meta tag the scripts read)."""
    found = _CSRF.search(html) or _CSRF_META.search(html)
    assert found, "the page carries no CSRF token"
    return found.group(1)


def operator_email(tenant: TenantFixture) -> str:
    """Console emails are unique over the whole database, which tests share: one per tenant."""
    return f"ops@{tenant.name}.example.com"


@dataclass
class Console:
    client: httpx2.AsyncClient
    container: Container
    tenant: TenantFixture

    @property
    def email(self) -> str:
        return operator_email(self.tenant)

    async def csrf(self, path: str = "/console/login") -> str:
        return csrf_of((await self.client.get(path)).text)

    async def post_form(self, path: str, data: dict[str, str], *, page: str | None = None) -> httpx2.Response:
        """POST a form with the CSRF token of ``page`` (default: ``path`` itself, read with GET)."""
        token = await self.csrf(page or path)
        return await self.client.post(path, data={"csrf_token": token, **data})


async def sign_in(client: httpx2.AsyncClient, email: str, password: str) -> httpx2.Response:
    token = csrf_of((await client.get("/console/login")).text)
    return await client.post(
        "/console/login", data={"csrf_token": token, "email": email, "password": password}
    )


def console_client(container: Container) -> httpx2.AsyncClient:
    app = create_app(container=container)
    return httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="https://testserver")


@pytest.fixture
async def signed_out(container: Container, tenant: TenantFixture) -> AsyncIterator[Console]:
    """A browser-like client with no session yet, and an operator account in ``tenant``."""
    await container.console.create_user(tenant.id, operator_email(tenant), OPERATOR_PASSWORD)
    async with console_client(container) as client:
        yield Console(client, container, tenant)


@pytest.fixture
async def console(signed_out: Console) -> Console:
    """Signed in as the operator."""
    answer = await sign_in(signed_out.client, signed_out.email, OPERATOR_PASSWORD)
    assert answer.status_code == 303, answer.text
    return signed_out
