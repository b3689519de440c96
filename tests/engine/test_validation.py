"""Graph validation: every problem at once, each with an exact JSON pointer into the submitted document."""

from __future__ import annotations

import copy
from typing import Any

import msgspec
import pytest

from backend.engine.registry import default_registry
from backend.engine.validation import (
    CompiledGraph,
    GraphInvalid,
    Problem,
    compile_graph,
    msgspec_path_to_pointer,
    validate,
)

REGISTRY = default_registry()


def node(id: str, type: str, config: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {"id": id, "type": type, "config": config or {}, **extra}


def edge(id: str, source: str, target: str, port: str = "next") -> dict[str, Any]:
    return {"id": id, "source": source, "target": target, "port": port}


def problems(raw: Any) -> list[Problem]:
    compiled, found = validate(raw, REGISTRY)
    assert compiled is None, "expected the graph to be rejected"
    assert found
    return found


def pointers(raw: Any) -> list[tuple[str, str]]:
    """(pointer, code) of every problem, sorted; each problem must be reported exactly once."""
    return sorted((p.pointer, p.code) for p in problems(raw))


TRIGGER = node("start", "trigger.event", {"event": "signup"})
MAIL = node("mail", "send", {"template": "welcome"})


def valid_graph() -> dict[str, Any]:
    """Trigger → wait 2 h → condition: yes → tag, no → send → exit."""
    return {
        "schema_version": 1,
        "nodes": [
            node("start", "trigger.event", {"event": "registration_started"}, position={"x": 0, "y": 0}),
            node("wait", "wait.duration", {"duration": "PT2H"}, label="Two hours"),
            node(
                "done?",
                "condition",
                {"rule": {"kind": "event", "event": "registration_completed", "within": "PT2H"}},
            ),
            node("tag", "tag", {"add": ["recovered"]}),
            node("mail", "send", {"template": "tpl_recovery_1"}),
            node("bye", "exit", {"reason": "not recovered"}),
        ],
        "edges": [
            edge("e1", "start", "wait"),
            edge("e2", "wait", "done?"),
            edge("e3", "done?", "tag", "yes"),
            edge("e4", "done?", "mail", "no"),
            edge("e5", "mail", "bye"),
        ],
        "settings": {
            "reentry": "after_exit",
            "timezone": "Europe/Warsaw",
            "frequency_cap": {"messages": 2, "per": "P1D"},
        },
    }


# -- a valid graph ---------------------------------------------------------------------------------


def test_valid_graph_compiles_with_typed_configs_and_an_edge_lookup():
    compiled, found = validate(valid_graph(), REGISTRY)
    assert found == []
    assert isinstance(compiled, CompiledGraph)
    assert compiled.triggers == ["start"]
    assert compiled.next_node == {
        ("start", "next"): "wait",
        ("wait", "next"): "done?",
        ("done?", "yes"): "tag",
        ("done?", "no"): "mail",
        ("mail", "next"): "bye",
    }
    assert compiled.nodes["wait"].config.duration.total_seconds() == 7200
    assert compiled.nodes["done?"].ports == ("yes", "no")
    assert compiled.settings.reentry == "after_exit"
    assert compiled.settings.frequency_cap.per.days == 1
    assert compile_graph(valid_graph(), REGISTRY).triggers == ["start"]


def test_loop_with_a_wait_in_it_is_fine():
    raw = {
        "nodes": [
            TRIGGER,
            node("remind", "send", {"template": "reminder"}),
            node("wait", "wait.event", {"event": "purchase", "timeout": "P3D"}),
            node("bought?", "condition", {"rule": {"kind": "tag", "tag": "customer"}}),
        ],
        "edges": [
            edge("e1", "start", "remind"),
            edge("e2", "remind", "wait"),
            edge("e3", "wait", "bought?", "timeout"),
            edge("e4", "bought?", "remind", "no"),
        ],
    }
    compiled, found = validate(raw, REGISTRY)
    assert found == []
    assert compiled is not None


def test_unconnected_ports_are_allowed_the_contact_completes_there():
    compiled, found = validate(
        {
            "nodes": [TRIGGER, node("c", "condition", {"rule": {"kind": "tag", "tag": "x"}})],
            "edges": [edge("e1", "start", "c")],
        },
        REGISTRY,
    )
    assert found == []
    assert compiled.next_node == {("start", "next"): "c"}


def test_compile_graph_raises_with_every_problem():
    with pytest.raises(GraphInvalid) as exc:
        compile_graph({"nodes": [], "colour": "blue"}, REGISTRY)
    assert sorted(p.pointer for p in exc.value.problems) == ["/colour", "/nodes"]
    assert "2 problem(s)" in str(exc.value)


# -- every problem at once -------------------------------------------------------------------------


def test_every_kind_of_problem_is_reported_at_once_with_its_pointer():
    raw = {
        "schema_version": 1,
        "colour": "blue",
        "settings": {"reentry": "sometimes"},
        "nodes": [
            node("start", "trigger.event", {"event": "signup"}),  # 0
            node("wait", "wait.duration", {"duration": "soon"}),  # 1 bad config field
            node(  # 2 bad value deep inside a rule tree
                "check",
                "condition",
                {
                    "rule": {
                        "kind": "all",
                        "rules": [{"kind": "tag", "tag": "a"}, {"kind": "attribute", "key": "x", "op": "like"}],
                    }
                },
            ),
            node("mystery", "acme.slack", {"channel": "#sales"}),  # 3 unknown type
            node("old", "send", {"template": "t"}, version=7),  # 4 unknown version
            node("start", "tag", {"add": ["x"]}),  # 5 duplicate id
            node("split", "split.random", {}),  # 6
            node("lonely", "exit"),  # 7 unreachable
            node("tag1", "tag", {}),  # 8 semantic config problem (check())
        ],
        "edges": [
            edge("e1", "start", "wait"),  # 0
            edge("e2", "wait", "check"),  # 1
            edge("e3", "check", "split", "yes"),  # 2
            edge("e4", "check", "split", "maybe"),  # 3 no such port
            edge("e5", "split", "ghost", "a"),  # 4 dangling target
            edge("e6", "nowhere", "split"),  # 5 dangling source
            edge("e7", "check", "tag1", "yes"),  # 6 port used twice
            edge("e1", "split", "tag1", "b"),  # 7 duplicate edge id
            edge("e9", "tag1", "start"),  # 8 into a trigger
        ],
    }
    found = problems(raw)
    assert sorted((p.pointer, p.code, p.node_id) for p in found) == sorted(
        [
            ("/colour", "invalid", None),
            ("/settings/reentry", "invalid", None),
            ("/nodes/1/config/duration", "bad_config", "wait"),
            ("/nodes/2/config/rule/rules/1/op", "bad_config", "check"),
            ("/nodes/3/type", "unknown_type", "mystery"),
            ("/nodes/4/version", "unknown_version", "old"),
            ("/nodes/5/id", "duplicate_id", "start"),
            ("/nodes/8/config", "bad_config", "tag1"),
            ("/edges/3/port", "bad_port", "check"),
            ("/edges/4/target", "dangling", None),
            ("/edges/5/source", "dangling", None),
            ("/edges/6/port", "port_reused", "check"),
            ("/edges/7/id", "duplicate_id", None),
            ("/edges/8/target", "bad_target", "start"),
            ("/nodes/3", "unreachable", "mystery"),
            ("/nodes/4", "unreachable", "old"),
            ("/nodes/7", "unreachable", "lonely"),
        ]
    )
    by_pointer = {p.pointer: p.message for p in found}
    assert by_pointer["/colour"] == "unknown field 'colour'"
    assert "Invalid ISO8601 duration" in by_pointer["/nodes/1/config/duration"]
    assert by_pointer["/nodes/2/config/rule/rules/1/op"] == "Invalid enum value 'like'"
    assert by_pointer["/nodes/3/type"] == "unknown block type 'acme.slack'"
    assert by_pointer["/nodes/4/version"] == "block type 'send' has no version 7 (known: 1)"
    assert by_pointer["/nodes/5/id"] == "node id 'start' is used twice"
    assert by_pointer["/edges/3/port"] == "block 'check' has no output port 'maybe' (ports: yes, no)"
    assert by_pointer["/edges/4/target"] == "edge points to a node that does not exist: 'ghost'"
    assert by_pointer["/edges/6/port"] == "port 'yes' of block 'check' is already connected"
    assert by_pointer["/nodes/7"] == "block 'lonely' cannot be reached from any trigger"
    assert "- at `" not in "".join(by_pointer.values()), "the location belongs in the pointer, not the message"


def test_problems_name_the_node_so_the_editor_can_pin_them():
    raw = valid_graph()
    raw["nodes"][1]["config"] = {"duration": 5j}
    (problem,) = problems(raw)
    assert problem.node_id == "wait"


# -- single problems -------------------------------------------------------------------------------


def test_empty_graph():
    assert pointers({}) == [("/nodes", "no_trigger")]
    assert pointers({"nodes": [], "edges": []}) == [("/nodes", "no_trigger")]
    assert "empty" in problems({})[0].message


def test_no_trigger():
    raw = {"nodes": [MAIL, node("bye", "exit")], "edges": [edge("e1", "mail", "bye")]}
    found = problems(raw)
    assert [(p.pointer, p.code) for p in found] == [("/nodes", "no_trigger")]
    assert "no trigger" in found[0].message


def test_unknown_node_type_might_be_the_trigger_so_no_trigger_is_not_claimed():
    raw = {"nodes": [node("start", "acme.on_webinar"), MAIL], "edges": [edge("e1", "start", "mail")]}
    assert pointers(raw) == [("/nodes/0/type", "unknown_type")]


def test_trigger_with_a_bad_config_is_still_a_trigger():
    """One mistake, one problem: a trigger with a missing field must not also make the journey "have no
    trigger" nor everything after it "unreachable"."""
    raw = {"nodes": [node("start", "trigger.event", {}), MAIL], "edges": [edge("e1", "start", "mail")]}
    found = problems(raw)
    assert [(p.pointer, p.code) for p in found] == [("/nodes/0/config/event", "bad_config")]
    assert found[0].message == "Object missing required field `event`"


def test_one_bad_trigger_among_two_does_not_make_its_branch_unreachable():
    raw = {
        "nodes": [TRIGGER, node("manual", "trigger.manual", {"note": 5}), MAIL, node("tag", "tag", {"add": ["a"]})],
        "edges": [edge("e1", "start", "mail"), edge("e2", "manual", "tag")],
    }
    assert pointers(raw) == [("/nodes/1/config/note", "bad_config")]


def test_semantic_problem_deep_in_a_rule_tree_points_at_the_field():
    rule = {
        "kind": "any",
        "rules": [
            {"kind": "tag", "tag": "vip"},
            {"kind": "attribute", "key": "seen", "op": "within_last", "value": "7 days"},
        ],
    }
    raw = {
        "nodes": [TRIGGER, node("c", "condition", {"rule": rule}), MAIL],
        "edges": [edge("e1", "start", "c"), edge("e2", "c", "mail", "yes")],
    }
    found = problems(raw)
    assert [(p.pointer, p.code, p.node_id) for p in found] == [
        ("/nodes/1/config/rule/rules/1/value", "bad_config", "c")
    ]
    assert "P7D" in found[0].message


def test_node_that_is_not_even_a_node_does_not_make_the_journey_empty():
    raw = {"nodes": [{"type": "trigger.event", "config": {"event": "x"}}]}
    found = problems(raw)
    assert [(p.pointer, p.code) for p in found] == [("/nodes/0/id", "invalid")]
    assert "missing required field `id`" in found[0].message


@pytest.mark.parametrize(
    ("bad_node", "pointer"),
    [
        ({"id": "", "type": "tag"}, "/nodes/1/id"),
        ({"id": "x" * 65, "type": "tag"}, "/nodes/1/id"),
        ({"id": "t", "type": "tag", "version": "one"}, "/nodes/1/version"),
        ({"id": "t", "type": "tag", "config": ["add", "x"]}, "/nodes/1/config"),
        ({"id": "t", "type": "tag", "position": {"x": "left"}}, "/nodes/1/position/x"),
        ({"id": "t", "type": "tag", "data": {}}, "/nodes/1"),
        ("tag", "/nodes/1"),
    ],
)
def test_malformed_node(bad_node, pointer):
    raw = {"nodes": [TRIGGER, bad_node]}
    assert (pointer, "invalid") in pointers(raw)


@pytest.mark.parametrize(
    ("bad_edge", "pointer"),
    [
        ({"id": "e", "source": "start"}, "/edges/0/target"),
        ({"id": "e", "source": "start", "target": 5}, "/edges/0/target"),
        ({"id": "e", "source": "start", "target": "mail", "label": "x"}, "/edges/0"),
    ],
)
def test_malformed_edge(bad_edge, pointer):
    raw = {"nodes": [TRIGGER, MAIL], "edges": [bad_edge, edge("ok", "start", "mail")]}
    assert pointers(raw) == [(pointer, "invalid")]


def test_nodes_and_edges_must_be_arrays():
    assert ("/nodes", "invalid") in pointers({"nodes": {"start": TRIGGER}})
    assert ("/edges", "invalid") in pointers({"nodes": [TRIGGER], "edges": "none"})


def test_not_an_object():
    assert [(p.pointer, p.code) for p in problems([TRIGGER])] == [("", "invalid")]


def test_unknown_schema_version():
    raw = valid_graph()
    raw["schema_version"] = 2
    assert pointers(raw) == [("/schema_version", "invalid")]


def test_unknown_top_level_fields_are_each_reported():
    raw = valid_graph()
    raw["viewport"] = {"zoom": 1}
    raw["a/b"] = 1
    assert pointers(raw) == [("/a~1b", "invalid"), ("/viewport", "invalid")]


@pytest.mark.parametrize(
    ("settings", "pointer"),
    [
        ({"reentry": "sometimes"}, "/settings/reentry"),
        ({"quiet_hours": {"start": "25:00", "end": "08:00"}}, "/settings/quiet_hours/start"),
        ({"quiet_hours": {"start": "22:00"}}, "/settings/quiet_hours/end"),
        ({"frequency_cap": {"messages": 0, "per": "P1D"}}, "/settings/frequency_cap/messages"),
        ({"frequency_cap": {"messages": 2, "per": "weekly"}}, "/settings/frequency_cap/per"),
        ({"control_group_percent": 150}, "/settings/control_group_percent"),
        ({"goal": {"exit": True}}, "/settings/goal/event"),
        ({"exit_when": "unsubscribed"}, "/settings/exit_when"),
        ({"timezone": "Europe/Atlantis"}, "/settings/timezone"),
        ({"timezone": 8}, "/settings/timezone"),
        ({"retries": 3}, "/settings"),
        ([], "/settings"),
    ],
)
def test_bad_settings(settings, pointer):
    raw = valid_graph()
    raw["settings"] = settings
    assert pointers(raw) == [(pointer, "invalid")]


@pytest.mark.parametrize("tz", ["contact", "Asia/Shanghai", "UTC", "America/Argentina/Buenos_Aires"])
def test_good_timezone_settings(tz):
    raw = valid_graph()
    raw["settings"] = {"timezone": tz}
    assert validate(raw, REGISTRY)[1] == []


def test_dangling_edges_both_ends():
    raw = {"nodes": [TRIGGER], "edges": [edge("e1", "start", "ghost"), edge("e2", "phantom", "start")]}
    assert ("/edges/0/target", "dangling") in pointers(raw)
    assert ("/edges/1/source", "dangling") in pointers(raw)


def test_port_that_does_not_exist_lists_the_real_ones():
    raw = {
        "nodes": [TRIGGER, node("w", "wait.event", {"event": "x", "timeout": "P1D"}), MAIL],
        "edges": [edge("e1", "start", "w"), edge("e2", "w", "mail", "next")],
    }
    (problem,) = problems(raw)
    assert (problem.pointer, problem.code) == ("/edges/1/port", "bad_port")
    assert problem.message == "block 'w' has no output port 'next' (ports: event, timeout)"


def test_exit_has_no_ports_at_all():
    raw = {
        "nodes": [TRIGGER, node("bye", "exit"), MAIL],
        "edges": [edge("e1", "start", "bye"), edge("e2", "bye", "mail")],
    }
    found = problems(raw)
    assert [(p.pointer, p.code) for p in found] == [("/edges/1/port", "bad_port")]
    assert "(ports: none)" in found[0].message


def test_split_ports_come_from_its_branches():
    split = node("ab", "split.random", {"branches": [{"name": "control"}, {"name": "variant"}]})
    ok = {"nodes": [TRIGGER, split, MAIL], "edges": [edge("e1", "start", "ab"), edge("e2", "ab", "mail", "variant")]}
    assert validate(ok, REGISTRY)[1] == []
    bad = copy.deepcopy(ok)
    bad["edges"][1]["port"] = "a"
    assert pointers(bad) == [("/edges/1/port", "bad_port")]


def test_port_used_twice_is_reported_on_the_second_edge():
    raw = {
        "nodes": [TRIGGER, MAIL, node("tag", "tag", {"add": ["a"]})],
        "edges": [edge("e1", "start", "mail"), edge("e2", "start", "tag")],
    }
    # The second edge is not used, so nothing leads to "tag" either.
    assert pointers(raw) == [("/edges/1/port", "port_reused"), ("/nodes/2", "unreachable")]


def test_unreachable_node():
    raw = {"nodes": [TRIGGER, MAIL, node("orphan", "tag", {"add": ["a"]})], "edges": [edge("e1", "start", "mail")]}
    assert pointers(raw) == [("/nodes/2", "unreachable")]


def test_node_reachable_only_from_an_unreachable_node_is_unreachable_too():
    raw = {
        "nodes": [TRIGGER, node("a", "tag", {"add": ["a"]}), node("b", "tag", {"add": ["b"]})],
        "edges": [edge("e1", "a", "b")],
    }
    assert pointers(raw) == [("/nodes/1", "unreachable"), ("/nodes/2", "unreachable")]


def test_duplicate_node_and_edge_ids():
    raw = {
        "nodes": [TRIGGER, MAIL, node("mail", "tag", {"add": ["a"]})],
        "edges": [edge("e1", "start", "mail"), edge("e1", "mail", "mail2")],
    }
    found = pointers(raw)
    assert ("/nodes/2/id", "duplicate_id") in found
    assert ("/edges/1/id", "duplicate_id") in found


# -- loops -----------------------------------------------------------------------------------------


def test_loop_without_wait():
    raw = {
        "nodes": [
            TRIGGER,
            node("tag", "tag", {"add": ["a"]}),
            node("vip?", "condition", {"rule": {"kind": "tag", "tag": "vip"}}),
            MAIL,
        ],
        "edges": [
            edge("e1", "start", "tag"),
            edge("e2", "tag", "vip?"),
            edge("e3", "vip?", "tag", "no"),
            edge("e4", "vip?", "mail", "yes"),
        ],
    }
    found = problems(raw)
    assert [(p.pointer, p.code, p.node_id) for p in found] == [("/nodes/1", "loop_without_wait", "tag")]
    assert found[0].message == "these blocks form a loop with no wait in it: tag → vip?"


def test_block_connected_to_itself_is_a_loop():
    raw = {
        "nodes": [TRIGGER, node("ab", "split.random", {})],
        "edges": [edge("e1", "start", "ab"), edge("e2", "ab", "ab", "a")],
    }
    assert pointers(raw) == [("/nodes/1", "loop_without_wait")]


def test_two_separate_loops_are_two_problems():
    raw = {
        "nodes": [
            TRIGGER,
            node("s", "split.random", {}),
            node("t1", "tag", {"add": ["a"]}),
            node("t2", "tag", {"add": ["b"]}),
        ],
        "edges": [
            edge("e1", "start", "s"),
            edge("e2", "s", "t1", "a"),
            edge("e3", "t1", "s"),
            edge("e4", "s", "t2", "b"),
            edge("e5", "t2", "t2"),
        ],
    }
    assert pointers(raw) == [("/nodes/1", "loop_without_wait"), ("/nodes/3", "loop_without_wait")]


def test_loop_whose_wait_has_a_bad_config_is_not_also_a_loop_without_wait():
    raw = {
        "nodes": [TRIGGER, node("tag", "tag", {"add": ["a"]}), node("wait", "wait.duration", {"duration": "soon"})],
        "edges": [edge("e1", "start", "tag"), edge("e2", "tag", "wait"), edge("e3", "wait", "tag")],
    }
    assert pointers(raw) == [("/nodes/2/config/duration", "bad_config")]


def test_long_loop_is_found_without_recursion_limits():
    count = 3000
    nodes = [TRIGGER] + [node(f"t{i}", "tag", {"add": ["x"]}) for i in range(count)]
    edges = [edge("e", "start", "t0")] + [edge(f"e{i}", f"t{i}", f"t{(i + 1) % count}") for i in range(count)]
    assert pointers({"nodes": nodes, "edges": edges}) == [("/nodes/1", "loop_without_wait")]


# -- msgspec error paths → JSON pointers -----------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "pointer", "text"),
    [
        ("Expected `int`, got `str` - at `$.a[0].b`", "/a/0/b", "Expected `int`, got `str`"),
        (
            "Expected `int`, got `str` - at `$.rule.rules[12].value`",
            "/rule/rules/12/value",
            "Expected `int`, got `str`",
        ),
        ("Expected `int`, got `str` - at `$`", "", "Expected `int`, got `str`"),
        ("Object missing required field `template`", "/template", "Object missing required field `template`"),
        (
            "Object missing required field `key` - at `$.where[0]`",
            "/where/0/key",
            "Object missing required field `key`",
        ),
        ("Object contains unknown field `colour`", "", "Object contains unknown field `colour`"),
        ("Expected `int`, got `str` - at `$.a/b~c`", "/a~1b~0c", "Expected `int`, got `str`"),
        ("Expected `int`, got `str` - at `$.has space`", "/has space", "Expected `int`, got `str`"),
        ("Expected `int`, got `str` - at `$.x[0][1]`", "/x/0/1", "Expected `int`, got `str`"),
        ("Expected `str`, got `int` - at `$.headers[...]`", "/headers", "Expected `str`, got `int`"),
        ("Expected `int`, got `str` - at `$.d[...].v`", "/d", "Expected `int`, got `str`"),
        ("Invalid value 'x - at `y`' - at `$.kind`", "/kind", "Invalid value 'x - at `y`'"),
    ],
)
def test_msgspec_path_to_pointer(message, pointer, text):
    assert msgspec_path_to_pointer(message) == (pointer, text)


class Inner(msgspec.Struct):
    v: int


class Awkward(msgspec.Struct):
    slash: int = msgspec.field(name="a/b~c", default=0)
    by_key: dict[str, Inner] = {}
    nested: list[list[Inner]] = []


def test_pointer_for_real_msgspec_errors_with_awkward_field_names():
    def pointer_of(raw: Any) -> str:
        with pytest.raises(msgspec.ValidationError) as exc:
            msgspec.convert(raw, Awkward)
        return msgspec_path_to_pointer(str(exc.value))[0]

    assert pointer_of({"a/b~c": "x"}) == "/a~1b~0c"
    assert pointer_of({"nested": [[], [{"v": 1}, {"v": "x"}]]}) == "/nested/1/1/v"
    # msgspec does not say which key of a mapping was wrong: point at the mapping, never at a wrong member.
    assert pointer_of({"by_key": {"k/1": {"v": "x"}}}) == "/by_key"


def test_published_versions_compile_leniently_when_checks_get_stricter():
    """A version published before a check existed keeps running: lenient compiles skip block checks and
    timezone names, but still refuse graphs the interpreter could not walk."""
    from backend.engine.registry import default_registry
    from backend.engine.validation import GraphInvalid, compile_graph

    raw = {
        "nodes": [
            node("start", "trigger.manual", {}),
            node("mail", "send", {"template": "x", "channel": "best", "fallback": []}),
        ],
        "edges": [edge("e", "start", "mail")],
        "settings": {"timezone": "Mars/Olympus_Mons"},
    }
    with pytest.raises(GraphInvalid):
        compile_graph(raw, default_registry())
    assert compile_graph(raw, default_registry(), lenient=True).nodes["mail"].config.fallback == []
    raw["edges"].append(edge("dangling", "mail", "nowhere"))
    with pytest.raises(GraphInvalid):
        compile_graph(raw, default_registry(), lenient=True)
