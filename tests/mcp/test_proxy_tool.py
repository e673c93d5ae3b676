"""The opt-in ``proxy_request`` tool over streamable HTTP: only with ``Mcp-Proxy-Tool: 1``, only with scope ``proxy``."""

from __future__ import annotations

import httpx2

from switchyard.services.container import Container
from tests.conftest import KEYED_API_KEY, TenantFixture
from tests.flows.test_proxy import connect_keyed
from tests.mcp.conftest import ACTIONS
from tests.mcp.test_mcp_http import mcp_headers, session
from tests.peers.provider_api import ProviderApiPeer

OPT_IN = {"Mcp-Proxy-Tool": "1"}


async def test_the_proxy_tool_is_absent_without_the_opt_in(
    api: httpx2.AsyncClient, tenant: TenantFixture, keyed_api: ProviderApiPeer, served: str
) -> None:
    await connect_keyed(api, tenant, keyed_api.url)
    for headers in (mcp_headers(tenant), {**mcp_headers(tenant), "Mcp-Proxy-Tool": "0"}):
        async with session(served, headers) as client:
            assert "proxy_request" not in {tool.name for tool in (await client.list_tools()).tools}
            refused = await client.call_tool("proxy_request", {"path": "/user"})
            assert refused.is_error
            assert (refused.structured_content or {})["error"]["code"] == "tool.not_found"
    assert keyed_api.request_log == []  # nothing reached the provider


async def test_a_proxy_call_carries_the_connections_credential_and_returns_status_and_body(
    api: httpx2.AsyncClient, tenant: TenantFixture, keyed_api: ProviderApiPeer, served: str
) -> None:
    connection = await connect_keyed(api, tenant, keyed_api.url, extra=ACTIONS)
    async with session(served, {**mcp_headers(tenant), **OPT_IN}) as client:
        listed = {tool.name: tool for tool in (await client.list_tools()).tools}
        tool = listed["proxy_request"]
        assert connection in (tool.description or "")
        assert tool.input_schema["required"] == ["path"]  # one connection: it need not be named
        assert tool.input_schema["properties"]["connection"]["enum"] == [connection]

        result = await client.call_tool(
            "proxy_request",
            {"method": "POST", "path": "/echo", "query": {"q": "1"}, "body": {"hello": "world"}},
        )
        assert not result.is_error, result
        output = result.structured_content or {}
        assert output["status"] == 200
        echoed = output["body"]
        assert echoed["method"] == "POST" and echoed["path"] == "/echo"
        assert echoed["query"] == [["q", "1"]]
        assert echoed["body"]["json"] == {"hello": "world"}
        sent = {name.lower(): value for name, value in echoed["headers"].items()}
        assert sent["x-fixed"] == "fixed-value"  # the connector's proxy headers are added
        assert "mcp-proxy-tool" not in sent and "end-user-id" not in sent

        # the host injected the connection's API key; the MCP caller's own key never left the platform
        record = keyed_api.request_log[-1]
        assert (record.method, record.path, record.status) == ("POST", "/echo", 200)
        assert record.auth_kind == "api_key" and record.credential == KEYED_API_KEY
        text = result.content[0].text
        assert KEYED_API_KEY not in text and tenant.key not in text

        user = await client.call_tool("proxy_request", {"path": "/user", "connection": connection})
        assert not user.is_error, user
        expected = {"id": keyed_api.static_user.id, "login": keyed_api.static_user.login}
        assert user.structured_content == {"status": 200, "body": expected}

        missing = await client.call_tool("proxy_request", {"path": "/status/404"})
        assert missing.is_error
        assert (missing.structured_content or {})["error"]["code"] == "provider.not_found"


async def test_a_key_without_the_proxy_scope_gets_an_error_result_naming_the_scope(
    api: httpx2.AsyncClient,
    tenant: TenantFixture,
    container: Container,
    keyed_api: ProviderApiPeer,
    served: str,
) -> None:
    await connect_keyed(api, tenant, keyed_api.url)
    issued = await container.api_keys.issue(tenant.id, name="mcp only", scopes=("mcp",))
    headers = {"Authorization": f"Bearer {issued.plaintext}", "End-User-Id": "u1", **OPT_IN}
    async with session(served, headers) as client:
        assert "proxy_request" in {tool.name for tool in (await client.list_tools()).tools}
        refused = await client.call_tool("proxy_request", {"path": "/user"})
        assert refused.is_error
        error = (refused.structured_content or {})["error"]
        assert error["code"] == "auth.missing_scope" and "proxy" in error["detail"]
        assert "auth.missing_scope" in refused.content[0].text
    assert keyed_api.request_log == []


async def test_a_connection_whose_connector_has_no_actions_can_be_proxied(
    api: httpx2.AsyncClient, tenant: TenantFixture, keyed_api: ProviderApiPeer, served: str
) -> None:
    connection = await connect_keyed(api, tenant, keyed_api.url)  # no actions
    async with session(served, {**mcp_headers(tenant), **OPT_IN}) as client:
        listed = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert listed["proxy_request"].input_schema["properties"]["connection"]["enum"] == [connection]
        result = await client.call_tool("proxy_request", {"path": "/user", "connection": connection})
        assert not result.is_error, result
        assert (result.structured_content or {})["status"] == 200
