"""Tests of the OAuth and provider API peers themselves, driven by hand with httpx2 (no Switchyard code),
so that the tests built on them can trust what they answer."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx2
import pytest
from authlib.oauth1 import ClientAuth
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from tests.peers.oauth_server import OAuthServerPeer, running_oauth_server
from tests.peers.provider_api import ProviderApiPeer, running_provider_api

REDIRECT = "http://127.0.0.1:9/callback"  # never contacted: redirects are read, not followed


@dataclass
class Peers:
    oauth: OAuthServerPeer
    api: ProviderApiPeer
    http: httpx2.AsyncClient


@pytest.fixture
async def peers() -> AsyncIterator[Peers]:
    async with (
        running_oauth_server() as oauth,
        running_provider_api(oauth=oauth, api_key="key-123", basic_auth=("alice", "pw")) as api,
        httpx2.AsyncClient(timeout=5.0, follow_redirects=False) as http,
    ):
        oauth.register_client("app", "app-secret", [REDIRECT], ["read", "write"])
        yield Peers(oauth, api, http)


def query_of(response: httpx2.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT + "?")
    return dict(parse_qsl(urlsplit(location).query))


async def authorize(p: Peers, client_id: str = "app", **params: str) -> httpx2.Response:
    query = {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT, "state": "st-1"}
    query.update(params)
    return await p.http.get(p.oauth.authorization_url, params=query)


async def exchange(
    p: Peers, code: str, verifier: str | None = None, auth: Any = ("app", "app-secret")
) -> httpx2.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    if verifier:
        data["code_verifier"] = verifier
    return await p.http.post(p.oauth.token_url, data=data, auth=auth)


async def login(p: Peers) -> dict[str, Any]:
    verifier = secrets.token_urlsafe(48)
    challenge = create_s256_code_challenge(verifier)
    code = query_of(await authorize(p, code_challenge=challenge, code_challenge_method="S256"))["code"]
    response = await exchange(p, code, verifier)
    assert response.status_code == 200, response.text
    return response.json()


async def refresh(p: Peers, refresh_token: str) -> httpx2.Response:
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    return await p.http.post(p.oauth.token_url, data=data, auth=("app", "app-secret"))


async def get_user(p: Peers, access_token: str) -> httpx2.Response:
    return await p.http.get(f"{p.api.url}/user", headers={"Authorization": f"Bearer {access_token}"})


# -- authorization code + PKCE --


async def test_authorization_code_with_pkce_round_trip(peers: Peers) -> None:
    verifier = secrets.token_urlsafe(48)
    response = await authorize(
        peers, scope="read", code_challenge=create_s256_code_challenge(verifier), code_challenge_method="S256"
    )
    params = query_of(response)
    assert params["state"] == "st-1"

    token = await exchange(peers, params["code"], verifier)

    assert token.status_code == 200
    assert token.headers["cache-control"] == "no-store"
    body = token.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == "read"
    assert body["user_id"] == peers.oauth.user_id == "user-1"
    assert body["refresh_token"]
    user = await get_user(peers, body["access_token"])
    assert user.status_code == 200
    assert user.json() == {"id": "user-1", "login": "octocat"}
    assert peers.oauth.authorize_log[-1].user_id == "user-1"
    assert peers.api.request_log[-1].auth_kind == "bearer"
    assert peers.api.request_log[-1].credential == body["access_token"]


async def test_wrong_pkce_verifier_is_invalid_grant(peers: Peers) -> None:
    challenge = create_s256_code_challenge(secrets.token_urlsafe(48))
    code = query_of(await authorize(peers, code_challenge=challenge, code_challenge_method="S256"))["code"]
    response = await exchange(peers, code, secrets.token_urlsafe(48))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_code_replay_is_invalid_grant(peers: Peers) -> None:
    code = query_of(await authorize(peers))["code"]
    assert (await exchange(peers, code)).status_code == 200
    replay = await exchange(peers, code)
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"


async def test_plain_pkce_is_refused_with_a_redirect(peers: Peers) -> None:
    params = query_of(await authorize(peers, code_challenge="x" * 43, code_challenge_method="plain"))
    assert params["error"] == "invalid_request"
    assert params["state"] == "st-1"


async def test_require_pkce_refuses_a_request_without_challenge(peers: Peers) -> None:
    peers.oauth.require_pkce = True
    params = query_of(await authorize(peers))
    assert params["error"] == "invalid_request"
    assert "code" not in params
    assert (await login(peers))["access_token"]


async def test_deny_next_redirects_with_access_denied_once(peers: Peers) -> None:
    peers.oauth.deny_next = True
    params = query_of(await authorize(peers))
    assert (params["error"], params["state"]) == ("access_denied", "st-1")
    assert "code" not in params
    assert peers.oauth.authorize_log[-1].user_id is None
    assert "code" in query_of(await authorize(peers))


@pytest.mark.parametrize(
    ("client_id", "redirect_uri"), [("app", "http://evil.example/cb"), ("nobody", REDIRECT)]
)
async def test_bad_redirect_uri_or_client_is_not_redirected(
    peers: Peers, client_id: str, redirect_uri: str
) -> None:
    response = await authorize(peers, client_id=client_id, redirect_uri=redirect_uri)
    assert response.status_code == 400
    assert "location" not in response.headers
    assert response.json()["error"] in {"invalid_request", "invalid_client"}


# -- refresh, client authentication, client credentials --


async def test_refresh_rotates_and_the_old_refresh_token_then_fails(peers: Peers) -> None:
    first = await login(peers)
    second = await refresh(peers, first["refresh_token"])
    assert second.status_code == 200
    rotated = second.json()
    assert rotated["refresh_token"] != first["refresh_token"]
    assert rotated["access_token"] != first["access_token"]
    assert (await get_user(peers, rotated["access_token"])).json()["id"] == "user-1"

    reused = await refresh(peers, first["refresh_token"])
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"
    assert (await refresh(peers, rotated["refresh_token"])).status_code == 200


async def test_refresh_without_rotation_keeps_the_refresh_token(peers: Peers) -> None:
    peers.oauth.rotate_refresh_tokens = False
    first = await login(peers)
    for _ in range(2):
        response = await refresh(peers, first["refresh_token"])
        assert response.status_code == 200
        assert "refresh_token" not in response.json()


async def test_client_secret_post_and_basic_are_each_enforced(peers: Peers) -> None:
    peers.oauth.register_client(
        "poster", "p-secret", [REDIRECT], ["read"], token_endpoint_auth_method="client_secret_post"
    )
    post_code = query_of(await authorize(peers, client_id="poster"))["code"]
    as_basic = await exchange(peers, post_code, auth=("poster", "p-secret"))
    assert as_basic.status_code == 401
    assert as_basic.json()["error"] == "invalid_client"
    data = {"grant_type": "authorization_code", "code": post_code, "redirect_uri": REDIRECT}
    as_post = await peers.http.post(
        peers.oauth.token_url, data={**data, "client_id": "poster", "client_secret": "p-secret"}
    )
    assert as_post.status_code == 200

    basic_code = query_of(await authorize(peers))["code"]
    wrong = {"grant_type": "authorization_code", "code": basic_code, "redirect_uri": REDIRECT}
    as_post = await peers.http.post(
        peers.oauth.token_url, data={**wrong, "client_id": "app", "client_secret": "app-secret"}
    )
    assert as_post.status_code == 401
    assert [r.client_auth for r in peers.oauth.token_log] == ["basic", "post", "post"]
    assert (await exchange(peers, basic_code, auth=("app", "bad-secret"))).status_code == 401


async def test_client_credentials(peers: Peers) -> None:
    peers.oauth.register_client("svc", "svc-secret", [], ["read"], grant_types=["client_credentials"])
    data = {"grant_type": "client_credentials"}
    response = await peers.http.post(peers.oauth.token_url, data=data, auth=("svc", "svc-secret"))
    assert response.status_code == 200
    body = response.json()
    assert "refresh_token" not in body
    assert body["scope"] == "read"
    assert (await get_user(peers, body["access_token"])).json() == {"id": "app:svc", "login": "svc"}

    refused = await peers.http.post(peers.oauth.token_url, data=data, auth=("app", "app-secret"))
    assert refused.json()["error"] == "unauthorized_client"


async def test_public_client_needs_its_pkce_verifier(peers: Peers) -> None:
    peers.oauth.register_client("spa", "", [REDIRECT], ["read"], token_endpoint_auth_method="none")
    verifier = secrets.token_urlsafe(48)
    challenge = create_s256_code_challenge(verifier)
    response = await authorize(peers, client_id="spa", code_challenge=challenge, code_challenge_method="S256")
    code = query_of(response)["code"]
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "client_id": "spa"}
    missing = await peers.http.post(peers.oauth.token_url, data=data)
    assert missing.json()["error"] == "invalid_request"
    exchanged = await peers.http.post(peers.oauth.token_url, data={**data, "code_verifier": verifier})
    assert exchanged.status_code == 200
    assert peers.oauth.token_log[-1].client_auth == "none"


# -- revocation and expiry --


async def test_revoked_access_token_stops_working_at_the_api(peers: Peers) -> None:
    token = await login(peers)
    assert (await get_user(peers, token["access_token"])).status_code == 200
    data = {"token": token["access_token"], "token_type_hint": "access_token"}
    revoked = await peers.http.post(peers.oauth.revocation_url, data=data, auth=("app", "app-secret"))
    assert revoked.status_code == 200
    denied = await get_user(peers, token["access_token"])
    assert denied.status_code == 401
    assert denied.json()["error"] == "invalid_token"
    assert (await refresh(peers, token["refresh_token"])).status_code == 200  # only the access token went
    assert peers.oauth.revocation_log[-1].client_id == "app"


async def test_revoked_refresh_token_is_invalid_grant(peers: Peers) -> None:
    token = await login(peers)
    data = {"token": token["refresh_token"]}
    assert (
        await peers.http.post(peers.oauth.revocation_url, data=data, auth=("app", "app-secret"))
    ).status_code == 200
    assert (await refresh(peers, token["refresh_token"])).json()["error"] == "invalid_grant"
    assert (await get_user(peers, token["access_token"])).status_code == 401


async def test_access_token_expires_after_its_ttl(peers: Peers) -> None:
    peers.oauth.access_token_ttl = 1
    token = await login(peers)
    assert token["expires_in"] == 1
    assert (await get_user(peers, token["access_token"])).status_code == 200
    await asyncio.sleep(1.05)
    assert (await get_user(peers, token["access_token"])).status_code == 401
    assert (await refresh(peers, token["refresh_token"])).status_code == 200


async def test_refresh_token_expires_after_its_ttl(peers: Peers) -> None:
    peers.oauth.refresh_token_ttl = 0.2
    token = await login(peers)
    await asyncio.sleep(0.25)
    assert (await refresh(peers, token["refresh_token"])).json()["error"] == "invalid_grant"


async def test_expire_access_tokens_at_once(peers: Peers) -> None:
    token = await login(peers)
    peers.oauth.expire_access_tokens()
    assert (await get_user(peers, token["access_token"])).status_code == 401


# -- failure switches and counters --


async def test_token_failure_500_then_recovers(peers: Peers) -> None:
    first = await login(peers)
    peers.oauth.fail_token_requests("500", times=1)
    failed = await refresh(peers, first["refresh_token"])
    assert failed.status_code == 500
    assert failed.headers["content-type"].startswith("text/plain")
    assert (await refresh(peers, first["refresh_token"])).status_code == 200
    assert peers.oauth.token_failure is None


async def test_token_failure_invalid_grant(peers: Peers) -> None:
    first = await login(peers)
    peers.oauth.token_failure = "invalid_grant"
    for _ in range(2):
        response = await refresh(peers, first["refresh_token"])
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_grant"


async def test_token_stall_outlasts_a_client_timeout(peers: Peers) -> None:
    first = await login(peers)
    peers.oauth.token_failure = ("stall", 1.0)
    data = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    with pytest.raises(httpx2.ReadTimeout):
        await peers.http.post(peers.oauth.token_url, data=data, auth=("app", "app-secret"), timeout=0.3)
    assert peers.oauth.token_requests["refresh_token"] == 1
    assert peers.oauth.token_log[-1].status is None  # still stalled when the client gave up


async def test_token_request_counters_and_log(peers: Peers) -> None:
    token = await login(peers)
    await refresh(peers, token["refresh_token"])
    await refresh(peers, "not-a-refresh-token")
    assert peers.oauth.token_requests == {"authorization_code": 1, "refresh_token": 2}
    assert [(r.grant_type, r.client_id, r.status) for r in peers.oauth.token_log] == [
        ("authorization_code", "app", 200),
        ("refresh_token", "app", 200),
        ("refresh_token", "app", 400),
    ]
    assert peers.oauth.token_log[0].at <= peers.oauth.token_log[-1].at


# -- OAuth 1.0a --


async def test_oauth1_three_legged_round_trip(peers: Peers) -> None:
    peers.oauth.register_oauth1_client("ck", "cs")
    uri, headers, _ = ClientAuth("ck", "cs", redirect_uri=REDIRECT).prepare(
        "POST", peers.oauth.request_token_url, {}, ""
    )
    temporary = await peers.http.post(uri, headers=headers)
    assert temporary.status_code == 200, temporary.text
    temp = dict(parse_qsl(temporary.text))
    assert temp["oauth_callback_confirmed"] == "true"

    approved = query_of(
        await peers.http.get(
            peers.oauth.oauth1_authorization_url, params={"oauth_token": temp["oauth_token"]}
        )
    )
    assert approved["oauth_token"] == temp["oauth_token"]

    signer = ClientAuth(
        "ck", "cs", temp["oauth_token"], temp["oauth_token_secret"], verifier=approved["oauth_verifier"]
    )
    uri, headers, _ = signer.prepare("POST", peers.oauth.access_token_url, {}, "")
    access = await peers.http.post(uri, headers=headers)
    assert access.status_code == 200, access.text
    final = dict(parse_qsl(access.text))

    signer = ClientAuth("ck", "cs", final["oauth_token"], final["oauth_token_secret"])
    uri, headers, _ = signer.prepare("GET", f"{peers.api.url}/user?x=1", {}, "")
    user = await peers.http.get(uri, headers=headers)
    assert user.status_code == 200
    assert user.json()["id"] == "user-1"
    bad = ClientAuth("ck", "wrong", final["oauth_token"], final["oauth_token_secret"])
    uri, headers, _ = bad.prepare("GET", f"{peers.api.url}/user", {}, "")
    assert (await peers.http.get(uri, headers=headers)).status_code == 401
    assert peers.oauth.token_requests["oauth1_access_token"] == 1


async def test_oauth1_denied_and_bad_verifier(peers: Peers) -> None:
    peers.oauth.register_oauth1_client("ck", "cs")
    uri, headers, _ = ClientAuth("ck", "cs", redirect_uri=REDIRECT).prepare(
        "POST", peers.oauth.request_token_url, {}, ""
    )
    temp = dict(parse_qsl((await peers.http.post(uri, headers=headers)).text))
    peers.oauth.deny_next = True
    denied = query_of(
        await peers.http.get(
            peers.oauth.oauth1_authorization_url, params={"oauth_token": temp["oauth_token"]}
        )
    )
    assert denied["error"] == "access_denied"
    signer = ClientAuth("ck", "cs", temp["oauth_token"], temp["oauth_token_secret"], verifier="guess")
    uri, headers, _ = signer.prepare("POST", peers.oauth.access_token_url, {}, "")
    assert (await peers.http.post(uri, headers=headers)).status_code in {400, 401}


# -- provider API --


@pytest.mark.parametrize(
    ("headers", "kind"),
    [({"X-Api-Key": "key-123"}, "api_key"), ({"Authorization": "Basic YWxpY2U6cHc="}, "basic")],
)
async def test_api_key_and_basic_auth(peers: Peers, headers: dict[str, str], kind: str) -> None:
    response = await peers.http.get(f"{peers.api.url}/user", headers=headers)
    assert response.status_code == 200
    assert response.json()["id"] == "user-1"
    assert peers.api.request_log[-1].auth_kind == kind


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Api-Key": "nope"},
        {"Authorization": "Basic YWxpY2U6bm9wZQ=="},
        {"Authorization": "Bearer nope"},
    ],
)
async def test_api_refuses_missing_or_bad_credentials(peers: Peers, headers: dict[str, str]) -> None:
    response = await peers.http.get(f"{peers.api.url}/user", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] in {"unauthorized", "invalid_token"}
    assert peers.api.calls["/user"] == 0


async def test_api_key_with_prefix_in_authorization_header() -> None:
    options = {"api_key": "k-9", "api_key_header": "Authorization", "api_key_prefix": "token "}
    async with running_provider_api(**options) as api, httpx2.AsyncClient(timeout=5.0) as http:
        assert (await http.get(f"{api.url}/user", headers={"Authorization": "token k-9"})).status_code == 200
        assert (await http.get(f"{api.url}/user", headers={"Authorization": "token k-8"})).status_code == 401
        echoed = (await http.post(f"{api.url}/echo", headers={"Authorization": "token k-9"})).json()
        assert "Authorization" not in echoed["headers"]


async def test_cursor_and_link_pagination_cover_every_item(peers: Peers) -> None:
    key = {"X-Api-Key": "key-123"}
    seen: list[int] = []
    cursor: str | None = ""
    while cursor is not None:
        page = (
            await peers.http.get(
                f"{peers.api.url}/items", params={"cursor": cursor, "limit": 10}, headers=key
            )
        ).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
    assert seen == list(range(1, 26))

    linked: list[int] = []
    url: str | None = f"{peers.api.url}/items-linked?per_page=7"
    while url is not None:
        response = await peers.http.get(url, headers=key)
        linked += [item["id"] for item in response.json()]
        url = response.links.get("next", {}).get("url")
    assert linked == list(range(1, 26))


async def test_echo_reports_the_request_without_credentials(peers: Peers) -> None:
    key = {"X-Api-Key": "key-123", "X-Custom": "yes"}
    response = await peers.http.put(f"{peers.api.url}/echo?a=1&a=2", json={"n": 1}, headers=key)
    body = response.json()
    assert body["method"] == "PUT"
    assert body["query"] == [["a", "1"], ["a", "2"]]
    assert body["headers"]["X-Custom"] == "yes"
    assert "X-Api-Key" not in body["headers"]
    assert body["body"]["json"] == {"n": 1}
    raw = await peers.http.post(f"{peers.api.url}/echo", content=b"\x00" * 1000, headers=key)
    assert raw.json()["body"]["size"] == 1000
    form = await peers.http.post(f"{peers.api.url}/echo", data={"f": "v"}, headers=key)
    assert form.json()["body"]["form"] == [["f", "v"]]


async def test_rate_limited_and_flaky_then_succeed(peers: Peers) -> None:
    key = {"X-Api-Key": "key-123"}
    peers.api.rate_limit_times = 1
    first = await peers.http.get(f"{peers.api.url}/rate-limited", headers=key)
    assert (first.status_code, first.headers["retry-after"]) == (429, "1")
    assert (await peers.http.get(f"{peers.api.url}/rate-limited", headers=key)).status_code == 200
    statuses = [(await peers.http.get(f"{peers.api.url}/flaky", headers=key)).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    assert (await peers.http.get(f"{peers.api.url}/status/404", headers=key)).status_code == 404
