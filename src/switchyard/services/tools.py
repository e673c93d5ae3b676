"""An end user's connections as tools for MCP clients and agents: one tool per action of each active connection.

``list`` names and describes them (``core/tool_schemas.py`` keeps the names and schemas within the rules of
MCP, OpenAI and Anthropic); ``call`` runs one through ``ActionsService.run`` (same rate limits, circuit
breakers and input validation as the REST API) and never raises a ``SwitchyardError``: the failure comes
back as a ``ToolResult`` carrying the stable code. Every call logs one ``tool.call`` audit line (tenant, end
user, connection, action, via, outcome, duration; never the arguments) and counts in
``switchyard_tool_calls_total{via,outcome}``.

Naming: the oldest active connection of an integration gives ``<integration>_<action>``; each later one adds
``_<last 6 characters of its connection id>``, so a name never changes while its connection lives.
The opt-in ``proxy_request`` tool sends a raw request through the proxy for any of those connections.

A tool list costs a few database reads, so each one is kept for ``cache_ttl`` seconds
(SWITCHYARD_TOOL_CACHE_TTL_SECONDS) in this process: ``forget`` drops a tenant's lists when its end users'
active connections change or a package swaps a definition here, and another process sees such a change
within ``cache_ttl``. A call whose tool is not in a kept list lists afresh before it answers "not found".
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from prometheus_client import Counter

from switchyard.core.errors import InvalidInput, NotFound, SwitchyardError
from switchyard.core.models import Connection, Principal
from switchyard.core.scopes import Scope, allows
from switchyard.core.tool_schemas import tool_name
from switchyard.logs import get_logger
from switchyard.ports import Database
from switchyard.services import action_io
from switchyard.services.actions import ActionsService
from switchyard.services.authz import require
from switchyard.services.proxy import Call

log = get_logger("switchyard.tools")
TOOL_CALLS = Counter("switchyard_tool_calls_total", "Tool calls through MCP or the agent", ["via", "outcome"])
PROXY_TOOL = "proxy_request"
SUFFIX_CHARS = 6
_PAGE = 200
_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
_MAX_TEXT = 100_000


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    input_schema: dict[str, Any]
    connection_id: str
    integration: str
    connector_id: str
    action: str


@dataclass(frozen=True)
class ToolResult:
    ok: bool
    output: Any
    code: str | None = None
    detail: str | None = None


def tool_not_found(name: str) -> NotFound:
    return NotFound(
        f"no tool {name!r} for this end user",
        code="tool.not_found",
        remediation="List the tools again; the end user's connections may have changed.",
    )


def _scope_for(via: str) -> Scope:
    return Scope.MCP if via == "mcp" else Scope.ACTIONS


def _require_any(principal: Principal, *scopes: Scope) -> None:
    if not any(allows(principal.scopes, scope) for scope in scopes):
        require(principal, scopes[0])  # raises the 403 naming the first


_ListKey = tuple[str, str, str | None, bool]  # tenant id, end user id, integration, include_proxy
Tools = list[Tool]  # named outside the class, where ``list`` is a method


class ToolsService:
    def __init__(
        self,
        db: Database,
        actions: ActionsService,
        *,
        cache_ttl: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.actions = actions
        self.cache_ttl = cache_ttl
        self._clock = clock
        self._lists: dict[_ListKey, tuple[float, Tools]] = {}  # key -> (kept until, tools)

    def forget(self, tenant_id: str, *_: object) -> None:
        """Drop the tenant's kept tool lists (a listener of connection moves and package swaps)."""
        self._lists = {key: kept for key, kept in self._lists.items() if key[0] != tenant_id}

    async def _connections(self, tenant_id: str, end_user_id: str) -> list[tuple[Connection, str]]:
        """The end user's active connections with their integration keys, oldest first."""
        found: list[tuple[Connection, str]] = []
        async with self.db.transaction(write=False) as tx:
            user = await tx.end_users.get(tenant_id, end_user_id)
            if user is None:
                return []
            after: str | None = None
            keys: dict[str, str] = {}
            while True:
                page = await tx.connections.page(
                    tenant_id, after=after, limit=_PAGE, end_user_id=user.id, status="active"
                )
                for connection in page.items:
                    if connection.integration_id not in keys:
                        integration = await tx.integrations.get_by_id(tenant_id, connection.integration_id)
                        keys[connection.integration_id] = integration.key if integration else ""
                    if keys[connection.integration_id]:
                        found.append((connection, keys[connection.integration_id]))
                if page.next_cursor is None:
                    break
                after = page.next_cursor
        return sorted(found, key=lambda pair: (pair[0].created_at, pair[0].id))

    async def list(
        self,
        principal: Principal,
        end_user_id: str,
        *,
        integration: str | None = None,
        include_proxy: bool = False,
    ) -> list[Tool]:
        """The end user's tools in the principal's tenant; another tenant's end user has none."""
        _require_any(principal, Scope.MCP, Scope.ACTIONS)
        key = (principal.tenant_id, end_user_id, integration, include_proxy)
        kept = self._lists.get(key)
        now = self._clock()
        if kept is not None and kept[0] > now:
            return list(kept[1])
        tools = await self._build(principal, end_user_id, integration, include_proxy)
        if self.cache_ttl > 0:
            self._lists[key] = (now + self.cache_ttl, tools)
        return list(tools)

    async def _build(
        self, principal: Principal, end_user_id: str, integration: str | None, include_proxy: bool
    ) -> Tools:
        connections = await self._connections(principal.tenant_id, end_user_id)
        if integration is not None:
            connections = [(c, key) for c, key in connections if key == integration]
        tools: list[Tool] = []
        first_of: set[str] = set()
        for connection, key in connections:
            suffix = None if key not in first_of else connection.id[-SUFFIX_CHARS:].lower()
            first_of.add(key)
            definition = await self.actions.catalog.definition(principal.tenant_id, connection.connector_id)
            account = f" (account {connection.account_id})" if connection.account_id else ""
            label = f"[{definition.display_name}{account}, connection {connection.id}] "
            for action in definition.actions:
                tools.append(
                    Tool(
                        name=tool_name(key, action.name, suffix=suffix),
                        description=label + action.description,
                        input_schema=dict(action.input_schema),
                        connection_id=connection.id,
                        integration=key,
                        connector_id=connection.connector_id,
                        action=action.name,
                    )
                )
        if include_proxy and connections:
            tools.append(_proxy_tool(connections))
        return tools

    async def call(
        self,
        principal: Principal,
        end_user_id: str,
        name: str,
        arguments: dict[str, Any],
        *,
        via: str,
        integration: str | None = None,
        include_proxy: bool = False,
    ) -> ToolResult:
        """Run the tool ``name``; every ``SwitchyardError`` comes back as ``ok=False`` with its code."""
        started = time.perf_counter()
        tool: Tool | None = None
        try:
            require(principal, _scope_for(via))
            tool = await self._find(principal, end_user_id, name, integration, include_proxy)
            acting = dataclasses.replace(principal, scopes=principal.scopes | {Scope.ACTIONS.value})
            if tool.action == PROXY_TOOL and tool.connector_id == "":
                output = await self._proxy(principal, tool, arguments or {})
            else:
                output = (
                    await self.actions.run(acting, tool.connection_id, tool.action, arguments or {})
                ).output
            result = ToolResult(ok=True, output=output)
        except SwitchyardError as exc:
            result = ToolResult(ok=False, output=exc.extra or None, code=exc.code, detail=exc.detail)
        self._audit(principal, end_user_id, tool, via, result, started)
        return result

    async def _find(
        self, principal: Principal, end_user_id: str, name: str, integration: str | None, include_proxy: bool
    ) -> Tool:
        """The tool ``name``, from the kept list or, when it is not there, a fresh one (a connection made in
        another process since)."""
        for fresh in (False, True):
            if fresh:
                self.forget(principal.tenant_id)
            tools = await self.list(
                principal, end_user_id, integration=integration, include_proxy=include_proxy
            )
            found = next((t for t in tools if t.name == name), None)
            if found is not None:
                return found
            if self.cache_ttl <= 0:
                break
        raise tool_not_found(name)

    @staticmethod
    def _audit(
        principal: Principal,
        end_user_id: str,
        tool: Tool | None,
        via: str,
        result: ToolResult,
        started: float,
    ) -> None:
        outcome = "success" if result.ok else (result.code or "error")
        TOOL_CALLS.labels(via, outcome).inc()
        log.info(
            "tool.call",
            tenant_id=principal.tenant_id,
            end_user_id=end_user_id,
            connection_id=tool.connection_id if tool else None,
            action=tool.action if tool else None,
            via=via,
            outcome=outcome,
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
        )

    async def _proxy(self, principal: Principal, proxy_tool: Tool, arguments: dict[str, Any]) -> Any:
        require(principal, Scope.PROXY)
        offered = proxy_tool.input_schema["properties"]["connection"]["enum"]  # every active connection
        connection_id = _proxy_input(arguments, set(offered))
        method = str(arguments.get("method", "GET")).upper()
        target = str(arguments["path"])
        query = arguments.get("query") or {}
        if query:
            target += ("&" if "?" in target else "?") + urlencode({str(k): str(v) for k, v in query.items()})
        headers: list[tuple[str, str]] = [("accept", "application/json")]
        body: bytes | None = None
        if arguments.get("body") is not None:
            body = json.dumps(arguments["body"]).encode("utf-8")
            headers.append(("content-type", "application/json"))
        call = Call(method, target, headers, body)
        proxy = self.actions.proxy
        limit = self.actions.max_response_bytes
        async with proxy.open(
            principal.tenant_id, connection_id, call, purpose="proxy", max_response_bytes=limit
        ) as exchange:
            upstream = exchange.upstream
            raw = await upstream.read()
            status, answer_headers = upstream.status, upstream.headers
            provider, hints = exchange.target.definition.display_name, exchange.target.definition.retry
        if status >= 400:
            raise action_io.refused(provider, status, raw, answer_headers, hints)
        try:
            document: Any = json.loads(raw) if raw.strip() else None
        except (ValueError, UnicodeDecodeError):
            document = raw[:_MAX_TEXT].decode("utf-8", errors="replace")
        return {"status": status, "body": document}


def _proxy_input(arguments: dict[str, Any], connection_ids: set[str]) -> str:
    problems: list[dict[str, str]] = []
    if str(arguments.get("method", "GET")).upper() not in _METHODS:
        problems.append({"field": "method", "rule": f"must be one of {', '.join(_METHODS)}"})
    path = arguments.get("path")
    if not isinstance(path, str) or not path.startswith("/") or "://" in path:
        problems.append({"field": "path", "rule": "is required: a path starting with /"})
    if arguments.get("query") is not None and not isinstance(arguments.get("query"), dict):
        problems.append({"field": "query", "rule": "must be an object"})
    connection = arguments.get("connection")
    if len(connection_ids) == 1 and connection is None:
        connection = next(iter(connection_ids))
    if connection not in connection_ids:
        problems.append({"field": "connection", "rule": "must be one of this end user's connection ids"})
    if problems:
        listed = "; ".join(f"{p['field']} {p['rule']}" for p in problems)
        raise InvalidInput(
            f"the input of {PROXY_TOOL} is not valid: {listed}",
            code="action.invalid_input",
            extra={"errors": problems},
        )
    return str(connection)


def _proxy_tool(connections: Sequence[tuple[Connection, str]]) -> Tool:
    ids = [connection.id for connection, _ in connections]
    listed = ", ".join(f"{connection.id} ({key})" for connection, key in connections)
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "method": {"type": "string", "enum": _METHODS, "default": "GET", "description": "HTTP method"},
            "path": {
                "type": "string",
                "description": "Path under the provider's API base URL, starting with /",
            },
            "query": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "description": "Query parameters",
            },
            "body": {"description": "A JSON body, for POST, PUT and PATCH"},
            "connection": {"type": "string", "enum": ids, "description": "Which connection: " + listed},
        },
        "required": ["path"] if len(ids) == 1 else ["path", "connection"],
        "additionalProperties": False,
    }
    return Tool(
        name=PROXY_TOOL,
        description="Send an HTTP request to a connected provider's API with the connection's credentials. "
        "Connections: " + listed,
        input_schema=schema,
        connection_id="",
        integration="",
        connector_id="",
        action=PROXY_TOOL,
    )
