"""The MySQL and MariaDB engine (asyncmy).

A ``query`` runs in a READ ONLY transaction, and the session is read-only as a whole, because DDL in
MySQL commits the open transaction implicitly. The session is opened without multi-statement support
(asyncmy asks for it by default; the flag is cleared before connecting), so text holding several
statements is a syntax error on the server. The server stops the statement after ``timeout`` seconds
(MariaDB ``max_statement_time``, MySQL ``max_execution_time``; an older server without either has only
the client's limit), and the client gives up ``GRACE_SECONDS`` later in any case.

Rows are read through an unbuffered cursor, so only the rows asked for cross the network. A connection
left with unread rows (or broken) is dropped rather than closed politely.
"""

from __future__ import annotations

import asyncio
import json
from contextlib import suppress
from typing import Any

import asyncmy
from asyncmy.constants.CLIENT import MULTI_STATEMENTS
from asyncmy.cursors import SSCursor

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


async def run_mysql(target: Target, request: Request, seconds: float) -> dict[str, Any]:
    """Connect, run ``request`` and close; asyncmy's exceptions become Switchyard's (see ``common``)."""
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
            raise auth_failed(target) from None
        if code in MY_CONNECT_ERRORS or code in MY_LOST_ERRORS:
            raise unreachable(target, exc) from None
        raise connect_failed(target, _my_message(exc)) from None
    except OSError as exc:
        raise unreachable(target, exc) from None
    clean = False
    try:
        async with asyncio.timeout(seconds + GRACE_SECONDS):
            result = await _my_run(conn, request, seconds)
        clean = not result.get("truncated")
        return result
    except TimeoutError:
        raise timed_out(seconds) from None
    except asyncmy.MySQLError as exc:
        code = _my_code(exc)
        if code in MY_TIMEOUT_ERRORS:
            raise timed_out(seconds) from None
        if code in MY_LOST_ERRORS:
            raise unreachable(target, exc) from None
        clean = True
        raise query_failed(target, _my_message(exc)) from None
    except OSError as exc:
        raise unreachable(target, exc) from None
    finally:
        await _my_close(conn, graceful=clean)


async def _my_run(conn: asyncmy.Connection, request: Request, seconds: float) -> dict[str, Any]:
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
        return table_result(tables, request.limit, views={"VIEW", "SYSTEM VIEW"})
    arguments = [_my_argument(value) for value in request.params]
    await cursor.execute(request.sql, arguments or None)
    columns = [str(column[0]) for column in cursor.description or ()]
    rows = await cursor.fetchmany(request.limit + 1) if cursor.description else []
    return {"columns": columns, **row_result(rows, request.limit)}


async def _my_close(conn: asyncmy.Connection, *, graceful: bool) -> None:
    if graceful:
        try:
            await asyncio.wait_for(conn.ensure_closed(), 2)
            return
        except (OSError, asyncmy.MySQLError):
            pass
    conn.close()
