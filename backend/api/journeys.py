"""Journeys: create, edit the draft, validate, publish, pause, archive, and watch contacts flow."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
import sqlalchemy as sa
from litestar import Controller, delete, get, patch, post, put
from litestar.params import FromPath, FromQuery, JSONBody
from sqlalchemy.orm import Session

from backend.api.auth import READS_ONLY, Principal
from backend.api.deps import PrincipalDep, ServicesDep
from backend.api.errors import ApiError, ProblemItem, bad_request, from_graph_problems, not_found
from backend.api.pagination import Cursor, Limit, Page, decode_cursor, encode_cursor
from backend.db.models import Contact, Enrollment, Journey, JourneyVersion, NodeCounter, StepLog, User
from backend.engine.graph import empty_graph
from backend.engine.validation import GraphInvalid, Problem, validate
from backend.runtime import failures, publishing, readiness
from backend.runtime.enroll import enroll
from backend.services import Services

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class JourneyCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Name
    description: str = ""
    graph: dict[str, Any] | None = None


class JourneyPatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Name | None = None
    description: str | None = None


class DraftSave(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    graph: dict[str, Any]
    revision: int | None = None
    """The revision the editor loaded; a stale one is refused with 409 instead of overwriting."""


class ValidateRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    graph: dict[str, Any] | None = None


class PublishRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    note: str = ""


class DuplicateRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Name | None = None


class EnrollRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    contact_ids: list[int] = []
    external_ids: list[str] = []


class JourneySummary(msgspec.Struct, kw_only=True):
    id: int
    name: str
    description: str
    status: str
    version: int | None
    entered: int
    active: int
    completed: int
    updated_at: datetime
    updated_by: str | None


class JourneyOut(JourneySummary, kw_only=True):
    draft: dict[str, Any]
    revision: int
    published_version_id: int | None
    created_at: datetime


class VersionOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    id: int
    number: int
    status: str
    published_at: datetime
    published_by: str | None
    note: str
    migrated: int | None = None
    graph: dict[str, Any] | None = None
    warnings: list[ProblemItem] | None = None
    """What the workspace may lack but does not stop the journey (an event no one has performed yet…)."""


class DraftSaved(msgspec.Struct):
    revision: int
    problems: list[ProblemItem]


class ValidationResult(msgspec.Struct):
    valid: bool
    problems: list[ProblemItem]


class BlockError(msgspec.Struct):
    """What a block's step raised for a contact, which is parked on the block until retried."""

    type: str
    message: str
    at: datetime


class NodeStats(msgspec.Struct, omit_defaults=True):
    waiting: int
    passed: int
    outcomes: dict[str, int]
    """Counts per outcome since publishing; ``error`` counts every time the block raised."""
    failed: int = 0
    """Contacts parked on this block now because its step raised (see ``POST …/retry-failed``)."""
    last_error: BlockError | None = None


class JourneyStats(msgspec.Struct):
    nodes: dict[str, NodeStats]
    entered: int
    active: int
    completed: int
    exited: int
    control: int
    converted: int
    failed: int = 0


class NodeContact(msgspec.Struct):
    contact_id: int
    external_id: str | None
    email: str | None
    entered_at: datetime
    due_at: datetime | None = None
    error: BlockError | None = None


class RetryRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    node_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None
    """Only the contacts parked on this block."""
    contact_ids: Annotated[list[int], msgspec.Meta(max_length=10_000)] = []
    """Only these contacts."""


class RetryResponse(msgspec.Struct):
    retried: int


class EnrollResponse(msgspec.Struct):
    enrolled: int
    control: int
    skipped: int
    unknown: list[str]


# ---------------------------------------------------------------------------------------------------


def _journey(session: Session, principal: Principal, journey_id: int, *, lock: bool = False) -> Journey:
    query = sa.select(Journey).where(Journey.id == journey_id, Journey.workspace_id == principal.workspace_id)
    if lock:
        query = query.with_for_update()
    journey = session.execute(query).scalar_one_or_none()
    if journey is None:
        raise not_found("journey")
    return journey


def _counts(session: Session, workspace_id: int, journey_ids: list[int]) -> dict[int, dict[str, int]]:
    out: dict[int, dict[str, int]] = {j: {} for j in journey_ids}
    if not journey_ids:
        return out
    rows = session.execute(
        sa.select(Enrollment.journey_id, Enrollment.status, sa.func.count())
        .where(Enrollment.workspace_id == workspace_id, Enrollment.journey_id.in_(journey_ids))
        .group_by(Enrollment.journey_id, Enrollment.status)
    )
    for journey_id, status, count in rows:
        out[journey_id][status] = count
    return out


def _user_names(session: Session, ids: set[int | None]) -> dict[int, str]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return dict(session.execute(sa.select(User.id, User.name).where(User.id.in_(ids))).all())


def _summary_fields(journey: Journey, counts: dict[str, int], version: int | None, names: dict[int, str]) -> dict:
    return {
        "id": journey.id,
        "name": journey.name,
        "description": journey.description,
        "status": journey.status,
        "version": version,
        "entered": sum(counts.values()),
        "active": counts.get("active", 0),
        "completed": counts.get("completed", 0),
        "updated_at": journey.updated_at,
        "updated_by": names.get(journey.updated_by) if journey.updated_by else None,
    }


def _version_number(session: Session, version_id: int | None) -> int | None:
    if version_id is None:
        return None
    return session.execute(sa.select(JourneyVersion.number).where(JourneyVersion.id == version_id)).scalar()


def journey_out(session: Session, journey: Journey) -> JourneyOut:
    counts = _counts(session, journey.workspace_id, [journey.id])[journey.id]
    names = _user_names(session, {journey.updated_by})
    return JourneyOut(
        **_summary_fields(journey, counts, _version_number(session, journey.published_version_id), names),
        draft=journey.draft,
        revision=journey.draft_revision,
        published_version_id=journey.published_version_id,
        created_at=journey.created_at,
    )


def _version_out(version: JourneyVersion, names: dict[int, str], *, with_graph: bool = False) -> VersionOut:
    by = names.get(version.published_by) if version.published_by else None
    if by is None and version.published_by_key:
        by = f"key {version.published_by_key}…"
    return VersionOut(
        id=version.id,
        number=version.number,
        status=version.status,
        published_at=version.published_at,
        published_by=by,
        note=version.note,
        graph=version.graph if with_graph else None,
    )


def _new_draft(session: Session, principal: Principal, now: datetime, name: str, description: str, graph) -> Journey:
    journey = Journey(
        workspace_id=principal.workspace_id,
        name=name,
        description=description,
        status="draft",
        draft=graph,
        draft_revision=1,
        created_at=now,
        updated_at=now,
        created_by=principal.user_id,
        updated_by=principal.user_id,
    )
    session.add(journey)
    session.flush()
    return journey


def _graph_or_empty(graph: dict[str, Any] | None) -> dict[str, Any]:
    return graph if graph is not None else empty_graph()


def _all_problems(session, services: Services, workspace_id: int, graph: Any) -> list[Problem]:
    """The graph's own problems; once it has none, also what the workspace lacks for it (templates,
    channel bodies, providers, segments, scores, events, variables: backend/runtime/readiness.py)."""
    compiled, problems = validate(graph, services.registry)
    if compiled is None:
        return problems
    return readiness.problems(session.connection(), workspace_id, compiled, services.settings)


class JourneyController(Controller):
    path = "/journeys"
    tags = ["journeys"]

    @get("/", sync_to_thread=True, summary="List journeys")
    def list_journeys(
        self,
        services: ServicesDep,
        principal: PrincipalDep,
        status: FromQuery[Literal["draft", "published", "paused", "archived"] | None] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Page[JourneySummary]:
        with services.reading() as session:
            query = sa.select(Journey).where(Journey.workspace_id == principal.workspace_id, Journey.kind == "journey")
            # Archived journeys are hidden unless asked for by status; broadcasts have their own list.
            query = query.where(Journey.status == status if status else Journey.status != "archived")
            after = decode_cursor(cursor)
            if after is not None:
                query = query.where(Journey.id < after)
            journeys = session.execute(query.order_by(Journey.id.desc()).limit(limit + 1)).scalars().all()
            more = len(journeys) > limit
            journeys = journeys[:limit]
            counts = _counts(session, principal.workspace_id, [j.id for j in journeys])
            numbers = dict(
                session.execute(
                    sa.select(JourneyVersion.id, JourneyVersion.number).where(
                        JourneyVersion.id.in_([j.published_version_id for j in journeys if j.published_version_id])
                    )
                ).all()
            )
            names = _user_names(session, {j.updated_by for j in journeys})
            items = [
                JourneySummary(**_summary_fields(j, counts[j.id], numbers.get(j.published_version_id), names))
                for j in journeys
            ]
        return Page(items=items, next_cursor=encode_cursor(journeys[-1].id) if more else None)

    @post("/", sync_to_thread=True, summary="Create a journey (as a draft)")
    def create_journey(
        self, services: ServicesDep, principal: PrincipalDep, data: JSONBody[JourneyCreate]
    ) -> JourneyOut:
        now = services.clock.now()
        with services.sessions.begin() as session:
            journey = _new_draft(session, principal, now, data.name, data.description, _graph_or_empty(data.graph))
            return journey_out(session, journey)

    @get("/{journey_id:int}", sync_to_thread=True, summary="Get a journey with its draft")
    def get_journey(self, services: ServicesDep, principal: PrincipalDep, journey_id: FromPath[int]) -> JourneyOut:
        with services.reading() as session:
            return journey_out(session, _journey(session, principal, journey_id))

    @patch("/{journey_id:int}", sync_to_thread=True, summary="Rename or describe a journey")
    def patch_journey(
        self,
        services: ServicesDep,
        principal: PrincipalDep,
        journey_id: FromPath[int],
        data: JSONBody[JourneyPatch],
    ) -> JourneyOut:
        with services.sessions.begin() as session:
            journey = _journey(session, principal, journey_id)
            if data.name is not None:
                journey.name = data.name
            if data.description is not None:
                journey.description = data.description
            journey.updated_at = services.clock.now()
            journey.updated_by = principal.user_id
            return journey_out(session, journey)

    @put("/{journey_id:int}/draft", sync_to_thread=True, summary="Save the draft graph (may be invalid)")
    def save_draft(
        self,
        services: ServicesDep,
        principal: PrincipalDep,
        journey_id: FromPath[int],
        data: JSONBody[DraftSave],
    ) -> DraftSaved:
        with services.sessions.begin() as session:
            journey = _journey(session, principal, journey_id, lock=True)
            if journey.status == "archived":
                raise ApiError(409, "An archived journey cannot be edited; duplicate it instead")
            if data.revision is not None and data.revision != journey.draft_revision:
                raise ApiError(
                    409,
                    "The journey was changed elsewhere since you opened it",
                    f"you edited revision {data.revision}, the latest is {journey.draft_revision}; reload to continue",
                )
            journey.draft = data.graph
            journey.draft_revision += 1
            journey.updated_at = services.clock.now()
            journey.updated_by = principal.user_id
            problems = _all_problems(session, services, principal.workspace_id, data.graph)
            return DraftSaved(journey.draft_revision, from_graph_problems(problems))

    @post(
        "/{journey_id:int}/validate", sync_to_thread=True, status_code=200, summary="Validate a graph", opt=READS_ONLY
    )
    def validate_graph(
        self,
        services: ServicesDep,
        principal: PrincipalDep,
        journey_id: FromPath[int],
        data: JSONBody[ValidateRequest | None] = None,
    ) -> ValidationResult:
        with services.reading() as session:
            journey = _journey(session, principal, journey_id)
            graph = data.graph if data and data.graph is not None else journey.draft
            problems = _all_problems(session, services, principal.workspace_id, graph)
        errors = [p for p in problems if p.severity != "warning"]
        return ValidationResult(not errors, from_graph_problems(problems))

    @post("/{journey_id:int}/publish", sync_to_thread=True, summary="Publish the draft as a new version")
    def publish_journey(
        self,
        services: ServicesDep,
        principal: PrincipalDep,
        journey_id: FromPath[int],
        data: JSONBody[PublishRequest | None] = None,
    ) -> VersionOut:
        with services.sessions.begin() as session:
            journey = _journey(session, principal, journey_id, lock=True)
            if journey.status == "archived":
                raise ApiError(409, "An archived journey cannot be published; duplicate it instead")
            problems = _all_problems(session, services, principal.workspace_id, journey.draft)
            if any(p.severity != "warning" for p in problems):
                raise GraphInvalid(problems)
            version, migrated = publishing.publish(
                session,
                journey,
                registry=services.registry,
                graphs=services.graphs,
                now=services.clock.now(),
                user_id=principal.user_id,
                key_prefix=principal.key_prefix if principal.user_id is None else None,
                note=data.note if data else "",
            )
            journey.updated_by = principal.user_id
            out = _version_out(version, _user_names(session, {version.published_by}))
            out.migrated = migrated
            out.warnings = from_graph_problems(problems) or None
            services.waker.notify(session.connection())
        return out

    @post("/{journey_id:int}/pause", sync_to_thread=True, status_code=200, summary="Pause a published journey")
    def pause_journey(self, services: ServicesDep, principal: PrincipalDep, journey_id: FromPath[int]) -> JourneyOut:
        return self._transition(services, principal, journey_id, publishing.pause)

    @post("/{journey_id:int}/resume", sync_to_thread=True, status_code=200, summary="Resume a paused journey")
    def resume_journey(self, services: ServicesDep, principal: PrincipalDep, journey_id: FromPath[int]) -> JourneyOut:
        return self._transition(services, principal, journey_id, publishing.resume)

    @post("/{journey_id:int}/archive", sync_to_thread=True, status_code=200, summary="Archive a journey")
    def archive_journey(self, services: ServicesDep, principal: PrincipalDep, journey_id: FromPath[int]) -> JourneyOut:
        return self._transition(services, principal, journey_id, publishing.archive)

    def _transition(self, services: Services, principal: Principal, journey_id: int, action) -> JourneyOut:
        with services.sessions.begin() as session:
            journey = _journey(session, principal, journey_id, lock=True)
            try:
                action(session, journey, services.clock.now())
            except ValueError as exc:
                raise ApiError(409, str(exc)) from exc
            journey.updated_by = principal.user_id
            session.flush()
            out = journey_out(session, journey)
            services.waker.notify(session.connection())
            return out

    @post("/{journey_id:int}/duplicate", sync_to_thread=True, summary="Copy a journey into a new draft")
    def duplicate_journey(
        self,
        services: ServicesDep,
        principal: PrincipalDep,
        journey_id: FromPath[int],
        data: JSONBody[DuplicateRequest | None] = None,
    ) -> JourneyOut:
        now = services.clock.now()
        with services.sessions.begin() as session:
            source = _journey(session, principal, journey_id)
            name = (data.name if data and data.name else f"{source.name} (copy)")[:200]
            return journey_out(session, _new_draft(session, principal, now, name, source.description, source.draft))

    @delete("/{journey_id:int}", sync_to_thread=True, summary="Delete a journey that was never published")
    def delete_journey(self, services: ServicesDep, principal: PrincipalDep, journey_id: FromPath[int]) -> None:
        with services.sessions.begin() as session:
            journey = _journey(session, principal, journey_id)
            if journey.published_version_id is not None:
                raise ApiError(409, "A journey that was published keeps its history; archive it instead")
            session.delete(journey)

    @get("/{journey_id:int}/versions", sync_to_thread=True, summary="Published versions, newest first")
    def list_versions(
        self, services: ServicesDep, principal: PrincipalDep, journey_id: FromPath[int]
    ) -> list[VersionOut]:
        with services.reading() as session:
            _journey(session, principal, journey_id)
            versions = (
                session.execute(
                    sa.select(JourneyVersion)
                    .where(JourneyVersion.journey_id == journey_id)
                    .order_by(JourneyVersion.number.desc())
                )
                .scalars()
                .all()
            )
            names = _user_names(session, {v.published_by for v in versions})
            return [_version_out(v, names) for v in versions]

    @get("/{journey_id:int}/versions/{number:int}", sync_to_thread=True, summary="One version with its graph")
    def get_version(
        self,
        services: ServicesDep,
        principal: PrincipalDep,
        journey_id: FromPath[int],
        number: FromPath[int],
    ) -> VersionOut:
        with services.reading() as session:
            _journey(session, principal, journey_id)
            version = session.execute(
                sa.select(JourneyVersion).where(
                    JourneyVersion.journey_id == journey_id, JourneyVersion.number == number
                )
            ).scalar_one_or_none()
            if version is None:
                raise not_found("version")
            return _version_out(version, _user_names(session, {version.published_by}), with_graph=True)

    @get("/{journey_id:int}/stats", sync_to_thread=True, summary="Per-block and overall counts")
    def stats(self, services: ServicesDep, principal: PrincipalDep, journey_id: FromPath[int]) -> JourneyStats:
        with services.reading() as session:
            journey = _journey(session, principal, journey_id)
            nodes: dict[str, NodeStats] = {}

            def node(node_id: str) -> NodeStats:
                return nodes.setdefault(node_id, NodeStats(0, 0, {}))

            if journey.published_version_id is not None:
                graph = session.execute(
                    sa.select(JourneyVersion.graph).where(JourneyVersion.id == journey.published_version_id)
                ).scalar_one()
                for n in graph.get("nodes", []):
                    node(n["id"])

            version_ids = sa.select(JourneyVersion.id).where(JourneyVersion.journey_id == journey_id)
            waiting = session.execute(
                sa.select(Enrollment.node_id, sa.func.count())
                .where(Enrollment.version_id.in_(version_ids), Enrollment.status == "active")
                .group_by(Enrollment.node_id)
            )
            for node_id, count in waiting:
                node(node_id).waiting = count
            counters = session.execute(
                sa.select(NodeCounter.node_id, NodeCounter.outcome, NodeCounter.count).where(
                    NodeCounter.journey_id == journey_id
                )
            )
            for node_id, outcome, count in counters:
                stats = node(node_id)
                stats.outcomes[outcome] = count
                if outcome != "wait" and outcome != "error":
                    stats.passed += count
            for node_id, parked in failures.node_failures(session.connection(), journey_id).items():
                stats = node(node_id)
                stats.failed = parked.count
                if parked.error_type is not None and parked.failed_at is not None:
                    stats.last_error = BlockError(parked.error_type, parked.error_message or "", parked.failed_at)
            totals = dict(
                session.execute(
                    sa.select(Enrollment.status, sa.func.count())
                    .where(Enrollment.journey_id == journey_id)
                    .group_by(Enrollment.status)
                ).all()
            )
            converted = session.execute(
                sa.select(sa.func.count()).where(
                    Enrollment.journey_id == journey_id, Enrollment.converted_at.is_not(None)
                )
            ).scalar_one()
        return JourneyStats(
            nodes=nodes,
            entered=sum(totals.values()),
            active=totals.get("active", 0),
            completed=totals.get("completed", 0),
            exited=totals.get("exited", 0),
            control=totals.get("control", 0),
            converted=converted,
            failed=totals.get("failed", 0),
        )

    @get("/{journey_id:int}/nodes/{node_id:str}/contacts", sync_to_thread=True, summary="Contacts on a block")
    def node_contacts(
        self,
        services: ServicesDep,
        principal: PrincipalDep,
        journey_id: FromPath[int],
        node_id: FromPath[str],
        status: FromQuery[Literal["waiting", "passed", "failed"]] = "waiting",
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Page[NodeContact]:
        if status not in ("waiting", "passed", "failed"):
            raise bad_request("/query/status", "status must be 'waiting', 'passed' or 'failed'")
        after = decode_cursor(cursor)
        with services.reading() as session:
            _journey(session, principal, journey_id)
            if status in ("waiting", "failed"):
                query = (
                    sa.select(
                        Enrollment.id,
                        Contact.id,
                        Contact.external_id,
                        Contact.email,
                        Enrollment.node_entered_at,
                        Enrollment.due_at,
                        Enrollment.error_type,
                        Enrollment.error_message,
                        Enrollment.failed_at,
                    )
                    .join(Contact, Contact.id == Enrollment.contact_id)
                    .where(
                        Enrollment.journey_id == journey_id,
                        Enrollment.node_id == node_id,
                        Enrollment.status == ("active" if status == "waiting" else "failed"),
                    )
                    .order_by(Enrollment.id.desc())
                )
                if after is not None:
                    query = query.where(Enrollment.id < after)
            else:
                query = (
                    sa.select(
                        StepLog.id,
                        Contact.id,
                        Contact.external_id,
                        Contact.email,
                        StepLog.at,
                        sa.null(),
                        sa.null(),
                        sa.null(),
                        sa.null(),
                    )
                    .join(Contact, Contact.id == StepLog.contact_id)
                    .where(
                        StepLog.journey_id == journey_id,
                        StepLog.node_id == node_id,
                        StepLog.outcome.not_in(("wait", "error")),
                    )
                    .order_by(StepLog.id.desc())
                )
                if after is not None:
                    query = query.where(StepLog.id < after)
            rows = session.execute(query.limit(limit + 1)).all()
        items = [
            NodeContact(
                cid,
                ext,
                email,
                at,
                due,
                BlockError(error_type, error_message or "", failed_at) if error_type and failed_at else None,
            )
            for _, cid, ext, email, at, due, error_type, error_message, failed_at in rows[:limit]
        ]
        return Page(items=items, next_cursor=encode_cursor(rows[limit - 1][0]) if len(rows) > limit else None)

    @post(
        "/{journey_id:int}/retry-failed",
        sync_to_thread=True,
        status_code=200,
        summary="Retry contacts parked on a block because its step raised",
        description="Puts them back on the block they failed on, due now: the step runs again on the next tick"
        " (on the journey's current version when it was republished with that block). With an empty object,"
        " every parked contact of the journey; narrow it with node_id and/or contact_ids.",
    )
    def retry_failed(
        self,
        services: ServicesDep,
        principal: PrincipalDep,
        journey_id: FromPath[int],
        data: JSONBody[RetryRequest],
    ) -> RetryResponse:
        now = services.clock.now()
        with services.sessions.begin() as session:
            _journey(session, principal, journey_id)
            conn = session.connection()
            retried = failures.retry(
                conn,
                workspace_id=principal.workspace_id,
                journey_id=journey_id,
                now=now,
                node_id=data.node_id,
                contact_ids=data.contact_ids,
            )
            if retried:
                services.waker.notify(conn)
        return RetryResponse(retried)

    @post("/{journey_id:int}/enrollments", sync_to_thread=True, status_code=200, summary="Enroll contacts by hand")
    def enroll_contacts(
        self,
        services: ServicesDep,
        principal: PrincipalDep,
        journey_id: FromPath[int],
        data: JSONBody[EnrollRequest],
    ) -> EnrollResponse:
        if not data.contact_ids and not data.external_ids:
            raise bad_request("/contact_ids", "give contact_ids or external_ids")
        if len(data.contact_ids) + len(data.external_ids) > 10_000:
            raise bad_request("/contact_ids", "at most 10,000 contacts per call")
        now = services.clock.now()
        with services.sessions.begin() as session:
            journey = _journey(session, principal, journey_id)
            if journey.status != "published" or journey.published_version_id is None:
                raise ApiError(409, f"Contacts can only enter a published journey (this one is {journey.status})")
            conn = session.connection()
            compiled = services.graphs.get(conn, journey.published_version_id)
            manual = [n for n in compiled.triggers if compiled.nodes[n].block.trigger == "manual"]
            if not manual:
                raise ApiError(409, "This journey has no 'Enrolled manually' trigger")
            ids = (
                set(
                    session.execute(
                        sa.select(Contact.id).where(
                            Contact.workspace_id == principal.workspace_id, Contact.id.in_(data.contact_ids)
                        )
                    ).scalars()
                )
                if data.contact_ids
                else set()
            )
            unknown = [str(i) for i in data.contact_ids if i not in ids]
            if data.external_ids:
                found = dict(
                    session.execute(
                        sa.select(Contact.external_id, Contact.id).where(
                            Contact.workspace_id == principal.workspace_id,
                            Contact.external_id.in_(data.external_ids),
                        )
                    ).all()
                )
                ids.update(found.values())
                unknown += [e for e in data.external_ids if e not in found]
            result = enroll(
                conn,
                workspace_id=principal.workspace_id,
                journey_id=journey.id,
                version_id=journey.published_version_id,
                graph=compiled,
                trigger_node=manual[0],
                contact_ids=sorted(ids),
                now=now,
                context={"source": "manual", "by": principal.label},
            )
            services.waker.notify(conn)
        return EnrollResponse(result.enrolled, result.control, result.skipped, unknown)
