"""The agent endpoint (seed 004's ``POST /agent/run``): a tool-calling loop over an end user's tools.

``prepare`` checks the request and settles everything that can fail before the first event (the scope, the
model API and its key, the tools), so that such failures are plain problem responses; ``events`` then runs::

    model call -> step, message?, tool_call*  -> ToolsService.call(via="agent") -> tool_result* -> model ...

until the model answers without a tool call (``completed``), or a limit is reached before the next model call
(``max_steps``, ``time_limit``, ``token_limit``; ``core/agent_loop.py``), and ends with ``done``. A failing
tool is not a failing run: its result goes back to the model as an error object with the stable code. A
failing model call ends the run with the product's error (``model.*``, ``provider.*``, ``egress.blocked``).

The model API key comes from a named secret of the tenant (sent over the data-plane client, behind the
egress guard) or from an integration: then the call goes through the proxy with the connection's
credentials, its rate limits and circuit breaker, and the key never reaches this module. Either way the key
is not logged, not put in an event and is scrubbed from the provider's error texts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from switchyard.adapters import model_apis
from switchyard.core import agent_loop as loop
from switchyard.core.agent_loop import Budget, LoopState, Message, StopReason, ToolOutcome, Turn
from switchyard.core.errors import InvalidInput, NotFound
from switchyard.core.http import Headers
from switchyard.core.models import Principal
from switchyard.core.scopes import Scope
from switchyard.core.tool_schemas import anthropic_tool, openai_function
from switchyard.io_ports import DataHttp
from switchyard.logs import get_logger
from switchyard.ports import Database
from switchyard.services.authz import require
from switchyard.services.proxy import Call, ProxyOptions, ProxyService
from switchyard.services.secrets import SecretsService
from switchyard.services.tools import Tool, ToolsService
from switchyard.services.vault import Accessor

log = get_logger("switchyard.agent")
DEFAULT_BASE_URLS = {"openai": "https://api.openai.com", "anthropic": "https://api.anthropic.com"}
_SLACK_SECONDS = 1.0  # the HTTP timeout runs this much past the run's own, so the run's fires first


@dataclass(frozen=True)
class AgentRun:
    end_user_id: str
    provider: str
    model: str
    prompt: str | None = None
    messages: Sequence[dict[str, Any]] | None = None
    system: str | None = None
    base_url: str | None = None
    api_key_secret: str | None = None
    integration: str | None = None
    integration_end_user_id: str | None = None
    tools_integration: str | None = None
    allowed_tools: Sequence[str] | None = None
    budget: Budget = field(default_factory=Budget)
    max_tokens_per_step: int | None = None


@dataclass(frozen=True)
class AgentEvent:
    kind: str  # step | tool_call | tool_result | message | done | error
    data: dict[str, Any]


@dataclass
class Prepared:
    principal: Principal
    run: AgentRun
    api: model_apis.ModelApi
    send: model_apis.ModelSend = field(repr=False)
    secrets: tuple[str, ...] = field(repr=False)
    tools: dict[str, Tool]
    wire_tools: list[dict[str, Any]]
    transcript: list[Message]


class AgentService:
    def __init__(
        self,
        db: Database,
        tools: ToolsService,
        secrets: SecretsService,
        proxy: ProxyService,
        http: DataHttp,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.tools = tools
        self.secrets = secrets
        self.proxy = proxy
        self.http = http
        self.clock = clock

    async def prepare(self, principal: Principal, run: AgentRun) -> Prepared:
        require(principal, Scope.ACTIONS)
        api = model_apis.api_for(run.provider)
        transcript = loop.initial_messages(run.prompt, run.messages, run.system)
        if not run.model.strip():
            raise InvalidInput("the model is empty", code="agent.invalid_input")
        listed = await self.tools.list(principal, run.end_user_id, integration=run.tools_integration)
        chosen = loop.select_tools((t.name for t in listed), run.allowed_tools)
        tools = {t.name: t for t in listed if t.name in chosen}
        shape = openai_function if api.name == "openai" else anthropic_tool
        send, secrets = await self._sender(principal, run, api)
        return Prepared(
            principal, run, api, send, secrets, tools, [shape(t) for t in tools.values()], transcript
        )

    async def _sender(
        self, principal: Principal, run: AgentRun, api: model_apis.ModelApi
    ) -> tuple[model_apis.ModelSend, tuple[str, ...]]:
        if (run.api_key_secret is None) == (run.integration is None):
            raise InvalidInput(
                "give exactly one of api_key_secret and integration for the model API key",
                code="agent.model_key_missing",
                remediation="Store the key as a secret (POST /api/v1/secrets) and name it in api_key_secret, "
                "or name an integration whose connection holds it.",
            )
        if run.api_key_secret is not None:
            accessor = Accessor(f"agent:{principal.api_key_id or principal.actor}", "model API call")
            resolved = await self.secrets.resolve(
                principal.tenant_id, {"key": {"secret_name": run.api_key_secret}}, accessor=accessor
            )
            key = str(resolved["key"])
            base = run.base_url or DEFAULT_BASE_URLS[api.name]
            return model_apis.DirectSend(self.http, api, base, key), (key,)
        connection_id = await self._model_connection(principal, run)
        return self._proxy_send(principal.tenant_id, connection_id, api, run.base_url), ()

    async def _model_connection(self, principal: Principal, run: AgentRun) -> str:
        """The active connection of ``run.integration`` held by the model key's end user."""
        owner = run.integration_end_user_id or run.end_user_id
        key = run.integration or ""
        async with self.db.transaction(write=False) as tx:
            integration = await tx.integrations.get(principal.tenant_id, key)
            user = await tx.end_users.get(principal.tenant_id, owner)
            page = None
            if integration is not None and user is not None:
                page = await tx.connections.page(
                    principal.tenant_id,
                    after=None,
                    limit=1,
                    end_user_id=user.id,
                    integration_id=integration.id,
                    status="active",
                )
        if integration is None:
            raise NotFound(f"no integration {key!r}", code="integration.not_found")
        if page is None or not page.items:
            raise InvalidInput(
                f"end user {owner!r} has no active connection of integration {key!r} to take the model key from",
                code="agent.model_key_missing",
                remediation="Connect the model provider for that end user, or use api_key_secret.",
            )
        return page.items[0].id

    def _proxy_send(
        self, tenant_id: str, connection_id: str, api: model_apis.ModelApi, base_url: str | None
    ) -> model_apis.ModelSend:
        proxy = self.proxy
        # The proxy adds the connection's credential; the API's other fixed headers come from here.
        fixed = [h for h in api.key_headers("") if h[0].lower() not in ("authorization", "x-api-key")]

        async def send(path: str, body: bytes, headers: Headers, seconds: float) -> tuple[int, bytes]:
            call = Call("POST", path, [*headers, *fixed], body)
            async with asyncio.timeout(seconds):
                async with proxy.open(
                    tenant_id,
                    connection_id,
                    call,
                    ProxyOptions(base_url=base_url),
                    purpose="agent",
                    idempotent=False,
                    max_response_bytes=model_apis.MAX_MODEL_ANSWER_BYTES,
                ) as exchange:
                    return exchange.upstream.status, await exchange.upstream.read()

        return send

    async def events(self, prepared: Prepared) -> AsyncIterator[AgentEvent]:
        """The run, event by event; a failing model call raises (the caller renders it)."""
        run, budget = prepared.run, prepared.run.budget
        state = LoopState(started=self.clock())
        transcript = list(prepared.transcript)
        answer: str | None = None
        reason: StopReason | None = None
        log.info(
            "agent.run.start",
            tenant_id=prepared.principal.tenant_id,
            end_user_id=run.end_user_id,
            provider=run.provider,
            model=run.model,
            tools=len(prepared.tools),
        )
        while (reason := loop.limit_reached(budget, state, self.clock())) is None:
            turn = await self._model_call(prepared, transcript, state)
            if turn is None:
                reason = StopReason.TIME_LIMIT
                break
            state.steps += 1
            state.usage = state.usage + turn.usage
            yield AgentEvent(
                "step",
                {
                    "step": state.steps,
                    "finish": turn.finish,
                    "tool_calls": len(turn.tool_calls),
                    "usage": turn.usage.as_dict(),
                    "usage_total": state.usage.as_dict(),
                },
            )
            if turn.text:
                answer = turn.text
                yield AgentEvent("message", {"step": state.steps, "role": "assistant", "content": turn.text})
            transcript.append(turn.as_message())
            if not turn.tool_calls:
                reason = StopReason.COMPLETED
                break
            outcomes: list[ToolOutcome] = []
            for call in turn.tool_calls:
                yield AgentEvent(
                    "tool_call",
                    {"step": state.steps, "id": call.id, "name": call.name, "arguments": call.arguments},
                )
                outcome, data = await self._tool_call(prepared, call, state, budget)
                outcomes.append(outcome)
                yield AgentEvent("tool_result", {"step": state.steps, **data})
            transcript.append(Message(role="tool", results=tuple(outcomes)))
        final = answer if reason is StopReason.COMPLETED else loop.stop_message(reason, budget, state)
        log.info(
            "agent.run.done",
            tenant_id=prepared.principal.tenant_id,
            end_user_id=run.end_user_id,
            stop_reason=reason.value,
            steps=state.steps,
            tokens=state.usage.total,
        )
        yield AgentEvent(
            "done",
            {
                "stop_reason": reason.value,
                "steps": state.steps,
                "final_message": final,
                "answer": answer,
                "usage": state.usage.as_dict(),
                "elapsed_seconds": round(self.clock() - state.started, 3),
            },
        )

    async def _model_call(
        self, prepared: Prepared, transcript: list[Message], state: LoopState
    ) -> Turn | None:
        """The model's next turn, or None when the time limit ran out while waiting for it."""
        budget = prepared.run.budget
        left = state.remaining_seconds(budget, self.clock())
        max_tokens = prepared.run.max_tokens_per_step
        if budget.max_tokens_total is not None:
            remaining = max(budget.max_tokens_total - state.usage.total, 1)
            max_tokens = min(max_tokens or remaining, remaining)
        try:
            async with asyncio.timeout(left):
                return await model_apis.complete(
                    prepared.api,
                    prepared.send,
                    model=prepared.run.model,
                    messages=transcript,
                    tools=prepared.wire_tools,
                    max_tokens=max_tokens,
                    seconds=left + _SLACK_SECONDS,
                    secrets=prepared.secrets,
                )
        except TimeoutError:
            return None

    async def _tool_call(
        self, prepared: Prepared, call: loop.ToolCall, state: LoopState, budget: Budget
    ) -> tuple[ToolOutcome, dict[str, Any]]:
        base = {"id": call.id, "name": call.name}
        if call.name not in prepared.tools:
            outcome = loop.unknown_tool(call)
            return outcome, {**base, "ok": False, "code": "tool.not_found", "detail": outcome.content}
        left = state.remaining_seconds(budget, self.clock())
        try:
            async with asyncio.timeout(max(left, 0.001)):
                result = await self.tools.call(
                    prepared.principal,
                    prepared.run.end_user_id,
                    call.name,
                    call.arguments,
                    via="agent",
                    integration=prepared.run.tools_integration,
                )
        except TimeoutError:
            code, detail = "agent.time_limit", "the run's time limit was reached during the tool call"
            text = loop.outcome_text(False, None, code, detail)
            return ToolOutcome(call.id, call.name, text, True), {
                **base,
                "ok": False,
                "code": code,
                "detail": detail,
            }
        text = loop.outcome_text(result.ok, result.output, result.code, result.detail)
        data: dict[str, Any] = {**base, "ok": result.ok}
        if result.ok:
            data["output"] = result.output
        else:
            data.update(code=result.code, detail=result.detail, errors=result.output)
        return ToolOutcome(call.id, call.name, text, not result.ok), data
