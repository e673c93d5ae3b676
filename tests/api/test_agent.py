"""``POST /api/v1/agent/run`` against the scripted model server (both wire formats) and a provider peer."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest

from tests.api.test_problem_json import assert_problem
from tests.conftest import KEYED_API_KEY, TenantFixture
from tests.flows.test_proxy import connect_keyed
from tests.peers.model_server import (
    ModelServerPeer,
    call_tool,
    call_tool_ending,
    offered_tools,
    running_model_server,
    say,
    tool_results,
)
from tests.peers.provider_api import ProviderApiPeer
from tests.test_log_redaction import Captured, captured_logs

__all__ = ["captured_logs"]  # the fixture, used here

MODEL_KEY = "sk-model-Key-0123456789-never-shown"
FORMATS = ["openai", "anthropic"]
ACTIONS = """
actions:
  - name: whoami
    description: The account the key belongs to.
    request: {path: /user}
  - name: missing
    description: Always 404.
    request: {path: /status/404}
  - name: send
    description: Echo a text.
    inputSchema:
      type: object
      required: [text]
      properties: {text: {type: string}}
      additionalProperties: false
    request: {method: POST, path: /echo, body: {text: "{{text}}"}}
"""


@pytest.fixture
async def model() -> AsyncIterator[ModelServerPeer]:
    async with running_model_server(MODEL_KEY) as peer:
        yield peer


@pytest.fixture
async def keyed(api: httpx2.AsyncClient, tenant: TenantFixture, keyed_api: ProviderApiPeer) -> str:
    """The end user u1's connection to the keyed provider peer, with three actions; and the model key secret."""
    connection = await connect_keyed(api, tenant, keyed_api.url, extra=ACTIONS)
    stored = await api.post(
        "/api/v1/secrets", json={"name": "model-key", "value": MODEL_KEY}, headers=tenant.headers
    )
    assert stored.status_code == 201, stored.text
    return connection


def run_body(model: ModelServerPeer, provider: str, **more: Any) -> dict[str, Any]:
    return {
        "end_user_id": "u1",
        "prompt": "Who am I on the keyed service?",
        "model": "scripted-1",
        "provider": provider,
        "base_url": model.url,
        "api_key_secret": "model-key",
        **more,
    }


def parse_sse(text: str) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


async def stream(
    api: httpx2.AsyncClient, tenant: TenantFixture, body: dict[str, Any]
) -> tuple[str, list[Any]]:
    answer = await api.post(
        "/api/v1/agent/run", json=body, headers={**tenant.headers, "Accept": "text/event-stream"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/event-stream")
    return answer.text, parse_sse(answer.text)


@pytest.mark.parametrize("provider", FORMATS)
async def test_a_run_calls_a_tool_on_the_provider_and_answers(
    api: httpx2.AsyncClient,
    tenant: TenantFixture,
    keyed: str,
    keyed_api: ProviderApiPeer,
    model: ModelServerPeer,
    provider: str,
) -> None:
    model.script = [call_tool_ending("_whoami"), say("You are the peer user.")]
    text, events = await stream(api, tenant, run_body(model, provider))
    kinds = [kind for kind, _ in events]
    assert kinds == ["step", "tool_call", "tool_result", "step", "message", "done"]
    call, result, done = events[1][1], events[2][1], events[-1][1]
    assert call["name"] == "keyed_whoami" and call["arguments"] == {}
    assert result["ok"] is True and result["id"] == call["id"] and result["output"]["id"]
    assert keyed_api.request_log[-1].path == "/user"
    assert keyed_api.request_log[-1].credential == KEYED_API_KEY  # the connection's key reached the provider
    assert done["stop_reason"] == "completed" and done["steps"] == 2
    assert done["final_message"] == "You are the peer user."
    assert done["usage"] == {"input_tokens": 20, "output_tokens": 10, "total": 30}
    # The model saw the tools in its own format, then the tool result carrying the provider's answer.
    assert "keyed_whoami" in offered_tools(model.requests[0])
    returned = tool_results(model.requests[1])
    assert len(returned) == 1 and returned[0]["id"] == call["id"]
    assert json.loads(returned[0]["content"]) == result["output"]
    if provider == "anthropic":
        assert model.requests[0]["max_tokens"] > 0 and returned[0]["is_error"] is False
        assert model.headers[0]["anthropic-version"]
    assert MODEL_KEY not in text and KEYED_API_KEY not in text


@pytest.mark.parametrize("provider", FORMATS)
async def test_a_loop_that_never_ends_is_cut_at_max_steps(
    api: httpx2.AsyncClient, tenant: TenantFixture, keyed: str, model: ModelServerPeer, provider: str
) -> None:
    model.script = [call_tool_ending("_whoami")]  # forever
    answer = await api.post(
        "/api/v1/agent/run", json=run_body(model, provider, max_steps=3), headers=tenant.headers
    )
    assert answer.status_code == 200, answer.text
    summary = answer.json()  # no text/event-stream in Accept: one JSON summary
    assert summary["stop_reason"] == "max_steps" and summary["steps"] == 3
    assert "max_steps=3" in summary["final_message"] and summary["answer"] is None
    assert len(model.requests) == 3
    assert [e["event"] for e in summary["events"]].count("tool_call") == 3
    assert summary["events"][-1]["event"] == "done"


async def test_the_token_limit_stops_the_run(
    api: httpx2.AsyncClient, tenant: TenantFixture, keyed: str, model: ModelServerPeer
) -> None:
    model.script = [call_tool_ending("_whoami")]
    body = run_body(model, "openai", max_tokens_total=20)  # each answer reports 15 tokens
    _, events = await stream(api, tenant, body)
    done = events[-1][1]
    assert done["stop_reason"] == "token_limit" and done["steps"] == 2
    assert "max_tokens_total=20" in done["final_message"]
    assert model.requests[1]["max_tokens"] == 5  # the second call was told what was left


async def test_the_time_limit_stops_a_slow_model(
    api: httpx2.AsyncClient, tenant: TenantFixture, keyed: str, model: ModelServerPeer
) -> None:
    model.script, model.delay = [say("too late")], 5.0
    _, events = await stream(api, tenant, run_body(model, "anthropic", time_limit_seconds=0.5))
    done = events[-1][1]
    assert events[-1][0] == "done" and done["stop_reason"] == "time_limit" and done["steps"] == 0
    assert "time limit of 0.5 s" in done["final_message"] and done["elapsed_seconds"] < 3


@pytest.mark.parametrize("provider", FORMATS)
async def test_a_tool_error_goes_back_to_the_model_with_its_code(
    api: httpx2.AsyncClient, tenant: TenantFixture, keyed: str, model: ModelServerPeer, provider: str
) -> None:
    model.script = [
        call_tool_ending("_missing"),
        call_tool_ending("_send", {"text": 5, "extra": True}),
        say("Sorry, that failed."),
    ]
    _, events = await stream(api, tenant, run_body(model, provider))
    results = [data for kind, data in events if kind == "tool_result"]
    assert results[0]["ok"] is False and results[0]["code"] == "provider.not_found"
    assert results[1]["ok"] is False and results[1]["code"] == "action.invalid_input"
    assert {e["field"] for e in results[1]["errors"]["errors"]} == {"text", "extra"}
    first = tool_results(model.requests[1])[0]
    assert json.loads(first["content"])["error"]["code"] == "provider.not_found"
    second = tool_results(model.requests[2])[-1]
    assert json.loads(second["content"])["error"]["code"] == "action.invalid_input"
    if provider == "anthropic":
        assert first["is_error"] is True
    assert events[-1][1]["stop_reason"] == "completed"


async def test_allowed_tools_filters_what_the_model_sees_and_may_call(
    api: httpx2.AsyncClient,
    tenant: TenantFixture,
    keyed: str,
    keyed_api: ProviderApiPeer,
    model: ModelServerPeer,
) -> None:
    model.script = [call_tool("keyed_send", {"text": "hi"}), say("done")]
    before = len(keyed_api.request_log)
    _, events = await stream(api, tenant, run_body(model, "openai", allowed_tools=["keyed_whoami"]))
    assert offered_tools(model.requests[0]) == ["keyed_whoami"]
    result = next(data for kind, data in events if kind == "tool_result")
    assert result["ok"] is False and result["code"] == "tool.not_found"
    assert len(keyed_api.request_log) == before  # the filtered tool never ran
    unknown = await api.post(
        "/api/v1/agent/run", json=run_body(model, "openai", allowed_tools=["nope"]), headers=tenant.headers
    )
    assert assert_problem(unknown, 422, "agent.unknown_tool")["unknown_tools"] == ["nope"]


@pytest.mark.parametrize("provider", FORMATS)
async def test_the_model_key_never_appears_in_the_stream_or_the_logs(
    api: httpx2.AsyncClient,
    tenant: TenantFixture,
    keyed: str,
    model: ModelServerPeer,
    captured_logs: Captured,
    provider: str,
) -> None:
    model.script = [call_tool_ending("_whoami"), say("ok")]
    text, _ = await stream(api, tenant, run_body(model, provider))
    assert MODEL_KEY not in text
    assert model.headers[0].get("Authorization", model.headers[0].get("x-api-key", "")).endswith(MODEL_KEY)
    # A wrong key: the OpenAI-style 401 quotes the key it was given; the error event must not.
    wrong = "sk-wrong-Key-9876543210-also-secret"
    put = await api.put("/api/v1/secrets/model-key", json={"value": wrong}, headers=tenant.headers)
    assert put.status_code == 200, put.text
    text, events = await stream(api, tenant, run_body(model, provider))
    assert events[-1][0] == "error" and events[-1][1]["code"] == "model.unauthorized"
    assert wrong not in text and MODEL_KEY not in text
    as_json = await api.post("/api/v1/agent/run", json=run_body(model, provider), headers=tenant.headers)
    assert_problem(as_json, 400, "model.unauthorized")
    assert wrong not in as_json.text
    logged = captured_logs.text()
    assert logged and MODEL_KEY not in logged and wrong not in logged
    assert "agent.run.start" in logged


async def test_the_model_key_from_an_integration_goes_through_the_proxy(
    api: httpx2.AsyncClient, tenant: TenantFixture, keyed: str, model: ModelServerPeer
) -> None:
    definition = f"""
name: scripted-llm
version: 1.0.0
displayName: Scripted LLM
authenticationMethods:
  - type: api_key
    credentials: {{api_key: {{title: API key, secret: true}}}}
    inject: {{in: header, name: Authorization, format: "Bearer {{{{api_key}}}}"}}
proxy: {{baseUrl: "{model.url}"}}
"""
    headers = {**tenant.headers, "content-type": "application/yaml"}
    assert (await api.put("/api/v1/connectors/scripted-llm", content=definition, headers=headers)).is_success
    body = {"key": "llm", "connector_id": "scripted-llm", "auth_provider": "direct", "auth_type": "api_key"}
    assert (await api.post("/api/v1/integrations", json=body, headers=tenant.headers)).status_code == 201
    await api.post("/api/v1/end-users", json={"external_id": "ops"}, headers=tenant.headers)
    made = await api.post(
        "/api/v1/connections",
        json={"integration": "llm", "end_user_id": "ops", "credentials": {"api_key": MODEL_KEY}},
        headers=tenant.headers,
    )
    assert made.status_code == 201, made.text
    model.script = [call_tool_ending("_whoami"), say("Through the proxy.")]
    run = run_body(model, "openai", integration="llm", integration_end_user_id="ops")
    del run["api_key_secret"], run["base_url"]
    text, events = await stream(api, tenant, run)
    assert events[-1][1]["final_message"] == "Through the proxy." and MODEL_KEY not in text
    assert model.headers[0]["Authorization"] == f"Bearer {MODEL_KEY}"
    missing = await api.post(
        "/api/v1/agent/run", json={**run, "integration_end_user_id": "u1"}, headers=tenant.headers
    )
    assert_problem(missing, 422, "agent.model_key_missing")


async def test_bad_run_requests_are_refused_before_anything_is_sent(
    api: httpx2.AsyncClient, tenant: TenantFixture, keyed: str, model: ModelServerPeer
) -> None:
    no_key = run_body(model, "openai")
    del no_key["api_key_secret"]
    assert_problem(
        await api.post("/api/v1/agent/run", json=no_key, headers=tenant.headers),
        422,
        "agent.model_key_missing",
    )
    unknown_secret = run_body(model, "openai", api_key_secret="nope")
    assert_problem(
        await api.post("/api/v1/agent/run", json=unknown_secret, headers=tenant.headers),
        404,
        "secret.not_found",
    )
    both = run_body(model, "openai", messages=[{"role": "user", "content": "hi"}])
    assert_problem(
        await api.post("/api/v1/agent/run", json=both, headers=tenant.headers), 422, "agent.invalid_input"
    )
    too_many = run_body(model, "openai", max_steps=51)
    assert (await api.post("/api/v1/agent/run", json=too_many, headers=tenant.headers)).status_code == 422
    blocked = run_body(model, "openai", base_url="http://203.0.113.9")  # not loopback: the egress guard
    _, events = await stream(api, tenant, blocked)
    assert events[-1][0] == "error" and events[-1][1]["code"] == "egress.blocked"
    assert model.requests == []
