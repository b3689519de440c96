"""Segments and computed properties in the admin API. Thin: parse, authorise, call backend/audience."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
import sqlalchemy as sa
from litestar import Controller, delete, get, patch, post
from litestar.params import FromPath, JSONBody
from msgspec import UNSET, Meta, UnsetType

from backend.api.app import API_HANDLERS
from backend.api.auth import READS_ONLY
from backend.api.contacts import ContactSummary, summaries
from backend.api.deps import PrincipalDep, ServicesDep
from backend.api.pagination import Cursor, Limit, Page, decode_cursor, encode_cursor
from backend.audience import properties, scores, scoring, segments
from backend.audience.computed import ComputedSpec
from backend.audience.scoring import ScoreSpec
from backend.contacts import people
from backend.db.models import ComputedProperty, ContactScore, Score, Segment
from backend.db.session import read_connection
from backend.engine.rules import Rule

Name = Annotated[str, Meta(min_length=1, max_length=200)]
Key = Annotated[str, Meta(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9_]*$")]
Description = Annotated[str, Meta(max_length=2000)]


class Progress(msgspec.Struct):
    done: int
    total: int


class JourneyRef(msgspec.Struct):
    id: int
    name: str
    status: Literal["draft", "published", "paused", "archived"]


class SegmentIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Name
    rule: Rule
    description: Description = ""
    key: Key | None = None
    """Made from the name when left out; rules, triggers and exports name a segment by its key."""


class SegmentPatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Name | UnsetType = UNSET
    description: Description | UnsetType = UNSET
    rule: Rule | UnsetType = UNSET


class SegmentSummary(msgspec.Struct, kw_only=True):
    id: int
    key: str
    name: str
    description: str
    status: Literal["building", "ready"]
    """``building`` (membership is being computed; see ``progress``) or ``ready``."""
    progress: Progress
    size: int
    updated_at: datetime


class DayPoint(msgspec.Struct):
    day: str
    size: int
    entered: int
    left: int


class SegmentOut(SegmentSummary, kw_only=True):
    rule: dict[str, Any]
    trend: list[DayPoint]
    """Size at the end of each of the last 30 days, oldest first."""
    journeys: list[JourneyRef]
    built_at: datetime | None


class PreviewIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    rule: Rule


class PreviewOut(msgspec.Struct, kw_only=True):
    count: int
    estimated: bool
    """True when ``count`` is scaled up from an evenly spread sample of ``evaluated`` contacts."""
    evaluated: int
    total: int
    sample: list[ContactSummary]


class MemberOut(ContactSummary, kw_only=True):
    entered_at: datetime


class ComputedIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Name
    definition: ComputedSpec
    description: Description = ""
    key: Key | None = None
    """What templates (``{{ contact.computed.<key> }}``) and rules use; made from the name when left out."""


class ComputedPatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Name | UnsetType = UNSET
    description: Description | UnsetType = UNSET
    definition: ComputedSpec | UnsetType = UNSET


class ComputedOut(msgspec.Struct, kw_only=True):
    id: int
    key: str
    name: str
    description: str
    definition: dict[str, Any]
    status: str
    progress: Progress
    segments: list[str]
    """Names of the segments whose rules use this property."""
    updated_at: datetime
    built_at: datetime | None


def _unset(value: Any) -> Any:
    return None if value is UNSET else value


def _summary(row: Any, sizes: dict[int, int]) -> SegmentSummary:
    return SegmentSummary(
        id=row.id,
        key=row.key,
        name=row.name,
        description=row.description,
        status=row.status,
        progress=Progress(row.progress_done, row.progress_total),
        size=sizes.get(row.id, 0),
        updated_at=row.updated_at,
    )


def _segment_out(conn: sa.Connection, services, workspace_id: int, segment_id: int) -> SegmentOut:
    row = segments.row(conn, workspace_id, segment_id)
    summary = _summary(row, segments.sizes(conn, workspace_id))
    return SegmentOut(
        **msgspec.structs.asdict(summary),
        rule=row.rule,
        trend=[DayPoint(p.day, p.size, p.entered, p.left) for p in segments.trend(conn, row.id, services.clock.now())],
        journeys=[JourneyRef(**j) for j in segments.journeys_using(conn, workspace_id, row.key)],
        built_at=row.built_at,
    )


class SegmentController(Controller):
    path = "/segments"
    tags = ["audiences"]

    @get("/", sync_to_thread=True, summary="Segments with their live size")
    def list_segments(self, services: ServicesDep, principal: PrincipalDep) -> list[SegmentSummary]:
        with read_connection(services.engine) as conn:
            sizes = segments.sizes(conn, principal.workspace_id)
            rows = conn.execute(
                sa.select(Segment.__table__)
                .where(Segment.workspace_id == principal.workspace_id)
                .order_by(Segment.name, Segment.id)
            ).all()
            return [_summary(r, sizes) for r in rows]

    @post("/", sync_to_thread=True, summary="Create a segment; its membership is built in the background")
    def create_segment(self, services: ServicesDep, principal: PrincipalDep, data: JSONBody[SegmentIn]) -> SegmentOut:
        with services.engine.begin() as conn:
            segment_id = segments.create(
                conn,
                principal.workspace_id,
                name=data.name,
                rule=data.rule,
                description=data.description,
                key=data.key,
                user_id=principal.user_id,
                now=services.clock.now(),
            )
            out = _segment_out(conn, services, principal.workspace_id, segment_id)
        services.waker.notify()
        return out

    @post(
        "/preview",
        sync_to_thread=True,
        status_code=200,
        opt=READS_ONLY,
        summary="How many contacts a rule matches (exact up to 20,000 contacts, estimated beyond) and a sample",
    )
    def preview(self, services: ServicesDep, principal: PrincipalDep, data: JSONBody[PreviewIn]) -> PreviewOut:
        with read_connection(services.engine) as conn:
            result = segments.preview(conn, principal.workspace_id, data.rule, services.clock.now())
            sample = summaries(conn, principal.workspace_id, result.sample)
        return PreviewOut(
            count=result.count,
            estimated=result.estimated,
            evaluated=result.evaluated,
            total=result.total,
            sample=sample,
        )

    @get("/{segment_id:int}", sync_to_thread=True, summary="A segment: rule, size, 30-day trend, journeys using it")
    def get_segment(self, services: ServicesDep, principal: PrincipalDep, segment_id: FromPath[int]) -> SegmentOut:
        with read_connection(services.engine) as conn:
            return _segment_out(conn, services, principal.workspace_id, segment_id)

    @patch("/{segment_id:int}", sync_to_thread=True, summary="Rename or change a segment (a new rule rebuilds it)")
    def patch_segment(
        self, services: ServicesDep, principal: PrincipalDep, segment_id: FromPath[int], data: JSONBody[SegmentPatch]
    ) -> SegmentOut:
        with services.engine.begin() as conn:
            segments.update(
                conn,
                principal.workspace_id,
                segment_id,
                name=_unset(data.name),
                description=_unset(data.description),
                rule=_unset(data.rule),
                now=services.clock.now(),
            )
            out = _segment_out(conn, services, principal.workspace_id, segment_id)
        services.waker.notify()
        return out

    @delete("/{segment_id:int}", sync_to_thread=True, summary="Delete a segment no published journey uses")
    def delete_segment(self, services: ServicesDep, principal: PrincipalDep, segment_id: FromPath[int]) -> None:
        with services.engine.begin() as conn:
            segments.delete(conn, principal.workspace_id, segment_id)

    @get("/{segment_id:int}/contacts", sync_to_thread=True, summary="The segment's members, newest contacts first")
    def segment_contacts(
        self,
        services: ServicesDep,
        principal: PrincipalDep,
        segment_id: FromPath[int],
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Page[MemberOut]:
        after = decode_cursor(cursor)
        with read_connection(services.engine) as conn:
            segments.row(conn, principal.workspace_id, segment_id)
            rows = segments.members(conn, segment_id, after=after, limit=limit + 1)
            entered = dict(rows[:limit])
            found = summaries(conn, principal.workspace_id, list(entered))
        items = [MemberOut(**msgspec.structs.asdict(c), entered_at=entered[c.id]) for c in found]
        return Page(items=items, next_cursor=encode_cursor(rows[limit - 1][0]) if len(rows) > limit else None)


def _computed_out(conn: sa.Connection, workspace_id: int, row: Any) -> ComputedOut:
    return ComputedOut(
        id=row.id,
        key=row.key,
        name=row.name,
        description=row.description,
        definition=row.definition,
        status=row.status,
        progress=Progress(row.progress_done, row.progress_total),
        segments=properties.using(conn, workspace_id, row.key),
        updated_at=row.updated_at,
        built_at=row.built_at,
    )


class ComputedPropertyController(Controller):
    path = "/computed-properties"
    tags = ["audiences"]

    @get("/", sync_to_thread=True, summary="Computed properties")
    def list_properties(self, services: ServicesDep, principal: PrincipalDep) -> list[ComputedOut]:
        with read_connection(services.engine) as conn:
            rows = conn.execute(
                sa.select(ComputedProperty.__table__)
                .where(ComputedProperty.workspace_id == principal.workspace_id)
                .order_by(ComputedProperty.name, ComputedProperty.id)
            ).all()
            return [_computed_out(conn, principal.workspace_id, r) for r in rows]

    @post("/", sync_to_thread=True, summary="Create a computed property; values are computed in the background")
    def create_property(
        self, services: ServicesDep, principal: PrincipalDep, data: JSONBody[ComputedIn]
    ) -> ComputedOut:
        with services.engine.begin() as conn:
            prop_id = properties.create(
                conn,
                principal.workspace_id,
                name=data.name,
                spec=data.definition,
                description=data.description,
                key=data.key,
                now=services.clock.now(),
            )
            out = _computed_out(conn, principal.workspace_id, properties.row(conn, principal.workspace_id, prop_id))
        services.waker.notify()
        return out

    @get("/{prop_id:int}", sync_to_thread=True, summary="A computed property")
    def get_property(self, services: ServicesDep, principal: PrincipalDep, prop_id: FromPath[int]) -> ComputedOut:
        with read_connection(services.engine) as conn:
            return _computed_out(conn, principal.workspace_id, properties.row(conn, principal.workspace_id, prop_id))

    @patch("/{prop_id:int}", sync_to_thread=True, summary="Rename or change a computed property (recomputes)")
    def patch_property(
        self, services: ServicesDep, principal: PrincipalDep, prop_id: FromPath[int], data: JSONBody[ComputedPatch]
    ) -> ComputedOut:
        with services.engine.begin() as conn:
            properties.update(
                conn,
                principal.workspace_id,
                prop_id,
                name=_unset(data.name),
                description=_unset(data.description),
                spec=_unset(data.definition),
                now=services.clock.now(),
            )
            out = _computed_out(conn, principal.workspace_id, properties.row(conn, principal.workspace_id, prop_id))
        services.waker.notify()
        return out

    @delete("/{prop_id:int}", sync_to_thread=True, summary="Delete a computed property no segment uses")
    def delete_property(self, services: ServicesDep, principal: PrincipalDep, prop_id: FromPath[int]) -> None:
        with services.engine.begin() as conn:
            properties.delete(conn, principal.workspace_id, prop_id)


class ScoreIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Name
    definition: ScoreSpec
    description: Description = ""
    key: Key | None = None
    """What rules and templates (``{{ contact.scores.<key> }}``) use; made from the name when left out."""


class ScorePatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Name | UnsetType = UNSET
    description: Description | UnsetType = UNSET
    definition: ScoreSpec | UnsetType = UNSET


class ScoreDay(msgspec.Struct):
    day: str
    levels: list[int]


class ScoreOut(msgspec.Struct, kw_only=True):
    id: int
    key: str
    name: str
    description: str
    definition: dict[str, Any]
    status: str
    progress: Progress
    histogram: list[int]
    """Contacts at levels 1 to 10 now."""
    scored: int
    """Contacts with a score (the others have no scored events)."""
    trend: list[ScoreDay]
    """The histogram at the end of each of the last 30 days that have one."""
    cutoffs: list[float] | None
    """Percentile bands: the points at the deciles the levels are cut at."""
    segments: list[str]
    journeys: list[JourneyRef]
    """Journeys with a rule on the score (conditions, split.rules), draft or published."""
    updated_at: datetime
    built_at: datetime | None


class ContactScoreOut(msgspec.Struct, kw_only=True):
    key: str
    name: str
    level: int | None
    points: float | None
    events: list[dict[str, Any]]
    """Per event name: ``{event, count, points}`` — what made the score."""


def _score_out(conn: sa.Connection, workspace_id: int, row: Any, now: datetime) -> ScoreOut:
    histogram = scores.histogram(conn, row.id)
    return ScoreOut(
        id=row.id,
        key=row.key,
        name=row.name,
        description=row.description,
        definition=row.definition,
        status=row.status,
        progress=Progress(row.progress_done, row.progress_total),
        histogram=histogram,
        scored=sum(histogram),
        trend=[ScoreDay(**d) for d in scores.trend(conn, row.id, now)],
        cutoffs=row.cutoffs,
        segments=scores.using(conn, workspace_id, row.key),
        journeys=[JourneyRef(**j) for j in scores.journeys_using(conn, workspace_id, row.key)],
        updated_at=row.updated_at,
        built_at=row.built_at,
    )


class ScoreController(Controller):
    path = "/scores"
    tags = ["audiences"]

    @get("/", sync_to_thread=True, summary="Engagement scores with their histograms")
    def list_scores(self, services: ServicesDep, principal: PrincipalDep) -> list[ScoreOut]:
        with read_connection(services.engine) as conn:
            rows = conn.execute(
                sa.select(Score.__table__).where(Score.workspace_id == principal.workspace_id).order_by(Score.name)
            ).all()
            return [_score_out(conn, principal.workspace_id, r, services.clock.now()) for r in rows]

    @post("/", sync_to_thread=True, summary="Create a score; every contact is scored in the background")
    def create_score(self, services: ServicesDep, principal: PrincipalDep, data: JSONBody[ScoreIn]) -> ScoreOut:
        with services.engine.begin() as conn:
            score_id = scores.create(
                conn,
                principal.workspace_id,
                name=data.name,
                spec=data.definition,
                description=data.description,
                key=data.key,
                now=services.clock.now(),
            )
            out = _score_out(
                conn, principal.workspace_id, scores.row(conn, principal.workspace_id, score_id), services.clock.now()
            )
        services.waker.notify()
        return out

    @get("/{score_id:int}", sync_to_thread=True, summary="A score with its histogram and trend")
    def get_score(self, services: ServicesDep, principal: PrincipalDep, score_id: FromPath[int]) -> ScoreOut:
        with read_connection(services.engine) as conn:
            return _score_out(
                conn, principal.workspace_id, scores.row(conn, principal.workspace_id, score_id), services.clock.now()
            )

    @patch("/{score_id:int}", sync_to_thread=True, summary="Rename or change a score (a new definition rescores)")
    def patch_score(
        self, services: ServicesDep, principal: PrincipalDep, score_id: FromPath[int], data: JSONBody[ScorePatch]
    ) -> ScoreOut:
        with services.engine.begin() as conn:
            scores.update(
                conn,
                principal.workspace_id,
                score_id,
                name=_unset(data.name),
                description=_unset(data.description),
                spec=_unset(data.definition),
                now=services.clock.now(),
            )
            out = _score_out(
                conn, principal.workspace_id, scores.row(conn, principal.workspace_id, score_id), services.clock.now()
            )
        services.waker.notify()
        return out

    @delete("/{score_id:int}", sync_to_thread=True, summary="Delete a score no segment uses")
    def delete_score(self, services: ServicesDep, principal: PrincipalDep, score_id: FromPath[int]) -> None:
        with services.engine.begin() as conn:
            scores.delete(conn, principal.workspace_id, score_id)


class ContactScoresController(Controller):
    path = "/contacts/{contact_id:int}/scores"
    tags = ["audiences"]

    @get("/", sync_to_thread=True, summary="A contact's scores with the events that made them")
    def contact_scores(
        self, services: ServicesDep, principal: PrincipalDep, contact_id: FromPath[int]
    ) -> list[ContactScoreOut]:
        now = services.clock.now()
        with read_connection(services.engine) as conn:
            people.row(conn, principal.workspace_id, contact_id)
            mine = {
                score_id: (level, points)
                for score_id, level, points in conn.execute(
                    sa.select(ContactScore.score_id, ContactScore.level, ContactScore.points).where(
                        ContactScore.contact_id == contact_id
                    )
                )
            }
            rows = conn.execute(
                sa.select(Score.id, Score.key, Score.name, Score.definition)
                .where(Score.workspace_id == principal.workspace_id)
                .order_by(Score.name)
            ).all()
            out = []
            for score_id, key, name, raw in rows:
                spec = msgspec.convert(raw, ScoreSpec)
                level, points = mine.get(score_id, (None, None))
                out.append(
                    ContactScoreOut(
                        key=key,
                        name=name,
                        level=level,
                        points=None if points is None else round(points, 2),
                        events=scoring.breakdown(conn, principal.workspace_id, spec, contact_id, now),
                    )
                )
            return out


API_HANDLERS.extend([SegmentController, ComputedPropertyController, ScoreController, ContactScoresController])
