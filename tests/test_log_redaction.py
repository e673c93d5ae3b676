"""No secret in any log line: values the vault released, secret-like fields and API keys are redacted.

Logging is configured the way the server does it (``switchyard.logs.configure``, JSON lines) and every line
is captured, whether it comes from structlog or from a standard-library logger; the configuration is put
back afterwards so that other tests see the logging they expect.
"""

from __future__ import annotations

import contextvars
import io
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest
import structlog

from switchyard import context, logs
from switchyard.api.app import create_app
from switchyard.api.deps import PrincipalDep
from switchyard.core import apikeys
from switchyard.core.redaction import REDACTED
from switchyard.services.container import Container
from tests.api.test_problem_json import assert_problem, client_for
from tests.conftest import KEYED_API_KEY, TenantFixture
from tests.flows.test_proxy import connect_keyed, via
from tests.peers.provider_api import ProviderApiPeer

PLAINTEXT = "pl41ntext-Value-that-must-never-be-logged"
STDLIB_LOGGERS = ("", "uvicorn", "uvicorn.error", "uvicorn.access", "aiosqlite")


@dataclass
class Captured:
    stream: io.StringIO

    def text(self) -> str:
        return self.stream.getvalue()

    def lines(self) -> list[dict[str, Any]]:
        """Every line written so far; each must be one JSON object."""
        return [json.loads(line) for line in self.text().splitlines() if line.strip()]

    def mark(self) -> int:
        return len(self.text())

    def since(self, mark: int) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text()[mark:].splitlines() if line.strip()]


@pytest.fixture
def captured_logs() -> Iterator[Captured]:
    """``logs.configure("DEBUG", "json")`` writing to a buffer; the previous logging set-up is restored after."""
    saved_structlog = structlog.get_config()
    saved = {
        name: (list(logger.handlers), logger.level, logger.propagate)
        for name in STDLIB_LOGGERS
        for logger in [logging.getLogger(name)]
    }
    logs.configure("DEBUG", "json")
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    stream = io.StringIO()
    handler.setStream(stream)
    try:
        yield Captured(stream)
    finally:
        structlog.configure(**saved_structlog)
        for name, (handlers, level, propagate) in saved.items():
            logger = logging.getLogger(name)
            logger.handlers[:] = handlers
            logger.setLevel(level)
            logger.propagate = propagate


def in_request(rid: str, *released: str) -> Callable[[Callable[[], None]], None]:
    """Run a synchronous block as if inside request ``rid`` that released ``released``, in its own context."""

    def run(block: Callable[[], None]) -> None:
        def inside() -> None:
            context.begin(rid)
            for value in released:
                context.release(value)
            block()

        contextvars.copy_context().run(inside)

    return run


def assert_clean(captured: Captured, *secrets: str) -> None:
    text = captured.text()
    for secret in secrets:
        assert secret not in text
        assert json.dumps(secret)[1:-1] not in text  # nor JSON-escaped


# -- the processor, line by line ---------------------------------------------------------------------------


def test_a_released_value_is_redacted_wherever_it_hides(captured_logs: Captured) -> None:
    log = logs.get_logger("switchyard.test")

    def block() -> None:
        log.info(f"resolved config with {PLAINTEXT}")
        log.info("resolved", value=PLAINTEXT, config={"auth": {"header": f"Bearer {PLAINTEXT}"}})
        log.info("resolved", items=[PLAINTEXT, ("nested", PLAINTEXT)])
        log.info("opened", plaintexts={"vlt_1": PLAINTEXT.encode()})  # what Vault.open returns
        log.info("opened", values={PLAINTEXT}, frozen=frozenset({PLAINTEXT}))
        log.info("positional %s", PLAINTEXT)

    in_request("req_unit_1", PLAINTEXT)(block)
    lines = captured_logs.lines()
    assert len(lines) == 6
    assert all(line["request_id"] == "req_unit_1" for line in lines)
    assert_clean(captured_logs, PLAINTEXT)
    assert REDACTED in lines[0]["event"]
    assert lines[1]["value"] == REDACTED
    assert lines[1]["config"]["auth"]["header"] == f"Bearer {REDACTED}"


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "passwd",
        "token",
        "access_token",
        "refresh_token",
        "authorization",
        "Authorization",
        "api_key",
        "api-key",
        "apiKey",
        "client_secret",
        "cookie",
        "private_key",
    ],
)
def test_secret_like_keys_are_redacted(captured_logs: Captured, key: str) -> None:
    value = "not-released-but-sensitive-123"
    log = logs.get_logger("switchyard.test")
    in_request("req_unit_2")(lambda: log.info("call", user="alice", **{key: value}, headers={key: value}))
    (line,) = captured_logs.lines()
    assert line[key] == REDACTED and line["headers"][key] == REDACTED
    assert line["user"] == "alice", "ordinary fields are kept"
    assert_clean(captured_logs, value)


def test_an_api_key_in_a_message_is_redacted(captured_logs: Captured) -> None:
    key = apikeys.issue().plaintext
    log = logs.get_logger("switchyard.test")

    def block() -> None:
        log.warning(f"client sent {key} which failed")
        log.info("note", detail=f"retrying with {key}")
        logging.getLogger("thirdparty.http").warning("GET /x headers=%s", {"X-Custom": key})

    in_request("req_unit_3")(block)
    lines = captured_logs.lines()
    assert len(lines) == 3
    assert_clean(captured_logs, key)
    assert lines[0]["event"] == f"client sent {REDACTED} which failed"
    assert lines[1]["detail"] == f"retrying with {REDACTED}"
    assert REDACTED in lines[2]["event"]


def test_stdlib_logging_goes_through_the_same_redaction(captured_logs: Captured) -> None:
    def block() -> None:
        logging.getLogger("x").warning("password is %s", PLAINTEXT)
        try:
            raise ValueError(f"bad credential {PLAINTEXT}")
        except ValueError:
            logging.getLogger("x.y").exception("call failed")
            logs.get_logger("switchyard.test").error("call failed", exc_info=True)

    in_request("req_unit_4", PLAINTEXT)(block)
    lines = captured_logs.lines()
    assert len(lines) == 3
    assert_clean(captured_logs, PLAINTEXT)
    assert lines[0] == {**lines[0], "event": f"password is {REDACTED}", "logger": "x", "level": "warning"}
    assert all(line["request_id"] == "req_unit_4" for line in lines)
    for line in lines[1:]:
        assert "ValueError" in line["exception"] and REDACTED in line["exception"]


def test_outside_a_request_nothing_is_released(captured_logs: Captured) -> None:
    """Values released in one request are not redacted (or remembered) in another's context."""
    in_request("req_a", PLAINTEXT)(lambda: logs.get_logger("t").info("a", note=PLAINTEXT))
    in_request("req_b")(lambda: logs.get_logger("t").info("b", note="ordinary words"))
    first, second = captured_logs.lines()
    assert first["note"] == REDACTED and second["note"] == "ordinary words"
    assert "request_id" in first and second["request_id"] == "req_b"


# -- through the API ---------------------------------------------------------------------------------------


async def create_secret(api: httpx2.AsyncClient, owner: TenantFixture, name: str) -> None:
    created = await api.post(
        "/api/v1/secrets", json={"name": name, "value": PLAINTEXT}, headers=owner.headers
    )
    assert created.status_code == 201, created.text


async def test_a_reveal_through_the_api_logs_no_plaintext(
    api: httpx2.AsyncClient, tenant: TenantFixture, captured_logs: Captured
) -> None:
    await create_secret(api, tenant, "logged")
    revealed = await api.get("/api/v1/secrets/logged?reveal=true", headers=tenant.headers)
    assert revealed.status_code == 200 and revealed.json()["value"] == PLAINTEXT
    listed = await api.get("/api/v1/secrets/logged/access-log", headers=tenant.headers)
    assert listed.status_code == 200

    assert_clean(captured_logs, PLAINTEXT, tenant.key)
    lines = captured_logs.lines()
    access = [line for line in lines if line.get("event") == "request"]
    assert [line["status"] for line in access] == [201, 200, 200]
    assert access[1]["request_id"] == revealed.headers["x-request-id"]


async def test_every_line_of_a_request_carries_its_request_id_and_no_plaintext(
    container: Container, tenant: TenantFixture, captured_logs: Captured
) -> None:
    """A route that reveals a secret and then logs it every way a careless developer might."""
    careless = logs.get_logger("switchyard.careless")

    async def leak(name: str, principal: PrincipalDep) -> dict[str, str]:
        view = await container.secrets.get(principal, name, reveal=True)
        careless.info(f"revealed {view.value}")
        careless.debug("revealed", value=view.value, config={"nested": [view.value]})
        careless.info("revealed", view=view)  # a dataclass whose repr holds the value
        logging.getLogger("thirdparty").warning("upstream said %s", view.value)
        try:
            raise RuntimeError(f"upstream rejected {view.value}")
        except RuntimeError:
            careless.exception("call failed")
        return {"ok": "yes"}

    async def explode(name: str, principal: PrincipalDep) -> None:
        view = await container.secrets.get(principal, name, reveal=True)
        raise RuntimeError(f"unexpected: {view.value}")

    app = create_app(container=container)
    app.add_api_route("/test/leak/{name}", leak)
    app.add_api_route("/test/explode/{name}", explode)
    async with client_for(app) as client:
        await create_secret(client, tenant, "careless")
        mark = captured_logs.mark()
        response = await client.get("/test/leak/careless", headers=tenant.headers)
        assert response.status_code == 200, response.text
        leak_lines = captured_logs.since(mark)

        mark = captured_logs.mark()
        failed = await client.get("/test/explode/careless", headers=tenant.headers)
        explode_lines = captured_logs.since(mark)

    assert_problem(failed, 500, "internal.error")
    assert PLAINTEXT not in failed.text
    assert_clean(captured_logs, PLAINTEXT, tenant.key)
    for lines, rid in (
        (leak_lines, response.headers["x-request-id"]),
        (explode_lines, failed.headers["x-request-id"]),
    ):
        assert lines, "the request logged"
        assert [line for line in lines if line.get("request_id") != rid] == []
    events = [line["event"] for line in leak_lines]
    assert f"revealed {REDACTED}" in events and f"upstream said {REDACTED}" in events
    unhandled = [line for line in explode_lines if line["event"] == "unhandled_error"]
    assert len(unhandled) == 1 and REDACTED in unhandled[0]["exception"]


async def test_a_proxied_call_logs_one_line_without_the_credential(
    captured_logs: Captured, api: httpx2.AsyncClient, tenant: TenantFixture, keyed_api: ProviderApiPeer
) -> None:
    connection = await connect_keyed(api, tenant, keyed_api.url)
    mark = captured_logs.mark()
    answer = await api.get("/api/v1/proxy/user", headers=via(tenant, connection))
    assert answer.status_code == 200
    calls = [line for line in captured_logs.since(mark) if line.get("event") == "provider.call"]
    assert len(calls) == 1
    assert calls[0]["connection_id"] == connection and calls[0]["outcome"] == "200"
    assert calls[0]["provider"] == "keyed" and calls[0]["duration_ms"] >= 0
    assert KEYED_API_KEY not in captured_logs.text() and tenant.key not in captured_logs.text()
