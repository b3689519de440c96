"""Journey graph validation: every problem at once, each with a JSON pointer and a human message."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from backend.engine.graph import SCHEMA_VERSION, Edge, Graph, Node, Settings
from backend.engine.registry import Registry
from backend.engine.sdk import BlockType


class Problem(msgspec.Struct, frozen=True):
    pointer: str
    message: str
    code: str
    node_id: str | None = None
    severity: str = "error"
    """``error`` (cannot publish) or ``warning`` (shown; publishing goes on)."""


class GraphInvalid(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the journey graph")
        self.problems = problems


@dataclass
class CompiledNode:
    node: Node
    block: BlockType
    config: Any
    ports: tuple[str, ...]
    needs_error: Exception | None = field(default=None, repr=False, compare=False)
    """Set while the block's ``needs()`` raises for this config (see ``interpreter.needs_from``)."""


@dataclass
class CompiledGraph:
    """A validated graph in the shape the interpreter walks: typed configs and an edge lookup."""

    graph: Graph
    nodes: dict[str, CompiledNode]
    next_node: dict[tuple[str, str], str]
    triggers: list[str] = field(default_factory=list)

    @property
    def settings(self) -> Settings:
        return self.graph.settings


_PATH_PART = re.compile(r"\.([^.\[]+)|\[(\d+)\]")


def msgspec_path_to_pointer(message: str) -> tuple[str, str]:
    """Split a msgspec error ("Expected int, got str - at `$.a[0].b`") into (pointer suffix, message).

    msgspec writes a field as ``.name`` (any characters but ``.`` and ``[``), an array index as ``[0]``,
    and a mapping value as ``[...]`` without saying which key: the pointer stops at that mapping rather
    than point at a member that does not exist."""
    missing = re.match(r"Object missing required field `(.+?)`", message)
    match = re.search(r" - at `\$(.*)`$", message)
    if not match:
        return ("/" + _escape(missing[1]), message) if missing else ("", message)
    path, position, parts = match[1], 0, []
    while position < len(path):
        part = _PATH_PART.match(path, position)
        if part is None:
            break
        parts.append("/" + _escape(part[1] if part[1] is not None else part[2]))
        position = part.end()
    if missing:
        parts.append("/" + _escape(missing[1]))
    return "".join(parts), message[: match.start()]


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _convert(raw: Any, type_: type, pointer: str, problems: list[Problem], node_id: str | None = None):
    try:
        return msgspec.convert(raw, type_)
    except msgspec.ValidationError as exc:
        suffix, message = msgspec_path_to_pointer(str(exc))
        problems.append(Problem(pointer + suffix, message, "invalid", node_id))
        return None


def validate(raw: Any, registry: Registry, *, lenient: bool = False) -> tuple[CompiledGraph | None, list[Problem]]:
    """Check a raw (decoded JSON) graph. Returns the compiled graph when there are no problems.

    ``lenient`` skips the advisory checks (block ``check()`` rules, timezone names) for versions that were
    valid when they were published: a newer, stricter check must not stop a live journey."""
    problems: list[Problem] = []

    def advise(problem: Problem) -> None:
        if not lenient:
            problems.append(problem)

    if not isinstance(raw, dict):
        return None, [Problem("", "a journey graph must be a JSON object", "invalid")]

    unknown = set(raw) - set(Graph.__struct_fields__)
    for key in sorted(unknown):
        problems.append(Problem(f"/{_escape(key)}", f"unknown field {key!r}", "invalid"))
    if raw.get("schema_version", SCHEMA_VERSION) != SCHEMA_VERSION:
        problems.append(
            Problem(
                "/schema_version",
                f"unsupported schema_version; this server reads {SCHEMA_VERSION}",
                "invalid",
            )
        )

    settings = _convert(raw.get("settings", {}), Settings, "/settings", problems) or Settings()
    if settings.timezone != "contact" and not _is_zone(settings.timezone):
        advise(
            Problem(
                "/settings/timezone",
                f"unknown timezone {settings.timezone!r}; use an IANA name such as Europe/Warsaw, or contact",
                "invalid",
            )
        )
    raw_nodes = raw.get("nodes", [])
    raw_edges = raw.get("edges", [])
    if not isinstance(raw_nodes, list):
        problems.append(Problem("/nodes", "nodes must be an array", "invalid"))
        raw_nodes = []
    if not isinstance(raw_edges, list):
        problems.append(Problem("/edges", "edges must be an array", "invalid"))
        raw_edges = []

    nodes: dict[str, CompiledNode] = {}
    node_index: dict[str, int] = {}
    parsed_nodes: list[Node] = []
    # Known block of every node, even one whose config is bad: a trigger with a typo is still a trigger
    # and a wait with a typo still breaks a loop, so one mistake is reported once, not three times.
    block_of: dict[str, BlockType] = {}
    ports_of: dict[str, tuple[str, ...]] = {}
    """Output ports of nodes whose ports are known (a bad config hides config-dependent ports)."""
    unknown_nodes = False
    """Some node could not be read or has an unknown type: it might have been the trigger."""
    for i, raw_node in enumerate(raw_nodes):
        node = _convert(raw_node, Node, f"/nodes/{i}", problems)
        if node is None:
            unknown_nodes = True
            continue
        if node.id in node_index:
            problems.append(Problem(f"/nodes/{i}/id", f"node id {node.id!r} is used twice", "duplicate_id", node.id))
            continue
        node_index[node.id] = i
        parsed_nodes.append(node)
        block = registry.get(node.type, node.version)
        if block is None:
            unknown_nodes = True
            if node.type in registry:
                known = ", ".join(map(str, registry.versions(node.type)))
                problems.append(
                    Problem(
                        f"/nodes/{i}/version",
                        f"block type {node.type!r} has no version {node.version} (known: {known})",
                        "unknown_version",
                        node.id,
                    )
                )
            else:
                problems.append(
                    Problem(f"/nodes/{i}/type", f"unknown block type {node.type!r}", "unknown_type", node.id)
                )
            continue
        block_of[node.id] = block
        try:
            config = block.parse_config(node.config)
        except msgspec.ValidationError as exc:
            suffix, message = msgspec_path_to_pointer(str(exc))
            problems.append(Problem(f"/nodes/{i}/config{suffix}", message, "bad_config", node.id))
            if type(block).output_ports is BlockType.output_ports:
                ports_of[node.id] = tuple(block.ports)
            continue
        for p in block.check(config):
            advise(Problem(f"/nodes/{i}/config{p.path}", p.message, "bad_config", node.id))
        nodes[node.id] = CompiledNode(node, block, config, tuple(block.output_ports(config)))
        ports_of[node.id] = nodes[node.id].ports

    edges: list[Edge] = []
    next_node: dict[tuple[str, str], str] = {}
    edge_ids: set[str] = set()
    used_ports: set[tuple[str, str]] = set()
    for i, raw_edge in enumerate(raw_edges):
        edge = _convert(raw_edge, Edge, f"/edges/{i}", problems)
        if edge is None:
            continue
        edges.append(edge)
        if edge.id in edge_ids:
            problems.append(Problem(f"/edges/{i}/id", f"edge id {edge.id!r} is used twice", "duplicate_id"))
        edge_ids.add(edge.id)
        for end in ("source", "target"):
            ref = getattr(edge, end)
            if ref not in node_index:
                problems.append(
                    Problem(f"/edges/{i}/{end}", f"edge points to a node that does not exist: {ref!r}", "dangling")
                )
        source_ports = ports_of.get(edge.source)
        if source_ports is not None and edge.port not in source_ports:
            ports = ", ".join(source_ports) or "none"
            problems.append(
                Problem(
                    f"/edges/{i}/port",
                    f"block {edge.source!r} has no output port {edge.port!r} (ports: {ports})",
                    "bad_port",
                    edge.source,
                )
            )
        key = (edge.source, edge.port)
        if key in used_ports:
            problems.append(
                Problem(
                    f"/edges/{i}/port",
                    f"port {edge.port!r} of block {edge.source!r} is already connected",
                    "port_reused",
                    edge.source,
                )
            )
        elif edge.source in node_index:
            used_ports.add(key)
            if edge.target in node_index:
                next_node[key] = edge.target
        target = block_of.get(edge.target)
        if target is not None and target.category == "trigger":
            problems.append(
                Problem(
                    f"/edges/{i}/target",
                    "a trigger cannot have incoming connections",
                    "bad_target",
                    edge.target,
                )
            )

    triggers = [n.id for n in parsed_nodes if n.id in block_of and block_of[n.id].category == "trigger"]
    if not raw_nodes:
        problems.append(Problem("/nodes", "the journey is empty; add a trigger", "no_trigger"))
    elif not triggers and not unknown_nodes:
        problems.append(Problem("/nodes", "the journey has no trigger; add one so contacts can enter", "no_trigger"))

    problems.extend(_reachability(triggers, parsed_nodes, next_node, node_index))
    problems.extend(_loops_without_wait(block_of, next_node, node_index))

    if problems:
        return None, problems
    graph = Graph(schema_version=SCHEMA_VERSION, nodes=parsed_nodes, edges=edges, settings=settings)
    return CompiledGraph(graph=graph, nodes=nodes, next_node=next_node, triggers=triggers), []


def _is_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _reachability(triggers, parsed_nodes, next_node, node_index) -> list[Problem]:
    if not triggers:
        return []
    successors: dict[str, list[str]] = defaultdict(list)
    for (source, _port), target in next_node.items():
        successors[source].append(target)
    seen = set(triggers)
    stack = list(triggers)
    while stack:
        for nxt in successors[stack.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return [
        Problem(
            f"/nodes/{node_index[n.id]}",
            f"block {n.id!r} cannot be reached from any trigger",
            "unreachable",
            n.id,
        )
        for n in parsed_nodes
        if n.id not in seen
    ]


def _loops_without_wait(block_of, next_node, node_index) -> list[Problem]:
    """Find cycles (strongly connected components) in which no block makes the contact wait."""
    successors: dict[str, list[str]] = defaultdict(list)
    for (source, _port), target in next_node.items():
        successors[source].append(target)

    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0

    for root in node_index:
        if root in index:
            continue
        work = [(root, iter(successors[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, it = work[-1]
            advanced = False
            for nxt in it:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(successors[nxt])))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(component)

    problems = []
    for component in components:
        is_cycle = len(component) > 1 or component[0] in successors[component[0]]
        if not is_cycle:
            continue
        if any(block_of[n].pauses for n in component if n in block_of):
            continue
        members = sorted(component, key=node_index.__getitem__)
        problems.append(
            Problem(
                f"/nodes/{node_index[members[0]]}",
                "these blocks form a loop with no wait in it: " + " → ".join(members),
                "loop_without_wait",
                members[0],
            )
        )
    return problems


def compile_graph(raw: Any, registry: Registry, *, lenient: bool = False) -> CompiledGraph:
    compiled, problems = validate(raw, registry, lenient=lenient)
    if compiled is None:
        raise GraphInvalid(problems)
    return compiled
