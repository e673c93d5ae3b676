"""What both SQL engines share: the action's payload and the connection, checked; TLS; and the errors.

Everything here is checked before a socket is opened: an unknown action kind is ``InvalidInput``
``action.not_sql``, a bad payload ``action.invalid_input``, and a bad port, a missing user name or an unknown
TLS mode ``database.invalid_config``. A ``query`` reads at most ``max_rows`` rows (default
``DEFAULT_MAX_ROWS``, never more than the caller's cap).

TLS follows the connection's mode (libpq ``sslmode`` or MySQL ``ssl-mode``; ``verify-full`` when unset).
The certificate is checked against the configured host name although the socket goes to the checked
address: ``_NamedTLS`` puts that name into the TLS handshake whatever name the driver passes.

Errors: ``UpstreamError`` with ``database.auth_failed``, ``database.unreachable``, ``database.connect_failed``
(the server refused for another reason, e.g. an unknown database) or ``database.timeout`` (504);
``InvalidInput`` with ``database.query_failed`` and the server's message for a statement the server refused.
The password never appears in an error: ``Target.scrub`` masks it in every server message quoted.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from switchyard.core.errors import InvalidInput, UpstreamError

DEFAULT_MAX_ROWS = 1000
GRACE_SECONDS = 1.0  # how much longer than the server's limit the client waits
DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306}
TLS_KEYS = {"postgresql": "sslmode", "mysql": "ssl_mode"}
_TLS_LEVELS = {
    "disable": None, "disabled": None, "require": "encrypt", "required": "encrypt",
    "verify-ca": "verify-ca", "verify-full": "verify-full", "verify-identity": "verify-full",
}  # fmt: skip


# --- TLS --------------------------------------------------------------------------------------------------


class _NamedTLS(ssl.SSLContext):
    """Checks the certificate against ``server_name`` while the driver connects to (and names) an address."""

    server_name: str | None = None

    def wrap_bio(
        self,
        incoming: ssl.MemoryBIO,
        outgoing: ssl.MemoryBIO,
        server_side: bool = False,
        server_hostname: str | bytes | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLObject:
        name = self.server_name or server_hostname
        return super().wrap_bio(incoming, outgoing, server_side, name, session)


def tls_context(mode: object, server_name: str, *, cadata: str | None = None) -> ssl.SSLContext | None:
    """The client TLS context for a libpq ``sslmode`` or MySQL ``ssl-mode``; None for no TLS."""
    key = str(mode).strip().lower().replace("_", "-")
    if key not in _TLS_LEVELS:
        raise InvalidInput(
            f"unknown TLS mode {mode!r}",
            code="database.invalid_config",
            remediation="Use disable, require, verify-ca or verify-full (MySQL: DISABLED ... VERIFY_IDENTITY).",
        )
    level = _TLS_LEVELS[key]
    if level is None:
        return None
    context = _NamedTLS(ssl.PROTOCOL_TLS_CLIENT)
    context.server_name = server_name
    if level == "encrypt":
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if cadata is not None:
        context.load_verify_locations(cadata=cadata)
    else:
        context.load_default_certs()
    context.check_hostname = level == "verify-full"
    return context


# --- the connection and the action, checked ---------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Where to connect: ``host`` is the configured name (TLS, messages), ``address`` the checked one."""

    host: str
    address: str
    port: int
    database: str | None
    user: str
    password: str = field(repr=False)
    tls: ssl.SSLContext | None = field(repr=False)

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    def scrub(self, text: str) -> str:
        return text.replace(self.password, "***") if len(self.password) >= 4 else text


@dataclass(frozen=True)
class Request:
    """A checked action: ``query`` (``sql``, ``params``) or ``list_tables`` (``schema``); ``limit`` rows."""

    kind: str
    sql: str = ""
    params: list[Any] = field(default_factory=list)
    limit: int = DEFAULT_MAX_ROWS
    schema: str | None = None


def _bad_input(detail: str) -> InvalidInput:
    return InvalidInput(detail, code="action.invalid_input")


def parse_target(
    protocol: str, address: str, config: Mapping[str, Any], credentials: Mapping[str, Any]
) -> Target:
    host = str(config.get("host") or address)
    try:
        port = int(config.get("port") or DEFAULT_PORTS[protocol])
    except (TypeError, ValueError):
        raise InvalidInput("the connection's port is not a number", code="database.invalid_config") from None
    if not 0 < port < 65536:
        raise InvalidInput(f"the connection's port {port} is out of range", code="database.invalid_config")
    user = credentials.get("username")
    if not isinstance(user, str) or not user:
        raise InvalidInput("the connection has no user name", code="database.invalid_config")
    password = credentials.get("password")
    tls = tls_context(config.get(TLS_KEYS[protocol]) or "verify-full", host)
    database = config.get("database")
    return Target(host, address, port, str(database) if database else None, user, str(password or ""), tls)


def parse_request(kind: str, payload: Mapping[str, Any], cap: int) -> Request:
    if kind == "list_tables":
        schema = payload.get("schema")
        if schema is not None and not isinstance(schema, str):
            raise _bad_input("schema must be a string")
        return Request(kind, limit=cap, schema=schema or None)
    if kind != "query":
        raise InvalidInput(f"unknown SQL action kind {kind!r}", code="action.not_sql")
    sql, params, max_rows = (
        payload.get("sql"),
        payload.get("params"),
        payload.get("max_rows", DEFAULT_MAX_ROWS),
    )
    if not isinstance(sql, str) or not sql.strip():
        raise _bad_input("sql must be a non-empty SQL statement")
    if params is not None and not isinstance(params, list):
        raise _bad_input("params must be a list of values")
    if isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 1:
        raise _bad_input("max_rows must be a positive integer")
    return Request(kind, sql, list(params or []), min(max_rows, cap))


# --- errors shared by both engines ------------------------------------------------------------------------


def auth_failed(target: Target) -> UpstreamError:
    return UpstreamError(
        f"the database at {target.where} refused the user name or password of user {target.user!r}",
        code="database.auth_failed",
        remediation="Check the connection's user and password (and that the user may connect from here).",
    )


def unreachable(target: Target, exc: BaseException) -> UpstreamError:
    reason = "TLS failed: " if isinstance(exc, ssl.SSLError) else ""
    return UpstreamError(
        f"the database at {target.where} is unreachable ({reason}{type(exc).__name__}: {target.scrub(str(exc))})",
        code="database.unreachable",
        remediation="Check the connection's host, port and TLS mode, and that the server accepts connections.",
    )


def connect_failed(target: Target, message: str) -> UpstreamError:
    return UpstreamError(
        f"the database at {target.where} refused the connection: {target.scrub(message)}",
        code="database.connect_failed",
        remediation="Check the connection's database name and the user's rights on it.",
    )


def timed_out(timeout: float) -> UpstreamError:
    return UpstreamError(
        f"the statement did not finish within {timeout:g} s and was stopped",
        code="database.timeout",
        status=504,
        remediation="Narrow the query (filters, LIMIT, indexed columns) or allow a longer timeout.",
    )


def query_failed(target: Target, message: str) -> InvalidInput:
    return InvalidInput(
        f"the database refused the statement: {target.scrub(message)}",
        code="database.query_failed",
        remediation="Fix the statement; only one read-only statement (no INSERT, UPDATE, DDL) is allowed.",
    )
