"""Database values as JSON, and the result shapes of the two actions.

Date and time -> ISO 8601 (durations too, as ``P<d>DT<h>H<m>M<s>S``), Decimal -> string, bytes -> base64,
UUID -> string, a float that is not finite -> its name as a string; records and mappings become objects,
PostgreSQL ranges objects with their bounds, sets sorted lists. Anything else becomes its ``str``.

A result holds at most ``limit`` rows; the engines fetch one row more, and ``truncated`` says whether it
was there.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg


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


def row_result(rows: Sequence[Sequence[Any]], limit: int) -> dict[str, Any]:
    """A ``query`` result (without its ``columns``): the first ``limit`` rows as JSON values."""
    kept = [[json_safe(value) for value in row] for row in rows[:limit]]
    return {"rows": kept, "row_count": len(kept), "truncated": len(rows) > limit}


def table_result(rows: Sequence[Sequence[Any]], limit: int, views: set[str]) -> dict[str, Any]:
    """A ``list_tables`` result from (schema, name, kind) rows; a kind in ``views`` is a view."""
    tables = [
        {"schema": str(schema), "name": str(name), "type": "view" if str(kind) in views else "table"}
        for schema, name, kind in rows[:limit]
    ]
    return {"tables": tables, "truncated": len(rows) > limit}
