"""``GET /api/v1/mcp/config``: a ready MCP client configuration for one end user (seed 003's ``getMCPConfig``).

Each format is the client's documented JSON for a streamable-HTTP server, and the stdio alternative
(``switchyard mcp``) in the same shape:

- ``claude`` (Claude Code ``.mcp.json``, Claude Desktop): ``{"mcpServers": {name: {"type": "http", "url",
  "headers"}}}``; ``${VAR}`` is expanded from the environment.
- ``cursor`` (``.cursor/mcp.json``): ``{"mcpServers": {name: {"url", "headers"}}}``; ``${env:VAR}`` expands.
- ``vscode`` (``.vscode/mcp.json``): ``{"servers": {name: {"type": "http", "url", "headers"}}, "inputs": [...]}``;
  the key is asked for once (``${input:...}``, a password prompt).
- ``openai`` (Responses API remote MCP tool): ``{"tools": [{"type": "mcp", "server_label", "server_url",
  "headers", "require_approval"}]}``.

The API key is never in the answer: the headers name an environment variable (``SWITCHYARD_API_KEY``) unless
``mint_token=true`` mints a short-lived MCP token for this end user (``POST /api/v1/mcp-tokens``'s service,
``token_ttl_seconds``, 900 by default), which then stands alone in the headers. ``tools_openai`` and ``tools_anthropic``
are the same tools as function-calling schemas, for an agent that calls them without MCP.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal, get_args

from fastapi import APIRouter, Query

from switchyard.api.agent_schemas import McpConfigOut
from switchyard.api.deps import ContainerDep, PrincipalDep
from switchyard.core.errors import InvalidInput
from switchyard.core.models import Principal
from switchyard.core.scopes import Scope
from switchyard.core.tool_schemas import anthropic_tool, openai_function
from switchyard.services.authz import require
from switchyard.services.container import Container
from switchyard.services.mcp_tokens import MAX_TTL_SECONDS

router = APIRouter(prefix="/api/v1/mcp", tags=["mcp"])
Format = Literal["claude", "cursor", "vscode", "openai"]
FORMATS: tuple[str, ...] = get_args(Format)
SERVER_NAME = "switchyard"
KEY_VARIABLE = "SWITCHYARD_API_KEY"
VSCODE_INPUT = "switchyard-api-key"


def _key_reference(format: str) -> str:
    if format == "cursor":
        return f"${{env:{KEY_VARIABLE}}}"
    if format == "vscode":
        return f"${{input:{VSCODE_INPUT}}}"
    return f"${{{KEY_VARIABLE}}}"


def _stdio_args(tenant_id: str, end_user_id: str, integration: str | None) -> list[str]:
    args = ["mcp", "--tenant", tenant_id, "--end-user", end_user_id]
    return [*args, "--integration", integration] if integration else args


def _shapes(
    format: str, url: str, headers: dict[str, str], stdio_args: list[str], needs_input: bool
) -> tuple[dict[str, Any], dict[str, Any]]:
    command = {"command": "switchyard", "args": stdio_args}
    if format == "claude":
        return (
            {"mcpServers": {SERVER_NAME: {"type": "http", "url": url, "headers": headers}}},
            {"mcpServers": {SERVER_NAME: {"type": "stdio", **command, "env": {}}}},
        )
    if format == "cursor":
        return (
            {"mcpServers": {SERVER_NAME: {"url": url, "headers": headers}}},
            {"mcpServers": {SERVER_NAME: {**command, "env": {}}}},
        )
    if format == "vscode":
        config: dict[str, Any] = {"servers": {SERVER_NAME: {"type": "http", "url": url, "headers": headers}}}
        if needs_input:
            config["inputs"] = [
                {
                    "type": "promptString",
                    "id": VSCODE_INPUT,
                    "description": "Switchyard API key (scope mcp)",
                    "password": True,
                }
            ]
        return config, {"servers": {SERVER_NAME: {"type": "stdio", **command}}}
    tool = {
        "type": "mcp",
        "server_label": SERVER_NAME,
        "server_url": url,
        "headers": headers,
        "require_approval": "never",
    }  # the Responses API takes only a remote server; the stdio form is for the Agents SDK's MCPServerStdio
    return {"tools": [tool]}, {"params": command}


@router.get(
    "/config", summary="A ready MCP client configuration for an end user, and the same tools' schemas"
)
async def mcp_config(
    principal: PrincipalDep,
    container: ContainerDep,
    end_user_id: str,
    format: str = "claude",
    integration: str | None = None,
    mint_token: bool = False,
    token_ttl_seconds: Annotated[int, Query(ge=1, le=MAX_TTL_SECONDS)] = 900,
) -> McpConfigOut:
    require(principal, Scope.MCP)
    if format not in FORMATS:
        raise InvalidInput(
            f"unknown MCP configuration format {format!r}",
            code="mcp.unknown_format",
            remediation=f"Use one of: {', '.join(FORMATS)}.",
            extra={"formats": list(FORMATS)},
        )
    tools = await container.tools.list(principal, end_user_id, integration=integration)
    url = f"{container.settings.public_base_url.rstrip('/')}/mcp"
    expires_at: str | None = None
    placeholder: str | None = KEY_VARIABLE
    if mint_token:
        token, expires_at = await _mint(container, principal, end_user_id, integration, token_ttl_seconds)
        headers = {"Authorization": f"Bearer {token}"}
        placeholder = None
    else:
        headers = {"Authorization": f"Bearer {_key_reference(format)}", "End-User-Id": end_user_id}
        if integration:
            headers["Integration"] = integration
    config, stdio = _shapes(
        format,
        url,
        headers,
        _stdio_args(principal.tenant_id, end_user_id, integration),
        placeholder is not None,
    )
    return McpConfigOut(
        format=format,
        end_user_id=end_user_id,
        integration=integration,
        server_url=url,
        config=config,
        stdio=stdio,
        api_key_placeholder=placeholder,
        token_expires_at=expires_at,
        tools_openai=[openai_function(t) for t in tools],
        tools_anthropic=[anthropic_tool(t) for t in tools],
    )


async def _mint(
    container: Container, principal: Principal, end_user_id: str, integration: str | None, ttl: int
) -> tuple[str, str]:
    """A short-lived MCP token bound to the end user (and integration): the headers need nothing else."""
    minted = await container.mcp_tokens.mint(principal, end_user_id, integration=integration, ttl_seconds=ttl)
    return minted.token, datetime.fromtimestamp(minted.expires_at, UTC).isoformat()
