"""The block SDK: what a block author imports. Pure data and pure functions, no I/O.

A block type is a subclass of :class:`BlockType` with a ``msgspec.Struct`` config. The runtime hands it
a batch of :class:`Item` (one per enrollment sitting on the node) and gets one :class:`Outcome` per item
back. Everything the step needs (contact snapshot, event counts, subscriptions) is loaded by the runtime
beforehand, driven by :meth:`BlockType.needs`, so steps never touch the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar

import msgspec

# --------------------------------------------------------------------------------------------------
# Data the runtime loads for a step
# --------------------------------------------------------------------------------------------------


class Subscription(msgspec.Struct, kw_only=True):
    """A product or subscription record attached to a contact."""

    name: str
    status: str = "active"
    start_at: datetime | None = None
    end_at: datetime | None = None
    duration: str | None = None
    auto_renew: bool = False
    auto_renew_before: bool = False
    attributes: dict[str, Any] = {}


class EventQuery(msgspec.Struct, frozen=True):
    """ "How many times did the contact perform ``name`` within ``within`` (matching ``where``)?"

    Blocks return these from :meth:`BlockType.needs`; the runtime answers them in one grouped query per
    batch and puts the counts into :attr:`Contact.event_counts` keyed by the query itself.
    """

    name: str
    within: timedelta | None = None
    where: tuple[tuple[str, Any], ...] = ()


class Contact(msgspec.Struct, kw_only=True, gc=False):
    """Snapshot of a contact for the duration of one batch. Effects mutate it in memory so that the next
    block in the same tick sees the tag that the previous one added."""

    id: int
    external_id: str | None = None
    attributes: dict[str, Any] = {}
    tags: set[str] = set()
    email: str | None = None
    phone: str | None = None
    wechat_openid: str | None = None
    push_tokens: list[Any] = []
    consent: dict[str, bool] = {}
    timezone: str | None = None
    locale: str | None = None
    subscriptions: list[Subscription] = []
    event_counts: dict[EventQuery, int] = {}
    event_spans: dict[EventQuery, tuple[datetime, datetime]] = {}
    """For windowed queries: the oldest and newest matching event in the window (segments' re-check)."""
    computed: dict[str, Any] = {}
    """Computed property values by key (e.g. ``rentals_30d``)."""
    segments: set[str] = set()
    """Keys of the segments the contact is in (loaded when a rule needs them)."""
    scores: dict[str, int] = {}
    """Engagement score levels (1-10) by key; absent when the contact has no scored events."""

    def address(self, channel: str) -> Any:
        """The contact's address on ``channel`` (None when there is none)."""
        if channel == "email":
            return self.email
        if channel == "sms":
            return self.phone
        if channel == "wechat":
            return self.wechat_openid
        if channel == "push":
            return self.push_tokens or None
        return None

    def reachable(self, channel: str) -> bool:
        """Has an address on ``channel`` and has not withdrawn consent for it.

        Consent defaults to granted when nothing was recorded; an explicit ``False`` (an unsubscribe)
        always wins.
        """
        return bool(self.address(channel)) and self.consent.get(channel, True) is not False


SCORE_CHANGED = "score_changed"
"""Derived when a contact's score level changes: ``score`` (key), ``level``, ``previous`` (None when the
contact had no score)."""
SEGMENT_ENTERED = "segment_entered"
SEGMENT_LEFT = "segment_left"
"""Events the audiences derive when a contact's segment membership changes; their properties name the
segment (``segment`` = its key, ``segment_id``, ``segment_name``)."""


class Event(msgspec.Struct, kw_only=True):
    """An event as a block sees it: what woke a ``wait.event`` enrollment or started an enrollment."""

    name: str
    properties: dict[str, Any] = {}
    occurred_at: datetime | None = None


class Item(msgspec.Struct, kw_only=True, gc=False):
    """One enrollment sitting on one node."""

    enrollment_id: int
    contact: Contact
    node_id: str = ""
    entered_at: datetime
    """When the enrollment arrived at this node (a wait measures from here)."""
    state: dict[str, Any] = {}
    """Block-owned scratch state, kept while the enrollment stays on the node."""
    event: Event | None = None
    """The event that woke this enrollment, if an event did."""
    context: dict[str, Any] = {}
    """Journey context fixed at enrollment (e.g. the trigger event), read-only."""
    fresh: bool = False
    """True when the enrollment arrived on the node in this tick (its arrival is logged once)."""
    pending: list[Event] = []
    """Events that arrived in the same request after the one that started or woke the enrollment,
    oldest first. The interpreter applies them when the enrollment next stops (goal, exit rules, the
    event a wait is waiting for), as if they had arrived one call at a time."""


class StepContext(msgspec.Struct, kw_only=True):
    now: datetime
    node_id: str
    journey_id: int = 0
    version_id: int = 0
    journey_timezone: str = "contact"
    """``"contact"`` (use each contact's timezone) or an IANA name used for everyone."""


# --------------------------------------------------------------------------------------------------
# Effects and outcomes a step returns
# --------------------------------------------------------------------------------------------------


class AddTags(msgspec.Struct, tag="add_tags"):
    tags: list[str]


class RemoveTags(msgspec.Struct, tag="remove_tags"):
    tags: list[str]


class SetAttributes(msgspec.Struct, tag="set_attributes"):
    values: dict[str, Any]


class SendMessage(msgspec.Struct, tag="send_message", kw_only=True):
    """Queue a message in the outbox. ``channel`` is a concrete channel, or ``"best"`` to let the
    dispatcher pick the first reachable one from ``fallback``."""

    channel: str
    template: str | None = None
    payload: dict[str, Any] = {}
    fallback: list[str] = []
    marketing: bool = True


Effect = AddTags | RemoveTags | SetAttributes | SendMessage


class Go(msgspec.Struct, gc=False):
    """Leave the node through ``port``."""

    port: str = "next"
    effects: Sequence[Effect] = ()


class Wait(msgspec.Struct, kw_only=True, gc=False):
    """Stay on the node. The step runs again at ``until`` or when ``event`` arrives, whichever first.
    Both None means "wait for something else to wake me" (e.g. an API call)."""

    until: datetime | None = None
    event: str | None = None
    state: dict[str, Any] | None = None
    effects: Sequence[Effect] = ()


class Exit(msgspec.Struct):
    """Leave the journey."""

    reason: str = "exit"
    effects: Sequence[Effect] = ()


Outcome = Go | Wait | Exit


class Needs(msgspec.Struct, frozen=True):
    subscriptions: bool = False
    events: tuple[EventQuery, ...] = ()
    segments: bool = False

    def __or__(self, other: Needs) -> Needs:
        return Needs(
            subscriptions=self.subscriptions or other.subscriptions,
            events=tuple(dict.fromkeys((*self.events, *other.events))),
            segments=self.segments or other.segments,
        )


NO_NEEDS = Needs()


class ConfigProblem(msgspec.Struct, frozen=True):
    """A semantic problem in a block's config: ``path`` is a JSON pointer relative to the config."""

    path: str
    message: str


# --------------------------------------------------------------------------------------------------
# The block type base class
# --------------------------------------------------------------------------------------------------


class BlockType:
    """Declare a block once; the registry, validator, editor palette and config form derive from it."""

    type: ClassVar[str]
    version: ClassVar[int] = 1
    label: ClassVar[str]
    description: ClassVar[str] = ""
    icon: ClassVar[str] = "square"
    category: ClassVar[str] = "action"
    """``trigger``, ``flow`` (waits, conditions, splits), ``action`` or ``exit``."""
    ports: ClassVar[tuple[str, ...]] = ("next",)
    Config: ClassVar[type[msgspec.Struct]]
    trigger: ClassVar[str | None] = None
    """For entry blocks: how contacts get in, ``"event"``, ``"date"`` or ``"manual"``."""
    pauses: ClassVar[bool] = False
    """True for blocks that make a contact wait; a loop must contain one."""
    ports_from: ClassVar[str | None] = None
    """For config-dependent ports: the config array whose items' ``name`` are the ports (for the editor)."""
    ports_after: ClassVar[tuple[str, ...]] = ()
    """Fixed ports that follow the config-dependent ones (``split.rules``: ``else``)."""
    translations: ClassVar[dict[str, dict[str, str]]] = {}
    """Per-locale overrides for ``label``, ``description`` and ``field.<name>`` titles."""

    def output_ports(self, config: Any) -> tuple[str, ...]:
        """Ports of a configured node; override when they depend on the config (e.g. split branches)."""
        return self.ports

    def check(self, config: Any) -> list[ConfigProblem]:
        """Semantic checks beyond what the config's types express."""
        return []

    def needs(self, config: Any) -> Needs:
        return NO_NEEDS

    def step(self, config: Any, item: Item, ctx: StepContext) -> Outcome:
        raise NotImplementedError

    def step_batch(self, config: Any, items: Sequence[Item], ctx: StepContext) -> list[Outcome]:
        """Override for a faster vectorised step; the default maps :meth:`step`."""
        step = self.step
        return [step(config, item, ctx) for item in items]

    def config_schema(self) -> dict[str, Any]:
        """The config's JSON Schema, which the editor renders as the block's form."""
        (schema,), components = msgspec.json.schema_components([self.Config], ref_template="#/$defs/{name}")
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            schema = dict(components.pop(name))
        if components:
            schema["$defs"] = components
        # msgspec leaves out defaults made by a factory; the editor needs them to create a new block.
        for field in msgspec.structs.fields(self.Config):
            if field.default_factory is not msgspec.NODEFAULT and field.encode_name in schema.get("properties", {}):
                schema["properties"][field.encode_name]["default"] = msgspec.to_builtins(field.default_factory())
        return schema

    def parse_config(self, raw: Any) -> Any:
        """Raw JSON config → typed config; raises ``msgspec.ValidationError`` naming the field."""
        return msgspec.convert(raw, self.Config, strict=False)
