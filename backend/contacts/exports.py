"""Contacts to CSV, streamed: a page of contacts per short read transaction, so exporting a million
contacts neither holds a connection for minutes nor builds the file in memory.

Columns round-trip into an import: ``external_id``, ``email`` … ``tags``, then ``consent.<channel>``,
``trait.<name>``, ``computed.<key>`` (computed values are exported, never imported). A cell that a
spreadsheet would run as a formula (it starts with ``=``, ``+``, ``-``, ``@``, tab or CR) is prefixed
with a single quote; the import takes the quote off again.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import msgspec
import sqlalchemy as sa

from backend.contacts import people
from backend.db.models import ComputedProperty, Contact
from backend.db.session import read_connection

_contacts = Contact.__table__
PAGE = 1000
BASE = ("external_id", "email", "phone", "wechat_openid", "timezone", "locale", "tags")
TAIL = ("created_at", "updated_at", "waymark_id")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: str) -> str:
    """OWASP's CSV-injection guard: a leading quote makes a spreadsheet show the text, not run it."""
    return "'" + cell if cell.startswith(FORMULA_START) else cell


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict | list):
        return msgspec.json.encode(value).decode()
    return neutralise(str(value))


def _keys(conn: sa.Connection, column: str, conditions: list[Any]) -> list[str]:
    """Every key the JSON object ``column`` has in the exported contacts (one pass in the database)."""
    col = _contacts.c[column]
    if conn.dialect.name == "postgresql":
        key = sa.func.jsonb_object_keys(col)
        query = sa.select(key).where(*conditions, sa.func.jsonb_typeof(col) == "object")
    else:
        each = sa.func.json_each(col).table_valued("key").alias("j")
        query = sa.select(each.c.key).select_from(_contacts).join(each, sa.true()).where(*conditions)
    return sorted({str(k) for k in conn.execute(query.distinct()).scalars()})


class Export:
    """The header and the rows of one export; iterate :meth:`chunks` for the CSV text."""

    def __init__(self, engine: sa.Engine, workspace_id: int, q: str | None = None, segment: str | None = None):
        self.engine = engine
        self.workspace_id = workspace_id
        with read_connection(engine) as conn:
            self.conditions, _segment_id = people.list_conditions(conn, workspace_id, q, segment)
            self.consent = _keys(conn, "consent", self.conditions)
            self.traits = _keys(conn, "attributes", self.conditions)
            self.computed = sorted(
                conn.execute(sa.select(ComputedProperty.key).where(ComputedProperty.workspace_id == workspace_id))
                .scalars()
                .all()
            )

    @property
    def header(self) -> list[str]:
        return [
            *BASE,
            *(f"consent.{k}" for k in self.consent),
            *(f"trait.{k}" for k in self.traits),
            *(f"computed.{k}" for k in self.computed),
            *TAIL,
        ]

    def _row(self, r: Any) -> list[str]:
        consent, attributes, computed = r.consent or {}, r.attributes or {}, r.computed or {}
        return [
            *(cell(getattr(r, c)) for c in BASE[:-1]),
            neutralise(", ".join(str(t) for t in r.tags or [])),
            *(cell(consent.get(k)) for k in self.consent),
            *(cell(attributes.get(k)) for k in self.traits),
            *(cell(computed.get(k)) for k in self.computed),
            cell(r.created_at),
            cell(r.updated_at),
            str(r.id),
        ]

    def chunks(self) -> Iterator[str]:
        """CSV text (UTF-8 with a BOM so that spreadsheets read it as UTF-8), a page of contacts at a time."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(self.header)
        yield "\ufeff" + buffer.getvalue()
        after = 0
        columns = [
            _contacts.c[c] for c in (*BASE, "consent", "attributes", "computed", "created_at", "updated_at", "id")
        ]
        while True:
            with read_connection(self.engine) as conn:
                rows = conn.execute(
                    sa.select(*columns)
                    .where(*self.conditions, _contacts.c.id > after)
                    .order_by(_contacts.c.id)
                    .limit(PAGE)
                ).all()
            if not rows:
                return
            buffer.seek(0)
            buffer.truncate()
            writer.writerows(self._row(r) for r in rows)
            yield buffer.getvalue()
            after = rows[-1].id
            if len(rows) < PAGE:
                return
