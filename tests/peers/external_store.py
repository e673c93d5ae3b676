"""A real HTTP credential store on loopback, speaking the protocol in adapters/credential_stores.py."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web

from tests.peers.loopback import serving


@dataclass
class ExternalStorePeer:
    token: str
    blobs: dict[tuple[str, str], bytes] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    failing: bool = False
    url: str = ""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/items/{tenant}/{item}", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append((request.method, request.path))
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"error": "unauthorized"}, status=401)
        if self.failing:
            return web.json_response({"error": "down for maintenance"}, status=503)
        key = (request.match_info["tenant"], request.match_info["item"])
        if request.method == "PUT":
            body = await request.json()
            self.blobs[key] = base64.b64decode(body["ciphertext"])
            return web.Response(status=204)
        if request.method == "GET":
            if key not in self.blobs:
                return web.json_response({"error": "not found"}, status=404)
            return web.json_response({"ciphertext": base64.b64encode(self.blobs[key]).decode()})
        if request.method == "DELETE":
            return web.Response(status=204 if self.blobs.pop(key, None) is not None else 404)
        return web.Response(status=405)


@asynccontextmanager
async def running_external_store(token: str = "store-token-1234") -> AsyncIterator[ExternalStorePeer]:
    peer = ExternalStorePeer(token=token)
    async with serving(peer.app()) as peer.url:
        yield peer
