"""The data-plane client and the guarded control-plane client against real servers on loopback.

Loopback is what the guard blocks by default, so these tests allow it explicitly (``ALLOWED``), and show
that without that allowance the very same servers cannot be reached.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
import ssl
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from switchyard.adapters.data_http import AiohttpDataHttp
from switchyard.adapters.egress import GuardedResolver, policy_from_settings, resolve_checked
from switchyard.adapters.http import ControlHttp
from switchyard.adapters.tls import ensure_self_signed
from switchyard.core.egress import EgressPolicy
from switchyard.core.errors import EgressBlocked, PayloadTooLarge, Unavailable, UpstreamError
from switchyard.core.http import HttpRequest, Outbound
from switchyard.settings import Settings
from tests.peers.loopback import serving

LOOPBACK_HTTP = ["127.0.0.1", "localhost"]
ALLOWED = EgressPolicy.build(http_hosts=LOOPBACK_HTTP, networks=["127.0.0.0/8", "::1/128"])
HTTP_ONLY = EgressPolicy.build(http_hosts=LOOPBACK_HTTP)  # plain http allowed by name, no private network
BLOCK = 64 * 1024
BLOCKS = 320  # 20 MiB


def block(i: int) -> bytes:
    return hashlib.sha256(i.to_bytes(4, "big")).digest() * (BLOCK // 32)


BIG_SHA = hashlib.sha256(b"".join(block(i) for i in range(BLOCKS))).hexdigest()


def provider_app(hits: list[str]) -> web.Application:
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        hits.append(request.path_qs)
        return await handler(request)

    async def json_answer(request: web.Request) -> web.Response:
        response = web.json_response({"ok": True, "items": [1, 2, 3]})
        response.headers.add("X-Multi", "a")
        response.headers.add("X-Multi", "b")
        return response

    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        peer = request.transport.get_extra_info("peername") if request.transport else None
        return web.json_response(
            {
                "method": request.method,
                "headers": [[k, v] for k, v in request.headers.items()],
                "body": body.decode(errors="replace"),
                "peer_port": peer[1] if peer else None,
            }
        )

    async def upload(request: web.Request) -> web.StreamResponse:
        digest, size = hashlib.sha256(), 0
        async for chunk in request.content.iter_any():
            digest.update(chunk)
            size += len(chunk)
        response = web.StreamResponse(
            headers={"X-Upload-Sha256": digest.hexdigest(), "X-Upload-Size": str(size)}
        )
        await response.prepare(request)
        for i in range(BLOCKS):
            await response.write(block(i))
        await response.write_eof()
        return response

    async def hop(request: web.Request) -> web.Response:
        left = int(request.match_info["n"])
        if left == 0:
            return web.Response(text="arrived")
        raise web.HTTPFound(f"/hop/{left - 1}")

    async def redirect(request: web.Request) -> web.Response:
        status = int(request.query.get("status", "302"))
        return web.Response(status=status, headers={"Location": request.query["to"]})

    async def huge(request: web.Request) -> web.StreamResponse:
        size = int(request.query["size"])
        response = web.StreamResponse()
        if "declared" in request.query:
            response.content_length = size
        await response.prepare(request)
        sent = 0
        while sent < size:
            piece = min(BLOCK, size - sent)
            await response.write(b"z" * piece)
            sent += piece
        await response.write_eof()
        return response

    app = web.Application(middlewares=[web.middleware(record)])
    app.router.add_get("/json", json_answer)
    app.router.add_route("*", "/echo", echo)
    app.router.add_post("/upload", upload)
    app.router.add_get("/hop/{n}", hop)
    app.router.add_route("*", "/redirect", redirect)
    app.router.add_get("/huge", huge)
    return app


@asynccontextmanager
async def provider() -> AsyncIterator[tuple[str, list[str]]]:
    hits: list[str] = []
    async with serving(provider_app(hits)) as base:
        yield base, hits


@asynccontextmanager
async def data_http(policy: EgressPolicy = ALLOWED, **options: Any) -> AsyncIterator[AiohttpDataHttp]:
    client = AiohttpDataHttp(policy, **{"timeout": 10.0, "max_response_bytes": 32 * 1024 * 1024, **options})
    try:
        yield client
    finally:
        await client.close()


def port_of(base: str) -> int:
    return int(base.rsplit(":", 1)[1])


def header(headers: list[tuple[str, str]], name: str) -> list[str]:
    return [v for k, v in headers if k.lower() == name.lower()]


async def get_json(client: AiohttpDataHttp, url: str, **kw: Any) -> Any:
    async with client.open(Outbound(kw.pop("method", "GET"), url, kw.pop("headers", []), **kw)) as answer:
        return json.loads(await answer.read())


async def test_a_json_answer_keeps_status_headers_and_body() -> None:
    async with provider() as (base, _), data_http() as client:
        sent = [("Authorization", "Bearer t"), ("X-Tag", "one"), ("X-Tag", "two")]
        async with client.open(Outbound("GET", f"{base}/json", sent)) as answer:
            assert answer.status == 200
            assert header(answer.headers, "X-Multi") == ["a", "b"]
            assert answer.url == f"{base}/json"
            assert await answer.read() == b'{"ok": true, "items": [1, 2, 3]}'
        echoed = await get_json(client, f"{base}/echo", headers=sent)
        got = [tuple(pair) for pair in echoed["headers"]]
        assert ("Authorization", "Bearer t") in got
        assert [v for k, v in got if k == "X-Tag"] == ["one", "two"]
        assert not [k for k, _ in got if k.lower() in ("accept-encoding", "cookie")]  # nothing added


async def test_twenty_megabytes_stream_both_ways_unchanged() -> None:
    async def upload() -> AsyncIterator[bytes]:
        for i in range(BLOCKS):
            yield block(i)

    async with provider() as (base, _), data_http() as client:
        request = Outbound("POST", f"{base}/upload", [("Content-Type", "application/octet-stream")], upload())
        async with client.open(request) as answer:
            digest, size = hashlib.sha256(), 0
            async for chunk in answer.chunks():
                digest.update(chunk)
                size += len(chunk)
        assert header(answer.headers, "X-Upload-Sha256") == [BIG_SHA]
        assert header(answer.headers, "X-Upload-Size") == [str(BLOCK * BLOCKS)]
        assert (digest.hexdigest(), size) == (BIG_SHA, BLOCK * BLOCKS)


async def test_an_upload_that_fails_raises_its_own_error() -> None:
    async def too_long() -> AsyncIterator[bytes]:
        yield block(0)
        raise PayloadTooLarge("the body is larger than allowed")

    async with provider() as (base, _), data_http() as client:
        with pytest.raises(PayloadTooLarge):
            async with client.open(Outbound("POST", f"{base}/upload", [], too_long())) as answer:
                await answer.read()
        assert (await get_json(client, f"{base}/echo"))["method"] == "GET"


async def test_a_kept_alive_connection_is_reused_and_an_unfinished_one_is_not() -> None:
    async with provider() as (base, _), data_http() as client:
        first = (await get_json(client, f"{base}/echo"))["peer_port"]
        assert (await get_json(client, f"{base}/echo"))["peer_port"] == first
        async with client.open(Outbound("GET", f"{base}/huge?size={8 * BLOCK}", [])) as answer:
            async for _ in answer.chunks():
                break  # left early: the connection must be closed, not pooled with a body in it
        second = (await get_json(client, f"{base}/echo"))["peer_port"]
        assert second != first
        with pytest.raises(RuntimeError):
            async with client.open(Outbound("GET", f"{base}/huge?size={8 * BLOCK}", [])) as answer:
                raise RuntimeError("the caller failed before reading the answer")
        assert (await get_json(client, f"{base}/echo"))["peer_port"] != second  # closed on the error


async def test_five_redirects_are_followed_and_the_sixth_is_refused() -> None:
    async with provider() as (base, hits), data_http() as client:
        async with client.open(Outbound("GET", f"{base}/hop/5", [])) as answer:
            assert (answer.status, await answer.read()) == (200, b"arrived")
            assert answer.url == f"{base}/hop/0"
        hits.clear()
        with pytest.raises(EgressBlocked) as caught:
            async with client.open(Outbound("GET", f"{base}/hop/6", [])):
                pass
        assert caught.value.extra["egress_reason"] == "redirects"
        assert hits == [f"/hop/{n}" for n in range(6, 0, -1)]  # the 6th redirect was never followed


@pytest.mark.parametrize(
    "location",
    [
        "https://169.254.169.254/latest/meta-data/",
        "http://169.254.169.254/latest/meta-data/",
        "https://[fd00:ec2::254]/",
        "https://10.0.0.1/",
        "http://example.com/",
        "https://2130706433/",
        "https://user:pw@example.com/",
        "file:///etc/passwd",
    ],
)
async def test_a_redirect_is_checked_like_the_first_url(location: str) -> None:
    async with provider() as (base, _), data_http() as client:
        with pytest.raises(EgressBlocked):
            async with client.open(Outbound("GET", f"{base}/redirect?to={location}", [])):
                pass


async def test_credentials_are_dropped_when_a_redirect_leaves_the_origin() -> None:
    sent = [("Authorization", "Bearer secret"), ("Cookie", "s=1"), ("X-Api-Key", "k"), ("X-Trace", "t")]
    async with provider() as (base, _), provider() as (other, _), data_http() as client:
        same = await get_json(client, f"{base}/redirect?to=/echo", headers=sent)
        assert {k for k, _ in same["headers"]} >= {"Authorization", "Cookie", "X-Api-Key", "X-Trace"}
        for target in (f"{other}/echo", f"http://localhost:{port_of(base)}/echo"):
            url = f"{base}/redirect?to={target}"
            async with client.open(Outbound("GET", url, sent), sensitive_headers=["x-api-key"]) as answer:
                names = {k for k, _ in json.loads(await answer.read())["headers"]}
            assert "X-Trace" in names
            assert not names & {"Authorization", "Cookie", "X-Api-Key"}, target


async def test_redirect_methods_and_bodies() -> None:
    form = [("Content-Type", "text/plain")]
    async with provider() as (base, _), data_http() as client:
        for status, method, expected in [(303, "PUT", "GET"), (302, "POST", "GET"), (301, "POST", "GET")]:
            url = f"{base}/redirect?status={status}&to=/echo"
            echoed = await get_json(client, url, method=method, headers=form, body=b"payload")
            assert (echoed["method"], echoed["body"]) == (expected, ""), status
            assert "Content-Type" not in {k for k, _ in echoed["headers"]}
        for status in (307, 308):
            url = f"{base}/redirect?status={status}&to=/echo"
            echoed = await get_json(client, url, method="POST", headers=form, body=b"payload")
            assert (echoed["method"], echoed["body"]) == ("POST", "payload")

        async def stream() -> AsyncIterator[bytes]:
            yield b"once"

        request = Outbound("POST", f"{base}/redirect?status=307&to=/echo", [], stream())
        async with client.open(request) as answer:  # a stream cannot be replayed: the redirect is handed back
            assert answer.status == 307
            assert header(answer.headers, "Location") == ["/echo"]


async def drain(client: AiohttpDataHttp, request: Outbound, sizes: list[int]) -> None:
    async with client.open(request) as answer:
        async for chunk in answer.chunks():
            sizes.append(len(chunk))


async def test_a_huge_answer_is_cut_at_the_limit() -> None:
    limit = 1024 * 1024
    async with provider() as (base, _), data_http() as client:
        request = Outbound("GET", f"{base}/huge?size={50 * limit}", [], max_response_bytes=limit)
        received: list[int] = []
        with pytest.raises(UpstreamError) as caught:
            await drain(client, request, received)
        assert caught.value.code == "provider.response_too_large"
        assert 0 < sum(received) <= limit
        declared = Outbound("GET", f"{base}/huge?declared=1&size={50 * limit}", [], max_response_bytes=limit)
        with pytest.raises(UpstreamError) as caught:
            async with client.open(declared) as answer:
                await answer.read()
        assert caught.value.code == "provider.response_too_large"
        exact = Outbound("GET", f"{base}/huge?size={limit}", [], max_response_bytes=limit)
        async with client.open(exact) as answer:
            assert len(await answer.read()) == limit


class StallingPeer:
    """Reads a request, then (optionally) sends a head and part of a body, and waits; counts open sockets."""

    def __init__(self, *, send_head: bool) -> None:
        self.send_head = send_head
        self.open = 0
        self.accepted = 0

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def __aexit__(self, *_: object) -> None:
        self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.open += 1
        self.accepted += 1
        try:
            await reader.readuntil(b"\r\n\r\n")
            if self.send_head:
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\npartial")
                await writer.drain()
            await reader.read()  # until the client goes away
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self.open -= 1
            writer.close()


@pytest.mark.parametrize("send_head", [False, True], ids=["before-head", "mid-body"])
async def test_a_stalled_provider_times_out_and_leaves_no_connection(send_head: bool) -> None:
    peer = StallingPeer(send_head=send_head)
    async with peer as base, data_http() as client:
        started = time.monotonic()
        with pytest.raises(UpstreamError) as caught:
            async with client.open(Outbound("GET", f"{base}/slow", [], timeout=0.5)) as answer:
                await answer.read()
        assert time.monotonic() - started < 1.5
        assert (caught.value.code, caught.value.status) == ("provider.timeout", 504)
        for _ in range(100):
            if peer.open == 0:
                break
            await asyncio.sleep(0.02)
        assert (peer.accepted, peer.open) == (1, 0)


async def test_loopback_by_name_needs_the_network_allowlist_too() -> None:
    async with provider() as (base, hits), data_http(HTTP_ONLY) as client:
        for url in (f"http://localhost:{port_of(base)}/json", f"{base}/json"):
            with pytest.raises(EgressBlocked) as caught:
                async with client.open(Outbound("GET", url, [])):
                    pass
            assert caught.value.extra["egress_reason"] == "blocked_address"
        assert hits == []
    async with provider() as (base, _), data_http() as client:
        assert (await get_json(client, f"http://localhost:{port_of(base)}/json"))["ok"] is True


async def test_odd_urls_are_refused_before_any_connection() -> None:
    async with provider() as (base, hits), data_http() as client:
        port = port_of(base)
        for url in (
            f"http://2130706433:{port}/json",
            f"http://127.1:{port}/json",
            f"http://u:p@127.0.0.1:{port}/",
        ):
            with pytest.raises(EgressBlocked):
                async with client.open(Outbound("GET", url, [])):
                    pass
        assert hits == []


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_a_refused_connection_is_provider_unavailable() -> None:
    async with data_http() as client:
        with pytest.raises(UpstreamError) as caught:
            async with client.open(Outbound("GET", f"http://127.0.0.1:{free_port()}/", [])):
                pass
        assert (caught.value.code, caught.value.status) == ("provider.unavailable", 502)
        with pytest.raises(UpstreamError) as caught:
            async with client.open(Outbound("GET", "https://no-such-host.invalid/", [])):
                pass
        assert caught.value.code == "provider.unavailable"


async def test_answers_are_resolved_once_checked_and_pinned() -> None:
    resolver = GuardedResolver(ALLOWED, ttl=30)
    answers = await resolver.resolve("localhost", 8080)
    assert answers and all(a["host"] in ("127.0.0.1", "::1") for a in answers)
    assert all(a["flags"] & socket.AI_NUMERICHOST for a in answers)  # nothing resolves the name again
    await asyncio.gather(*(resolver.resolve("localhost", 8080) for _ in range(10)))
    assert resolver.lookups == 1
    resolver.forget()
    await resolver.resolve("localhost", 8080)
    assert resolver.lookups == 2
    with pytest.raises(EgressBlocked):
        await GuardedResolver(HTTP_ONLY).resolve("localhost", 80)
    assert await resolve_checked(HTTP_ONLY, "8.8.8.8", 443) == ["8.8.8.8"]  # a literal needs no lookup
    await resolver.close()
    async with provider() as (base, _), data_http() as client:
        for _ in range(3):
            await get_json(client, f"http://localhost:{port_of(base)}/echo")
        assert client.resolver.lookups == 1


@asynccontextmanager
async def tls_serving(app: web.Application, directory: Path) -> AsyncIterator[tuple[int, Path]]:
    """``app`` over https on 127.0.0.1 with a certificate naming only ``localhost``: its port and CA file."""
    files = ensure_self_signed(directory, ["localhost"])
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(files.cert, files.key)
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_tls).start()
    try:
        yield runner.addresses[0][1], files.cert
    finally:
        await runner.cleanup()


HTTPS_LOOPBACK = EgressPolicy.build(networks=["127.0.0.0/8", "::1/128"])  # https: no http allowance needed


async def test_https_to_a_name_is_pinned_and_verified_against_the_name(tmp_path: Path) -> None:
    async with tls_serving(provider_app([]), tmp_path / "tls") as (port, cert):
        trust = ssl.create_default_context(cafile=str(cert))
        async with data_http(HTTPS_LOOPBACK, ssl=trust) as client:
            assert (await get_json(client, f"https://localhost:{port}/json"))["ok"] is True
            with pytest.raises(UpstreamError):  # the certificate names localhost, not the address
                await get_json(client, f"https://127.0.0.1:{port}/json")


def test_the_policy_comes_from_settings() -> None:
    settings = Settings(
        egress_allow_http_hosts="127.0.0.1, LocalHost",
        egress_allow_networks="127.0.0.0/8,fd12::/16",
        egress_max_redirects=2,
    )
    policy = policy_from_settings(settings)
    assert policy.http_hosts == {"127.0.0.1", "localhost"}
    assert [str(n) for n in policy.networks] == ["127.0.0.0/8", "fd12::/16"]
    assert policy.max_redirects == 2


# The control plane: OAuth token, refresh, revocation and verification URLs come from tenants.


def token_app(seen: list[dict[str, str]]) -> web.Application:
    async def token(request: web.Request) -> web.Response:
        form = await request.post()
        seen.append({"host": request.headers["Host"], **{k: str(v) for k, v in form.items()}})
        return web.json_response({"access_token": "at", "token_type": "bearer"})

    app = web.Application()
    app.router.add_post("/token", token)
    return app


TOKEN_FORM = {"grant_type": "client_credentials", "client_id": "c"}


async def test_control_plane_refuses_internal_token_urls() -> None:
    seen: list[dict[str, str]] = []
    async with serving(token_app(seen)) as base:
        http = ControlHttp(policy=HTTP_ONLY, timeout=5)
        try:
            for url in (
                "https://10.0.0.1/token",
                "https://169.254.169.254/latest/meta-data/iam/security-credentials/",
                f"http://localhost:{port_of(base)}/token",
                f"{base}/token",
                "https://[::ffff:127.0.0.1]/token",
                "https://2130706433/token",
                "https://user:pw@example.com/token",
                "http://example.com/token",
            ):
                with pytest.raises(EgressBlocked) as caught:
                    await http.send(HttpRequest("POST", url, {}, TOKEN_FORM))
                assert caught.value.code == "egress.blocked", url
        finally:
            await http.close()
    assert seen == []


async def test_control_plane_reaches_an_allowlisted_peer_pinned_by_address() -> None:
    seen: list[dict[str, str]] = []
    async with serving(token_app(seen)) as base:
        http = ControlHttp(policy=ALLOWED, timeout=5)
        try:
            port = port_of(base)
            answer = await http.send(HttpRequest("POST", f"http://localhost:{port}/token", {}, TOKEN_FORM))
            assert answer.status == 200 and b"access_token" in answer.body
            await http.send(HttpRequest("POST", f"{base}/token", {"Accept": "application/json"}, TOKEN_FORM))
            with pytest.raises(Unavailable) as caught:
                await http.send(HttpRequest("POST", f"http://localhost:{free_port()}/token", {}, TOKEN_FORM))
            assert caught.value.code == "oauth.provider_unreachable"
            with pytest.raises(Unavailable) as caught:
                await http.send(HttpRequest("POST", "https://no-such-host.invalid/token", {}, TOKEN_FORM))
            assert caught.value.code == "oauth.provider_unreachable"
        finally:
            await http.close()
    assert [s["host"] for s in seen] == [f"localhost:{port}", f"127.0.0.1:{port}"]  # the name is kept
    assert seen[0]["grant_type"] == "client_credentials"


async def test_control_plane_https_keeps_the_name_for_tls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[dict[str, str]] = []
    async with tls_serving(token_app(seen), tmp_path / "tls") as (port, cert):
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # httpx2 trusts the test certificate from here
        http = ControlHttp(policy=HTTPS_LOOPBACK, timeout=5)
        try:
            answer = await http.send(HttpRequest("POST", f"https://localhost:{port}/token", {}, TOKEN_FORM))
        finally:
            await http.close()
    assert answer.status == 200
    assert (
        seen[0]["host"] == f"localhost:{port}"
    )  # connected to 127.0.0.1; SNI, certificate and Host: the name
