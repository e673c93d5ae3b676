"""Plain values for an HTTP exchange, so that request building stays pure and sending stays in adapters."""

from __future__ import annotations

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
