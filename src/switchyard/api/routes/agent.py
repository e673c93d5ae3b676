"""``POST /api/v1/agent/run`` (seed 004's ``POST /agent/run``): the agent loop as server-sent events or JSON.

A client that accepts ``text/event-stream`` gets the events as they happen (``event: step`` / ``tool_call`` /
``tool_result`` / ``message`` / ``done``, JSON data); a failure once streaming has begun is an ``event:
error`` with the problem's ``code``, ``detail`` and ``status``, and ends the stream. Any other client gets one
JSON summary with every event, or the problem. Failures found before the run starts (scope, body, model key,
tools) are problem responses either way.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from switchyard import context
from switchyard.api.agent_schemas import AgentEventOut, AgentRunIn, AgentRunOut
from switchyard.api.deps import ContainerDep, PrincipalDep
from switchyard.core.errors import SwitchyardError
from switchyard.core.redaction import redact_text
from switchyard.logs import get_logger
from switchyard.services.agent import AgentEvent, AgentService, Prepared

router = APIRouter(prefix="/api/v1/agent", tags=["agent"])
log = get_logger("switchyard.agent")
EVENT_STREAM = "text/event-stream"


def agent_service(container: ContainerDep) -> AgentService:
    return AgentService(
        container.db, container.tools, container.secrets, container.proxy, container.data_http
    )


AgentDep = Annotated[AgentService, Depends(agent_service)]


def _sse(event: AgentEvent, secrets: tuple[str, ...]) -> bytes:
    data = json.dumps(event.data, default=str, ensure_ascii=False)
    data = redact_text(data, [*secrets, *context.released_values()])
    return f"event: {event.kind}\ndata: {data}\n\n".encode()


async def _stream(service: AgentService, prepared: Prepared) -> AsyncIterator[bytes]:
    secrets = prepared.secrets
    try:
        async for event in service.events(prepared):
            yield _sse(event, secrets)
    except SwitchyardError as exc:
        log.info("agent.run.failed", code=exc.code, status=exc.status)
        body = {"code": exc.code, "detail": exc.detail, "status": exc.status}
        if exc.remediation:
            body["remediation"] = exc.remediation
        yield _sse(AgentEvent("error", body), secrets)


@router.post(
    "/run",
    summary="Run a tool-calling agent over an end user's connected tools",
    response_model=AgentRunOut,
    responses={200: {"content": {EVENT_STREAM: {"schema": {"type": "string"}}}}},
)
async def run_agent(
    body: AgentRunIn, request: Request, principal: PrincipalDep, service: AgentDep
) -> AgentRunOut | StreamingResponse:
    prepared = await service.prepare(principal, body.to_run())
    if EVENT_STREAM in request.headers.get("accept", ""):
        return StreamingResponse(
            _stream(service, prepared),
            media_type=EVENT_STREAM,
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )
    events = [event async for event in service.events(prepared)]
    done = events[-1].data
    return AgentRunOut(
        stop_reason=done["stop_reason"],
        steps=done["steps"],
        final_message=done["final_message"],
        answer=done["answer"],
        usage=done["usage"],
        elapsed_seconds=done["elapsed_seconds"],
        events=[AgentEventOut(event=e.kind, data=e.data) for e in events],
    )
