"""The Nango client against a real Nango-like server on loopback (tests/peers/nango_server.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import pytest

from switchyard.adapters.nango import NangoClient, NangoConnectionRef
from switchyard.core.errors import (
    ConfigurationError,
    FatalError,
    InvalidInput,
    NotFound,
    SwitchyardError,
    Unavailable,
)
from tests.peers.nango_server import NangoPeer, running_nango

SECRET = "sk-nango-very-secret-4f1c9e"
ACCESS = "gho_access_token_abc123"
REFRESH = "ghr_refresh_token_def456"
OAUTH2 = {
    "type": "OAUTH2",
    "access_token": ACCESS,
    "refresh_token": REFRESH,
    "expires_at": "2030-01-01T00:00:00.000Z",
    "raw": {"access_token": ACCESS, "refresh_token": REFRESH, "token_type": "bearer", "expires_in": 28800},
}


@pytest.fixture
async def nango() -> AsyncIterator[NangoPeer]:
    async with running_nango(secret_key=SECRET) as peer:
        yield peer


@pytest.fixture
async def client(nango: NangoPeer) -> AsyncIterator[NangoClient]:
    client = NangoClient(nango.url, SECRET, timeout=2.0)
    yield client
    await client.close()


def assert_no_secret(exc: SwitchyardError, *secrets: str) -> None:
    texts = [str(exc), repr(exc), exc.detail, exc.remediation or "", repr(exc.extra)]
    for secret in (SECRET, ACCESS, REFRESH, *secrets):
        assert all(secret not in text for text in texts), (secret, texts)


# ---- each method --------------------------------------------------------------------------------------


async def test_create_connect_session_sends_the_documented_body(
    nango: NangoPeer, client: NangoClient
) -> None:
    nango.add_integration("github")
    before = datetime.now(UTC)
    session = await client.create_connect_session("u42", "u42@example.com", "Ada", ["github"])

    assert session.token.startswith("nango_connect_session_")
    assert session.connect_link is not None and session.token in session.connect_link
    assert before + timedelta(minutes=29) < session.expires_at <= datetime.now(UTC) + timedelta(minutes=30)
    assert nango.sessions == [
        {
            "end_user": {"id": "u42", "email": "u42@example.com", "display_name": "Ada"},
            "tags": {
                "end_user_id": "u42",
                "end_user_email": "u42@example.com",
                "end_user_display_name": "Ada",
            },
            "allowed_integrations": ["github"],
        }
    ]
    request = nango.requests[-1]
    assert (request.method, request.path) == ("POST", "/connect/sessions")
    assert request.authorization == f"Bearer {SECRET}"
    assert session.token not in repr(session)


async def test_connect_session_leaves_out_unknown_profile_fields_and_keeps_tags(
    nango: NangoPeer, client: NangoClient
) -> None:
    nango.add_integration("slack")
    await client.create_connect_session("u7", None, None, ["slack"], tags={"organization_id": "org1"})
    assert nango.sessions[-1] == {
        "end_user": {"id": "u7", "tags": {"organization_id": "org1"}},
        "tags": {"organization_id": "org1", "end_user_id": "u7"},
        "allowed_integrations": ["slack"],
    }


async def test_get_connection_returns_credentials_as_nango_gives_them(
    nango: NangoPeer, client: NangoClient
) -> None:
    nango.add_connection("conn-1", "github", "github", OAUTH2, end_user_id="u42", metadata={"team": "core"})

    connection = await client.get_connection("conn-1", "github")

    assert (connection.connection_id, connection.provider_config_key, connection.provider) == (
        "conn-1",
        "github",
        "github",
    )
    assert connection.end_user_id == "u42"
    assert connection.metadata == {"team": "core"}
    assert connection.credentials["type"] == "OAUTH2"
    assert connection.credentials["access_token"] == ACCESS
    assert "refresh_token" not in connection.credentials  # Nango returns it only when asked
    assert connection.created_at.tzinfo is not None
    assert ACCESS not in repr(connection)
    request = nango.requests[-1]
    assert (request.method, request.path, request.query) == (
        "GET",
        "/connections/conn-1",
        {"provider_config_key": "github"},
    )


async def test_get_connection_with_refresh_token_and_force_refresh(
    nango: NangoPeer, client: NangoClient
) -> None:
    nango.add_connection("conn-1", "github", "github", OAUTH2, end_user_id="u42")

    with_refresh = await client.get_connection("conn-1", "github", include_refresh_token=True)
    assert with_refresh.credentials["refresh_token"] == REFRESH

    refreshed = await client.get_connection("conn-1", "github", force_refresh=True)
    assert refreshed.credentials["access_token"] != ACCESS
    assert nango.requests[-1].query == {"provider_config_key": "github", "force_refresh": "true"}


async def test_get_connection_sees_a_token_nango_rotated(nango: NangoPeer, client: NangoClient) -> None:
    nango.add_connection("conn-1", "github", "github", OAUTH2, end_user_id="u42")
    new_token = nango.rotate_access_token("conn-1", "github")

    connection = await client.get_connection("conn-1", "github")

    assert connection.credentials["access_token"] == new_token
    assert connection.credentials["raw"]["access_token"] == new_token


async def test_get_connection_with_api_key_credentials(nango: NangoPeer, client: NangoClient) -> None:
    nango.add_connection("k-1", "openai", "openai", {"type": "API_KEY", "apiKey": "sk-openai-1"})

    connection = await client.get_connection("k-1", "openai", force_refresh=True)

    assert connection.credentials == {"type": "API_KEY", "apiKey": "sk-openai-1"}
    assert connection.end_user_id is None
    assert connection.metadata == {}


async def test_connection_ids_are_path_encoded(nango: NangoPeer, client: NangoClient) -> None:
    nango.add_connection("team alpha/ü?x=1", "github", "github", OAUTH2)

    connection = await client.get_connection("team alpha/ü?x=1", "github")

    assert connection.connection_id == "team alpha/ü?x=1"
    assert nango.requests[-1].query == {"provider_config_key": "github"}


async def test_list_connections_all_and_per_end_user(nango: NangoPeer, client: NangoClient) -> None:
    nango.add_connection("c1", "github", "github", OAUTH2, end_user_id="u42")
    nango.add_connection("c2", "slack-prod", "slack", OAUTH2, end_user_id="u7")
    nango.add_connection("c3", "openai", "openai", {"type": "API_KEY", "apiKey": "k"})

    everything = await client.list_connections()
    mine = await client.list_connections(end_user_id="u42")

    assert {ref.connection_id for ref in everything} == {"c1", "c2", "c3"}
    assert mine == [NangoConnectionRef("c1", "github", "github", "u42")]
    assert nango.requests[-1].query == {"endUserId": "u42"}
    assert nango.requests[-2].query == {}


async def test_delete_connection(nango: NangoPeer, client: NangoClient) -> None:
    nango.add_connection("c1", "github", "github", OAUTH2, end_user_id="u42")

    await client.delete_connection("c1", "github")

    assert nango.connections == {}
    request = nango.requests[-1]
    assert (request.method, request.path, request.query) == (
        "DELETE",
        "/connections/c1",
        {"provider_config_key": "github"},
    )
    with pytest.raises(NotFound) as caught:
        await client.delete_connection("c1", "github")
    assert caught.value.code == "nango.connection_not_found"


# ---- error translation ----------------------------------------------------------------------------------


async def test_a_wrong_secret_key_is_unauthorized_and_never_echoed(nango: NangoPeer) -> None:
    wrong = "sk-nango-wrong-key-77aa"
    client = NangoClient(nango.url, wrong, timeout=2.0)
    try:
        with pytest.raises(FatalError) as caught:
            await client.list_connections()
    finally:
        await client.close()
    assert caught.value.code == "nango.unauthorized"
    assert caught.value.remediation == "Check SWITCHYARD_NANGO_SECRET_KEY"
    assert_no_secret(caught.value, wrong)


async def test_an_unknown_connection_is_not_found(nango: NangoPeer, client: NangoClient) -> None:
    with pytest.raises(NotFound) as caught:
        await client.get_connection("missing", "github")
    assert caught.value.code == "nango.connection_not_found"
    assert_no_secret(caught.value)


async def test_a_rejected_request_carries_nangos_message(nango: NangoPeer, client: NangoClient) -> None:
    nango.add_integration("github")
    with pytest.raises(InvalidInput) as caught:
        await client.create_connect_session("u42", None, None, ["github", "no-such-integration"])
    assert caught.value.code == "nango.rejected"
    assert "Integration does not exist: no-such-integration" in caught.value.detail
    assert caught.value.extra == {"nango_status": 400, "nango_code": "invalid_body"}
    assert nango.sessions == []
    assert_no_secret(caught.value)


async def test_a_dot_segment_connection_id_is_refused_before_sending(
    nango: NangoPeer, client: NangoClient
) -> None:
    with pytest.raises(InvalidInput) as caught:
        await client.get_connection("..", "github")
    assert caught.value.code == "nango.rejected"
    assert nango.requests == []


async def test_a_failing_server_is_unavailable(nango: NangoPeer, client: NangoClient) -> None:
    nango.add_connection("c1", "github", "github", OAUTH2)
    nango.failing = True
    with pytest.raises(Unavailable) as caught:
        await client.get_connection("c1", "github")
    assert caught.value.code == "nango.unavailable"
    assert "503" in caught.value.detail
    assert_no_secret(caught.value)

    nango.failing = False
    assert (await client.get_connection("c1", "github")).credentials["access_token"] == ACCESS


async def test_a_server_that_is_down_is_unavailable() -> None:
    async with running_nango(secret_key=SECRET) as peer:
        url = peer.url
    client = NangoClient(url, SECRET, timeout=2.0)
    try:
        with pytest.raises(Unavailable) as caught:
            await client.create_connect_session("u42", None, None, [])
    finally:
        await client.close()
    assert caught.value.code == "nango.unavailable"
    assert_no_secret(caught.value)


async def test_a_stalled_server_is_unavailable(nango: NangoPeer) -> None:
    nango.delay = 1.0
    client = NangoClient(nango.url, SECRET, timeout=0.2)
    try:
        with pytest.raises(Unavailable) as caught:
            await client.list_connections()
    finally:
        await client.close()
    assert caught.value.code == "nango.unavailable"
    assert "in time" in caught.value.detail


async def test_a_body_that_is_not_nangos_is_invalid_response(nango: NangoPeer, client: NangoClient) -> None:
    nango.add_connection("c1", "github", "github", OAUTH2)
    nango.malformed = True
    for call in (
        client.get_connection("c1", "github"),
        client.list_connections(),
        client.create_connect_session("u42", None, None, ["github"]),
    ):
        with pytest.raises(FatalError) as caught:
            await call
        assert caught.value.code == "nango.invalid_response"
        assert_no_secret(caught.value)


@pytest.mark.parametrize(
    "connection",
    [
        {"connection_id": "c1", "provider_config_key": "github", "provider": "github"},  # no credentials
        {"connection_id": "c1", "provider_config_key": "github", "provider": "github", "credentials": ACCESS},
    ],
)
async def test_a_connection_missing_fields_is_invalid_response_without_quoting_it(
    connection: dict[str, Any],
) -> None:
    body = {**connection, "created_at": "2024-01-01T00:00:00Z", "end_user": None}
    transport = httpx2.MockTransport(lambda request: httpx2.Response(200, json=body))
    client = NangoClient("https://nango.example.com", SECRET, transport=transport)
    try:
        with pytest.raises(FatalError) as caught:
            await client.get_connection("c1", "github")
    finally:
        await client.close()
    assert caught.value.code == "nango.invalid_response"
    assert_no_secret(caught.value)


# ---- configuration --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://nango.example.com",
        "ftp://127.0.0.1",
        "not a url",
        "https://",
        "http://10.0.0.5:3003",
        "https://nango.example.com:99999",
    ],
)
def test_base_url_must_be_https_or_loopback_http(url: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        NangoClient(url, SECRET)
    assert caught.value.code == "config.nango_url_invalid"
    assert_no_secret(caught.value)


@pytest.mark.parametrize(
    "url", ["https://api.nango.dev", "http://localhost:3003", "http://127.0.0.1:3003/", "http://[::1]:3003"]
)
async def test_accepted_base_urls(url: str) -> None:
    client = NangoClient(url, SECRET)
    await client.close()


def test_a_secret_key_is_required() -> None:
    with pytest.raises(ConfigurationError) as caught:
        NangoClient("https://api.nango.dev", "")
    assert caught.value.code == "config.nango_secret_key_missing"
