"""The one exception tree of Switchyard.

Every error carries a stable ``code`` (dotted, lowercase: ``secret.not_found``) that clients may branch on,
a human ``detail`` and, where the fix is not obvious, a ``remediation``. The classes are grouped by what the
caller should do about them::

    SwitchyardError
    ├── ClientError               the caller must change the request
    │   ├── InvalidInput          422  a value breaks a rule (name, size, schema)
    │   ├── NotFound              404  also for another tenant's resources: no existence oracle
    │   ├── Conflict              409  the resource exists or moved on
    │   ├── PayloadTooLarge       413
    │   ├── EgressBlocked         403  ``egress.blocked``: an outbound URL the egress guard refuses
    │   ├── ProviderRejected      400  the provider refused the call (``provider.rejected``,
    │   │                              ``provider.unauthorized``; 404 ``provider.not_found``)
    │   └── OAuthError            400  the provider refused (``oauth.invalid_grant``, ``oauth.access_denied``)
    ├── AuthError                 the caller must present other credentials
    │   ├── Unauthenticated       401  missing, unknown, wrong, expired or revoked key
    │   └── Forbidden             403  the key lacks a scope
    ├── RetriableError            the same request may succeed later
    │   ├── Unavailable           503  database or credential store unreachable
    │   ├── RateLimited           429  a limit was reached before the call (``Retry-After`` says when)
    │   ├── CircuitOpen           503  ``circuit.open``: the provider failed repeatedly; calls pause
    │   ├── SandboxBusy           503  ``sandbox.busy``: every sandbox is in use; none came free in time
    │   └── UpstreamError         502  the provider failed (``provider.unavailable``, ``provider.timeout``,
    │                                  ``provider.bad_response``, ``provider.response_too_large``)
    └── FatalError                an operator must act; retrying will not help
        ├── DecryptFailed         500  ``vault.decrypt_failed``: corrupted ciphertext or a missing key
        ├── ConfigurationError         the process refuses to start (key file mode, missing key)
        ├── SandboxUnavailable    503  ``sandbox.unavailable``: custom code cannot run on this host
        └── SandboxError          502  custom connector code failed or broke a limit (``sandbox.timeout``,
                                       ``sandbox.memory_exceeded``, ``sandbox.hook_failed``,
                                       ``sandbox.killed``, ...)

``ProviderRejected`` and ``UpstreamError`` share ``ProviderAnswer``'s constructor (``upstream_status``).

Adapters translate foreign exceptions (SQLAlchemy, httpx2, aiohttp) into this tree at their boundary;
nothing outside ``adapters/`` ever sees a library's exception.
"""

from __future__ import annotations

from typing import Any, ClassVar


class SwitchyardError(Exception):
    """Base of every error the product raises on purpose."""

    status: ClassVar[int] = 500
    default_code: ClassVar[str] = "internal.error"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        remediation: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code or self.default_code
        self.remediation = remediation
        self.extra = extra or {}

    @property
    def title(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, detail={self.detail!r})"


class ClientError(SwitchyardError):
    status = 400
    default_code = "request.invalid"


class InvalidInput(ClientError):
    status = 422
    default_code = "request.invalid"


class NotFound(ClientError):
    status = 404
    default_code = "resource.not_found"


class Conflict(ClientError):
    status = 409
    default_code = "resource.conflict"


class PayloadTooLarge(ClientError):
    status = 413
    default_code = "request.too_large"


class EgressBlocked(ClientError):
    status = 403
    default_code = "egress.blocked"


class ProviderAnswer(SwitchyardError):
    """A failure told by (or about) the provider's answer: ``upstream_status`` is its status when it
    answered, and ``status`` may refine the class's own (404 for ``provider.not_found``, 504 for a
    timeout)."""

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        remediation: str | None = None,
        upstream_status: int | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(
            detail,
            code=code,
            remediation=remediation,
            extra={"upstream_status": upstream_status} if upstream_status is not None else None,
        )
        self.upstream_status = upstream_status
        if status is not None:
            self.status = status  # type: ignore[misc]


class ProviderRejected(ProviderAnswer, ClientError):
    """The provider answered 4xx (or 200 with an error flag): the request or the connection must change."""

    status = 400
    default_code = "provider.rejected"


class OAuthError(ClientError):
    """The provider refused an OAuth step; ``error`` is its RFC 6749 error code."""

    status = 400
    default_code = "oauth.error"

    def __init__(
        self,
        error: str,
        description: str | None = None,
        *,
        code: str | None = None,
        remediation: str | None = None,
    ) -> None:
        self.error = error
        text = f"the provider answered {error}" + (f": {description}" if description else "")
        super().__init__(
            text, code=code or f"oauth.{error}", remediation=remediation, extra={"oauth_error": error}
        )


class AuthError(SwitchyardError):
    status = 401
    default_code = "auth.unauthenticated"


class Unauthenticated(AuthError):
    status = 401
    default_code = "auth.unauthenticated"


class Forbidden(AuthError):
    status = 403
    default_code = "auth.forbidden"


class RetriableError(SwitchyardError):
    status = 503
    default_code = "service.unavailable"


class Unavailable(RetriableError):
    status = 503
    default_code = "service.unavailable"


class RateLimited(RetriableError):
    """Refused before the call; ``retry_after`` (seconds) becomes the ``Retry-After`` header."""

    status = 429
    default_code = "rate_limit.exceeded"

    def __init__(self, detail: str, *, retry_after: float, code: str | None = None, scope: str = "") -> None:
        self.retry_after = max(retry_after, 0.0)
        super().__init__(
            detail,
            code=code,
            remediation=f"Wait {self.retry_after:.1f} s (Retry-After) and send the request again.",
            extra={"retry_after": round(self.retry_after, 3), **({"limit_scope": scope} if scope else {})},
        )


class CircuitOpen(RetriableError):
    status = 503
    default_code = "circuit.open"

    def __init__(self, detail: str, *, retry_after: float) -> None:
        self.retry_after = max(retry_after, 0.0)
        super().__init__(
            detail,
            remediation="The provider failed repeatedly; calls resume after the cool-down (Retry-After).",
            extra={"retry_after": round(self.retry_after, 3)},
        )


class UpstreamError(ProviderAnswer, RetriableError):
    """The provider failed: unreachable, too slow, a 5xx after retries, or an answer that is not what was
    declared."""

    status = 502
    default_code = "provider.unavailable"


class SandboxBusy(RetriableError):
    """Every sandbox process allowed is in use, and none came free within the call's time."""

    status = 503
    default_code = "sandbox.busy"


class FatalError(SwitchyardError):
    status = 500
    default_code = "internal.error"


class DecryptFailed(FatalError):
    status = 500
    default_code = "vault.decrypt_failed"


class ConfigurationError(FatalError):
    status = 500
    default_code = "config.invalid"


class SandboxUnavailable(FatalError):
    """Custom connector code cannot run here (no bubblewrap, or it cannot create namespaces)."""

    status = 503
    default_code = "sandbox.unavailable"


class SandboxError(FatalError):
    """A package's code failed, or was stopped at a limit; the host is unaffected."""

    status = 502
    default_code = "sandbox.failed"
