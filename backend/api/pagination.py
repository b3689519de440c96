"""Keyset pagination: ``next_cursor`` is an opaque token for "rows after this id"."""

from __future__ import annotations

import base64
from typing import Annotated, Generic, TypeVar

import msgspec
from litestar.params import QueryParameter

from backend.api.errors import bad_request

T = TypeVar("T")

Limit = Annotated[int, QueryParameter(ge=1, le=500, description="page size (default 50, max 500)")]
Cursor = Annotated[str | None, QueryParameter(description="next_cursor of the previous page")]


class Page(msgspec.Struct, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = raw.partition(":")
        if kind != "id":
            raise ValueError(kind)
        return int(value)
    except (ValueError, UnicodeDecodeError):
        raise bad_request("/query/cursor", "cursor is not one this API handed out") from None
