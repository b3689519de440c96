"""Templates: create, edit the draft, validate, publish a version, preview for a contact.

Publishing is where the expensive work happens, once: every Jinja field is parsed (a syntax error
names its line and column), the MJML is compiled to an HTML Jinja template, and the result is stored
in ``TemplateVersion.compiled``. Sending only renders Jinja.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.orm import Session

from backend.db.models import Template, TemplateVersion, Workspace
from backend.engine.sdk import Needs
from backend.runtime.snapshots import load_contacts, load_needs
from backend.templates.environment import TemplateProblem, TemplateRenderError, syntax_problems
from backend.templates.limits import RenderLimits
from backend.templates.mjml import compile_mjml
from backend.templates.render import CompiledTemplate, Rendered, build_context
from backend.templates.schema import CHANNELS, TemplateDraft, parse_draft, text_fields, to_builtins

KEY_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$")

_BODY_OPEN = re.compile(r"<body[^>]*>", re.I)
_MJ_PREVIEW = re.compile(r"<mj-preview\b[^>]*>.*?</mj-preview\s*>", re.I | re.S)
_PREHEADER = (
    '<div style="display:none;font-size:1px;color:#ffffff;line-height:1px;max-height:0px;max-width:0px;'
    'opacity:0;overflow:hidden;">{}</div>'
)


class TemplateInvalid(Exception):
    def __init__(self, problems: list[TemplateProblem]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the template")
        self.problems = problems


class DraftShapeError(Exception):
    """The draft is not even shaped like one (unknown channel, wrong types)."""

    def __init__(self, pointer: str, message: str) -> None:
        super().__init__(message)
        self.pointer = pointer
        self.message = message


def _pointer_from_msgspec(exc: msgspec.ValidationError) -> str:
    text = str(exc)
    match = re.search(r"at `\$(.*?)`", text)
    if not match:
        return ""
    path = match.group(1)
    return "/" + "/".join(p for p in re.split(r"[.\[\]]+", path) if p) if path else ""


def normalise_draft(raw: Any) -> dict[str, Any]:
    """Check the draft's shape and return it as plain JSON; raises :class:`DraftShapeError`."""
    try:
        return to_builtins(parse_draft(raw))
    except msgspec.ValidationError as exc:
        raise DraftShapeError(_pointer_from_msgspec(exc), str(exc).split(" - at ")[0]) from exc


def check_channels(channels: dict[str, Any]) -> list[TemplateProblem]:
    """Jinja syntax problems in every field (with line and column). Cheap: no MJML."""
    problems: list[TemplateProblem] = []
    for channel in CHANNELS:
        body = channels.get(channel)
        if not isinstance(body, dict):
            continue
        for name, source in text_fields(channel, body).items():
            problems += syntax_problems(source, f"/{channel}/" + name.replace(".", "/"))
        if channel == "email":
            problems += syntax_problems(body.get("mjml") or "", "/email/mjml", html=True)
    return problems


def compile_channels(channels: dict[str, Any]) -> tuple[dict[str, Any], list[TemplateProblem]]:
    """Everything publishing checks and precomputes. Returns ``(compiled, problems)``."""
    problems = check_channels(channels)
    compiled: dict[str, Any] = {}
    if not any(isinstance(channels.get(c), dict) for c in CHANNELS):
        problems.append(TemplateProblem("", "the template has no channel body"))
    email = channels.get("email")
    if isinstance(email, dict):
        if not (email.get("subject") or "").strip():
            problems.append(TemplateProblem("/email/subject", "an email needs a subject"))
        if not (email.get("mjml") or "").strip():
            problems.append(TemplateProblem("/email/mjml", "an email needs a body"))
        elif not any(p.pointer == "/email/mjml" for p in problems):
            preheader = " ".join((email.get("preheader") or "").split())  # one line: keeps line_map right
            mjml = email["mjml"]
            if preheader:  # the field wins over an <mj-preview> of the MJML: the inbox shows one preheader
                mjml = _MJ_PREVIEW.sub(lambda m: "\n" * m.group(0).count("\n"), mjml)
            result = compile_mjml(mjml)
            problems += result.problems
            if not result.problems:
                html = result.html
                if preheader:
                    html = _BODY_OPEN.sub(lambda m: m.group(0) + _PREHEADER.format(preheader), html, count=1)
                compiled["email"] = {
                    "html": html,
                    "text": result.text,
                    "line_map": result.line_map,
                    "compiler": "mjml-python",
                }
                problems += syntax_problems(html, "/email/mjml", html=True) if not problems else []
    return compiled, problems


def limit_problems(
    channels: dict[str, Any],
    compiled: dict[str, Any],
    limits: RenderLimits | None = None,
    *,
    now: datetime | None = None,
) -> list[TemplateProblem]:
    """Render every channel once, for a contact with no data, under the render limits: a template
    that goes over one (two nested ``range(100000)`` loops, ``7 ** 20000000``) is refused at publish,
    at its line, rather than failing every message it would have sent. Other runtime errors are left
    alone here: with real data the template may well be fine."""
    problems: list[TemplateProblem] = []
    renderer = CompiledTemplate(None, "draft", channels, compiled)
    for channel in CHANNELS:
        if renderer.has(channel):
            problems += renderer.limit_problems(channel, build_context(None, now=now), limits)
    return problems


# -- persistence -----------------------------------------------------------------------------------


def get_template(session: Session, workspace_id: int, template_id: int, *, lock: bool = False) -> Template | None:
    query = sa.select(Template).where(Template.id == template_id, Template.workspace_id == workspace_id)
    if lock:
        query = query.with_for_update()
    return session.execute(query).scalar_one_or_none()


def get_by_key(session: Session, workspace_id: int, key: str) -> Template | None:
    return session.execute(
        sa.select(Template).where(Template.workspace_id == workspace_id, Template.key == key)
    ).scalar_one_or_none()


class DuplicateKey(Exception):
    pass


def create_template(
    session: Session,
    workspace_id: int,
    *,
    key: str,
    name: str,
    draft: Any = None,
    tags: list[str] | None = None,
    now: datetime,
) -> tuple[Template, list[TemplateProblem]]:
    if not KEY_PATTERN.match(key):
        raise DraftShapeError("/key", "use letters, digits and _ . : - (at most 200 characters)")
    if get_by_key(session, workspace_id, key) is not None:
        raise DuplicateKey(key)
    channels = normalise_draft(draft)
    template = Template(
        workspace_id=workspace_id,
        key=key,
        name=name,
        tags=list(tags or []),
        draft=channels,
        created_at=now,
        updated_at=now,
    )
    session.add(template)
    session.flush()
    return template, check_channels(channels)


def update_draft(
    session: Session,
    template: Template,
    *,
    draft: Any = None,
    name: str | None = None,
    tags: list[str] | None = None,
    now: datetime,
) -> list[TemplateProblem]:
    """Save the working copy (it may have syntax errors; they are returned, not refused)."""
    if draft is not None:
        template.draft = normalise_draft(draft)
        template.draft_revision += 1
    if name is not None:
        template.name = name
    if tags is not None:
        template.tags = list(tags)
    template.updated_at = now
    session.flush()
    return check_channels(template.draft)


def publish(
    session: Session, template: Template, *, now: datetime, limits: RenderLimits | None = None
) -> TemplateVersion:
    """Snapshot the draft as the next version; raises :class:`TemplateInvalid` with every problem,
    including a render limit the template goes over (:func:`limit_problems`)."""
    channels = normalise_draft(template.draft)
    compiled, problems = compile_channels(channels)
    if not problems:
        problems = limit_problems(channels, compiled, limits, now=now)
    if problems:
        raise TemplateInvalid(problems)
    number = (
        session.execute(
            sa.select(sa.func.max(TemplateVersion.number)).where(TemplateVersion.template_id == template.id)
        ).scalar()
        or 0
    ) + 1
    version = TemplateVersion(
        workspace_id=template.workspace_id,
        template_id=template.id,
        number=number,
        channels=channels,
        compiled=compiled,
        created_at=now,
    )
    session.add(version)
    session.flush()
    template.published_version_id = version.id
    template.updated_at = now
    session.flush()
    return version


def versions(session: Session, template: Template) -> list[TemplateVersion]:
    return list(
        session.execute(
            sa.select(TemplateVersion)
            .where(TemplateVersion.template_id == template.id)
            .order_by(TemplateVersion.number.desc())
        ).scalars()
    )


# -- preview ---------------------------------------------------------------------------------------


@dataclass
class Preview:
    channel: str
    fields: dict[str, str]
    missing: list[str]
    problems: list[TemplateProblem]
    version: int | None


def preview(
    session: Session,
    template: Template,
    *,
    channel: str = "email",
    contact_id: int | None = None,
    version_number: int | None = None,
    journey_context: dict[str, Any] | None = None,
    draft: Any = None,
    now: datetime,
    limits: RenderLimits | None = None,
) -> Preview:
    """Render the draft (default) or a published version for a contact, reporting the variables the
    contact lacks. Template errors come back as problems, not exceptions."""
    if version_number is None:
        channels = normalise_draft(template.draft if draft is None else draft)
        compiled, problems = compile_channels(channels)
        # A preview shows what it can: report every problem, render when the channel compiled.
        problems = [p for p in problems if p.pointer.startswith(f"/{channel}") or p.pointer == ""]
        number = None
    else:
        version = session.execute(
            sa.select(TemplateVersion).where(
                TemplateVersion.template_id == template.id, TemplateVersion.number == version_number
            )
        ).scalar_one_or_none()
        if version is None:
            raise LookupError(f"version {version_number}")
        channels, compiled, problems, number = version.channels, version.compiled, [], version.number
    contact = None
    conn = session.connection()
    if contact_id is not None:
        contact = load_contacts(conn, [contact_id]).get(contact_id)
        if contact is None:
            raise LookupError(f"contact {contact_id}")
    renderer = CompiledTemplate(None, template.key, channels, compiled)
    if contact is not None and renderer.needs_subscriptions:
        load_needs(conn, template.workspace_id, {contact.id: contact}, Needs(subscriptions=True), now)
    locale = session.execute(sa.select(Workspace.locale).where(Workspace.id == template.workspace_id)).scalar() or "en"
    fields: dict[str, str] = {}
    missing: list[str] = []
    blocking = [p for p in problems if p.pointer.startswith(f"/{channel}")]
    if not blocking and renderer.has(channel):
        try:
            rendered: Rendered = renderer.render(
                channel,
                build_context(contact, journey_context=journey_context, now=now, workspace_locale=locale),
                limits,
            )
            fields, missing = rendered.fields, rendered.missing
        except TemplateRenderError as exc:
            problems = [*problems, exc.problem]
    elif not renderer.has(channel):
        problems = [*problems, TemplateProblem(f"/{channel}", f"the template has no {channel} body")]
    return Preview(channel, fields, missing, problems, number)


__all__ = [
    "DraftShapeError",
    "DuplicateKey",
    "Preview",
    "TemplateDraft",
    "TemplateInvalid",
    "check_channels",
    "compile_channels",
    "create_template",
    "get_by_key",
    "get_template",
    "limit_problems",
    "normalise_draft",
    "preview",
    "publish",
    "update_draft",
    "versions",
]
