"""``GET /api/v1/mcp/config``: each client's configuration shape, the tools' schemas, and the bad inputs."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from switchyard.services.container import Container
from tests.api.test_agent import ACTIONS
from tests.api.test_problem_json import assert_problem
from tests.conftest import KEYED_API_KEY, TenantFixture, make_tenant
from tests.flows.test_proxy import connect_keyed
from tests.peers.provider_api import ProviderApiPeer

TOOLS = {"keyed_whoami", "keyed_missing", "keyed_send"}


@pytest.fixture
async def connected(api: httpx2.AsyncClient, tenant: TenantFixture, keyed_api: ProviderApiPeer) -> str:
    return await connect_keyed(api, tenant, keyed_api.url, extra=ACTIONS)


async def config(api: httpx2.AsyncClient, tenant: TenantFixture, format: str, **more: str) -> dict[str, Any]:
    params = {"end_user_id": "u1", "format": format, **more}
    answer = await api.get("/api/v1/mcp/config", params=params, headers=tenant.headers)
    assert answer.status_code == 200, answer.text
    assert tenant.key not in answer.text and KEYED_API_KEY not in answer.text
    body: dict[str, Any] = answer.json()
    return body


def check_tools(body: dict[str, Any]) -> None:
    assert {t["function"]["name"] for t in body["tools_openai"]} == TOOLS
    assert {t["name"] for t in body["tools_anthropic"]} == TOOLS
    for tool in body["tools_openai"]:
        assert tool["type"] == "function" and tool["function"]["parameters"]["type"] == "object"
    for tool in body["tools_anthropic"]:
        assert tool["input_schema"]["type"] == "object" and tool["description"]
    send = next(t for t in body["tools_anthropic"] if t["name"] == "keyed_send")
    assert send["input_schema"]["required"] == ["text"]


async def test_claude_config(
    api: httpx2.AsyncClient, tenant: TenantFixture, connected: str, container: Container
) -> None:
    body = await config(api, tenant, "claude")
    url = f"{container.settings.public_base_url}/mcp"
    server = body["config"]["mcpServers"]["switchyard"]
    assert server == {
        "type": "http",
        "url": url,
        "headers": {"Authorization": "Bearer ${SWITCHYARD_API_KEY}", "End-User-Id": "u1"},
    }
    stdio = body["stdio"]["mcpServers"]["switchyard"]
    assert stdio["type"] == "stdio" and stdio["command"] == "switchyard"
    assert stdio["args"] == ["mcp", "--tenant", tenant.id, "--end-user", "u1"]
    assert body["server_url"] == url and body["api_key_placeholder"] == "SWITCHYARD_API_KEY"
    check_tools(body)


async def test_cursor_config(api: httpx2.AsyncClient, tenant: TenantFixture, connected: str) -> None:
    body = await config(api, tenant, "cursor", integration="keyed")
    server = body["config"]["mcpServers"]["switchyard"]
    assert set(server) == {"url", "headers"} and server["url"].endswith("/mcp")
    assert server["headers"]["Authorization"] == "Bearer ${env:SWITCHYARD_API_KEY}"
    assert server["headers"]["Integration"] == "keyed"
    args = body["stdio"]["mcpServers"]["switchyard"]["args"]
    assert args[-2:] == ["--integration", "keyed"]
    check_tools(body)


async def test_vscode_config(api: httpx2.AsyncClient, tenant: TenantFixture, connected: str) -> None:
    body = await config(api, tenant, "vscode")
    server = body["config"]["servers"]["switchyard"]
    assert server["type"] == "http" and server["url"].endswith("/mcp")
    assert server["headers"]["Authorization"] == "Bearer ${input:switchyard-api-key}"
    (prompt,) = body["config"]["inputs"]
    assert prompt == {
        "type": "promptString",
        "id": "switchyard-api-key",
        "description": "Switchyard API key (scope mcp)",
        "password": True,
    }
    assert body["stdio"]["servers"]["switchyard"]["type"] == "stdio"
    check_tools(body)


async def test_openai_config(api: httpx2.AsyncClient, tenant: TenantFixture, connected: str) -> None:
    body = await config(api, tenant, "openai")
    (tool,) = body["config"]["tools"]
    assert tool["type"] == "mcp" and tool["server_label"] == "switchyard"
    assert tool["server_url"].endswith("/mcp") and tool["require_approval"] == "never"
    assert tool["headers"]["End-User-Id"] == "u1"
    assert body["stdio"]["params"]["command"] == "switchyard"
    check_tools(body)


async def test_bad_inputs(
    api: httpx2.AsyncClient, tenant: TenantFixture, connected: str, container: Container
) -> None:
    unknown = await api.get(
        "/api/v1/mcp/config", params={"end_user_id": "u1", "format": "emacs"}, headers=tenant.headers
    )
    assert assert_problem(unknown, 422, "mcp.unknown_format")["formats"] == [
        "claude",
        "cursor",
        "vscode",
        "openai",
    ]
    other = await make_tenant(container, "mcp")
    foreign = await config(api, other, "claude")  # the first tenant's end user is not the other's
    assert foreign["tools_openai"] == [] and foreign["tools_anthropic"] == []
    without_scope = await make_tenant(container, "proxy")
    denied = await api.get("/api/v1/mcp/config", params={"end_user_id": "u1"}, headers=without_scope.headers)
    assert_problem(denied, 403, "auth.missing_scope")
    missing = await api.get("/api/v1/mcp/config", params={"end_user_id": "u1"})
    assert_problem(missing, 401, "auth.invalid_api_key")
    assert "www-authenticate" in missing.headers


async def test_a_minted_token_replaces_the_key_placeholder(
    api: httpx2.AsyncClient, tenant: TenantFixture, connected: str, container: Container
) -> None:
    body = await config(api, tenant, "claude", mint_token="true", token_ttl_seconds="60")
    headers = body["config"]["mcpServers"]["switchyard"]["headers"]
    token = headers["Authorization"].removeprefix("Bearer ")
    assert token.startswith("sym_") and set(headers) == {"Authorization"}
    assert body["api_key_placeholder"] is None and body["token_expires_at"]
    grant = await container.mcp_tokens.check(token)
    assert grant.tenant_id == tenant.id and grant.end_user_id == "u1"
    vscode = await config(api, tenant, "vscode", mint_token="true")
    assert "inputs" not in vscode["config"]
