"""Every error the client raises, built from Switchyard's RFC 9457 problem documents.

Each carries the server's stable ``code`` (``connection.not_found``, ``action.invalid_input``, ...) to branch
on, the ``detail``, the ``remediation`` when the fix is not obvious, ``retry_after`` (seconds) when waiting
helps and the ``request_id`` to quote in a support request. The classes follow the HTTP status::

    SwitchyardClientError
    ├── RequestError                  4xx but 429: the request must change
    │   ├── BadRequest           400  the provider refused the call (provider.rejected, ...)
    │   ├── Unauthorized         401  the API key is missing, unknown, expired or revoked
    │   ├── Forbidden            403  the key lacks a scope; egress.blocked
    │   ├── NotFound             404  connection.not_found, connector.not_found, ...
    │   │   └── UnknownAction         action.not_found; also an AttributeError
    │   ├── Conflict             409
    │   ├── PayloadTooLarge      413
    │   └── InvalidInput         422  ``errors`` lists each bad field: {"field": ..., "rule": ...}
    ├── RateLimited              429  ``retry_after`` says when to try again
    ├── ServerError              5xx
    │   ├── UpstreamFailed       502  the provider failed or timed out
    │   └── Unavailable          503  circuit.open, the database or credential store is down
    ├── Unreachable                   no answer at all (client.unreachable, client.timeout)
    ├── BadResponse                   an answer the client cannot read (client.bad_response)
    └── UsageError                    client.closed, client.connector_mismatch

Errors raised before any answer (the last three) have ``status`` None. ``retriable`` is true where the same
call may succeed later; the client itself never retries (Switchyard retries provider calls already).
"""

from __future__ import annotations

import email.utils
import time
from typing import Any

import httpx2

RETRIABLE_STATUSES = frozenset({429, 502, 503, 504})


class SwitchyardClientError(Exception):
    """Base of every error raised by ``switchyard.client``."""

    def __init__(
        self,
        detail: str,
        *,
        code: str,
        status: int | None = None,
        remediation: str | None = None,
        retry_after: float | None = None,
        request_id: str | None = None,
        problem: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code
        self.status = status
        self.remediation = remediation
        self.retry_after = retry_after
        self.request_id = request_id
        self.problem: dict[str, Any] = problem or {}

    @property
    def errors(self) -> list[dict[str, Any]]:
        """The per-field problems of a 422 (``[{"field": "prompt", "rule": "is required"}]``), else []."""
        found = self.problem.get("errors")
        return [e for e in found if isinstance(e, dict)] if isinstance(found, list) else []

    @property
    def retriable(self) -> bool:
        return self.status in RETRIABLE_STATUSES or isinstance(self, Unreachable)

    def __str__(self) -> str:
        text = f"[{self.code}] {self.detail}"
        return f"{text} ({self.remediation})" if self.remediation else text

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, detail={self.detail!r})"


class RequestError(SwitchyardClientError):
    """A 4xx other than 429: sending the same request again will fail the same way."""


class BadRequest(RequestError):
    pass


class Unauthorized(RequestError):
    pass


class Forbidden(RequestError):
    pass


class NotFound(RequestError):
    pass


class UnknownAction(NotFound, AttributeError):
    """The connector has no such action; an ``AttributeError`` too, so ``hasattr`` answers False."""


class Conflict(RequestError):
    pass


class PayloadTooLarge(RequestError):
    pass


class InvalidInput(RequestError):
    pass


class RateLimited(SwitchyardClientError):
    pass


class ServerError(SwitchyardClientError):
    pass


class UpstreamFailed(ServerError):
    pass


class Unavailable(ServerError):
    pass


class Unreachable(SwitchyardClientError):
    pass


class BadResponse(SwitchyardClientError):
    pass


class UsageError(SwitchyardClientError):
    pass


_BY_STATUS: dict[int, type[SwitchyardClientError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    422: InvalidInput,
    429: RateLimited,
    502: UpstreamFailed,
    503: Unavailable,
}


def _error_class(status: int, code: str) -> type[SwitchyardClientError]:
    if code == "action.not_found":
        return UnknownAction
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    return ServerError if status >= 500 else RequestError


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP date (RFC 9110, 10.2.3)."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)


def _problem(response: httpx2.Response) -> dict[str, Any]:
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in ("application/problem+json", "application/json"):
        return {}
    try:
        document = response.json()
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def from_response(response: httpx2.Response) -> SwitchyardClientError:
    """The error an error answer stands for; a body that is not problem+json still gives a clear error."""
    status = response.status_code
    problem = _problem(response)
    code = _text(problem.get("code")) or f"http.{status}"
    detail = (
        _text(problem.get("detail"))
        or _text(problem.get("title"))
        or response.text.strip()[:200]
        or response.reason_phrase
        or f"HTTP {status}"
    )
    return _error_class(status, code)(
        detail,
        code=code,
        status=status,
        remediation=_text(problem.get("remediation")),
        retry_after=retry_after_seconds(response.headers.get("retry-after")),
        request_id=_text(problem.get("request_id")) or response.headers.get("x-request-id"),
        problem=problem,
    )


def is_switchyard_problem(response: httpx2.Response) -> bool:
    """Whether an answer is Switchyard's own problem document rather than a provider's (proxied) answer."""
    kind = _problem(response).get("type")
    return isinstance(kind, str) and kind.startswith("https://switchyard.dev/problems/")
