"""The agent loop's pure parts: a neutral transcript, the budget, and what a step decides.

The loop is ``model -> tool calls -> tool results -> model -> ...`` until the model answers without calling
a tool, or a limit is reached. The transcript is kept in one neutral shape and translated to each model
API's wire format at the adapter (``adapters/model_apis.py``)::

    Message(role="system" | "user", text=...)
    Message(role="assistant", text=..., tool_calls=(ToolCall, ...))
    Message(role="tool", results=(ToolOutcome, ...))       one message answers every call of a step

Limits (``Budget``): ``max_steps`` model calls, ``time_limit_seconds`` of wall time, ``max_tokens_total``
tokens as the APIs report them in their usage fields. Nothing here performs IO.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from switchyard.core.errors import InvalidInput

MAX_STEPS = 50
DEFAULT_STEPS = 8
MAX_TOOL_RESULT_CHARS = 20_000


class StopReason(StrEnum):
    COMPLETED = "completed"  # the model answered without calling a tool
    MAX_STEPS = "max_steps"
    TIME_LIMIT = "time_limit"
    TOKEN_LIMIT = "token_limit"


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class ToolOutcome:
    """A tool call's result as the model sees it: ``content`` is text (JSON), ``is_error`` marks failures."""

    call_id: str
    name: str
    content: str
    is_error: bool = False


@dataclass(frozen=True)
class Message:
    role: str  # "system" | "user" | "assistant" | "tool"
    text: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    results: tuple[ToolOutcome, ...] = ()


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def total(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.input_tokens + other.input_tokens, self.output_tokens + other.output_tokens)

    def as_dict(self) -> dict[str, int]:
        return {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens, "total": self.total}


@dataclass(frozen=True)
class Turn:
    """One answer of the model: text, tool calls, or both; ``usage`` as the API reported it."""

    text: str | None
    tool_calls: tuple[ToolCall, ...]
    usage: Usage
    finish: str | None = None

    def as_message(self) -> Message:
        return Message(role="assistant", text=self.text, tool_calls=self.tool_calls)


@dataclass(frozen=True)
class Budget:
    max_steps: int = DEFAULT_STEPS
    time_limit_seconds: float = 120.0
    max_tokens_total: int | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.max_steps <= MAX_STEPS:
            raise InvalidInput(f"max_steps must be between 1 and {MAX_STEPS}", code="agent.invalid_limits")
        if self.time_limit_seconds <= 0:
            raise InvalidInput("time_limit_seconds must be positive", code="agent.invalid_limits")
        if self.max_tokens_total is not None and self.max_tokens_total <= 0:
            raise InvalidInput("max_tokens_total must be positive", code="agent.invalid_limits")


@dataclass
class LoopState:
    """What the loop has spent so far (the one mutable value; the service owns it)."""

    started: float
    steps: int = 0
    usage: Usage = field(default_factory=Usage)

    def remaining_seconds(self, budget: Budget, now: float) -> float:
        return budget.time_limit_seconds - (now - self.started)


def limit_reached(budget: Budget, state: LoopState, now: float) -> StopReason | None:
    """The limit that stops the loop before another model call, if any."""
    if state.steps >= budget.max_steps:
        return StopReason.MAX_STEPS
    if state.remaining_seconds(budget, now) <= 0:
        return StopReason.TIME_LIMIT
    if budget.max_tokens_total is not None and state.usage.total >= budget.max_tokens_total:
        return StopReason.TOKEN_LIMIT
    return None


def stop_message(reason: StopReason, budget: Budget, state: LoopState) -> str:
    """The final message when a limit, not the model, ended the run."""
    if reason is StopReason.MAX_STEPS:
        return (
            f"Stopped after {state.steps} steps: the limit of max_steps={budget.max_steps} was reached "
            "before the model gave a final answer."
        )
    if reason is StopReason.TIME_LIMIT:
        return (
            f"Stopped: the time limit of {budget.time_limit_seconds:g} s was reached "
            "before the model gave a final answer."
        )
    if reason is StopReason.TOKEN_LIMIT:
        return (
            f"Stopped: {state.usage.total} tokens were used, reaching max_tokens_total="
            f"{budget.max_tokens_total}, before the model gave a final answer."
        )
    return ""


def initial_messages(
    prompt: str | None, messages: Sequence[dict[str, Any]] | None, system: str | None
) -> list[Message]:
    """The transcript a run starts from: a prompt, or the caller's messages (system / user / assistant text)."""
    if (prompt is None) == (messages is None):
        raise InvalidInput("give exactly one of prompt and messages", code="agent.invalid_input")
    out: list[Message] = [Message(role="system", text=system)] if system else []
    if prompt is not None:
        if not prompt.strip():
            raise InvalidInput("the prompt is empty", code="agent.invalid_input")
        return [*out, Message(role="user", text=prompt)]
    assert messages is not None
    for index, item in enumerate(messages):
        role, content = item.get("role"), item.get("content")
        if role not in ("system", "user", "assistant") or not isinstance(content, str):
            raise InvalidInput(
                f"messages[{index}] needs a role of system, user or assistant and a text content",
                code="agent.invalid_input",
            )
        out.append(Message(role=role, text=content))
    if not any(m.role == "user" for m in out):
        raise InvalidInput("messages need at least one user message", code="agent.invalid_input")
    return out


def select_tools(names: Iterable[str], allowed: Sequence[str] | None) -> set[str]:
    """The tool names a run may use: all, or those in ``allowed`` (every allowed name must exist)."""
    available = set(names)
    if allowed is None:
        return available
    unknown = sorted(set(allowed) - available)
    if unknown:
        raise InvalidInput(
            f"allowed_tools names tools this end user does not have: {', '.join(unknown)}",
            code="agent.unknown_tool",
            extra={"unknown_tools": unknown},
        )
    return set(allowed)


def outcome_text(ok: bool, output: Any, code: str | None, detail: str | None) -> str:
    """A tool result as the model reads it: the output as JSON, or an error object with its stable code."""
    payload: Any = output if ok else {"error": {"code": code or "tool.failed", "detail": detail or ""}}
    text = output if ok and isinstance(output, str) else json.dumps(payload, default=str, ensure_ascii=False)
    if len(text) > MAX_TOOL_RESULT_CHARS:
        text = text[:MAX_TOOL_RESULT_CHARS] + " …[truncated]"
    return text


def unknown_tool(call: ToolCall) -> ToolOutcome:
    """The answer to a call of a tool the run does not offer (the model invented or guessed a name)."""
    return ToolOutcome(
        call.id,
        call.name,
        outcome_text(False, None, "tool.not_found", f"no tool named {call.name!r} is available"),
        is_error=True,
    )
