"""Message templates: list, create, edit the draft, publish versions, preview for a contact."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
import sqlalchemy as sa
from litestar import Controller, MediaType, Request, Response, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody

from backend.api.app import API_HANDLERS
from backend.api.auth import READS_ONLY, Principal
from backend.api.deps import PrincipalDep, ServicesDep
from backend.api.errors import ApiError, bad_request, not_found
from backend.api.pagination import Cursor, Limit, Page, decode_cursor, encode_cursor
from backend.api.sms import SegmentsOut, segments_out
from backend.db.models import Template, TemplateVersion
from backend.services import Services
from backend.templates import service
from backend.templates.environment import TemplateProblem
from backend.templates.limits import RenderLimits

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Key = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")]
Channel = Literal["email", "sms", "wechat", "push"]


class TemplateCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    key: Key
    """What a ``send`` block names; unique in the workspace, fixed once created."""
    name: Name
    tags: list[str] = []
    draft: dict[str, Any] | None = None


class TemplateDraftSave(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    draft: dict[str, Any] | None = None
    name: Name | None = None
    tags: list[str] | None = None
    revision: int | None = None
    """The revision the editor loaded; a stale one is refused with 409 instead of overwriting."""


class TemplateDuplicate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    key: Key
    name: Name | None = None


class PreviewRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    channel: Channel = "email"
    contact_id: int | None = None
    version: int | None = None
    """A published version number; default: the draft."""
    context: dict[str, Any] | None = None
    """Journey context to render with, e.g. ``{"event": {"name": "…", "properties": {…}}}``."""
    draft: dict[str, Any] | None = None
    """Render these channel bodies instead of the saved draft (live preview while typing)."""


class TemplateProblemOut(msgspec.Struct):
    pointer: str
    message: str
    line: int | None = None
    column: int | None = None
    limit: str | msgspec.UnsetType = msgspec.UNSET
    """Only when the template went over a render limit: ``cpu``, ``output``, ``value``, ``number``,
    ``built``, ``iterations``, ``recursion`` or ``memory`` (docs/marketers.md, "Limits")."""


class TemplateSummary(msgspec.Struct, kw_only=True):
    id: int
    key: str
    name: str
    tags: list[str]
    channels: list[str]
    version: int | None
    updated_at: datetime


class TemplateOut(TemplateSummary, kw_only=True):
    draft: dict[str, Any]
    revision: int
    published_version_id: int | None
    created_at: datetime


class TemplateSaved(msgspec.Struct):
    template: TemplateOut
    problems: list[TemplateProblemOut]
    sms: SegmentsOut | None = None
    """Segments of the draft's SMS text as typed (backend/channels/sms_segments.py)."""


class TemplateVersionOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    id: int
    number: int
    created_at: datetime
    channels: dict[str, Any] | None = None


class PreviewOut(msgspec.Struct):
    channel: str
    version: int | None
    fields: dict[str, str]
    """email: subject, preheader, sender, html, text · sms: text · push: title, body, image, link ·
    wechat: template_id, url, fields.<name>"""
    missing: list[str]
    """Variables the contact's data lacks (they rendered empty or as their default)."""
    problems: list[TemplateProblemOut]
    sms: SegmentsOut | None = None
    """For the SMS channel: the rendered text's segments (GSM-7 / UCS-2)."""


def _sms_source(draft: dict[str, Any]) -> SegmentsOut | None:
    sms = draft.get("sms") if isinstance(draft, dict) else None
    return segments_out(sms.get("text") or "") if isinstance(sms, dict) else None


def _problem_out(p: TemplateProblem, prefix: str = "") -> TemplateProblemOut:
    return TemplateProblemOut(prefix + p.pointer, p.message, p.line, p.column, p.limit or msgspec.UNSET)


def _invalid_response(_: Request, exc: service.TemplateInvalid) -> Response:
    """422 in the shared error shape, each problem with its line and column for the editor."""
    problems = [
        {
            "pointer": "/draft" + p.pointer,
            "message": p.describe(),
            "code": "template_limit" if p.limit else "template",
            "line": p.line,
            "column": p.column,
            **({"limit": p.limit} if p.limit else {}),
        }
        for p in exc.problems
    ]
    body = {
        "status": 422,
        "title": "The template has problems",
        "detail": "; ".join(f"{p['pointer']}: {p['message']}" for p in problems),
        "problems": problems,
    }
    return Response(content=msgspec.json.encode(body), status_code=422, media_type=MediaType.JSON)


def _channels(draft: dict[str, Any]) -> list[str]:
    return [c for c in ("email", "sms", "wechat", "push") if isinstance(draft.get(c), dict)]


def _numbers(session, ids: set[int | None]) -> dict[int, int]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return dict(
        session.execute(sa.select(TemplateVersion.id, TemplateVersion.number).where(TemplateVersion.id.in_(ids))).all()
    )


def template_out(session, template: Template) -> TemplateOut:
    number = _numbers(session, {template.published_version_id}).get(template.published_version_id)
    return TemplateOut(
        id=template.id,
        key=template.key,
        name=template.name,
        tags=list(template.tags or []),
        channels=_channels(template.draft or {}),
        version=number,
        updated_at=template.updated_at,
        draft=template.draft or {},
        revision=template.draft_revision,
        published_version_id=template.published_version_id,
        created_at=template.created_at,
    )


def _load(session, principal: Principal, template_id: int, *, lock: bool = False) -> Template:
    template = service.get_template(session, principal.workspace_id, template_id, lock=lock)
    if template is None:
        raise not_found("template")
    return template


def _shape_error(exc: service.DraftShapeError, prefix: str = "/draft") -> ApiError:
    pointer = exc.pointer if exc.pointer.startswith("/key") else prefix + exc.pointer
    return bad_request(pointer, exc.message, "The template has problems")


def _create(session, services: Services, principal: Principal, *, key: str, name: str, tags, draft) -> TemplateSaved:
    try:
        template, problems = service.create_template(
            session, principal.workspace_id, key=key, name=name, tags=tags, draft=draft, now=services.clock.now()
        )
    except service.DuplicateKey:
        raise ApiError(409, f"A template with the key {key!r} already exists") from None
    except service.DraftShapeError as exc:
        raise _shape_error(exc) from None
    return TemplateSaved(
        template_out(session, template),
        [_problem_out(p, "/draft") for p in problems],
        _sms_source(template.draft or {}),
    )


class TemplateController(Controller):
    path = "/templates"
    tags = ["templates"]
    exception_handlers = {service.TemplateInvalid: _invalid_response}

    @get("/", sync_to_thread=True, summary="List templates")
    def list_templates(
        self,
        services: ServicesDep,
        principal: PrincipalDep,
        q: FromQuery[str | None] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Page[TemplateSummary]:
        with services.reading() as session:
            query = sa.select(Template).where(Template.workspace_id == principal.workspace_id)
            if q:
                like = f"%{q.replace('%', '').replace('_', '')}%"
                query = query.where(sa.or_(Template.key.ilike(like), Template.name.ilike(like)))
            after = decode_cursor(cursor)
            if after is not None:
                query = query.where(Template.id < after)
            rows = session.execute(query.order_by(Template.id.desc()).limit(limit + 1)).scalars().all()
            more = len(rows) > limit
            rows = rows[:limit]
            numbers = _numbers(session, {t.published_version_id for t in rows})
            items = [
                TemplateSummary(
                    id=t.id,
                    key=t.key,
                    name=t.name,
                    tags=list(t.tags or []),
                    channels=_channels(t.draft or {}),
                    version=numbers.get(t.published_version_id),
                    updated_at=t.updated_at,
                )
                for t in rows
            ]
        return Page(items=items, next_cursor=encode_cursor(rows[-1].id) if more else None)

    @post("/", sync_to_thread=True, summary="Create a template (as a draft)")
    def create_template(
        self, services: ServicesDep, principal: PrincipalDep, data: JSONBody[TemplateCreate]
    ) -> TemplateSaved:
        with services.sessions.begin() as session:
            return _create(session, services, principal, key=data.key, name=data.name, tags=data.tags, draft=data.draft)

    @get("/{template_id:int}", sync_to_thread=True, summary="Get a template with its draft")
    def get_template(self, services: ServicesDep, principal: PrincipalDep, template_id: FromPath[int]) -> TemplateOut:
        with services.reading() as session:
            return template_out(session, _load(session, principal, template_id))

    @put("/{template_id:int}/draft", sync_to_thread=True, summary="Save the draft (syntax errors are reported)")
    def save_draft(
        self,
        services: ServicesDep,
        principal: PrincipalDep,
        template_id: FromPath[int],
        data: JSONBody[TemplateDraftSave],
    ) -> TemplateSaved:
        with services.sessions.begin() as session:
            template = _load(session, principal, template_id, lock=True)
            if data.revision is not None and data.revision != template.draft_revision:
                raise ApiError(
                    409,
                    "The template was changed elsewhere since you opened it",
                    f"you edited revision {data.revision}, the latest is {template.draft_revision}; reload to continue",
                )
            try:
                problems = service.update_draft(
                    session, template, draft=data.draft, name=data.name, tags=data.tags, now=services.clock.now()
                )
            except service.DraftShapeError as exc:
                raise _shape_error(exc) from None
            return TemplateSaved(
                template_out(session, template),
                [_problem_out(p, "/draft") for p in problems],
                _sms_source(template.draft or {}),
            )

    @post("/{template_id:int}/publish", sync_to_thread=True, summary="Publish the draft as a new version")
    def publish_template(
        self, services: ServicesDep, principal: PrincipalDep, template_id: FromPath[int]
    ) -> TemplateVersionOut:
        with services.sessions.begin() as session:
            template = _load(session, principal, template_id, lock=True)
            version = service.publish(
                session, template, now=services.clock.now(), limits=RenderLimits.from_settings(services.settings)
            )
            return TemplateVersionOut(id=version.id, number=version.number, created_at=version.created_at)

    @post("/{template_id:int}/duplicate", sync_to_thread=True, summary="Copy a template's draft under a new key")
    def duplicate_template(
        self,
        services: ServicesDep,
        principal: PrincipalDep,
        template_id: FromPath[int],
        data: JSONBody[TemplateDuplicate],
    ) -> TemplateSaved:
        with services.sessions.begin() as session:
            source = _load(session, principal, template_id)
            return _create(
                session,
                services,
                principal,
                key=data.key,
                name=data.name or f"{source.name} (copy)"[:200],
                tags=list(source.tags or []),
                draft=source.draft,
            )

    @get("/{template_id:int}/versions", sync_to_thread=True, summary="Published versions, newest first")
    def list_versions(
        self,
        services: ServicesDep,
        principal: PrincipalDep,
        template_id: FromPath[int],
        channels: FromQuery[bool] = False,
    ) -> list[TemplateVersionOut]:
        with services.reading() as session:
            template = _load(session, principal, template_id)
            return [
                TemplateVersionOut(
                    id=v.id, number=v.number, created_at=v.created_at, channels=v.channels if channels else None
                )
                for v in service.versions(session, template)
            ]

    @post(
        "/{template_id:int}/preview",
        sync_to_thread=True,
        status_code=200,
        summary="Render for a contact",
        opt=READS_ONLY,
    )
    def preview(
        self,
        services: ServicesDep,
        principal: PrincipalDep,
        template_id: FromPath[int],
        data: JSONBody[PreviewRequest | None] = None,
    ) -> PreviewOut:
        data = data or PreviewRequest()
        with services.reading() as session:
            template = _load(session, principal, template_id)
            if data.contact_id is not None:
                from backend.db.models import Contact

                owner = session.execute(sa.select(Contact.workspace_id).where(Contact.id == data.contact_id)).scalar()
                if owner != principal.workspace_id:
                    raise bad_request("/contact_id", "no such contact in this workspace")
            try:
                result = service.preview(
                    session,
                    template,
                    channel=data.channel,
                    contact_id=data.contact_id,
                    version_number=data.version,
                    journey_context=data.context,
                    draft=data.draft,
                    now=services.clock.now(),
                    limits=RenderLimits.from_settings(services.settings),
                )
            except service.DraftShapeError as exc:
                raise _shape_error(exc) from None
            except LookupError:
                raise bad_request("/version", f"template has no version {data.version}") from None
        return PreviewOut(
            channel=result.channel,
            version=result.version,
            fields=result.fields,
            missing=result.missing,
            problems=[_problem_out(p, "/draft" if result.version is None else "/channels") for p in result.problems],
            sms=segments_out(result.fields.get("text", "")) if result.channel == "sms" and result.fields else None,
        )


API_HANDLERS.append(TemplateController)
