"""A scripted model server on loopback that speaks both wire formats the agent loop uses.

    async with running_model_server(key="sk-test-...") as model:
        model.script = [call_tool("keyed_whoami"), say("done")]
        ...  # POST model.url + "/v1/chat/completions" (OpenAI) or "/v1/messages" (Anthropic)

Each request takes the next turn of ``script``; when the script runs out the last turn repeats (a model
that never stops calling tools is ``script = [call_tool(...)]``). A turn is a dict ``{"text": ...}`` and/or
``{"tool_calls": [(name, arguments), ...]}``, or a callable of the request body that returns one (to pick a
tool from the offered ``tools``). A wrong key gets the API's own 401 error, which (like OpenAI's) quotes part
of the key. Every request body is kept in ``requests``; ``usage`` sets the tokens each answer reports and
``delay`` makes every answer slow.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.peers.loopback import serving

Turn = dict[str, Any]
Script = list[Turn | Callable[[dict[str, Any]], Turn]]


def say(text: str) -> Turn:
    return {"text": text}


def call_tool(name: str, arguments: dict[str, Any] | None = None, *, text: str | None = None) -> Turn:
    return {"tool_calls": [(name, arguments or {})], "text": text}


def offered_tools(body: dict[str, Any]) -> list[str]:
    """The tool names a request offers, in either format."""
    names = []
    for tool in body.get("tools") or []:
        names.append(tool["function"]["name"] if "function" in tool else tool["name"])
    return names


def call_tool_ending(
    suffix: str, arguments: dict[str, Any] | None = None
) -> Callable[[dict[str, Any]], Turn]:
    """A turn calling the first offered tool whose name ends with ``suffix``."""

    def turn(body: dict[str, Any]) -> Turn:
        name = next(n for n in offered_tools(body) if n.endswith(suffix))
        return call_tool(name, arguments)

    return turn


def tool_results(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The tool results a request carries back, as ``{"id", "content", "is_error"}`` in either format."""
    found: list[dict[str, Any]] = []
    for message in body.get("messages", []):
        if message.get("role") == "tool":
            found.append({"id": message["tool_call_id"], "content": message["content"], "is_error": None})
        elif isinstance(message.get("content"), list):
            for block in message["content"]:
                if block.get("type") == "tool_result":
                    found.append(
                        {
                            "id": block["tool_use_id"],
                            "content": block["content"],
                            "is_error": block["is_error"],
                        }
                    )
    return found


@dataclass
class ModelServerPeer:
    key: str
    url: str = ""
    script: Script = field(default_factory=lambda: [say("Hello.")])
    usage: tuple[int, int] = (10, 5)
    delay: float = 0.0  # seconds before each answer (a slow model)
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.openai)
        app.router.add_post("/v1/messages", self.anthropic)
        return app

    def _next(self, body: dict[str, Any]) -> Turn:
        index = min(len(self.requests) - 1, len(self.script) - 1)
        turn = self.script[index]
        return turn(body) if callable(turn) else turn

    async def _take(self, request: web.Request) -> dict[str, Any]:
        body: dict[str, Any] = await request.json()
        if self.delay:
            await asyncio.sleep(self.delay)
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        return body

    async def openai(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.key}":
            given = request.headers.get("Authorization", "").removeprefix("Bearer ")
            said = f"Incorrect API key provided: {given}. You can find your API key at the dashboard."
            error = {"message": said, "type": "invalid_request_error", "code": "invalid_api_key"}
            return web.json_response({"error": error}, status=401)
        body = await self._take(request)
        turn = self._next(body)
        calls = [
            {
                "id": f"call_{next(self._ids)}",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(arguments)},
            }
            for name, arguments in turn.get("tool_calls") or []
        ]
        message: dict[str, Any] = {"role": "assistant", "content": turn.get("text")}
        if calls:
            message["tool_calls"] = calls
        prompt, completion = self.usage
        return web.json_response(
            {
                "id": f"chatcmpl-{len(self.requests)}",
                "object": "chat.completion",
                "model": body.get("model"),
                "choices": [
                    {"index": 0, "message": message, "finish_reason": "tool_calls" if calls else "stop"}
                ],
                "usage": {
                    "prompt_tokens": prompt,
                    "completion_tokens": completion,
                    "total_tokens": prompt + completion,
                },
            }
        )

    async def anthropic(self, request: web.Request) -> web.Response:
        if request.headers.get("x-api-key") != self.key:
            error = {"type": "authentication_error", "message": "invalid x-api-key"}
            return web.json_response({"type": "error", "error": error}, status=401)
        if not request.headers.get("anthropic-version"):
            error = {"type": "invalid_request_error", "message": "anthropic-version header is required"}
            return web.json_response({"type": "error", "error": error}, status=400)
        body = await self._take(request)
        if not isinstance(body.get("max_tokens"), int):
            error = {"type": "invalid_request_error", "message": "max_tokens: Field required"}
            return web.json_response({"type": "error", "error": error}, status=400)
        turn = self._next(body)
        content: list[dict[str, Any]] = [{"type": "text", "text": turn["text"]}] if turn.get("text") else []
        content += [
            {"type": "tool_use", "id": f"toolu_{next(self._ids)}", "name": name, "input": arguments}
            for name, arguments in turn.get("tool_calls") or []
        ]
        prompt, completion = self.usage
        return web.json_response(
            {
                "id": f"msg_{len(self.requests)}",
                "type": "message",
                "role": "assistant",
                "model": body.get("model"),
                "content": content,
                "stop_reason": "tool_use" if turn.get("tool_calls") else "end_turn",
                "usage": {"input_tokens": prompt, "output_tokens": completion},
            }
        )


@asynccontextmanager
async def running_model_server(key: str) -> AsyncIterator[ModelServerPeer]:
    peer = ModelServerPeer(key=key)
    async with serving(peer.app()) as url:
        peer.url = url
        yield peer
