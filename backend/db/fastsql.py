"""A thin raw-SQL layer for the tick's hot path.

SQLAlchemy's per-row bind and result processing costs several times more than the database work when
a batch moves thousands of rows, so the tick converts values itself and hands plain tuples to the
driver: ``executemany`` on SQLite (in-process, so per-row calls are cheap), ``unnest`` arrays and
``COPY`` on PostgreSQL (one round trip per statement). Values are stored exactly as the ORM stores them
(see ``UTCDateTime`` and the JSON type), so both layers read each other's rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
import sqlalchemy as sa

UTC = UTC
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.decode


class FastSQL:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn
        self.postgres = conn.dialect.name == "postgresql"
        self._now_cache: tuple[datetime, Any] | None = None

    # -- value conversion ----------------------------------------------------------------------

    def dt(self, value: datetime | None) -> Any:
        """A bind value for a UTC timestamp column."""
        if value is None or self.postgres:
            return value
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")

    def dt_cached(self, value: datetime) -> Any:
        """``dt`` for a value repeated on many rows (the batch's ``now``)."""
        cached = self._now_cache
        if cached is None or cached[0] is not value:
            cached = self._now_cache = (value, self.dt(value))
        return cached[1]

    def read_dt(self, value: Any) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            return datetime.fromisoformat(value).replace(tzinfo=UTC)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value

    def json(self, value: Any) -> Any:
        return None if value is None else _encode(value).decode()

    def read_json(self, value: Any) -> Any:
        if value is None or not isinstance(value, str | bytes):
            return value  # psycopg already decoded jsonb
        return _decode(value)

    # -- statements ----------------------------------------------------------------------------

    def sql(self, statement: str) -> str:
        """Write statements with ``?`` placeholders and ``?::jsonb`` for JSON; adapted per driver."""
        if self.postgres:
            return statement.replace("?", "%s")
        return statement.replace("::jsonb", "")

    def all(self, statement: str, params: Sequence[Any] = ()) -> list[tuple]:
        return self.conn.exec_driver_sql(self.sql(statement), tuple(params)).all()

    def execute(self, statement: str, params: Sequence[Any] = ()) -> None:
        self.conn.exec_driver_sql(self.sql(statement), tuple(params))

    def many(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self.conn.exec_driver_sql(self.sql(statement), list(rows))

    def copy_rows(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """Bulk insert: COPY on PostgreSQL, executemany on SQLite."""
        if self.postgres:
            raw = self.conn.connection.driver_connection
            with raw.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        marks = ", ".join("?" * len(columns))
        self.many(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", list(rows))

    def copy_text(self, table: str, columns: Sequence[str], chunks: Iterable[str]) -> None:
        """COPY pre-formatted text (see :func:`copy_field`) on PostgreSQL: for rows whose shape the caller
        knows, formatting lines with f-strings beats the driver's per-value dumpers several times over."""
        raw = self.conn.connection.driver_connection
        with raw.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for chunk in chunks:
                copy.write(chunk)

    def id_list(self, ids: Sequence[int]) -> tuple[str, tuple]:
        """An ``IN`` list: ``= ANY(?)`` with one array on PostgreSQL, ``IN (?, ?, …)`` on SQLite."""
        if self.postgres:
            return "= ANY(?::bigint[])", (int_array(ids),)
        return f"IN ({', '.join('?' * len(ids))})", tuple(ids)


def int_array(values: Iterable[int]) -> str:
    """A PostgreSQL array literal of integers, bound as text and cast in SQL (``?::bigint[]``).

    psycopg dumps list parameters item by item in Python (a dumper call and a regex per item); joining
    the decimal strings ourselves costs a small fraction of that for the thousands of ids per batch.
    """
    return "{" + ",".join(map(str, values)) + "}"


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_field(value: str | None) -> str:
    """One field of a COPY text-format line: NULL as ``\\N``, backslash and separators escaped."""
    if value is None:
        return "\\N"
    return value.translate(_COPY_ESCAPES)


def chunked_lines(lines: Iterable[str], size: int = 8192) -> Iterator[str]:
    """Join many short lines into fewer, larger strings for ``copy_text``."""
    buffer: list[str] = []
    for line in lines:
        buffer.append(line)
        if len(buffer) >= size:
            yield "".join(buffer)
            buffer.clear()
    if buffer:
        yield "".join(buffer)
