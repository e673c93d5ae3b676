"""The MCP server proper (mcp 2.x low-level ``Server``): tools come from ``ToolsService`` on every request.

The low-level server is used rather than ``MCPServer`` because the tool list belongs to the caller (tenant,
end user, integration filter) and is read afresh on each ``tools/list``, while ``MCPServer`` keeps one
static registry per process. Arguments are validated by the action against its original schema, so a
violation comes back as an ``isError`` result naming the fields (``action.invalid_input``), never as a
transport error. A success is ``structuredContent`` (the output, wrapped as ``{"result": ...}`` when it is
not an object) plus the same JSON as text.

``notifications/tools/list_changed`` goes to a session when its end user's connections change in this
process (``Sessions.tell``, called by the HTTP endpoint on a connection created, deleted or changing
status), and when a ``tools/call`` finds that the tool names differ from those the session was last shown.
Sessions on other replicas are not told of a change made here (see ``Sessions``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import NotificationOptions, Server
from mcp.server.models import InitializationOptions
from mcp.server.session import ServerSession

from mcp import types
from switchyard import __version__
from switchyard.core.models import Principal
from switchyard.core.tool_schemas import portable_schema
from switchyard.services.tools import Tool, ToolResult, ToolsService

VIA = "mcp"
_MAX_TEXT = 200_000


@dataclass(frozen=True)
class McpIdentity:
    """Who the MCP caller acts as: a tenant principal and one of its end users (external id)."""

    principal: Principal
    end_user_id: str
    integration: str | None = None
    include_proxy: bool = False


Identify = Callable[[ServerRequestContext[Any]], McpIdentity]


def mcp_tool(tool: Tool) -> types.Tool:
    return types.Tool(
        name=tool.name, description=tool.description, input_schema=portable_schema(tool.input_schema)
    )


def _text(document: Any) -> str:
    text = json.dumps(document, ensure_ascii=False, default=str)
    return text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT] + "…"


def call_result(result: ToolResult) -> types.CallToolResult:
    if result.ok:
        structured = result.output if isinstance(result.output, dict) else {"result": result.output}
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=_text(result.output))],
            structured_content=structured,
            is_error=False,
        )
    error: dict[str, Any] = {"code": result.code, "detail": result.detail}
    if isinstance(result.output, dict) and result.output.get("errors"):
        error["errors"] = result.output["errors"]
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=f"error [{result.code}]: {result.detail}")],
        structured_content={"error": error},
        is_error=True,
    )


SESSION_HEADER = "mcp-session-id"
_STDIO = "stdio"


@dataclass
class _Open:
    owner: tuple[str, str]  # (tenant id, end user's external id)
    session: ServerSession  # its notifications without a request id ride the standalone stream
    names: frozenset[str] | None = None  # the tool names last shown


def session_key(ctx: ServerRequestContext[Any]) -> str | None:
    """The MCP session a message belongs to: its ``Mcp-Session-Id``; stdio has just the one."""
    if ctx.request is None:
        return _STDIO
    headers = getattr(ctx.request, "headers", None)
    value = headers.get(SESSION_HEADER) if headers is not None else None
    return str(value) if value else None


class Sessions:
    """The MCP sessions open in this process, by tenant and end user, with the tool names last shown.

    A session is remembered from its ``notifications/initialized`` and each request. ``tell`` sends
    ``notifications/tools/list_changed`` to every remembered session of one end user. Only this process
    knows its sessions: a session on another replica is not told of a change made here; its next
    ``tools/list`` simply returns the new tools, a ``tools/call`` naming a tool that is gone gets it told,
    and otherwise it never hears. A session that cannot be written to any more is forgotten, and so is
    the least recently seen one past ``MAX``.
    """

    MAX = 10_000

    def __init__(self) -> None:
        self._open: dict[str, _Open] = {}

    def __len__(self) -> int:
        return len(self._open)

    def remember(self, ctx: ServerRequestContext[Any], who: McpIdentity) -> _Open | None:
        key = session_key(ctx)
        if key is None:
            return None
        owner = (who.principal.tenant_id, who.end_user_id)
        entry = self._open.pop(key, None)
        if entry is None or entry.owner != owner:
            entry = _Open(owner, ctx.session)
        else:
            entry.session = ctx.session
        self._open[key] = entry  # most recently seen last
        while len(self._open) > self.MAX:
            del self._open[next(iter(self._open))]
        return entry

    def forget(self, key: str) -> None:
        self._open.pop(key, None)

    async def _send(self, key: str, entry: _Open) -> bool:
        try:
            await entry.session.send_tool_list_changed()
        except Exception:  # the session is gone (closed streams) or has no back channel: forget it
            if self._open.get(key) is entry:
                del self._open[key]
            return False
        return True

    async def tell(self, tenant_id: str, end_user_id: str) -> int:
        """Tell the end user's open sessions that their tools changed; returns how many were told."""
        owner = (tenant_id, end_user_id)
        told = 0
        for key, entry in [(k, e) for k, e in self._open.items() if e.owner == owner]:
            told += await self._send(key, entry)
        return told

    async def seen(self, ctx: ServerRequestContext[Any], who: McpIdentity, names: frozenset[str]) -> None:
        """The session's tools are now ``names``: told when they differ from what it was last shown."""
        entry = self.remember(ctx, who)
        if entry is None:
            return
        before, entry.names = entry.names, names
        if before is not None and before != names:
            key = session_key(ctx)
            assert key is not None
            await self._send(key, entry)

    def shown(self, ctx: ServerRequestContext[Any], who: McpIdentity, names: frozenset[str]) -> None:
        entry = self.remember(ctx, who)
        if entry is not None:
            entry.names = names


def build_server(tools: ToolsService, identify: Identify, sessions: Sessions | None = None) -> Server[Any]:
    """The server; ``sessions`` (shared with whoever calls ``Sessions.tell``) remembers its sessions."""
    sessions = sessions if sessions is not None else Sessions()

    async def initialized(ctx: ServerRequestContext[Any], params: types.NotificationParams) -> None:
        sessions.remember(ctx, identify(ctx))

    async def list_tools(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        who = identify(ctx)
        found = await tools.list(
            who.principal, who.end_user_id, integration=who.integration, include_proxy=who.include_proxy
        )
        sessions.shown(ctx, who, frozenset(t.name for t in found))
        return types.ListToolsResult(tools=[mcp_tool(t) for t in found])

    async def call_tool(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        who = identify(ctx)
        result = await tools.call(
            who.principal,
            who.end_user_id,
            params.name,
            dict(params.arguments or {}),
            via=VIA,
            integration=who.integration,
            include_proxy=who.include_proxy,
        )
        if not result.ok and result.code == "tool.not_found":
            current = await tools.list(
                who.principal, who.end_user_id, integration=who.integration, include_proxy=who.include_proxy
            )
            await sessions.seen(ctx, who, frozenset(t.name for t in current))
        else:
            sessions.remember(ctx, who)
        return call_result(result)

    server: Server[Any] = Server(
        "switchyard",
        version=__version__,
        instructions="Tools act on the connected accounts of one end user; each names its connection.",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )
    server.add_notification_handler("notifications/initialized", types.NotificationParams, initialized)
    return server


def initialization_options(server: Server[Any]) -> InitializationOptions:
    return server.create_initialization_options(NotificationOptions(tools_changed=True))
