"""Rendering a published template version for one contact.

A :class:`CompiledTemplate` holds the Jinja templates of one version (compiled lazily, once per
process, and cached by version id: versions never change). MJML is not involved here: the version's
``compiled`` column already holds the HTML template produced at publish time.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec
import sqlalchemy as sa
from jinja2 import TemplateSyntaxError, meta
from jinja2.exceptions import TemplateError

from backend.db.models import TemplateVersion
from backend.engine.sdk import Contact, Subscription
from backend.templates.environment import (
    RenderLimitError,
    SecurityError,
    TemplateProblem,
    TemplateRenderError,
    compile_jinja,
    html_env,
    locate,
    recording_missing,
    runtime_line,
    text_env,
)
from backend.templates.limits import RenderLimits, rendering
from backend.templates.mjml import mjml_position
from backend.templates.schema import text_fields
from backend.templates.text import html_to_text

SUBSCRIPTION_NAMES = frozenset({"subscriptions", "subscription"})


@dataclass
class Rendered:
    channel: str
    fields: dict[str, str]
    """email: subject, preheader, sender, html, text · sms: text · push: title, body, image, link ·
    wechat: template_id, url, miniprogram.appid, miniprogram.pagepath, fields.<name>"""
    missing: list[str] = field(default_factory=list)
    """Variables the data lacked (rendered as empty or their default)."""


class CompiledTemplate:
    def __init__(self, version_id: int | None, key: str, channels: dict[str, Any], compiled: dict[str, Any]) -> None:
        self.version_id = version_id
        self.key = key
        self.channels = channels
        self.compiled = compiled
        self._jinja: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self.uses: frozenset[str] = self._find_uses()

    def has(self, channel: str) -> bool:
        return isinstance(self.channels.get(channel), dict)

    @property
    def needs_subscriptions(self) -> bool:
        return bool(self.uses & SUBSCRIPTION_NAMES)

    def _sources(self, channel: str) -> dict[str, tuple[str, bool]]:
        """``{field: (jinja source, is_html)}`` for one channel."""
        body = self.channels.get(channel) or {}
        out = {name: (source, False) for name, source in text_fields(channel, body).items()}
        if channel == "email":
            compiled = self.compiled.get("email") or {}
            out["html"] = (compiled.get("html") or "", True)
            if not body.get("text") and compiled.get("text"):
                out["text"] = (compiled["text"], False)
        return out

    def _find_uses(self) -> frozenset[str]:
        names: set[str] = set()
        for channel in self.channels:
            for source, is_html in self._sources(channel).values():
                try:
                    names |= meta.find_undeclared_variables((html_env if is_html else text_env).parse(source))
                except TemplateSyntaxError:
                    continue
        return frozenset(names)

    def _templates(self, channel: str) -> dict[str, Any]:
        templates = self._jinja.get(channel)
        if templates is None:
            with self._lock:
                templates = {}
                for name, (source, is_html) in self._sources(channel).items():
                    try:
                        templates[name] = compile_jinja(source, f"{channel}.{name}", html=is_html)
                    except TemplateSyntaxError as exc:
                        raise TemplateRenderError(self._problem(channel, name, exc, source, is_html)) from exc
                self._jinja[channel] = templates
        return templates

    def render(self, channel: str, context: dict[str, Any], limits: RenderLimits | None = None) -> Rendered:
        """Raises :class:`TemplateRenderError` (line, column) for template bugs and for templates that
        went over a render limit (``problem.limit`` says which); missing data never raises. All the
        channel's fields share one budget (backend/templates/limits.py)."""
        if not self.has(channel):
            raise TemplateRenderError(TemplateProblem(f"/{channel}", f"template {self.key!r} has no {channel} body"))
        templates = self._templates(channel)
        out: dict[str, str] = {}
        with rendering(limits), recording_missing() as missing:
            for name, template in templates.items():
                try:
                    out[name] = template.render(context)
                except (TemplateError, SecurityError, ArithmeticError, TypeError, ValueError, LookupError) as exc:
                    raise TemplateRenderError(self._runtime_problem(channel, name, exc)) from exc
        body = self.channels.get(channel) or {}
        if channel == "email":
            out["subject"] = " ".join(out.get("subject", "").split())
            out.setdefault("preheader", "")
            out.setdefault("sender", "")
            if "text" not in out:
                out["text"] = html_to_text(out.get("html", ""))
        elif channel == "wechat":
            out["template_id"] = body.get("template_id", "")
            if body.get("miniprogram"):
                out["miniprogram.appid"] = body["miniprogram"].get("appid", "")
        return Rendered(channel, out, list(dict.fromkeys(missing)))

    def limit_problems(self, channel: str, context: dict[str, Any], limits: RenderLimits | None = None):
        """Render each field of ``channel`` on its own budget and return the render limits they went
        over (one problem per field, with its line): the publish check."""
        problems: list[TemplateProblem] = []
        for name, template in self._templates(channel).items():
            try:
                with rendering(limits), recording_missing():
                    template.render(context)
            except RenderLimitError as exc:
                problem = self._runtime_problem(channel, name, exc)
                if not any(p.pointer == problem.pointer for p in problems):  # html and text: both the MJML
                    problems.append(problem)
            except Exception:  # other errors may depend on the data: not a publish problem
                continue
        return problems

    # -- error positions -------------------------------------------------------------------------

    def _pointer(self, channel: str, name: str) -> str:
        if channel == "email" and name == "html":
            return "/email/mjml"
        if channel == "email" and name == "text" and not (self.channels.get("email") or {}).get("text"):
            return "/email/mjml"
        return f"/{channel}/" + name.replace(".", "/")

    def _problem(self, channel: str, name: str, exc: TemplateSyntaxError, source: str, is_html: bool):
        line, column = locate(html_env if is_html else text_env, source, exc)
        if self._pointer(channel, name) == "/email/mjml":
            line, column = mjml_position((self.compiled.get("email") or {}).get("line_map") or [], line)
        return TemplateProblem(self._pointer(channel, name), exc.message or "syntax error", line, column)

    def _runtime_problem(self, channel: str, name: str, exc: BaseException) -> TemplateProblem:
        line = runtime_line(exc, f"{channel}.{name}")
        column = None
        pointer = self._pointer(channel, name)
        if pointer == "/email/mjml" and name == "html":
            line, column = mjml_position((self.compiled.get("email") or {}).get("line_map") or [], line)
        elif pointer == "/email/mjml":
            line = None
        if isinstance(exc, RenderLimitError):
            return TemplateProblem(pointer, str(exc), line, column, limit=exc.limit)
        kind = "unsafe access refused" if isinstance(exc, SecurityError) else type(exc).__name__
        return TemplateProblem(pointer, f"{kind}: {exc}", line, column)


# -- the data a template sees ----------------------------------------------------------------------


def _subscription_vars(sub: Subscription) -> dict[str, Any]:
    out = {**sub.attributes, **msgspec.to_builtins(sub, builtin_types=(datetime,))}
    out.pop("attributes", None)
    out["attributes"] = sub.attributes
    return out


def _pick_subscription(subs: list[Subscription]) -> Subscription | None:
    """The subscription a reminder is about: the active one ending soonest, else the latest one."""
    active = [s for s in subs if s.status == "active"]
    if active:
        return min(active, key=lambda s: (s.end_at is None, s.end_at or datetime.max))
    dated = [s for s in subs if s.end_at is not None]
    if dated:
        return max(dated, key=lambda s: s.end_at)
    return subs[0] if subs else None


def build_context(
    contact: Contact | None,
    *,
    journey_context: dict[str, Any] | None = None,
    now: datetime | None = None,
    workspace_locale: str = "en",
    message: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What a template sees: ``contact`` (its attributes also directly: ``contact.first_name``; its
    computed properties as ``contact.computed.<key>``, score levels as ``contact.scores.<key>``),
    ``subscriptions`` / ``subscription``, ``event`` (the trigger event: ``event.properties.plan``),
    ``journey`` (the whole enrollment context), ``message``, ``now``, ``locale``, ``timezone``."""
    journey_context = journey_context or {}
    data: dict[str, Any] = {
        "event": journey_context.get("event") or {},
        "journey": journey_context,
        "message": message or {},
        "now": now,
        "locale": workspace_locale,
        "timezone": "UTC",
        "contact": {},
        "subscriptions": [],
        "subscription": None,
    }
    if contact is None:
        return data
    attributes = contact.attributes or {}
    data["contact"] = {
        **attributes,
        "id": contact.id,
        "external_id": contact.external_id,
        "email": contact.email,
        "phone": contact.phone,
        "wechat_openid": contact.wechat_openid,
        "timezone": contact.timezone,
        "locale": contact.locale,
        "tags": sorted(contact.tags),
        "consent": dict(contact.consent),
        "attributes": attributes,
        "computed": dict(contact.computed or {}),
        "scores": dict(contact.scores or {}),
    }
    subs = list(contact.subscriptions or [])
    data["subscriptions"] = [_subscription_vars(s) for s in subs]
    picked = _pick_subscription(subs)
    data["subscription"] = _subscription_vars(picked) if picked else None
    data["locale"] = contact.locale or workspace_locale
    data["timezone"] = contact.timezone or "UTC"
    return data


# -- cache -----------------------------------------------------------------------------------------


class TemplateCache:
    """Compiled template versions by id. Versions are immutable, so entries never go stale."""

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._items: OrderedDict[int, CompiledTemplate] = OrderedDict()
        self._lock = threading.Lock()

    def get_many(self, conn: sa.Connection, version_ids: Iterable[int]) -> dict[int, CompiledTemplate]:
        wanted = set(version_ids)
        out: dict[int, CompiledTemplate] = {}
        with self._lock:
            for vid in wanted:
                hit = self._items.get(vid)
                if hit is not None:
                    self._items.move_to_end(vid)
                    out[vid] = hit
        missing = wanted - out.keys()
        if missing:
            from backend.db.models import Template

            rows = conn.execute(
                sa.select(TemplateVersion.id, Template.key, TemplateVersion.channels, TemplateVersion.compiled)
                .join(Template, Template.id == TemplateVersion.template_id)
                .where(TemplateVersion.id.in_(sorted(missing)))
            ).all()
            fresh = {
                vid: CompiledTemplate(vid, key, channels or {}, compiled or {}) for vid, key, channels, compiled in rows
            }
            with self._lock:
                for vid, compiled in fresh.items():
                    self._items[vid] = compiled
                while len(self._items) > self._size:
                    self._items.popitem(last=False)
            out.update(fresh)
        return out


def preview_problem(problem: TemplateProblem) -> dict[str, Any]:
    return {"pointer": problem.pointer, "message": problem.message, "line": problem.line, "column": problem.column}
