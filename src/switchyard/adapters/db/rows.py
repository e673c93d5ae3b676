"""Mapping between rows and the core's dataclasses, and keyset pages.

Columns are named like the dataclass fields they hold, so one pair of functions maps every table:
datetimes come back as UTC (SQLite hands out naive ones), JSON lists become the tuple or frozenset the
field declares, and go back to the database as lists.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Row

from switchyard.core.clock import as_utc
from switchyard.core.models import Page

T = TypeVar("T")


def utc(value: datetime | None) -> datetime | None:
    return None if value is None else as_utc(value)


def _from_column(value: Any, annotation: Any) -> Any:
    if isinstance(value, datetime):
        return as_utc(value)
    if isinstance(value, list):
        declared = str(annotation)
        if declared.startswith("tuple"):
            return tuple(value)
        if declared.startswith("frozenset"):
            return frozenset(value)
    return value


def to_model(cls: type[T], row: Row[Any]) -> T:
    mapping = row._mapping
    return cls(**{f.name: _from_column(mapping[f.name], f.type) for f in fields(cls)})  # type: ignore[arg-type]


def model_of(cls: type[T]) -> Callable[[Row[Any]], T]:
    return lambda row: to_model(cls, row)


def to_columns(obj: Any, table: sa.Table, *, exclude: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The values of ``obj`` for every column of ``table`` it has a field for."""
    values: dict[str, Any] = {}
    for column in table.columns:
        if column.name in exclude or not hasattr(obj, column.name):
            continue
        value = getattr(obj, column.name)
        if isinstance(value, frozenset):
            value = sorted(value)
        elif isinstance(value, tuple):
            value = list(value)
        values[column.name] = value
    return values


def page(rows: Sequence[Row[Any]], limit: int, to_item: Callable[[Row[Any]], T], key: str = "id") -> Page[T]:
    """Rows fetched with ``limit + 1``: the extra row only says whether there is a next page."""
    items = [to_item(row) for row in rows[:limit]]
    next_cursor = getattr(rows[limit - 1], key) if len(rows) > limit else None
    return Page(items=items, next_cursor=next_cursor)
