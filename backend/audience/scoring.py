"""Engagement scores (WebEngage's 1-10 score, several per workspace): weighted events — an email open
weighs 3, a click 5, an unsubscribe -10 — that fade with time, turned into a level from 1 to 10 by fixed
thresholds or by percentile bands within the workspace.

The definition and the arithmetic are pure; :func:`compute` reads the scored events of the given
contacts in one query per chunk and applies them with the same property filters conditions use.

Fading: a **window** counts events of the last N days at full weight; **decay** halves an event's
weight every half-life, so every contribution shrinks by the same factor and a contact's points at a
later moment are ``points * 0.5^(elapsed / half-life)`` — which is what makes the next level change
computable without looking at events again (see :func:`next_change`).
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

import msgspec
import sqlalchemy as sa

from backend.db.models import Event as EventRow
from backend.engine.rules import EventName, PropertyFilter, filter_problems, matches_filters
from backend.engine.sdk import ConfigProblem
from backend.runtime.snapshots import as_aware, chunks

_events = EventRow.__table__

LEVELS = 10
DECAY_HORIZON = 10
"""Half-lives after which an event no longer counts (its weight is below 0.1 % of what it was)."""
Channel = Literal["email", "sms", "wechat", "push"]


class WeightedEvent(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    event: EventName
    weight: Annotated[float, msgspec.Meta(ge=-10, le=10, title="Weight (-10 to 10)")]
    where: list[PropertyFilter] = []
    channel: Annotated[Channel | None, msgspec.Meta(title="Only on this channel")] = None


class Fading(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    mode: Annotated[Literal["window", "decay"], msgspec.Meta(title="How old events fade")] = "window"
    window: Annotated[timedelta, msgspec.Meta(title="Count events of the last")] = timedelta(days=30)
    half_life: Annotated[timedelta, msgspec.Meta(title="Half-life")] = timedelta(days=14)


def _default_thresholds() -> list[float]:
    return [1, 3, 6, 10, 15, 21, 28, 36, 45]


class Bands(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    mode: Annotated[Literal["thresholds", "percentile"], msgspec.Meta(title="How points become 1-10")] = "thresholds"
    thresholds: Annotated[
        list[float],
        msgspec.Meta(
            min_length=LEVELS - 1,
            max_length=LEVELS - 1,
            title="Points needed for levels 2 to 10",
        ),
    ] = msgspec.field(default_factory=_default_thresholds)


class ScoreSpec(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    events: Annotated[list[WeightedEvent], msgspec.Meta(min_length=1, max_length=50)]
    fading: Fading = msgspec.field(default_factory=Fading)
    bands: Bands = msgspec.field(default_factory=Bands)

    def names(self) -> frozenset[str]:
        return frozenset(e.event for e in self.events)

    def reach(self) -> timedelta:
        """How far back events can still count."""
        if self.fading.mode == "window":
            return self.fading.window
        return self.fading.half_life * DECAY_HORIZON


def spec_problems(spec: ScoreSpec) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    for i, weighted in enumerate(spec.events):
        problems += filter_problems(weighted.where, f"/events/{i}/where")
        if weighted.weight == 0:
            problems.append(ConfigProblem(f"/events/{i}/weight", "a weight of 0 counts nothing; use -10 to 10"))
    if spec.fading.mode == "window" and spec.fading.window <= timedelta(0):
        problems.append(ConfigProblem("/fading/window", "the window must be longer than zero"))
    if spec.fading.mode == "decay" and spec.fading.half_life <= timedelta(0):
        problems.append(ConfigProblem("/fading/half_life", "the half-life must be longer than zero"))
    if spec.bands.mode == "thresholds":
        values = spec.bands.thresholds
        if any(b <= a for a, b in itertools.pairwise(values)):
            problems.append(ConfigProblem("/bands/thresholds", "each level needs more points than the one before"))
    return problems


def weight_of(spec: ScoreSpec, name: str, properties: dict[str, Any], now: datetime) -> float:
    """Every line of the weights table that matches the event counts."""
    total = 0.0
    for weighted in spec.events:
        if weighted.event != name:
            continue
        if weighted.channel is not None and properties.get("channel") != weighted.channel:
            continue
        if weighted.where and not matches_filters(properties, weighted.where, now):
            continue
        total += weighted.weight
    return total


def faded(spec: ScoreSpec, weight: float, at: datetime, now: datetime) -> float:
    if spec.fading.mode == "window":
        return weight
    return weight * 0.5 ** ((now - at) / spec.fading.half_life)


def level(spec: ScoreSpec, points: float, cutoffs: Sequence[float] | None) -> int:
    """1 to 10. With percentile bands, ``cutoffs`` are the workspace's deciles of points (refreshed by
    the worker); until they exist, everyone scored is level 1."""
    if spec.bands.mode == "thresholds":  # "points needed for level N": reaching the bound is enough
        return 1 + bisect.bisect_right(spec.bands.thresholds, round(points, 9))
    return 1 + bisect.bisect_left(list(cutoffs or ()), round(points, 9))


@dataclass(slots=True)
class Tally:
    points: float = 0.0
    events: int = 0
    oldest: datetime | None = None
    newest: datetime | None = None


def next_change(spec: ScoreSpec, tally: Tally, current_level: int, now: datetime) -> datetime | None:
    """When the level (or having a score at all) can next change with no new event."""
    if tally.events == 0 or tally.oldest is None or tally.newest is None:
        return None
    if spec.fading.mode == "window":
        return tally.oldest + spec.fading.window
    gone = tally.newest + spec.reach()
    if spec.bands.mode != "thresholds":
        return gone  # decay keeps the order of contacts, so their deciles only move as events age out
    bounds = spec.bands.thresholds
    points = tally.points
    target = None
    if points > 0 and current_level >= 2 and bounds[current_level - 2] > 0:
        target = bounds[current_level - 2]  # decaying towards 0 from above: the lower bound of the level
    elif points < 0 and current_level <= LEVELS - 1 and bounds[current_level - 1] < 0:
        target = bounds[current_level - 1]  # rising towards 0 from below: the next level's bound
    if target is None:
        return gone
    seconds = spec.fading.half_life.total_seconds() * math.log2(points / target)
    return min(gone, now + timedelta(seconds=max(seconds, 0) + 1))


def compute(
    conn: sa.Connection, workspace_id: int, spec: ScoreSpec, contact_ids: Sequence[int], now: datetime
) -> dict[int, Tally]:
    """Points per contact from their events that can still count; contacts without any are left out."""
    out: dict[int, Tally] = {}
    names = sorted(spec.names())
    for part in chunks(sorted(set(contact_ids))):
        rows = conn.execute(
            sa.select(_events.c.contact_id, _events.c.name, _events.c.properties, _events.c.occurred_at).where(
                _events.c.workspace_id == workspace_id,
                _events.c.contact_id.in_(part),
                _events.c.name.in_(names),
                _events.c.occurred_at >= now - spec.reach(),
                _events.c.occurred_at <= now,
            )
        )
        for cid, name, props, at in rows:
            weight = weight_of(spec, name, props or {}, now)
            if weight == 0:
                continue
            at = as_aware(at)
            tally = out.get(cid)
            if tally is None:
                tally = out[cid] = Tally()
            tally.points += faded(spec, weight, at, now)
            tally.events += 1
            tally.oldest = at if tally.oldest is None or at < tally.oldest else tally.oldest
            tally.newest = at if tally.newest is None or at > tally.newest else tally.newest
    return out


def breakdown(
    conn: sa.Connection, workspace_id: int, spec: ScoreSpec, contact_id: int, now: datetime
) -> list[dict[str, Any]]:
    """Per event name: how many of the contact's events count and the points they bring now."""
    per: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    rows = conn.execute(
        sa.select(_events.c.name, _events.c.properties, _events.c.occurred_at).where(
            _events.c.workspace_id == workspace_id,
            _events.c.contact_id == contact_id,
            _events.c.name.in_(sorted(spec.names())),
            _events.c.occurred_at >= now - spec.reach(),
            _events.c.occurred_at <= now,
        )
    )
    for name, props, at in rows:
        weight = weight_of(spec, name, props or {}, now)
        if weight:
            per[name][0] += 1
            per[name][1] += faded(spec, weight, as_aware(at), now)
    return [{"event": n, "count": int(c), "points": round(p, 2)} for n, (c, p) in sorted(per.items())]


def deciles(points: Sequence[float]) -> list[float]:
    """The nine cut points that split scored contacts into ten equal bands (levels 1 to 10)."""
    ordered = sorted(points)
    if not ordered:
        return []
    n = len(ordered)
    # The contact at rank i (0-based) lands on level 1 + floor(10 i / n): above the cut point of band k
    # exactly when it ranks at or beyond ceil(n k / 10).
    return [ordered[max(0, -(-n * k // LEVELS) - 1)] for k in range(1, LEVELS)]
