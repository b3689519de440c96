"""A workspace's segments and computed properties, compiled once and cached by their stored text.

Every ingestion transaction asks for them, so the cost when nothing changed is one small query and no
decoding: a definition is compiled again only when its stored row differs from the cached one.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass, field

import msgspec
import sqlalchemy as sa

from backend.audience.computed import ComputedSpec
from backend.audience.scoring import ScoreSpec
from backend.db.fastsql import FastSQL
from backend.engine.rules import Dependencies, Rule, dependencies, rule_needs
from backend.engine.sdk import Needs


@dataclass(frozen=True, slots=True, eq=False)
class SegmentDef:
    id: int
    key: str
    name: str
    rule: Rule
    deps: Dependencies
    needs: Needs
    status: str
    revision: int
    built_through: int


@dataclass(frozen=True, slots=True, eq=False)
class ComputedDef:
    id: int
    key: str
    spec: ComputedSpec
    status: str
    revision: int
    built_through: int


@dataclass(frozen=True, slots=True, eq=False)
class ScoreDef:
    id: int
    key: str
    name: str
    spec: ScoreSpec
    status: str
    revision: int
    built_through: int
    cutoffs: tuple[float, ...] | None


@dataclass
class Definitions:
    segments: list[SegmentDef] = field(default_factory=list)
    """Ordered so that a segment comes after the segments its rule names."""
    computed: list[ComputedDef] = field(default_factory=list)
    scores: list[ScoreDef] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.segments and not self.computed and not self.scores

    def levels(self) -> list[list[SegmentDef]]:
        """Segments grouped so that each group only names segments of earlier groups."""
        level: dict[str, int] = {}
        by_key = {s.key: s for s in self.segments}
        for seg in self.segments:  # already in dependency order
            level[seg.key] = 1 + max((level.get(k, -1) for k in seg.deps.segments if k in by_key), default=-1)
        grouped: dict[int, list[SegmentDef]] = defaultdict(list)
        for seg in self.segments:
            grouped[level[seg.key]].append(seg)
        return [grouped[n] for n in sorted(grouped)]


def parse_rule(raw: object) -> Rule:
    return msgspec.convert(raw, Rule)


def dependency_order(rules: dict[str, Rule]) -> list[str]:
    """Keys ordered so that every segment follows the segments it names; raises ``ValueError`` naming a
    cycle. Names of segments that do not exist are ignored (they match nobody)."""
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(key: str, path: list[str]) -> None:
        if state.get(key) == 2:
            return
        if state.get(key) == 1:
            cycle = [*path[path.index(key) :], key]
            raise ValueError(" → ".join(cycle))
        state[key] = 1
        for name in sorted(dependencies(rules[key]).segments):
            if name in rules:
                visit(name, [*path, key])
        state[key] = 2
        order.append(key)

    for key in sorted(rules):
        visit(key, [])
    return order


_lock = threading.Lock()
_compiled: dict[tuple, SegmentDef | ComputedDef] = {}


def _segment(row: tuple) -> SegmentDef:
    cached = _compiled.get(("s", *row))
    if cached is None:
        seg_id, key, name, status, revision, built_through, text = row
        rule = parse_rule(msgspec.json.decode(text) if isinstance(text, str | bytes) else text)
        cached = SegmentDef(
            seg_id, key, name, rule, dependencies(rule), rule_needs(rule), status, revision, built_through
        )
        with _lock:
            if len(_compiled) > 10_000:
                _compiled.clear()
            _compiled[("s", *row)] = cached
    return cached  # type: ignore[return-value]


def _computed(row: tuple) -> ComputedDef:
    cached = _compiled.get(("c", *row))
    if cached is None:
        prop_id, key, status, revision, built_through, text = row
        raw = msgspec.json.decode(text) if isinstance(text, str | bytes) else text
        cached = ComputedDef(prop_id, key, msgspec.convert(raw, ComputedSpec), status, revision, built_through)
        with _lock:
            _compiled[("c", *row)] = cached
    return cached  # type: ignore[return-value]


def _score(row: tuple) -> ScoreDef:
    cached = _compiled.get(("p", *row))
    if cached is None:
        score_id, key, name, status, revision, built_through, text, cutoffs = row
        raw = msgspec.json.decode(text) if isinstance(text, str | bytes) else text
        bands = msgspec.json.decode(cutoffs) if isinstance(cutoffs, str | bytes) else cutoffs
        cached = ScoreDef(
            score_id,
            key,
            name,
            msgspec.convert(raw, ScoreSpec),
            status,
            revision,
            built_through,
            tuple(bands) if bands else None,
        )
        with _lock:
            _compiled[("p", *row)] = cached
    return cached  # type: ignore[return-value]


def load(conn: sa.Connection, workspace_id: int) -> Definitions:
    fast = FastSQL(conn)
    cast = "::text" if fast.postgres else ""
    rows = fast.all(
        f"SELECT 's', id, key, name, status, revision, built_through, rule{cast} FROM segments WHERE workspace_id = ?"
        f" UNION ALL SELECT 'c', id, key, name, status, revision, built_through, definition{cast}"
        " FROM computed_properties WHERE workspace_id = ?",
        (workspace_id, workspace_id),
    )
    score_rows = fast.all(
        f"SELECT id, key, name, status, revision, built_through, definition{cast}, cutoffs{cast} FROM scores"
        " WHERE workspace_id = ?",
        (workspace_id,),
    )
    if not rows and not score_rows:
        return Definitions()
    segments = [_segment(tuple(r[1:])) for r in rows if r[0] == "s"]
    computed = [_computed((r[1], r[2], *r[4:])) for r in rows if r[0] == "c"]
    by_key = {s.key: s for s in segments}
    try:
        ordered = [by_key[k] for k in dependency_order({s.key: s.rule for s in segments})]
    except ValueError:
        ordered = sorted(segments, key=lambda s: s.id)  # refused on save; never loop here
    scores = sorted((_score(tuple(r)) for r in score_rows), key=lambda p: p.id)
    return Definitions(ordered, sorted(computed, key=lambda c: c.id), scores)
