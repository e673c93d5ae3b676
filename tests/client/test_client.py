"""The Python client against a real Switchyard app and real provider peers on loopback.

The app is reached through ASGI in most tests and through a real uvicorn server on 127.0.0.1 in one. The
OpenAI peer speaks OpenAI's wire format and checks the Bearer key; the tenant's own definition named
``openai`` is the built-in one with its base URL pointed at the peer.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx2
import pytest
import uvicorn
import yaml
from aiohttp import web

import switchyard.client as sy
from switchyard import catalog as builtin_catalog
from switchyard.api.app import create_app
from switchyard.client.errors import from_response, retry_after_seconds
from switchyard.services.container import Container
from tests.conftest import TenantFixture, make_tenant
from tests.flows.test_actions import ACTIONS
from tests.flows.test_proxy import API_KEY, connect_keyed
from tests.peers.loopback import serving
from tests.peers.provider_api import ProviderApiPeer

BASE_URL = "http://switchyard.test"
OPENAI_KEY = "sk-proj-peer0123456789abcdef"
CATALOG = Path(builtin_catalog.__file__).parent


class OpenAiPeer:
    """OpenAI's ``/v1/models``, ``/v1/chat/completions`` and ``/v1/embeddings``, for the keys in ``keys``."""

    def __init__(self, key: str) -> None:
        self.keys = {key}
        self.requests: list[dict[str, Any]] = []
        self.url = ""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v1/models", self.models)
        app.router.add_post("/v1/chat/completions", self.chat)
        app.router.add_post("/v1/embeddings", self.embeddings)
        return app

    def _refused(self, request: web.Request) -> web.Response | None:
        given = request.headers.get("Authorization", "")
        if given.startswith("Bearer ") and given.removeprefix("Bearer ") in self.keys:
            return None
        error = {"message": "Incorrect API key provided.", "type": "invalid_request_error"}
        return web.json_response({"error": {**error, "code": "invalid_api_key"}}, status=401)

    async def _record(self, request: web.Request) -> dict[str, Any]:
        body: dict[str, Any] = await request.json() if request.can_read_body else {}
        self.requests.append({"path": request.path, "auth": request.headers["Authorization"], "body": body})
        return body

    async def models(self, request: web.Request) -> web.Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        await self._record(request)
        data = [{"id": "gpt-4o-mini", "object": "model", "created": 0, "owned_by": "system"}]
        return web.json_response({"object": "list", "data": data})

    async def chat(self, request: web.Request) -> web.Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        body = await self._record(request)
        prompt = next(m["content"] for m in body["messages"] if m["role"] == "user")
        message = {"role": "assistant", "content": f"You said: {prompt}", "refusal": None}
        return web.json_response(
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 0,
                "model": body["model"],
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9},
            }
        )

    async def embeddings(self, request: web.Request) -> web.Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        body = await self._record(request)
        data = [
            {"object": "embedding", "index": i, "embedding": [float(len(text)), 0.5]}
            for i, text in enumerate(body["input"])
        ]
        return web.json_response({"object": "list", "data": data, "model": body["model"]})


@pytest.fixture
async def openai_peer() -> AsyncIterator[OpenAiPeer]:
    peer = OpenAiPeer(OPENAI_KEY)
    async with serving(peer.app()) as url:
        peer.url = url
        yield peer


async def connect_openai(api: httpx2.AsyncClient, tenant: TenantFixture, url: str) -> str:
    """The built-in OpenAI definition, pointed at ``url``, as the tenant's own; then one connection."""
    definition = yaml.safe_load((CATALOG / "openai.yaml").read_text(encoding="utf-8"))
    definition["proxy"]["baseUrl"] = url
    put = await api.put("/api/v1/connectors/openai", json=definition, headers=tenant.headers)
    assert put.status_code == 200, put.text
    body = {"key": "openai", "connector_id": "openai", "auth_provider": "direct", "auth_type": "api_key"}
    assert (await api.post("/api/v1/integrations", json=body, headers=tenant.headers)).status_code == 201
    await api.post("/api/v1/end-users", json={"external_id": "u1"}, headers=tenant.headers)
    made = await api.post(
        "/api/v1/connections",
        json={"integration": "openai", "end_user_id": "u1", "credentials": {"api_key": OPENAI_KEY}},
        headers=tenant.headers,
    )
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


@pytest.fixture
async def openai_connection(api: httpx2.AsyncClient, tenant: TenantFixture, openai_peer: OpenAiPeer) -> str:
    return await connect_openai(api, tenant, openai_peer.url)


def client_for(container: Container, key: str) -> sy.Switchyard:
    return sy.Switchyard(BASE_URL, key, transport=httpx2.ASGITransport(app=create_app(container=container)))


@pytest.fixture
async def switchyard(container: Container, tenant: TenantFixture) -> AsyncIterator[sy.Switchyard]:
    async with client_for(container, tenant.key) as client:
        yield client


def test_the_public_surface_is_pinned() -> None:
    assert sorted(sy.__all__) == [
        "ActionInfo", "ActionMethod", "ActionResult", "BadRequest", "BadResponse", "Conflict", "Connection",
        "ConnectionPage", "Connector", "Credentials", "Forbidden", "InvalidInput", "NotFound",
        "PayloadTooLarge", "ProxyResponse", "RateLimited", "RequestError", "ServerError", "Switchyard",
        "SwitchyardClientError", "TestResult", "Unauthorized", "Unavailable", "UnknownAction",
        "Unreachable", "UpstreamFailed", "UsageError", "get_connector",
    ]  # fmt: skip
    assert all(getattr(sy, name).__module__.startswith("switchyard.client.") for name in sy.__all__)
    assert issubclass(sy.UnknownAction, sy.NotFound) and issubclass(sy.UnknownAction, AttributeError)


async def test_credentials_are_masked_and_the_key_never_appears(
    switchyard: sy.Switchyard, openai_connection: str
) -> None:
    flat = await switchyard.get_connector_credentials(openai_connection)
    assert set(flat) == {"api_key"}
    assert flat["api_key"].startswith("***") and flat["api_key"] != OPENAI_KEY
    assert OPENAI_KEY not in repr(flat) and OPENAI_KEY[-10:] not in repr(flat)
    typed = await switchyard.credentials(openai_connection)
    assert typed.connection_id == openai_connection and typed.configuration == {}
    assert typed.as_dict() == flat


async def test_the_connection_test_answers_seed_001s_shape(
    switchyard: sy.Switchyard, openai_connection: str, openai_peer: OpenAiPeer
) -> None:
    passed = await switchyard.test_connector_connection(openai_connection)
    assert passed == {"success": True, "error": None, "code": None, "status": 200, "account_id": None}
    assert openai_peer.requests[-1]["path"] == "/v1/models"
    assert openai_peer.requests[-1]["auth"] == f"Bearer {OPENAI_KEY}"
    openai_peer.keys.clear()  # the provider revokes the key
    failed = await switchyard.test_connector_connection(openai_connection)
    assert failed["success"] is False and failed["status"] == 401
    assert isinstance(failed["error"], str) and failed["error"]
    assert OPENAI_KEY not in repr(failed)
    typed = await switchyard.test_connection(openai_connection)
    assert typed == sy.TestResult(**failed)


async def test_generate_text_end_to_end_and_cleanup(
    switchyard: sy.Switchyard, openai_connection: str, openai_peer: OpenAiPeer
) -> None:
    connector = switchyard.get_connector("openai", openai_connection)
    try:
        assert await connector.generate_text("Hello!") == "You said: Hello!"
    finally:
        await connector.cleanup()
    sent = openai_peer.requests[-1]
    assert sent["path"] == "/v1/chat/completions" and sent["auth"] == f"Bearer {OPENAI_KEY}"
    assert sent["body"]["model"] == "gpt-4o-mini"  # the schema's default
    assert sent["body"]["messages"][0] == {"role": "system", "content": "You are a helpful assistant."}
    assert "max_completion_tokens" not in sent["body"] and "temperature" not in sent["body"]
    await connector.cleanup()  # idempotent
    assert connector.closed and not switchyard.closed  # a shared client stays open
    with pytest.raises(sy.UsageError) as closed:
        await connector.generate_text("again")
    assert closed.value.code == "client.closed"


async def test_options_embeddings_and_the_seed_instance(
    switchyard: sy.Switchyard, openai_connection: str, openai_peer: OpenAiPeer
) -> None:
    async with await switchyard.create_sdk_connector_instance(openai_connection) as connector:
        assert connector.connector_id == "openai"
        text = await connector.generate_text("Bonjour", model="gpt-4.1", temperature=0, max_tokens=20)
        assert text == "You said: Bonjour"
        body = openai_peer.requests[-1]["body"]
        assert (body["model"], body["temperature"], body["max_completion_tokens"]) == ("gpt-4.1", 0, 20)
        vectors = await connector.create_embeddings(["text1", "text22"])
        assert [(v["index"], v["embedding"][0]) for v in vectors] == [(0, 5.0), (1, 6.0)]
        assert openai_peer.requests[-1]["body"]["model"] == "text-embedding-3-small"
        models = await connector.list_models()  # an action without a named method
        assert [m["id"] for m in models] == ["gpt-4o-mini"]
        result = await connector.run_action("generate_text", {"prompt": "hi"})
        assert result.output == "You said: hi" and result.connection_id == openai_connection
        assert result.action == "generate_text" and result.attempts == 1 and result.fallback_from is None
        names = [action.name for action in await connector.actions()]
        assert {"generate_text", "create_embeddings", "list_models"} <= set(names)
        info = await connector.action("generate_text")
        assert info.required == ("prompt",) and "temperature" in info.fields
        assert "generate_text" in dir(connector)
    assert connector.closed


async def test_unknown_actions_fail_clearly(
    switchyard: sy.Switchyard,
    api: httpx2.AsyncClient,
    tenant: TenantFixture,
    keyed_api: ProviderApiPeer,
) -> None:
    cid = await connect_keyed(api, tenant, keyed_api.url, extra=ACTIONS)
    connector = switchyard.get_connector("keyed", cid)
    with pytest.raises(sy.UnknownAction) as before_listing:
        await connector.no_such_action(x=1)
    assert before_listing.value.code == "action.not_found"
    assert "whoami" in before_listing.value.detail  # the known names are listed
    assert not hasattr(connector, "no_such_action")  # listed now: the check is immediate
    with pytest.raises(AttributeError):
        _ = connector.list_issues
    with pytest.raises(sy.UnknownAction):
        await connector.run("list_issues", owner="octo")
    assert (await connector.whoami())["id"]
    assert await connector.send(text="hi", count=2) == {"message": {"text": "hi", "n": 2}}
    with pytest.raises(AttributeError):
        _ = connector._private
    wrong = switchyard.get_connector("openai", cid)
    with pytest.raises(sy.UsageError) as mismatch:
        await wrong.generate_text("Hello!")
    assert mismatch.value.code == "client.connector_mismatch" and "keyed" in mismatch.value.detail


async def test_an_unknown_connection_is_not_found(
    switchyard: sy.Switchyard, container: Container, openai_connection: str
) -> None:
    calls: list[Callable[[], Awaitable[object]]] = [
        lambda: switchyard.get_connector_credentials("con_missing"),
        lambda: switchyard.test_connector_connection("con_missing"),
        lambda: switchyard.create_sdk_connector_instance("con_missing"),
        lambda: switchyard.get_connector("openai", "con_missing").generate_text("Hello!"),
    ]
    for call in calls:
        with pytest.raises(sy.NotFound) as missing:
            await call()
        assert missing.value.status == 404 and missing.value.code == "connection.not_found"
        assert missing.value.detail and missing.value.request_id
        assert "connection.not_found" in str(missing.value)
    other = await make_tenant(container, "admin")  # another tenant's key sees nothing of this one
    async with client_for(container, other.key) as foreign:
        with pytest.raises(sy.NotFound):
            await foreign.get_connector_credentials(openai_connection)


async def test_invalid_input_names_the_fields(
    switchyard: sy.Switchyard,
    openai_connection: str,
    openai_peer: OpenAiPeer,
) -> None:
    connector = switchyard.get_connector("openai", openai_connection)
    before = len(openai_peer.requests)
    with pytest.raises(sy.InvalidInput) as bad:
        await connector.generate_text("", temperature=5, colour="blue")
    error = bad.value
    assert error.status == 422 and error.code == "action.invalid_input" and error.remediation
    assert {problem["field"] for problem in error.errors} == {"prompt", "temperature", "colour"}
    assert "blue" not in str(error)
    assert len(openai_peer.requests) == before  # nothing reached the provider


async def test_the_proxy_returns_the_providers_answer(
    switchyard: sy.Switchyard,
    api: httpx2.AsyncClient,
    tenant: TenantFixture,
    keyed_api: ProviderApiPeer,
) -> None:
    cid = await connect_keyed(api, tenant, keyed_api.url)
    connector = switchyard.get_connector("keyed", cid)
    echoed = await connector.proxy("POST", "/echo", params=[("a", "1"), ("a", "2")], json={"n": 1})
    assert echoed.ok and echoed.status == 200
    assert echoed.json()["query"] == [["a", "1"], ["a", "2"]] and echoed.json()["body"]["json"] == {"n": 1}
    assert keyed_api.request_log[-1].credential == API_KEY
    refused = await connector.proxy("GET", "status/404")  # the provider's own 404 is an answer
    assert refused.status == 404 and not refused.ok
    with pytest.raises(sy.NotFound) as missing:
        await switchyard.proxy("con_missing", "GET", "/user")
    assert missing.value.code == "connection.not_found"
    with pytest.raises(ValueError):
        await connector.proxy("GET", "/a/../../connections")


async def test_a_wrong_key_and_an_absent_server(container: Container) -> None:
    async with client_for(container, "syk_not_a_real_key") as stranger:
        with pytest.raises(sy.Unauthorized) as refused:
            await stranger.list_connections()
    assert refused.value.status == 401 and refused.value.code == "auth.invalid_api_key"
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with sy.Switchyard(f"http://127.0.0.1:{port}", "syk_x", timeout=5) as absent:
        with pytest.raises(sy.Unreachable) as unreachable:
            await absent.get_connection("con_1")
    assert unreachable.value.code == "client.unreachable" and unreachable.value.retriable
    assert unreachable.value.status is None
    with pytest.raises(ValueError):
        sy.Switchyard(BASE_URL, " ")


def test_problem_documents_become_typed_errors() -> None:
    problem = {"type": "https://switchyard.dev/problems/rate.limited", "title": "RateLimited", "status": 429,
               "code": "rate.limited", "detail": "slow down", "request_id": "req_1"}  # fmt: skip
    headers = {"Retry-After": "7", "content-type": "application/problem+json"}
    limited = from_response(httpx2.Response(429, json=problem, headers=headers))
    assert isinstance(limited, sy.RateLimited) and limited.retry_after == 7.0 and limited.retriable
    assert (limited.code, limited.detail, limited.request_id) == ("rate.limited", "slow down", "req_1")
    plain = from_response(httpx2.Response(503, text="upstream down", headers={"x-request-id": "r2"}))
    assert isinstance(plain, sy.Unavailable) and plain.code == "http.503" and plain.request_id == "r2"
    assert plain.detail == "upstream down"
    assert isinstance(from_response(httpx2.Response(418)), sy.RequestError)
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert retry_after_seconds("soon") is None


@pytest.fixture
async def served(container: Container) -> AsyncIterator[str]:
    """The app on a real uvicorn server on 127.0.0.1."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(create_app(container=container), log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        assert not task.done(), "uvicorn stopped before it started"
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


async def test_over_real_http_the_seed_snippets_work(
    served: str, tenant: TenantFixture, openai_connection: str
) -> None:
    async with sy.Switchyard(served, tenant.key) as switchyard:
        test_result = await switchyard.test_connector_connection(openai_connection)
        assert test_result["success"], test_result
        sdk_connector = await switchyard.create_sdk_connector_instance(openai_connection)
        try:
            result = await sdk_connector.generate_text("Hello world!")
        finally:
            await sdk_connector.cleanup()
        assert result == "You said: Hello world!"
    connector = sy.get_connector("openai", openai_connection, base_url=served, api_key=tenant.key)
    try:
        assert await connector.generate_text("Hello!") == "You said: Hello!"
        assert (await connector.create_embeddings("one"))[0]["index"] == 0
    finally:
        await connector.cleanup()
    assert connector.closed and connector.client.closed  # it owned its client
