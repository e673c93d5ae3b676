"""Model APIs for the agent loop: OpenAI-compatible chat completions and Anthropic Messages.

Each API turns the neutral transcript of ``core/agent_loop.py`` into its wire format and reads one answer
back as a ``Turn`` (text, tool calls, usage). Sending is a ``ModelSend`` (path, JSON body, headers ->
status and body): ``DirectSend`` posts over the data-plane client (aiohttp, behind the egress guard) with the
key in the API's own header; the agent service may instead send through the proxy, which injects a
connection's credentials itself.

Foreign failures end here as the product's errors, and the key never leaves in one: the provider's error
text is cut short and every spelling of the key is replaced before it becomes an error's detail::

    401, 403        ProviderRejected  model.unauthorized
    404             ProviderRejected  model.not_found       (wrong model name or base URL)
    other 4xx       ProviderRejected  model.rejected
    429             UpstreamError     model.rate_limited   (503)
    5xx             UpstreamError     model.unavailable
    not the format  UpstreamError     model.bad_response
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from switchyard.core.agent_loop import Message, ToolCall, Turn, Usage
from switchyard.core.errors import InvalidInput, ProviderRejected, UpstreamError
from switchyard.core.http import Headers, Outbound
from switchyard.core.redaction import REDACTED, redact_text
from switchyard.io_ports import DataHttp

ANTHROPIC_VERSION = "2023-06-01"
MAX_MODEL_ANSWER_BYTES = 4 * 1024 * 1024

ModelSend = Callable[[str, bytes, Headers, float], Awaitable[tuple[int, bytes]]]
"""``(path, body, headers, seconds) -> (status, body)``: one POST to the model API within ``seconds``."""


class ModelApi(Protocol):
    name: str
    path: str

    def key_headers(self, key: str) -> Headers: ...
    def encode(
        self, model: str, messages: Sequence[Message], tools: Sequence[dict[str, Any]], max_tokens: int | None
    ) -> dict[str, Any]: ...
    def decode(self, body: Any) -> Turn: ...


def _bad(api: str, why: str) -> UpstreamError:
    return UpstreamError(f"the {api} API answered in an unexpected shape ({why})", code="model.bad_response")


def _arguments(raw: Any, api: str) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    if raw in (None, ""):
        return {}
    try:
        parsed = json.loads(raw)
    except (TypeError, ValueError):
        parsed = None
    if not isinstance(parsed, dict):
        return {"_unparsed_arguments": str(raw)[:2000]}  # the tool rejects it, naming the problem
    return parsed


class OpenAIChat:
    """``POST /v1/chat/completions`` (OpenAI, and the many servers that speak its format)."""

    name = "openai"
    path = "/v1/chat/completions"

    def key_headers(self, key: str) -> Headers:
        return [("Authorization", f"Bearer {key}")]

    def encode(
        self, model: str, messages: Sequence[Message], tools: Sequence[dict[str, Any]], max_tokens: int | None
    ) -> dict[str, Any]:
        wire: list[dict[str, Any]] = []
        for message in messages:
            if message.role == "tool":
                wire += [
                    {"role": "tool", "tool_call_id": r.call_id, "content": r.content} for r in message.results
                ]
            elif message.role == "assistant":
                item: dict[str, Any] = {"role": "assistant", "content": message.text}
                if message.tool_calls:
                    item["tool_calls"] = [
                        {
                            "id": call.id,
                            "type": "function",
                            "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
                        }
                        for call in message.tool_calls
                    ]
                wire.append(item)
            else:
                wire.append({"role": message.role, "content": message.text or ""})
        body: dict[str, Any] = {"model": model, "messages": wire}
        if tools:
            body["tools"] = [t if "function" in t else {"type": "function", "function": t} for t in tools]
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        return body

    def decode(self, body: Any) -> Turn:
        try:
            choice = body["choices"][0]
            message = choice["message"]
        except (KeyError, IndexError, TypeError):
            raise _bad("OpenAI", "no choices[0].message") from None
        calls: list[ToolCall] = []
        for index, raw in enumerate(message.get("tool_calls") or ()):
            function = raw.get("function") if isinstance(raw, dict) else None
            if not isinstance(function, dict) or not isinstance(function.get("name"), str):
                raise _bad("OpenAI", "a tool call without a function name")
            call_id = raw.get("id") or f"call_{index}"
            calls.append(
                ToolCall(str(call_id), function["name"], _arguments(function.get("arguments"), "OpenAI"))
            )
        usage = body.get("usage") or {}
        text = message.get("content")
        return Turn(
            text=text if isinstance(text, str) and text else None,
            tool_calls=tuple(calls),
            usage=Usage(int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)),
            finish=choice.get("finish_reason"),
        )


class AnthropicMessages:
    """``POST /v1/messages`` (Anthropic): system apart, tool use and tool results as content blocks."""

    name = "anthropic"
    path = "/v1/messages"
    default_max_tokens = 1024

    def key_headers(self, key: str) -> Headers:
        return [("x-api-key", key), ("anthropic-version", ANTHROPIC_VERSION)]

    def encode(
        self, model: str, messages: Sequence[Message], tools: Sequence[dict[str, Any]], max_tokens: int | None
    ) -> dict[str, Any]:
        system = "\n\n".join(m.text or "" for m in messages if m.role == "system")
        wire: list[dict[str, Any]] = []
        for message in messages:
            if message.role == "system":
                continue
            if message.role == "tool":
                blocks: list[dict[str, Any]] = [
                    {
                        "type": "tool_result",
                        "tool_use_id": r.call_id,
                        "content": r.content,
                        "is_error": r.is_error,
                    }
                    for r in message.results
                ]
                wire.append({"role": "user", "content": blocks})
            elif message.role == "assistant":
                blocks = [{"type": "text", "text": message.text}] if message.text else []
                blocks += [
                    {"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments}
                    for c in message.tool_calls
                ]
                wire.append({"role": "assistant", "content": blocks or message.text or ""})
            else:
                wire.append({"role": "user", "content": message.text or ""})
        body: dict[str, Any] = {
            "model": model,
            "max_tokens": max_tokens or self.default_max_tokens,
            "messages": wire,
        }
        if system:
            body["system"] = system
        if tools:
            body["tools"] = list(tools)
        return body

    def decode(self, body: Any) -> Turn:
        content = body.get("content") if isinstance(body, dict) else None
        if not isinstance(content, list):
            raise _bad("Anthropic", "no content list")
        texts: list[str] = []
        calls: list[ToolCall] = []
        for block in content:
            kind = block.get("type") if isinstance(block, dict) else None
            if kind == "text":
                texts.append(str(block.get("text") or ""))
            elif kind == "tool_use":
                if not isinstance(block.get("name"), str) or not block.get("id"):
                    raise _bad("Anthropic", "a tool_use block without id or name")
                calls.append(
                    ToolCall(str(block["id"]), block["name"], _arguments(block.get("input"), "Anthropic"))
                )
        usage = body.get("usage") or {}
        text = "".join(texts)
        return Turn(
            text=text or None,
            tool_calls=tuple(calls),
            usage=Usage(int(usage.get("input_tokens") or 0), int(usage.get("output_tokens") or 0)),
            finish=body.get("stop_reason"),
        )


APIS: dict[str, ModelApi] = {"openai": OpenAIChat(), "anthropic": AnthropicMessages()}


def api_for(provider: str) -> ModelApi:
    found = APIS.get(provider)
    if found is None:
        raise InvalidInput(
            f"unknown model provider {provider!r}",
            code="agent.unknown_provider",
            remediation=f"Use one of: {', '.join(sorted(APIS))}.",
        )
    return found


def _provider_message(body: bytes) -> str:
    try:
        parsed = json.loads(body)
    except ValueError:
        return body[:200].decode("utf-8", "replace")
    error = parsed.get("error") if isinstance(parsed, dict) else None
    if isinstance(error, dict):
        return str(error.get("message") or error.get("type") or "")[:300]
    if isinstance(error, str):
        return error[:300]
    return ""


def _refused(api: ModelApi, status: int, body: bytes, secrets: Sequence[str]) -> Exception:
    said = redact_text(_provider_message(body), [s for s in secrets if s])
    suffix = f": {said}" if said else ""
    detail = f"the {api.name} model API answered {status}{suffix}"
    if status in (401, 403):
        return ProviderRejected(
            detail,
            code="model.unauthorized",
            upstream_status=status,
            remediation="Check the model API key (the secret or the integration's connection).",
        )
    if status == 404:
        return ProviderRejected(detail, code="model.not_found", upstream_status=status, status=404)
    if status == 429:
        return UpstreamError(detail, code="model.rate_limited", upstream_status=status, status=503)
    if status >= 500:
        return UpstreamError(detail, code="model.unavailable", upstream_status=status)
    return ProviderRejected(detail, code="model.rejected", upstream_status=status)


async def complete(
    api: ModelApi,
    send: ModelSend,
    *,
    model: str,
    messages: Sequence[Message],
    tools: Sequence[dict[str, Any]],
    max_tokens: int | None,
    seconds: float,
    secrets: Sequence[str] = (),
) -> Turn:
    """One model call: the answer as a ``Turn``, or the product's error (``secrets`` scrubbed from it)."""
    body = json.dumps(api.encode(model, messages, tools, max_tokens), ensure_ascii=False).encode("utf-8")
    status, answer = await send(api.path, body, [("Content-Type", "application/json")], seconds)
    if status >= 400:
        raise _refused(api, status, answer, secrets)
    try:
        parsed = json.loads(answer)
    except ValueError:
        raise _bad(api.name, "not JSON") from None
    return api.decode(parsed)


@dataclass(frozen=True)
class DirectSend:
    """POST to ``base_url`` + path over the data-plane client, with the key in the API's header."""

    http: DataHttp
    api: ModelApi
    base_url: str
    key: str

    def __repr__(self) -> str:
        return f"DirectSend(api={self.api.name!r}, base_url={self.base_url!r}, key={REDACTED!r})"

    async def __call__(self, path: str, body: bytes, headers: Headers, seconds: float) -> tuple[int, bytes]:
        base = self.base_url.rstrip("/")
        if base.endswith("/v1") and path.startswith("/v1/"):
            path = path[3:]  # a base URL given as ".../v1", as OpenAI-compatible servers document it
        request = Outbound(
            "POST",
            base + path,
            [*headers, *self.api.key_headers(self.key)],
            body=body,
            timeout=seconds,
            max_response_bytes=MAX_MODEL_ANSWER_BYTES,
        )
        async with self.http.open(request) as answer:
            return answer.status, await answer.read()
