"""The official MCP client over streamable HTTP against ``/mcp`` on a real server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx2
from mcp.client.streamable_http import streamable_http_client

from mcp import ClientSession
from switchyard.services.container import Container
from tests.conftest import KEYED_API_KEY, TenantFixture, make_tenant
from tests.mcp.conftest import two_connections
from tests.peers.provider_api import ProviderApiPeer


@asynccontextmanager
async def session(url: str, headers: dict[str, str]) -> AsyncIterator[ClientSession]:
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        streamable_http_client(url + "/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as client,
    ):
        await client.initialize()
        yield client


def mcp_headers(tenant: TenantFixture, end_user: str = "u1") -> dict[str, str]:
    return {**tenant.headers, "End-User-Id": end_user}


async def test_tools_of_two_connections_are_listed_and_called(
    api: httpx2.AsyncClient, tenant: TenantFixture, keyed_api: ProviderApiPeer, served: str
) -> None:
    first, second = await two_connections(api, tenant, keyed_api)
    async with session(served, mcp_headers(tenant)) as client:
        listed = await client.list_tools()
        names = {tool.name for tool in listed.tools}
        suffix = second[-6:].lower()
        assert {"keyed_whoami", "keyed_send", "keyed_broken"} <= names
        assert {f"keyed_whoami_{suffix}", f"keyed_send_{suffix}"} <= names
        assert len(names) == 6
        send = next(tool for tool in listed.tools if tool.name == "keyed_send")
        assert send.input_schema["type"] == "object" and send.input_schema["required"] == ["text", "count"]
        assert first in (send.description or "")

        before = len(keyed_api.request_log)
        result = await client.call_tool("keyed_send", {"text": "hi", "count": 2})
        assert not result.is_error, result
        assert result.structured_content == {"message": {"text": "hi", "n": 2}}
        assert '"text": "hi"' in result.content[0].text  # type: ignore[union-attr]
        assert len(keyed_api.request_log) == before + 1
        assert keyed_api.request_log[-1].auth_kind == "api_key"


async def test_schema_violations_and_upstream_failures_are_tool_errors(
    api: httpx2.AsyncClient, tenant: TenantFixture, keyed_api: ProviderApiPeer, served: str
) -> None:
    await two_connections(api, tenant, keyed_api)
    async with session(served, mcp_headers(tenant)) as client:
        before = len(keyed_api.request_log)
        bad = await client.call_tool("keyed_send", {"count": "two", "surprise": 1})
        assert bad.is_error
        error = (bad.structured_content or {})["error"]
        assert error["code"] == "action.invalid_input"
        assert {e["field"] for e in error["errors"]} == {"text", "count", "surprise"}
        assert "action.invalid_input" in bad.content[0].text and "count" in bad.content[0].text  # type: ignore[union-attr]
        assert len(keyed_api.request_log) == before  # nothing was sent

        failed = await client.call_tool("keyed_broken", {})
        assert failed.is_error
        assert (failed.structured_content or {})["error"]["code"] == "provider.unavailable"

        unknown = await client.call_tool("nope_nothing", {})
        assert unknown.is_error and (unknown.structured_content or {})["error"]["code"] == "tool.not_found"


async def test_another_tenants_end_user_has_no_tools(
    api: httpx2.AsyncClient,
    tenant: TenantFixture,
    container: Container,
    keyed_api: ProviderApiPeer,
    served: str,
) -> None:
    await two_connections(api, tenant, keyed_api)
    other = await make_tenant(container, "mcp")
    async with session(served, mcp_headers(other, "u1")) as client:
        assert (await client.list_tools()).tools == []
        refused = await client.call_tool("keyed_whoami", {})
        assert refused.is_error and (refused.structured_content or {})["error"]["code"] == "tool.not_found"


async def test_a_bad_key_is_a_401_pointing_at_the_resource_metadata(
    served: str, tenant: TenantFixture
) -> None:
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}
    accept = {"Accept": "application/json, text/event-stream", "End-User-Id": "u1"}
    async with httpx2.AsyncClient(base_url=served) as http:
        for headers in ({}, {"Authorization": "Bearer syk_wrong"}, {"Authorization": "Bearer sym_wrong"}):
            answer = await http.post("/mcp", json=init, headers={**accept, **headers})
            assert answer.status_code == 401, answer.text
            assert answer.headers["content-type"].startswith("application/problem+json")
            challenge = answer.headers["www-authenticate"]
            assert (
                'resource_metadata="http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp"'
                in challenge
            )
        metadata = await http.get("/.well-known/oauth-protected-resource/mcp")
        assert metadata.status_code == 200
        assert metadata.json()["resource"] == "http://127.0.0.1:8080/mcp"
        no_user = await http.post("/mcp", json=init, headers={**accept, **tenant.headers, "End-User-Id": ""})
        assert no_user.status_code == 422 and no_user.json()["code"] == "mcp.end_user_missing"


async def test_a_key_without_the_mcp_scope_is_refused(container: Container, served: str) -> None:
    reader = await make_tenant(container, "connections:read")
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}
    async with httpx2.AsyncClient(base_url=served) as http:
        answer = await http.post(
            "/mcp",
            json=init,
            headers={**mcp_headers(reader), "Accept": "application/json, text/event-stream"},
        )
    assert answer.status_code == 403 and answer.json()["code"] == "auth.missing_scope"


async def test_an_mcp_token_binds_tenant_and_end_user(
    api: httpx2.AsyncClient, tenant: TenantFixture, keyed_api: ProviderApiPeer, served: str
) -> None:
    await two_connections(api, tenant, keyed_api)
    too_long = await api.post(
        "/api/v1/mcp-tokens", json={"end_user_id": "u1", "ttl_seconds": 7200}, headers=tenant.headers
    )
    assert too_long.status_code == 422
    minted = await api.post(
        "/api/v1/mcp-tokens", json={"end_user_id": "u1", "ttl_seconds": 60}, headers=tenant.headers
    )
    assert minted.status_code == 201, minted.text
    token = minted.json()["token"]
    assert token.startswith("sym_")
    # the End-User-Id header cannot widen a token: it is bound to u1
    async with session(served, {"Authorization": f"Bearer {token}", "End-User-Id": "someone-else"}) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert "keyed_whoami" in names
        result = await client.call_tool("keyed_whoami", {})
        assert not result.is_error, result
        assert KEYED_API_KEY not in result.content[0].text  # type: ignore[union-attr]
