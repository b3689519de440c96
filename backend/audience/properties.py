"""Computed properties: create, change, delete. Saving one (re)computes every contact in the background
(``live.build_step``) with visible progress; the event path and the re-check keep values current."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
import sqlalchemy as sa

from backend.audience import definitions, live
from backend.audience.computed import ComputedSpec, spec_problems
from backend.audience.segments import KEY_PATTERN, make_key
from backend.db.models import ComputedProperty, Segment
from backend.engine.rules import dependencies
from backend.errors import Issue, Refused, conflict, invalid, missing

_props = ComputedProperty.__table__
_segments = Segment.__table__


def check(spec: ComputedSpec) -> None:
    issues = [Issue("/definition" + p.path, p.message) for p in spec_problems(spec)]
    if issues:
        raise Refused(400, "The computed property has problems", issues)


def create(
    conn: sa.Connection,
    workspace_id: int,
    *,
    name: str,
    spec: ComputedSpec,
    description: str = "",
    key: str | None = None,
    now: datetime,
) -> int:
    key = key or make_key(name)
    if not KEY_PATTERN.match(key):
        raise invalid("/key", "use lowercase letters, digits and underscores, e.g. rentals_30d")
    taken = sa.select(_props.c.id).where(_props.c.workspace_id == workspace_id, _props.c.key == key)
    if conn.execute(taken).first():
        raise conflict("/key", f"another computed property already has the key {key!r}")
    check(spec)
    prop_id = conn.execute(
        sa.insert(_props)
        .values(
            workspace_id=workspace_id,
            key=key,
            name=name,
            description=description,
            definition=msgspec.to_builtins(spec),
            status="building",
            created_at=now,
            updated_at=now,
        )
        .returning(_props.c.id)
    ).scalar_one()
    live.start_build(conn, "computed_properties", prop_id, workspace_id)
    return prop_id


def row(conn: sa.Connection, workspace_id: int, prop_id: int) -> Any:
    found = conn.execute(sa.select(_props).where(_props.c.id == prop_id, _props.c.workspace_id == workspace_id)).first()
    if found is None:
        raise missing("computed property")
    return found


def update(
    conn: sa.Connection,
    workspace_id: int,
    prop_id: int,
    *,
    name: str | None = None,
    description: str | None = None,
    spec: ComputedSpec | None = None,
    now: datetime,
) -> None:
    current = row(conn, workspace_id, prop_id)
    values: dict[str, Any] = {"updated_at": now}
    if name is not None:
        values["name"] = name
    if description is not None:
        values["description"] = description
    rebuild = spec is not None and msgspec.to_builtins(spec) != current.definition
    if rebuild:
        check(spec)
        values["definition"] = msgspec.to_builtins(spec)
        values["revision"] = current.revision + 1
    conn.execute(sa.update(_props).where(_props.c.id == prop_id).values(**values))
    if rebuild:
        live.start_build(conn, "computed_properties", prop_id, workspace_id)


def using(conn: sa.Connection, workspace_id: int, key: str) -> list[str]:
    """Names of the segments whose rules read this property."""
    return [
        name
        for name, raw in conn.execute(
            sa.select(_segments.c.name, _segments.c.rule).where(_segments.c.workspace_id == workspace_id)
        )
        if key in dependencies(definitions.parse_rule(raw)).computed
    ]


def delete(conn: sa.Connection, workspace_id: int, prop_id: int) -> None:
    current = row(conn, workspace_id, prop_id)
    users = using(conn, workspace_id, current.key)
    if users:
        raise conflict("", f"segments use this property: {', '.join(users)}", "The computed property is in use")
    conn.execute(sa.delete(_props).where(_props.c.id == prop_id))
    # Values go with the definition; the key is a JSON key, quoted for SQLite's path syntax.
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(
            "UPDATE contacts SET computed = computed - %s WHERE workspace_id = %s AND computed ? %s",
            (current.key, workspace_id, current.key),
        )
    else:
        path = '$."' + current.key + '"'
        conn.exec_driver_sql(
            "UPDATE contacts SET computed = json_remove(computed, ?) WHERE workspace_id = ?"
            " AND json_type(computed, ?) IS NOT NULL",
            (path, workspace_id, path),
        )
