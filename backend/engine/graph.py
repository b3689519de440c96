"""The journey graph document: one JSON document per journey version, shaped like React Flow's."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

import msgspec

SCHEMA_VERSION = 1

NodeId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class Position(msgspec.Struct):
    x: float = 0.0
    y: float = 0.0


class Node(msgspec.Struct, kw_only=True, omit_defaults=True, forbid_unknown_fields=True):
    id: NodeId
    type: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    version: int = 1
    label: str | None = None
    config: dict[str, Any] = {}
    position: Position | None = None


class Edge(msgspec.Struct, kw_only=True, omit_defaults=True, forbid_unknown_fields=True):
    id: NodeId
    source: NodeId
    target: NodeId
    port: str = "next"


class Goal(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Reaching the goal (performing ``event``) counts as a conversion and, by default, ends the journey."""

    event: str
    exit: bool = True


class QuietHours(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Local times (``HH:MM``) between which messages are held back until the window ends."""

    start: Annotated[str, msgspec.Meta(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]
    end: Annotated[str, msgspec.Meta(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]


class FrequencyCap(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """At most ``messages`` marketing messages per contact within ``per``: from this journey, or
    (``across: workspace``) from every journey and broadcast of the workspace."""

    messages: Annotated[int, msgspec.Meta(ge=1)]
    per: timedelta
    across: Literal["journey", "workspace"] = "journey"


class Settings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reentry: Literal["never", "after_exit", "always"] = "never"
    goal: Goal | None = None
    exit_when: list[str] = []
    """Event names that take a contact out of the journey wherever it is."""
    timezone: str = "contact"
    quiet_hours: QuietHours | None = None
    frequency_cap: FrequencyCap | None = None
    control_group_percent: Annotated[float, msgspec.Meta(ge=0, le=100)] = 0


class Graph(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    schema_version: int = SCHEMA_VERSION
    nodes: list[Node] = []
    edges: list[Edge] = []
    settings: Settings = msgspec.field(default_factory=Settings)


def empty_graph() -> dict[str, Any]:
    return msgspec.to_builtins(Graph())
