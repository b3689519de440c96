"""What a journey needs from its workspace, checked before it goes live — so a send that would fail on
the Messages page an hour later is refused at publish, on the block and field that cause it.

The graph validator (pure) knows blocks; this knows the workspace. It reads each block's config next to
its JSON Schema, so whatever a config names through ``x-source`` — templates, segments, computed
properties, scores, events — is checked for third-party blocks as well as built-ins:

* errors (publish is refused): a template that does not exist, was never published, or has no body for
  a channel the block can send on (fallback order included); a channel without a working provider; a
  segment, computed property or score that does not exist;
* warnings (shown, publish goes on): an event no contact has performed yet; a contact attribute a
  template uses that no contact has and that has no ``default``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from jinja2 import nodes
from jinja2.exceptions import TemplateSyntaxError

from backend.channels.registry import ProviderSet
from backend.db.models import ComputedProperty, Contact, Event, Score, Segment, Template, TemplateVersion
from backend.engine.validation import CompiledGraph, Problem
from backend.templates.environment import html_env, text_env
from backend.templates.render import CompiledTemplate

CONTACT_FIELDS = frozenset(
    {
        "id",
        "external_id",
        "email",
        "phone",
        "wechat_openid",
        "timezone",
        "locale",
        "tags",
        "consent",
        "attributes",
        "computed",
        "scores",
    }
)
ATTRIBUTE_SAMPLE = 5000


def problems(conn: sa.Connection, workspace_id: int, compiled: CompiledGraph, settings: Any) -> list[Problem]:
    """Every problem the workspace has with this graph (errors and warnings), each on its block's field."""
    vocab = _Vocabulary(conn, workspace_id)
    out: list[Problem] = []
    for index, node in enumerate(compiled.graph.nodes):
        block = compiled.nodes[node.id].block
        schema = block.config_schema()
        base = f"/nodes/{index}/config"
        for pointer, source, value in _references(node.config or {}, schema, schema, ""):
            out += vocab.check(source, value, base + pointer, node.id)
        if block.type == "send":
            out += _send_problems(conn, workspace_id, node.config or {}, base, node.id, vocab, settings)
    for i, name in enumerate(compiled.settings.exit_when):
        out += vocab.check("events", name, f"/settings/exit_when/{i}", None)
    if compiled.settings.goal is not None:
        out += vocab.check("events", compiled.settings.goal.event, "/settings/goal/event", None)
    return out


def _references(value: Any, schema: dict[str, Any], root: dict[str, Any], pointer: str) -> Iterator[tuple]:
    """(pointer, x-source, value) for every string in ``value`` whose schema names a vocabulary."""
    schema = _resolve(schema, root)
    if isinstance(value, str):
        source = schema.get("x-source")
        if source:
            yield pointer, source, value
        for option in schema.get("anyOf", ()):
            option = _resolve(option, root)
            if option.get("x-source"):
                yield pointer, option["x-source"], value
                break
        return
    if isinstance(value, dict):
        options = [schema, *(_resolve(o, root) for o in schema.get("anyOf", ()))]
        tagged = [o for o in options if "properties" in o]
        kind = value.get("kind")
        for option in tagged:
            tag = option["properties"].get("kind", {}).get("enum")
            if tag and kind not in tag:
                continue
            for key, item in value.items():
                if key in option["properties"]:
                    yield from _references(item, option["properties"][key], root, f"{pointer}/{key}")
            break
        return
    if isinstance(value, list):
        items = schema.get("items")
        if items is None:
            for option in schema.get("anyOf", ()):
                items = _resolve(option, root).get("items") or items
        if items is not None:
            for i, item in enumerate(value):
                yield from _references(item, items, root, f"{pointer}/{i}")


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return root.get("$defs", {}).get(ref.rsplit("/", 1)[-1], {})
    return schema


class _Vocabulary:
    """What the workspace has, loaded once per kind on first use."""

    def __init__(self, conn: sa.Connection, workspace_id: int) -> None:
        self.conn = conn
        self.workspace_id = workspace_id
        self._cache: dict[str, set[str]] = {}

    def names(self, source: str) -> set[str] | None:
        if source not in self._cache:
            table = {
                "templates": (Template.key, Template.workspace_id),
                "segments": (Segment.key, Segment.workspace_id),
                "computed": (ComputedProperty.key, ComputedProperty.workspace_id),
                "scores": (Score.key, Score.workspace_id),
                "events": (Event.name, Event.workspace_id),
            }.get(source)
            if table is None:
                return None
            column, ws = table
            query = sa.select(column).where(ws == self.workspace_id)
            if source == "events":
                query = query.group_by(column)
            self._cache[source] = set(self.conn.execute(query).scalars())
        return self._cache[source]

    def check(self, source: str, value: str, pointer: str, node_id: str | None) -> list[Problem]:
        known = self.names(source)
        if known is None or value in known:
            return []
        if source == "events":
            return [
                Problem(
                    pointer,
                    f"no contact has performed {value!r} yet; check the spelling",
                    "unknown_event",
                    node_id,
                    "warning",
                )
            ]
        what = {"templates": "template", "segments": "segment", "computed": "computed property", "scores": "score"}
        return [Problem(pointer, f"there is no {what[source]} {value!r}", f"unknown_{source}", node_id)]

    def attributes(self) -> set[str]:
        if "attributes" not in self._cache:
            keys: set[str] = set()
            rows = self.conn.execute(
                sa.select(Contact.attributes)
                .where(Contact.workspace_id == self.workspace_id)
                .order_by(Contact.updated_at.desc())
                .limit(ATTRIBUTE_SAMPLE)
            )
            for (attrs,) in rows:
                keys.update((attrs or {}).keys())
            self._cache["attributes"] = keys
        return self._cache["attributes"]


def _send_problems(conn, workspace_id, config, base, node_id, vocab: _Vocabulary, settings) -> list[Problem]:
    key = config.get("template")
    channel = config.get("channel", "email")
    channels = list(config.get("fallback") or ["email", "push", "sms", "wechat"]) if channel == "best" else [channel]
    row = conn.execute(
        sa.select(Template.published_version_id).where(Template.workspace_id == workspace_id, Template.key == key)
    ).first()
    if row is None:
        return []  # reported by the x-source check
    pointer = base + "/template"
    if row.published_version_id is None:
        return [Problem(pointer, f"template {key!r} has never been published", "template_unpublished", node_id)]
    version = conn.execute(
        sa.select(TemplateVersion.channels, TemplateVersion.compiled).where(
            TemplateVersion.id == row.published_version_id
        )
    ).first()
    template = CompiledTemplate(row.published_version_id, key, version.channels or {}, version.compiled or {})
    out: list[Problem] = []
    missing = [c for c in channels if not template.has(c)]
    for c in missing:
        out.append(
            Problem(
                pointer,
                f"template {key!r} has no {_CHANNEL_NAMES.get(c, c)} version; add one or choose another channel",
                "template_channel_missing",
                node_id,
            )
        )
    providers = ProviderSet(settings)
    providers.load(conn, [workspace_id])
    for c in channels:
        if c in missing:
            continue
        _provider, why = providers.get(workspace_id, c)
        if why is not None:
            out.append(Problem(base + ("/fallback" if channel == "best" else "/channel"), why, "no_provider", node_id))
    out += _variable_warnings(template, [c for c in channels if c not in missing], pointer, node_id, vocab)
    return out


_CHANNEL_NAMES = {"email": "email", "sms": "SMS", "wechat": "WeChat", "push": "push"}


def _variable_warnings(template: CompiledTemplate, channels, pointer, node_id, vocab: _Vocabulary) -> list[Problem]:
    """``contact.<name>`` a template reads without a default while no contact has such an attribute."""
    used: set[str] = set()
    for channel in channels:
        for source, is_html in template._sources(channel).values():
            try:
                tree = (html_env if is_html else text_env).parse(source)
            except TemplateSyntaxError:
                continue
            used |= _contact_names_without_default(tree)
    unknown = sorted(used - CONTACT_FIELDS - vocab.attributes())
    return [
        Problem(
            pointer,
            f"no contact has the attribute {name!r} the template uses; give it a default, e.g."
            f" {{{{ contact.{name} | default('') }}}}",
            "unknown_variable",
            node_id,
            "warning",
        )
        for name in unknown
    ]


def _contact_names_without_default(tree: nodes.Node) -> set[str]:
    defaulted = {
        id(f.node)
        for f in tree.find_all(nodes.Filter)
        if f.name in ("default", "d") and isinstance(f.node, nodes.Getattr)
    }
    found = set()
    for node in tree.find_all(nodes.Getattr):
        if isinstance(node.node, nodes.Name) and node.node.name == "contact" and id(node) not in defaulted:
            found.add(node.attr)
    return found
