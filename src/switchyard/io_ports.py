"""Contracts of the adapters other than the database, which the services depend on: where ciphertext,
master keys and package archives live, the control- and data-plane HTTP clients, locks, rate limits and
circuit breakers. The database's repositories are in ``ports.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from switchyard.core.crypto import MasterKey
from switchyard.core.http import Headers, HttpAnswer, HttpRequest, Outbound, Rate
from switchyard.core.models import VaultItem


class CiphertextStore(Protocol):
    """Where sealed blobs live: the vault row itself (``database``) or an operator's service."""

    name: str

    async def put(self, tenant_id: str, item_id: str, blob: bytes) -> bytes | None:
        """Store ``blob``; return what the vault row keeps (the blob itself, or None)."""
        ...

    async def get(self, item: VaultItem) -> bytes: ...
    async def delete(self, tenant_id: str, item_id: str) -> None: ...


class KeySource(Protocol):
    """Where master key material comes from (the key file, or the environment)."""

    def describe(self) -> str: ...
    def load(self) -> list[MasterKey]: ...
    def add(self, key: MasterKey) -> None: ...
    def remove(self, key_id: str) -> None: ...
    @property
    def writable(self) -> bool: ...


class HttpSender(Protocol):
    """The control-plane HTTP client: sends a request, answers any status; unreachable is ``Unavailable``."""

    async def send(self, request: HttpRequest) -> HttpAnswer: ...


class Locks(Protocol):
    """Named mutual exclusion, within a process or across processes sharing the database."""

    def hold(self, key: str, *, wait: bool = True) -> AbstractAsyncContextManager[bool]:
        """Yields True once held; with ``wait=False`` yields False at once when another holder has it."""
        ...


class Upstream(Protocol):
    """A provider's answer on the data plane; the body is read once, as chunks or whole.

    Reading past the request's ``max_response_bytes`` raises ``UpstreamError`` (``provider.response_too_large``);
    a stall past the timeout raises ``UpstreamError`` (``provider.timeout``, status 504).
    """

    status: int
    headers: Headers
    url: str  # the final URL, after redirects

    def chunks(self) -> AsyncIterator[bytes]: ...
    async def read(self) -> bytes: ...


class DataHttp(Protocol):
    """The data-plane HTTP client (aiohttp), behind the egress guard.

    Every URL and every redirect hop (at most the configured number) is checked by the guard; the host's
    address is resolved once, checked, and the connection made to that address. Blocked is ``EgressBlocked``;
    unreachable, reset or timed out is ``UpstreamError``. The connection is released when the context ends.
    """

    def open(self, request: Outbound) -> AbstractAsyncContextManager[Upstream]: ...
    async def close(self) -> None: ...


class RateLimiter(Protocol):
    """Moving-window limits, counted in memory (one process) or in Redis (shared by replicas)."""

    async def hit(self, key: str, rates: Sequence[Rate]) -> float | None:
        """Count one call against every rate under ``key``: None when allowed, else the seconds to wait.

        A refused call is not counted against any of the rates."""
        ...

    async def close(self) -> None: ...


class CircuitBreakers(Protocol):
    """Per-key breakers (provider and tenant): closed, open after consecutive failures, half-open after a
    cool-down (one trial call), shared through Redis in multi-node mode."""

    async def check(self, key: str) -> None:
        """Raise ``CircuitOpen`` (with the seconds until half-open) when calls must not go out."""
        ...

    async def record(self, key: str, *, success: bool) -> None: ...
    async def close(self) -> None: ...


class PackageStore(Protocol):
    """Where connector package archives live (a directory, S3, GCS, Azure), by object key."""

    async def put(self, key: str, data: bytes) -> None: ...
    async def get(self, key: str) -> bytes:
        """The object's bytes; ``NotFound`` (``package.object_missing``) when it is not there."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the object; a missing one is not an error."""
        ...

    async def keys(self, prefix: str) -> list[str]: ...
