"""Small helpers shared by the repositories: datetime normalisation and keyset pages."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.engine import Row

from switchyard.core.clock import as_utc
from switchyard.core.models import Page

T = TypeVar("T")


def utc(value: datetime | None) -> datetime | None:
    return None if value is None else as_utc(value)


def page(rows: Sequence[Row[Any]], limit: int, to_model: Callable[[Row[Any]], T], key: str = "id") -> Page[T]:
    """Rows fetched with ``limit + 1``: the extra row only says whether there is a next page."""
    items = [to_model(row) for row in rows[:limit]]
    next_cursor = getattr(rows[limit - 1], key) if len(rows) > limit else None
    return Page(items=items, next_cursor=next_cursor)
