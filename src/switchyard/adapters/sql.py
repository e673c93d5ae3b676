"""The executor of database connectors' ``sql`` actions: PostgreSQL (asyncpg) and MySQL or MariaDB (asyncmy).

``run_sql`` opens one connection to an address the caller has already checked (the egress guard resolved
the connection's host), runs the action and closes the connection, whatever happens.

* ``query`` runs one statement in a READ ONLY transaction. Text holding several statements is refused
  (PostgreSQL prepares one statement; the MySQL session is opened without multi-statement support), and a
  MySQL session is read-only as a whole, because DDL there commits the open transaction implicitly.
  The server stops the statement after ``timeout`` seconds (``statement_timeout``, ``max_statement_time``
  or ``max_execution_time``); the client gives up one second later in any case.
* At most ``max_rows`` rows are read; ``truncated`` says whether more were there. Values become JSON:
  date and time -> ISO 8601 (durations too), Decimal -> string, bytes -> base64, UUID -> string.
* TLS follows the connection's mode (libpq ``sslmode`` or MySQL ``ssl-mode``). The certificate is
  checked against the configured host name although the socket goes to the checked address.

Errors: ``UpstreamError`` with ``database.auth_failed``, ``database.unreachable``, ``database.connect_failed``
(the server refused for another reason, e.g. an unknown database) or ``database.timeout`` (504);
``InvalidInput`` with ``database.query_failed`` and the server's message for a statement the server refused.
The password never appears in an error.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import ssl
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncmy
import asyncpg
from asyncmy.constants.CLIENT import MULTI_STATEMENTS
from asyncmy.cursors import SSCursor

from switchyard.core.errors import InvalidInput, UpstreamError

DEFAULT_MAX_ROWS = 1000
GRACE_SECONDS = 1.0
DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306}
TLS_KEYS = {"postgresql": "sslmode", "mysql": "ssl_mode"}
_TLS_LEVELS = {
    "disable": None, "disabled": None, "require": "encrypt", "required": "encrypt",
    "verify-ca": "verify-ca", "verify-full": "verify-full", "verify-identity": "verify-full",
}  # fmt: skip


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


@dataclass(frozen=True)
class _Target:
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
class _Request:
    kind: str
    sql: str = ""
    params: list[Any] = field(default_factory=list)
    limit: int = DEFAULT_MAX_ROWS
    schema: str | None = None


def _bad_input(detail: str) -> InvalidInput:
    return InvalidInput(detail, code="action.invalid_input")


def _target(
    protocol: str, address: str, config: Mapping[str, Any], credentials: Mapping[str, Any]
) -> _Target:
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
    return _Target(host, address, port, str(database) if database else None, user, str(password or ""), tls)


def _request(kind: str, payload: Mapping[str, Any], cap: int) -> _Request:
    if kind == "list_tables":
        schema = payload.get("schema")
        if schema is not None and not isinstance(schema, str):
            raise _bad_input("schema must be a string")
        return _Request(kind, limit=cap, schema=schema or None)
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
    return _Request(kind, sql, list(params or []), min(max_rows, cap))


async def run_sql(
    protocol: str,
    kind: str,
    *,
    address: str,
    config: Mapping[str, Any],
    credentials: Mapping[str, Any],
    payload: Mapping[str, Any],
    timeout: float,  # noqa: ASYNC109  the server enforces it too, so it is a value, not a scope
    max_rows_cap: int = 10_000,
) -> dict[str, Any]:
    """Run a ``query`` or ``list_tables`` action on the database at ``address`` (see the module docstring)."""
    engine = _ENGINES.get(protocol)
    if engine is None:
        raise InvalidInput(f"no SQL executor for protocol {protocol!r}", code="action.not_sql")
    if not timeout > 0:
        raise ValueError("timeout must be a positive number of seconds")
    request = _request(kind, payload, max_rows_cap)
    target = _target(protocol, address, config, credentials)
    return await engine(target, request, float(timeout))


# --- errors shared by both engines -----------------------------------------------------------------------


def _auth_failed(target: _Target) -> UpstreamError:
    return UpstreamError(
        f"the database at {target.where} refused the user name or password of user {target.user!r}",
        code="database.auth_failed",
        remediation="Check the connection's user and password (and that the user may connect from here).",
    )


def _unreachable(target: _Target, exc: BaseException) -> UpstreamError:
    reason = "TLS failed: " if isinstance(exc, ssl.SSLError) else ""
    return UpstreamError(
        f"the database at {target.where} is unreachable ({reason}{type(exc).__name__}: {target.scrub(str(exc))})",
        code="database.unreachable",
        remediation="Check the connection's host, port and TLS mode, and that the server accepts connections.",
    )


def _connect_failed(target: _Target, message: str) -> UpstreamError:
    return UpstreamError(
        f"the database at {target.where} refused the connection: {target.scrub(message)}",
        code="database.connect_failed",
        remediation="Check the connection's database name and the user's rights on it.",
    )


def _timed_out(timeout: float) -> UpstreamError:
    return UpstreamError(
        f"the statement did not finish within {timeout:g} s and was stopped",
        code="database.timeout",
        status=504,
        remediation="Narrow the query (filters, LIMIT, indexed columns) or allow a longer timeout.",
    )


def _query_failed(target: _Target, message: str) -> InvalidInput:
    return InvalidInput(
        f"the database refused the statement: {target.scrub(message)}",
        code="database.query_failed",
        remediation="Fix the statement; only one read-only statement (no INSERT, UPDATE, DDL) is allowed.",
    )


# --- values -----------------------------------------------------------------------------------------------


def _duration(delta: timedelta) -> str:
    sign, delta = ("-", -delta) if delta < timedelta(0) else ("", delta)
    hours, rest = divmod(delta.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    fraction = f".{delta.microseconds:06d}".rstrip("0") if delta.microseconds else ""
    return f"{sign}P{delta.days}DT{hours}H{minutes}M{seconds}{fraction}S"


def json_safe(value: Any) -> Any:
    """A database value as JSON: ISO 8601 times, Decimal and UUID as strings, bytes as base64."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return _duration(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, asyncpg.Record | Mapping):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, asyncpg.Range):
        bounds = {"lower": value.lower, "upper": value.upper}
        inclusive = {"lower_inc": value.lower_inc, "upper_inc": value.upper_inc, "empty": value.isempty}
        return {**{k: json_safe(v) for k, v in bounds.items()}, **inclusive}
    if isinstance(value, set | frozenset):
        return sorted(json_safe(item) for item in value)
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    return str(value)


def _rows(rows: Sequence[Sequence[Any]], limit: int) -> dict[str, Any]:
    kept = [[json_safe(value) for value in row] for row in rows[:limit]]
    return {"rows": kept, "row_count": len(kept), "truncated": len(rows) > limit}


def _tables(rows: Sequence[Sequence[Any]], limit: int, views: set[str]) -> dict[str, Any]:
    tables = [
        {"schema": str(schema), "name": str(name), "type": "view" if str(kind) in views else "table"}
        for schema, name, kind in rows[:limit]
    ]
    return {"tables": tables, "truncated": len(rows) > limit}


# --- PostgreSQL -------------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _integer(value: Any) -> int:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError(f"{value!r} is not an integer")
    return int(value)


TRUE_WORDS = frozenset({"true", "t", "yes", "on", "1"})
FALSE_WORDS = frozenset({"false", "f", "no", "off", "0"})


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    word = str(value).lower()
    if word not in TRUE_WORDS | FALSE_WORDS:
        raise ValueError(f"{value!r} is not a boolean")
    return word in TRUE_WORDS


def _iso(kind: type[date] | type[time]) -> Callable[[Any], Any]:
    def parse(value: Any) -> Any:
        if not isinstance(value, str):
            raise TypeError(f"expected an ISO 8601 string, got {type(value).__name__}")
        return kind.fromisoformat(value)

    return parse


_PG_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    **dict.fromkeys(("int2", "int4", "int8", "oid"), _integer),
    **dict.fromkeys(("float4", "float8"), float),
    **dict.fromkeys(("text", "varchar", "bpchar", "name"), _text),
    **dict.fromkeys(("json", "jsonb"), _text),
    **dict.fromkeys(("timestamp", "timestamptz"), _iso(datetime)),
    **dict.fromkeys(("time", "timetz"), _iso(time)),
    "numeric": lambda value: Decimal(str(value)),
    "bool": _boolean,
    "date": _iso(date),
    "uuid": lambda value: UUID(str(value)),
    "bytea": lambda value: base64.b64decode(str(value), validate=True),
}


def _pg_arguments(parameters: Sequence[Any], values: Sequence[Any]) -> list[Any]:
    """JSON values as the Python types asyncpg expects for the statement's parameter types."""
    if len(parameters) != len(values):
        raise InvalidInput(
            f"the statement has {len(parameters)} parameter(s) but {len(values)} value(s) were given",
            code="database.query_failed",
        )
    arguments = []
    for position, (parameter, value) in enumerate(zip(parameters, values, strict=True), start=1):
        array = parameter.kind == "array" and isinstance(value, list)
        convert = _PG_CONVERTERS.get(parameter.name.lstrip("_") if array else parameter.name)
        try:
            if value is None or convert is None:
                arguments.append(value)
            elif array:
                arguments.append([None if item is None else convert(item) for item in value])
            else:
                arguments.append(convert(value))
        except (ValueError, TypeError, ArithmeticError) as exc:
            raise InvalidInput(
                f"parameter ${position} is not a valid {parameter.name}: {exc}", code="database.query_failed"
            ) from None
    return arguments


PG_TABLES = r"""
SELECT n.nspname, c.relname, c.relkind::text
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition
  AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\_%'
  AND ($1::text IS NULL OR n.nspname = $1)
ORDER BY 1, 2
LIMIT $2
"""


async def _postgres(target: _Target, request: _Request, seconds: float) -> dict[str, Any]:
    try:
        conn = await asyncpg.connect(
            host=target.address, port=target.port, user=target.user, password=target.password,
            database=target.database, ssl=target.tls or False, timeout=seconds, statement_cache_size=0,
            server_settings={"application_name": "switchyard"},
        )  # fmt: skip
    except asyncpg.PostgresError as exc:
        if exc.sqlstate in ("28000", "28P01"):
            raise _auth_failed(target) from None
        raise _connect_failed(target, str(exc)) from None
    except (OSError, asyncpg.InterfaceError) as exc:
        raise _unreachable(target, exc) from None
    try:
        return await _pg_run(conn, request, seconds)
    except asyncpg.QueryCanceledError:
        raise _timed_out(seconds) from None
    except TimeoutError:
        raise _timed_out(seconds) from None
    except asyncpg.PostgresError as exc:
        if exc.sqlstate and (exc.sqlstate.startswith("08") or exc.sqlstate.startswith("57P")):
            raise _unreachable(target, exc) from None
        hint = getattr(exc, "hint", None)
        raise _query_failed(target, str(exc) + (f" (hint: {hint})" if hint else "")) from None
    except (OSError, asyncpg.ConnectionDoesNotExistError) as exc:
        raise _unreachable(target, exc) from None
    except asyncpg.InterfaceError as exc:  # asyncpg's own checks: argument types and counts
        raise _query_failed(target, str(exc)) from None
    finally:
        await _pg_close(conn)


async def _pg_run(conn: asyncpg.Connection, request: _Request, seconds: float) -> dict[str, Any]:
    guard = seconds + GRACE_SECONDS
    # Never committed: closing the connection ends the transaction.
    await conn.transaction(readonly=True).start()
    await conn.execute(f"SET LOCAL statement_timeout = {max(1, round(seconds * 1000))}", timeout=guard)
    if request.kind == "list_tables":
        rows = await conn.fetch(PG_TABLES, request.schema, request.limit + 1, timeout=guard)
        return _tables([tuple(row) for row in rows], request.limit, views={"v", "m"})
    statement = await conn.prepare(request.sql, timeout=guard)
    arguments = _pg_arguments(statement.get_parameters(), request.params)
    columns = [attribute.name for attribute in statement.get_attributes()]
    cursor = await statement.cursor(*arguments, timeout=guard)
    rows = await cursor.fetch(request.limit + 1, timeout=guard)
    return {"columns": columns, **_rows([tuple(row) for row in rows], request.limit)}


async def _pg_close(conn: asyncpg.Connection) -> None:
    if conn.is_closed():
        return
    try:
        await conn.close(timeout=2)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        conn.terminate()


# --- MySQL and MariaDB ------------------------------------------------------------------------------------

MY_AUTH_ERRORS = {1044, 1045, 1698}  # access denied (to the database), no password for a password user
MY_TIMEOUT_ERRORS = {1317, 1969, 3024}  # interrupted; MariaDB max_statement_time; MySQL max_execution_time
MY_LOST_ERRORS = {2006, 2013, 2055}  # server gone, connection lost
MY_CONNECT_ERRORS = {2002, 2003, 2005}  # cannot connect, unknown host
MY_TABLES = """
SELECT table_schema, table_name, table_type FROM information_schema.tables
WHERE table_schema NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')
  AND (%s IS NULL OR table_schema = %s)
ORDER BY table_schema, table_name
LIMIT %s
"""


def _my_code(exc: asyncmy.MySQLError) -> int | None:
    code = exc.args[0] if exc.args else None
    return code if isinstance(code, int) else None


def _my_message(exc: asyncmy.MySQLError) -> str:
    return str(exc.args[1]) if len(exc.args) > 1 else str(exc)


def _my_argument(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, dict) else value


async def _mysql(target: _Target, request: _Request, seconds: float) -> dict[str, Any]:
    conn = asyncmy.Connection(  # type: ignore[no-untyped-call]
        host=target.address, port=target.port, user=target.user, password=target.password,
        database=target.database, ssl=target.tls, connect_timeout=seconds, autocommit=None,
        local_infile=False, charset="utf8mb4",
    )  # fmt: skip
    # asyncmy always asks for multi-statement support; without it "SELECT 1; DROP ..." is a syntax error.
    conn._client_flag &= ~MULTI_STATEMENTS  # type: ignore[attr-defined]
    try:
        await conn.connect()
    except asyncmy.MySQLError as exc:
        code = _my_code(exc)
        if code in MY_AUTH_ERRORS:
            raise _auth_failed(target) from None
        if code in MY_CONNECT_ERRORS or code in MY_LOST_ERRORS:
            raise _unreachable(target, exc) from None
        raise _connect_failed(target, _my_message(exc)) from None
    except OSError as exc:
        raise _unreachable(target, exc) from None
    clean = False
    try:
        async with asyncio.timeout(seconds + GRACE_SECONDS):
            result = await _my_run(conn, request, seconds)
        clean = not result.get("truncated")
        return result
    except TimeoutError:
        raise _timed_out(seconds) from None
    except asyncmy.MySQLError as exc:
        code = _my_code(exc)
        if code in MY_TIMEOUT_ERRORS:
            raise _timed_out(seconds) from None
        if code in MY_LOST_ERRORS:
            raise _unreachable(target, exc) from None
        clean = True
        raise _query_failed(target, _my_message(exc)) from None
    except OSError as exc:
        raise _unreachable(target, exc) from None
    finally:
        await _my_close(conn, graceful=clean)


async def _my_run(conn: asyncmy.Connection, request: _Request, seconds: float) -> dict[str, Any]:
    cursor = conn.cursor(SSCursor)  # unbuffered: only the rows asked for are read
    if "mariadb" in conn.get_server_info().lower():
        limit_statement = f"SET SESSION max_statement_time = {max(seconds, 0.001):.3f}"
    else:
        limit_statement = f"SET SESSION max_execution_time = {max(1, round(seconds * 1000))}"
    with suppress(asyncmy.MySQLError):  # an older server lacks the setting; the client-side limit applies
        await cursor.execute(limit_statement)
    await cursor.execute("SET SESSION TRANSACTION READ ONLY")
    await cursor.execute("START TRANSACTION READ ONLY")
    if request.kind == "list_tables":
        await cursor.execute(MY_TABLES, (request.schema, request.schema, request.limit + 1))
        tables = await cursor.fetchall()
        return _tables(tables, request.limit, views={"VIEW", "SYSTEM VIEW"})
    arguments = [_my_argument(value) for value in request.params]
    await cursor.execute(request.sql, arguments or None)
    columns = [str(column[0]) for column in cursor.description or ()]
    rows = await cursor.fetchmany(request.limit + 1) if cursor.description else []
    return {"columns": columns, **_rows(rows, request.limit)}


async def _my_close(conn: asyncmy.Connection, *, graceful: bool) -> None:
    if graceful:
        try:
            await asyncio.wait_for(conn.ensure_closed(), 2)
            return
        except (OSError, asyncmy.MySQLError):
            pass
    conn.close()


_ENGINES = {"postgresql": _postgres, "mysql": _mysql}
