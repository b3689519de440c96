"""Keyset pagination: ``next_cursor`` says where the next page starts ("rows after this id").

Cursors are plain digits rather than an opaque token so that the published format is the whole truth:
every string the format allows is a cursor the server accepts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Generic, TypeVar

import msgspec
from litestar.params import QueryParameter

from backend.api.errors import bad_request

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
T = TypeVar("T")

Limit = Annotated[int, QueryParameter(ge=1, le=500, description="page size (default 50, max 500)")]
Cursor = Annotated[str | None, QueryParameter(description="next_cursor of the previous page", pattern=r"^[0-9]{1,18}$")]

TimeCursor = Annotated[
    str | None,
    QueryParameter(description="next_cursor of the previous page", pattern=r"^[0-9]{1,16}-[0-9]{1,18}$"),
]
"""For lists ordered by time, then id: microseconds since 1970 and the id, ``1733234400000000-42``."""


class Page(msgspec.Struct, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def encode_cursor(last_id: int) -> str:
    return str(last_id)


def decode_cursor(cursor: str | None) -> int | None:
    """The id a cursor names (its format is checked by the parameter's pattern)."""
    if not cursor:
        return None
    if not cursor.isdigit():
        raise bad_request("/query/cursor", "cursor is not one this API handed out")
    return int(cursor)


def encode_time_cursor(at: datetime, row_id: int) -> str:
    return f"{round(at.timestamp() * 1_000_000)}-{row_id}"


def decode_time_cursor(cursor: str | None) -> tuple[datetime, int] | None:
    if not cursor:
        return None
    micros, _, row_id = cursor.partition("-")
    if not (micros.isdigit() and row_id.isdigit()):
        raise bad_request("/query/cursor", "cursor is not one this API handed out")
    return EPOCH + timedelta(microseconds=int(micros)), int(row_id)
