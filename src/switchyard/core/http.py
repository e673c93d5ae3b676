"""Plain values for an HTTP exchange, so that request building stays pure and sending stays in adapters."""

from __future__ import annotations

from collections.abc import AsyncIterable
from dataclasses import dataclass


@dataclass(frozen=True)
class HttpRequest:
    method: str
    url: str
    headers: dict[str, str]
    form: dict[str, str]


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: bytes
    headers: dict[str, str]


Headers = list[tuple[str, str]]


@dataclass(frozen=True)
class Outbound:
    """A data-plane request: the proxy's and the actions' call to a provider.

    ``body`` is bytes (replayable, so retriable) or an async iterable of chunks (streamed once).
    """

    method: str
    url: str
    headers: Headers
    body: bytes | AsyncIterable[bytes] | None = None
    timeout: float | None = None  # seconds for the whole exchange; None: the client's default
    max_response_bytes: int | None = None  # None: the client's default


@dataclass(frozen=True)
class Rate:
    """``amount`` calls per ``seconds`` (a moving window)."""

    amount: int
    seconds: float

    def __str__(self) -> str:
        return f"{self.amount}/{self.seconds:g}s"
