"""The PostgreSQL engine (asyncpg).

A ``query`` runs in a READ ONLY transaction that is never committed (closing the connection ends it).
The statement is prepared, and PostgreSQL prepares exactly one statement, so text holding several is
refused. ``SET LOCAL statement_timeout`` makes the server stop the statement after ``timeout`` seconds;
every client call gives up ``GRACE_SECONDS`` later in any case.

Parameters arrive as JSON values; ``_pg_arguments`` turns each into the Python type asyncpg expects for
the parameter's type in the prepared statement (an ISO 8601 string for a date or time, a number or
numeric string for ``numeric``, base64 for ``bytea``, any JSON for ``json``/``jsonb``, ...), element by
element for arrays. A value that does not fit is ``database.query_failed`` naming the parameter, before
the statement runs.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg

from switchyard.adapters.sql.common import (
    GRACE_SECONDS,
    Request,
    Target,
    auth_failed,
    connect_failed,
    query_failed,
    timed_out,
    unreachable,
)
from switchyard.adapters.sql.values import row_result, table_result
from switchyard.core.errors import InvalidInput

TRUE_WORDS = frozenset({"true", "t", "yes", "on", "1"})
FALSE_WORDS = frozenset({"false", "f", "no", "off", "0"})
PG_TABLES = r"""
SELECT n.nspname, c.relname, c.relkind::text
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition
  AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\_%'
  AND ($1::text IS NULL OR n.nspname = $1)
ORDER BY 1, 2
LIMIT $2
"""


# --- parameters -------------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _integer(value: Any) -> int:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError(f"{value!r} is not an integer")
    return int(value)


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


# --- the engine -------------------------------------------------------------------------------------------


async def run_postgres(target: Target, request: Request, seconds: float) -> dict[str, Any]:
    """Connect, run ``request`` and close; asyncpg's exceptions become Switchyard's (see ``common``)."""
    try:
        conn = await asyncpg.connect(
            host=target.address, port=target.port, user=target.user, password=target.password,
            database=target.database, ssl=target.tls or False, timeout=seconds, statement_cache_size=0,
            server_settings={"application_name": "switchyard"},
        )  # fmt: skip
    except asyncpg.PostgresError as exc:
        if exc.sqlstate in ("28000", "28P01"):
            raise auth_failed(target) from None
        raise connect_failed(target, str(exc)) from None
    except (OSError, asyncpg.InterfaceError) as exc:
        raise unreachable(target, exc) from None
    try:
        return await _pg_run(conn, request, seconds)
    except asyncpg.QueryCanceledError:
        raise timed_out(seconds) from None
    except TimeoutError:
        raise timed_out(seconds) from None
    except asyncpg.PostgresError as exc:
        if exc.sqlstate and (exc.sqlstate.startswith("08") or exc.sqlstate.startswith("57P")):
            raise unreachable(target, exc) from None
        hint = getattr(exc, "hint", None)
        raise query_failed(target, str(exc) + (f" (hint: {hint})" if hint else "")) from None
    except (OSError, asyncpg.ConnectionDoesNotExistError) as exc:
        raise unreachable(target, exc) from None
    except asyncpg.InterfaceError as exc:  # asyncpg's own checks: argument types and counts
        raise query_failed(target, str(exc)) from None
    finally:
        await _pg_close(conn)


async def _pg_run(conn: asyncpg.Connection, request: Request, seconds: float) -> dict[str, Any]:
    guard = seconds + GRACE_SECONDS
    # Never committed: closing the connection ends the transaction.
    await conn.transaction(readonly=True).start()
    await conn.execute(f"SET LOCAL statement_timeout = {max(1, round(seconds * 1000))}", timeout=guard)
    if request.kind == "list_tables":
        rows = await conn.fetch(PG_TABLES, request.schema, request.limit + 1, timeout=guard)
        return table_result([tuple(row) for row in rows], request.limit, views={"v", "m"})
    statement = await conn.prepare(request.sql, timeout=guard)
    arguments = _pg_arguments(statement.get_parameters(), request.params)
    columns = [attribute.name for attribute in statement.get_attributes()]
    cursor = await statement.cursor(*arguments, timeout=guard)
    rows = await cursor.fetch(request.limit + 1, timeout=guard)
    return {"columns": columns, **row_result([tuple(row) for row in rows], request.limit)}


async def _pg_close(conn: asyncpg.Connection) -> None:
    if conn.is_closed():
        return
    try:
        await conn.close(timeout=2)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        conn.terminate()
