"""Python hook actions: ``async def fn(ctx, input)`` in a connector's module.

``ctx`` gives the connection's non-secret config and an HTTP client that goes through the proxy, where the
credentials are injected; a hook never holds a token. Built-in connectors keep their hooks in
``switchyard.catalog.hooks.<connector, with - as _>`` (a tenant's override of a built-in connector may
call them too); uploaded packages run theirs in the sandbox.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any
from urllib.parse import urlencode

from switchyard.core.errors import InvalidInput
from switchyard.logs import get_logger
from switchyard.services.proxy import Call, ProxyService

HOOK_PACKAGE = "switchyard.catalog.hooks"
Hook = Callable[["HookContext", dict[str, Any]], Awaitable[Any]]


@dataclass(frozen=True)
class HookResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


@dataclass
class HookHttp:
    """The only way out of a hook: a request to the connection's provider, credentials added by the host."""

    proxy: ProxyService
    tenant_id: str
    connection_id: str
    max_response_bytes: int
    calls: int = 0

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> HookResponse:
        self.calls += 1
        target = path + ("?" + urlencode(dict(query)) if query else "")
        sent = list((headers or {}).items())
        body = None
        if json_body is not None:
            body = json.dumps(json_body).encode("utf-8")
            sent.append(("Content-Type", "application/json"))
        call = Call(method.upper(), target, sent, body)
        async with self.proxy.open(
            self.tenant_id, self.connection_id, call, purpose="action.hook",
            max_response_bytes=self.max_response_bytes,
        ) as exchange:  # fmt: skip
            return HookResponse(
                exchange.upstream.status, exchange.upstream.headers, await exchange.upstream.read()
            )


@dataclass
class HookContext:
    http: HookHttp
    config: dict[str, Any]
    connection_id: str
    log: Any = field(default_factory=lambda: get_logger("switchyard.hooks"))


def builtin_hook(connector_id: str, name: str) -> Hook:
    module_name = f"{HOOK_PACKAGE}.{connector_id.replace('-', '_')}"
    try:
        module: ModuleType = importlib.import_module(module_name)
    except ModuleNotFoundError:
        module = ModuleType(module_name)
    hook = getattr(module, name, None)
    if hook is None or not callable(hook):
        raise InvalidInput(
            f"{connector_id} declares hook {name!r} but its module has no such function",
            code="action.hook_missing",
        )
    found: Hook = hook
    return found
