"""Typed actions: validate the input, run the action (HTTP template, SQL or Python hook), check the output.

HTTP actions go through ``ProxyService``, so they share its rate limits, circuit breaker, retries and
egress guard. A provider failure (unreachable, 5xx, circuit open) runs the action's declared ``fallback``
with the same input, and the result says so. Every run is logged with its outcome, never with the input.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from switchyard.core import actions as plan
from switchyard.core.errors import (
    CircuitOpen,
    FatalError,
    InvalidInput,
    NotFound,
    ProviderRejected,
    SwitchyardError,
    UpstreamError,
)
from switchyard.core.manifest.action_schema import Action
from switchyard.core.models import Principal
from switchyard.core.scopes import Scope
from switchyard.logs import get_logger
from switchyard.services import action_io
from switchyard.services.authz import require
from switchyard.services.catalog import BUILTIN, PACKAGE, CatalogService
from switchyard.services.hooks import HookContext, HookHttp, builtin_hook
from switchyard.services.package_code import PackageCode
from switchyard.services.proxy import Call, ProxyService
from switchyard.services.targets import Target

log = get_logger("switchyard.actions")
SqlRunner = Callable[[Target, str, Mapping[str, Any]], Awaitable[Any]]


@dataclass(frozen=True)
class ActionResult:
    output: Any
    connection_id: str
    action: str
    provider: str
    attempts: int
    duration_ms: float
    fallback_from: str | None = None


def action_not_found(connector_id: str, name: str) -> NotFound:
    return NotFound(
        f"{connector_id} has no action {name!r}",
        code="action.not_found",
        remediation=f"List the actions with GET /api/v1/connectors/{connector_id}/actions.",
    )


class ActionsService:
    def __init__(
        self,
        catalog: CatalogService,
        proxy: ProxyService,
        *,
        max_response_bytes: int,
        sql: SqlRunner | None = None,
        package_code: PackageCode | None = None,
    ) -> None:
        self.catalog = catalog
        self.proxy = proxy
        self.max_response_bytes = max_response_bytes
        self.sql = sql
        self.package_code = package_code
        self.schemas = action_io.SchemaCache()

    async def list_actions(self, principal: Principal, connector_id: str) -> list[Action]:
        return list((await self.catalog.definition(principal.tenant_id, connector_id)).actions)

    async def run(
        self, principal: Principal, connection_id: str, action_name: str, payload: dict[str, Any]
    ) -> ActionResult:
        """Run ``action_name`` on the connection with ``payload``; errors keep their stable codes."""
        require(principal, Scope.ACTIONS)
        target = await self.proxy.targets.get(principal.tenant_id, connection_id, "action")
        definition = target.definition
        action = definition.action(action_name)
        if action is None:
            raise action_not_found(definition.name, action_name)
        started = time.perf_counter()
        try:
            output, attempts = await self._checked(target, action, payload)
        except (UpstreamError, CircuitOpen) as exc:
            fallback = definition.action(action.fallback) if action.fallback else None
            if fallback is None:
                self._log(connection_id, action, exc.code, started)
                raise
            log.warning("action.fallback", action=action.name, fallback=fallback.name, code=exc.code)
            output, attempts = await self._checked(target, fallback, payload)
            return self._result(target, fallback, output, attempts, started, action.name)
        except SwitchyardError as exc:
            self._log(connection_id, action, exc.code, started)
            raise
        return self._result(target, action, output, attempts, started, None)

    def _result(
        self,
        target: Target,
        action: Action,
        output: Any,
        attempts: int,
        started: float,
        fallback_from: str | None,
    ) -> ActionResult:
        connection_id = target.connection.id
        elapsed = self._log(connection_id, action, "success", started)
        return ActionResult(
            output, connection_id, action.name, target.provider, attempts, elapsed, fallback_from
        )

    def _log(self, connection_id: str, action: Action, outcome: str, started: float) -> float:
        elapsed = round((time.perf_counter() - started) * 1000, 2)
        log.info(
            "action.run",
            action=action.name,
            connection_id=connection_id,
            outcome=outcome,
            duration_ms=elapsed,
        )
        return elapsed

    async def _checked(self, target: Target, action: Action, payload: dict[str, Any]) -> tuple[Any, int]:
        payload = action_io.with_defaults(action.input_schema, payload)
        action_io.check_input(self.schemas.validator(action.input_schema), payload, action.name)
        if action.request is not None:
            output, attempts, status = await self._http(target, action, payload)
        elif action.sql is not None:
            output, attempts, status = await self._sql(target, action.sql, payload), 1, 200
        else:
            output, attempts, status = await self._hook(target, action, payload)
        if action.output_schema is not None:
            action_io.check_output(self.schemas.validator(action.output_schema), output, action.name, status)
        return output, attempts

    async def _http(self, target: Target, action: Action, payload: dict[str, Any]) -> tuple[Any, int, int]:
        definition = target.definition
        tenant_id, connection_id = target.connection.tenant_id, target.connection.id
        call = plan.build_call(action, payload, target.connection.config)
        pages: list[Any] = []
        attempts = status = 0
        for _ in range(action.max_pages if action.paginate else 1):
            request = Call(call.method, call.target(), list(call.headers), call.body)
            async with self.proxy.open(
                tenant_id, connection_id, request, purpose="action",
                idempotent=action.is_idempotent(), max_response_bytes=self.max_response_bytes,
            ) as exchange:  # fmt: skip
                upstream = exchange.upstream
                body = await upstream.read()
                attempts += exchange.attempts
                status, headers = upstream.status, upstream.headers
            if status >= 400:
                raise action_io.refused(definition.display_name, status, body, headers, definition.retry)
            document = self._document(action, status, body, definition.display_name)
            reason = plan.refusal(action.response, document)
            if reason is not None:
                raise ProviderRejected(
                    f"{definition.display_name} refused {action.name}: {reason}", upstream_status=status
                )
            if not action.paginate or definition.pagination is None:
                return plan.select(document, action.response.select), attempts, status
            pages += plan.page_items(definition.pagination, document)
            following = plan.next_page(definition.pagination, call, document, headers, len(pages))
            if following is None:
                break
            call = following
        return pages, attempts, status

    @staticmethod
    def _document(action: Action, status: int, body: bytes, provider: str) -> Any:
        if status == 204 or not body.strip():
            return {} if action.response.empty == "object" else None
        return action_io.decode(body, status, provider)

    async def _sql(self, target: Target, kind: str, payload: dict[str, Any]) -> Any:
        if self.sql is None:
            raise InvalidInput("SQL actions are not available in this process", code="action.sql_unavailable")
        return await self.sql(target, kind, payload)

    async def _hook(self, target: Target, action: Action, payload: dict[str, Any]) -> tuple[Any, int, int]:
        assert action.hook is not None
        connection = target.connection
        entry = await self.catalog.get(connection.tenant_id, connection.connector_id)
        http = HookHttp(self.proxy, connection.tenant_id, connection.id, self.max_response_bytes)
        if entry.source == PACKAGE and self.package_code is not None:
            output = await self.package_code.run(
                connection.tenant_id, connection.connector_id, target.definition.version, action.hook,
                payload, config=dict(connection.config), connection_id=connection.id, http=http,
            )  # fmt: skip
            return output, max(http.calls, 1), 200
        if entry.source != BUILTIN and not entry.overrides_builtin:
            raise InvalidInput(
                f"{connection.connector_id} is a tenant definition; its Python hooks need an uploaded package",
                code="action.hook_unavailable",
            )
        hook = builtin_hook(connection.connector_id, action.hook)
        try:
            output = await hook(HookContext(http, dict(connection.config), connection.id), payload)
        except SwitchyardError:
            raise
        except Exception as exc:  # a bug in the hook: reported with its type, never its message or trace
            log.error("action.hook_failed", action=action.name, error_type=type(exc).__name__)
            raise FatalError(
                f"the {action.name} hook failed with {type(exc).__name__}",
                code="action.hook_failed",
                remediation="Report it to the connector's author; the provider may have answered unexpectedly.",
            ) from None
        return output, max(http.calls, 1), 200
