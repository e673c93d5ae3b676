"""Request-scoped context: the request id and the plaintexts the vault released during the request.

The logging redaction processor reads ``released_values`` so that a value the vault decrypted can never
appear in a log line of the same request, whatever field it hides in. ``begin`` puts one mutable set in
the context at the start of a request; tasks spawned by the request share that same set.
"""

from __future__ import annotations

from contextvars import ContextVar

request_id: ContextVar[str | None] = ContextVar("switchyard_request_id", default=None)
_released: ContextVar[set[str] | None] = ContextVar("switchyard_released_values", default=None)

_MIN_REDACTED_LENGTH = 4  # shorter values would redact ordinary words


def begin(rid: str | None) -> None:
    request_id.set(rid)
    _released.set(set())


def release(value: str) -> None:
    if len(value) < _MIN_REDACTED_LENGTH:
        return
    released = _released.get()
    if released is None:
        released = set()
        _released.set(released)
    released.add(value)


def released_values() -> frozenset[str]:
    released = _released.get()
    return frozenset(released) if released else frozenset()
