"""The executor of database connectors' ``sql`` actions: PostgreSQL (asyncpg) and MySQL or MariaDB (asyncmy).

``run_sql`` opens one connection to an address the caller has already checked (the egress guard resolved
the connection's host), runs the action and closes the connection, whatever happens.

* ``query`` runs one statement in a READ ONLY transaction. Text holding several statements is refused.
  The server stops the statement after ``timeout`` seconds; the client gives up one second later in any
  case. At most ``max_rows`` rows are read; ``truncated`` says whether more were there.
* ``list_tables`` lists the tables and views outside the system schemas, optionally of one ``schema``.
* Values become JSON: date and time -> ISO 8601 (durations too), Decimal -> string, bytes -> base64,
  UUID -> string.

The modules, one idea each::

    common.py    the payload and connection checks, TLS (``tls_context``), the errors both engines raise
    values.py    database values as JSON (``json_safe``) and the result shapes
    postgres.py  the PostgreSQL engine: prepared statement, ``statement_timeout``, parameter conversion
    mysql.py     the MySQL / MariaDB engine: no multi-statements, read-only session, server time limits

Errors (see ``common``): ``UpstreamError`` ``database.auth_failed``, ``database.unreachable``,
``database.connect_failed``, ``database.timeout`` (504); ``InvalidInput`` ``database.query_failed``, and
``action.invalid_input``, ``action.not_sql`` or ``database.invalid_config`` before connecting. The password
never appears in an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from switchyard.adapters.sql.common import (
    DEFAULT_MAX_ROWS,
    DEFAULT_PORTS,
    GRACE_SECONDS,
    TLS_KEYS,
    parse_request,
    parse_target,
    tls_context,
)
from switchyard.adapters.sql.mysql import run_mysql
from switchyard.adapters.sql.postgres import run_postgres
from switchyard.adapters.sql.values import json_safe
from switchyard.core.errors import InvalidInput

__all__ = [
    "DEFAULT_MAX_ROWS",
    "DEFAULT_PORTS",
    "GRACE_SECONDS",
    "TLS_KEYS",
    "json_safe",
    "run_sql",
    "tls_context",
]

_ENGINES = {"postgresql": run_postgres, "mysql": run_mysql}


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
    request = parse_request(kind, payload, max_rows_cap)
    target = parse_target(protocol, address, config, credentials)
    return await engine(target, request, float(timeout))
