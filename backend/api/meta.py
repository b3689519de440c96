"""Block types for the editor's palette and forms, and the workspace vocabulary for autocomplete."""

from __future__ import annotations

from typing import Any

import msgspec
import sqlalchemy as sa
from litestar import Controller, get
from litestar.params import FromQuery

from backend.api.deps import PrincipalDep, ServicesDep
from backend.db.models import ComputedProperty, Contact, Event, Score, Segment, Subscription, Template
from backend.engine.graph import Settings

VOCABULARY_SAMPLE = 2000
"""Attribute keys and tags are collected from the most recently updated contacts, not all of them."""


class TemplateRef(msgspec.Struct):
    key: str
    name: str


class NamedRef(msgspec.Struct):
    key: str
    name: str


class Vocabulary(msgspec.Struct):
    events: list[str]
    attributes: list[str]
    tags: list[str]
    templates: list[TemplateRef]
    segments: list[NamedRef]
    computed: list[NamedRef]
    """Computed properties by key."""
    scores: list[NamedRef]
    packages: list[str]
    """Names of products and subscriptions contacts have."""


class MetaController(Controller):
    path = "/"
    tags = ["editor"]

    @get("/block-types", summary="Block types with their config JSON Schemas", sync_to_thread=False)
    def block_types(self, services: ServicesDep, locale: FromQuery[str | None] = None) -> list[dict[str, Any]]:
        return services.registry.describe(locale)

    @get("/journey-settings-schema", summary="JSON Schema of a journey's settings", sync_to_thread=False)
    def settings_schema(self) -> dict[str, Any]:
        (schema,), components = msgspec.json.schema_components([Settings], ref_template="#/$defs/{name}")
        schema = dict(components.pop(schema["$ref"].rsplit("/", 1)[-1]))
        if components:
            schema["$defs"] = components
        return schema

    @get("/vocabulary", sync_to_thread=True, summary="Names used in this workspace, for autocomplete")
    def vocabulary(self, services: ServicesDep, principal: PrincipalDep) -> Vocabulary:
        ws = principal.workspace_id
        with services.reading() as session:
            events = (
                session.execute(
                    sa.select(Event.name).where(Event.workspace_id == ws).group_by(Event.name).order_by(Event.name)
                )
                .scalars()
                .all()
            )
            rows = session.execute(
                sa.select(Contact.attributes, Contact.tags)
                .where(Contact.workspace_id == ws)
                .order_by(Contact.updated_at.desc())
                .limit(VOCABULARY_SAMPLE)
            ).all()
            templates = session.execute(
                sa.select(Template.key, Template.name).where(Template.workspace_id == ws).order_by(Template.name)
            ).all()
            segments = session.execute(
                sa.select(Segment.key, Segment.name).where(Segment.workspace_id == ws).order_by(Segment.name)
            ).all()
            computed = session.execute(
                sa.select(ComputedProperty.key, ComputedProperty.name)
                .where(ComputedProperty.workspace_id == ws)
                .order_by(ComputedProperty.name)
            ).all()
            score_refs = session.execute(
                sa.select(Score.key, Score.name).where(Score.workspace_id == ws).order_by(Score.name)
            ).all()
            packages = (
                session.execute(
                    sa.select(Subscription.name)
                    .where(Subscription.workspace_id == ws)
                    .group_by(Subscription.name)
                    .order_by(Subscription.name)
                    .limit(VOCABULARY_SAMPLE)
                )
                .scalars()
                .all()
            )
        attributes: set[str] = set()
        tags: set[str] = set()
        for attrs, contact_tags in rows:
            attributes.update((attrs or {}).keys())
            tags.update(contact_tags or ())
        return Vocabulary(
            events=list(events),
            attributes=sorted(attributes),
            tags=sorted(tags),
            templates=[TemplateRef(k, n) for k, n in templates],
            segments=[NamedRef(k, n) for k, n in segments],
            computed=[NamedRef(k, n) for k, n in computed],
            scores=[NamedRef(k, n) for k, n in score_refs],
            packages=list(packages),
        )
