"""The batch interpreter, walked end to end in memory: ``advance()`` plus a tiny stand-in for the runtime
that loads what ``needs_from()`` asks for, persists transitions and claims due enrollments."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest

from backend.engine.interpreter import (
    MAX_STEPS_PER_TICK,
    Cursor,
    QueuedMessage,
    Result,
    StepRecord,
    Transition,
    advance,
    apply_effect,
    needs_from,
)
from backend.engine.registry import Registry, default_registry
from backend.engine.rules import EventRule
from backend.engine.sdk import (
    AddTags,
    BlockType,
    Contact,
    Event,
    EventQuery,
    Go,
    Item,
    Needs,
    RemoveTags,
    SendMessage,
    SetAttributes,
    StepContext,
    Wait,
)
from backend.engine.validation import CompiledGraph, compile_graph

NOW = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)


def node(id: str, type: str, config: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"id": id, "type": type, "config": config or {}}


def edge(source: str, target: str, port: str = "next") -> dict[str, Any]:
    return {"id": f"{source}-{port}-{target}", "source": source, "target": target, "port": port}


def compile_(nodes: list[dict], edges: list[dict], registry: Registry | None = None, **settings) -> CompiledGraph:
    return compile_graph({"nodes": nodes, "edges": edges, "settings": settings}, registry or default_registry())


def cursor(contact: Contact, node_id: str = "start", entered_at: datetime = NOW, **fields: Any) -> Cursor:
    return Cursor(enrollment_id=contact.id, contact=contact, node_id=node_id, entered_at=entered_at, **fields)


def steps_of(result: Result, enrollment_id: int) -> list[tuple[str, str]]:
    return [(s.node_id, s.outcome) for s in result.steps if s.enrollment_id == enrollment_id]


def transition_of(result: Result, enrollment_id: int) -> Transition:
    (transition,) = [t for t in result.transitions if t.enrollment_id == enrollment_id]
    return transition


# --------------------------------------------------------------------------------------------------
# An in-memory runtime: enough to walk a journey over several ticks the way backend.runtime does.
# --------------------------------------------------------------------------------------------------


@dataclass
class Row:
    id: int
    contact_id: int
    node_id: str
    entered_at: datetime
    due_at: datetime | None
    status: str = "active"
    state: dict[str, Any] = field(default_factory=dict)
    wait_event: str | None = None
    wake: Event | None = None
    context: dict[str, Any] = field(default_factory=dict)
    exit_reason: str | None = None


class World:
    def __init__(self, graph: CompiledGraph, contacts: Sequence[Contact]) -> None:
        self.graph = graph
        self.contacts = {c.id: c for c in contacts}
        self.rows: dict[int, Row] = {}
        self.event_log: list[tuple[int, str, datetime]] = []
        self.steps: list[StepRecord] = []
        self.messages: list[QueuedMessage] = []
        self.loaded: list[Needs] = []

    def enroll(self, contact_id: int, now: datetime, trigger: str = "start", context: dict | None = None) -> None:
        self.rows[contact_id] = Row(contact_id, contact_id, trigger, now, due_at=now, context=context or {})

    def track(self, contact_id: int, name: str, now: datetime) -> None:
        self.event_log.append((contact_id, name, now))
        for row in self.rows.values():
            if row.contact_id == contact_id and row.status == "active" and row.wait_event == name:
                row.due_at, row.wake = now, Event(name=name, occurred_at=now)

    def tick(self, now: datetime) -> Result:
        due = [r for r in self.rows.values() if r.status == "active" and r.due_at is not None and r.due_at <= now]
        needs = needs_from(self.graph, {r.node_id for r in due})
        self.loaded.append(needs)
        snapshots = {}
        for row in due:
            stored = self.contacts[row.contact_id]
            snapshot = msgspec.structs.replace(stored, tags=set(stored.tags), attributes=dict(stored.attributes))
            snapshot.event_counts = {q: self._count(row.contact_id, q, now) for q in needs.events}
            snapshots[row.id] = snapshot
        cursors = [
            Cursor(
                enrollment_id=r.id,
                contact=snapshots[r.id],
                node_id=r.node_id,
                entered_at=r.entered_at,
                state=dict(r.state),
                event=r.wake,
                context=r.context,
            )
            for r in due
        ]
        result = advance(self.graph, cursors, now)
        for t in result.transitions:
            row = self.rows[t.enrollment_id]
            row.node_id, row.entered_at, row.due_at, row.status = t.node_id, t.entered_at, t.due_at, t.status
            row.wait_event, row.state, row.wake, row.exit_reason = t.wait_event, t.state or {}, None, t.exit_reason
        for contact in result.dirty_contacts.values():
            self.contacts[contact.id] = contact
        self.steps += result.steps
        self.messages += result.messages
        return result

    def _count(self, contact_id: int, query: EventQuery, now: datetime) -> int:
        return sum(
            1
            for cid, name, at in self.event_log
            if cid == contact_id and name == query.name and (query.within is None or at >= now - query.within)
        )


# --------------------------------------------------------------------------------------------------
# End to end: trigger → condition → tag → condition → wait → send
# --------------------------------------------------------------------------------------------------


def onboarding() -> CompiledGraph:
    return compile_(
        [
            node("start", "trigger.event", {"event": "signup"}),
            node("pro?", "condition", {"rule": {"kind": "attribute", "key": "plan", "op": "eq", "value": "pro"}}),
            node("tag_vip", "tag", {"add": ["vip"], "set": {"tier": "gold"}}),
            node("vip?", "condition", {"rule": {"kind": "tag", "tag": "vip"}}),
            node("wait", "wait.duration", {"duration": "PT1H"}),
            node("mail", "send", {"template": "vip_welcome"}),
            node("bye", "exit", {"reason": "free plan"}),
        ],
        [
            edge("start", "pro?"),
            edge("pro?", "tag_vip", "yes"),
            edge("pro?", "bye", "no"),
            edge("tag_vip", "vip?"),
            edge("vip?", "wait", "yes"),
            edge("wait", "mail"),
        ],
    )


def test_journey_end_to_end():
    pro = Contact(id=1, attributes={"plan": "pro"}, email="pro@example.com")
    free = Contact(id=2, attributes={"plan": "free"}, email="free@example.com")
    world = World(onboarding(), [pro, free])
    world.enroll(1, NOW, context={"event": {"name": "signup"}})
    world.enroll(2, NOW)

    first = world.tick(NOW)
    # The condition after the tag block saw the tag added in the same tick.
    assert steps_of(first, 1) == [
        ("start", "next"),
        ("pro?", "yes"),
        ("tag_vip", "next"),
        ("vip?", "yes"),
        ("wait", "wait"),
    ]
    assert transition_of(first, 1) == Transition(
        enrollment_id=1, node_id="wait", entered_at=NOW, status="active", due_at=NOW + timedelta(hours=1)
    )
    assert steps_of(first, 2) == [("start", "next"), ("pro?", "no"), ("bye", "exit")]
    assert transition_of(first, 2) == Transition(
        enrollment_id=2, node_id="bye", entered_at=NOW, status="exited", exit_reason="free plan"
    )
    assert first.messages == []
    assert set(first.dirty_contacts) == {1}
    assert world.contacts[1].tags == {"vip"}
    assert world.contacts[1].attributes == {"plan": "pro", "tier": "gold"}
    assert world.contacts[2].tags == set()

    # Half an hour later the wait is re-checked (nothing is due, but suppose a tick looks anyway).
    early = advance(world.graph, [cursor(world.contacts[1], "wait")], NOW + timedelta(minutes=30))
    assert early.steps == []
    assert transition_of(early, 1).due_at == NOW + timedelta(hours=1)

    assert world.tick(NOW + timedelta(minutes=59)).transitions == []

    done = world.tick(NOW + timedelta(hours=1))
    assert steps_of(done, 1) == [("wait", "next"), ("mail", "next")]
    assert done.messages == [
        QueuedMessage(
            enrollment_id=1,
            contact_id=1,
            node_id="mail",
            message=SendMessage(channel="email", template="vip_welcome"),
            context={"event": {"name": "signup"}},
        )
    ]
    assert transition_of(done, 1) == Transition(
        enrollment_id=1, node_id="mail", entered_at=NOW + timedelta(hours=1), status="completed"
    )
    assert done.dirty_contacts == {}

    # Every step of every contact is logged exactly once over the whole journey.
    assert sorted((s.enrollment_id, s.node_id) for s in world.steps) == sorted(
        [(1, n) for n in ("start", "pro?", "tag_vip", "vip?", "wait", "wait", "mail")]
        + [(2, n) for n in ("start", "pro?", "bye")]
    )
    assert [s.outcome for s in world.steps if s.enrollment_id == 1 and s.node_id == "wait"] == ["wait", "next"]
    assert world.tick(NOW + timedelta(days=1)).transitions == []


def test_a_re_checked_wait_is_not_logged_again():
    graph = onboarding()
    contact = Contact(id=1, attributes={"plan": "pro"})
    arrived = advance(graph, [cursor(contact)], NOW)
    assert steps_of(arrived, 1).count(("wait", "wait")) == 1
    for minutes in (10, 20, 30):
        recheck = advance(graph, [cursor(contact, "wait", fresh=False)], NOW + timedelta(minutes=minutes))
        assert recheck.steps == []
        assert transition_of(recheck, 1).status == "active"


def test_batch_of_many_contacts_each_on_its_own_path():
    graph = onboarding()
    contacts = [Contact(id=i, attributes={"plan": "pro" if i % 3 == 0 else "free"}) for i in range(1, 301)]
    result = advance(graph, [cursor(c) for c in contacts], NOW)
    by_status: dict[str, set[int]] = {}
    for t in result.transitions:
        by_status.setdefault(t.status, set()).add(t.enrollment_id)
    assert by_status == {
        "active": {i for i in range(1, 301) if i % 3 == 0},
        "exited": {i for i in range(1, 301) if i % 3},
    }
    assert len(result.transitions) == 300
    assert all(c.tags == ({"vip"} if c.id % 3 == 0 else set()) for c in contacts)


def test_path_that_ends_on_an_unconnected_port_completes_the_enrollment():
    graph = compile_(
        [node("start", "trigger.manual"), node("vip?", "condition", {"rule": {"kind": "tag", "tag": "vip"}})],
        [edge("start", "vip?")],
    )
    result = advance(graph, [cursor(Contact(id=1))], NOW)
    assert steps_of(result, 1) == [("start", "next"), ("vip?", "no")]
    assert transition_of(result, 1) == Transition(enrollment_id=1, node_id="vip?", entered_at=NOW, status="completed")


def test_wait_for_event_and_its_timeout():
    graph = compile_(
        [
            node("start", "trigger.manual"),
            node("wait", "wait.event", {"event": "purchase", "timeout": "P2D"}),
            node("thanks", "send", {"template": "thanks"}),
            node("nudge", "send", {"template": "nudge", "channel": "sms"}),
        ],
        [edge("start", "wait"), edge("wait", "thanks", "event"), edge("wait", "nudge", "timeout")],
    )
    world = World(graph, [Contact(id=1), Contact(id=2)])
    world.enroll(1, NOW)
    world.enroll(2, NOW)
    first = world.tick(NOW)
    assert transition_of(first, 1) == Transition(
        enrollment_id=1,
        node_id="wait",
        entered_at=NOW,
        status="active",
        due_at=NOW + timedelta(days=2),
        wait_event="purchase",
    )
    world.track(1, "purchase", NOW + timedelta(hours=5))
    woken = world.tick(NOW + timedelta(hours=5))
    assert steps_of(woken, 1) == [("wait", "event"), ("thanks", "next")]
    assert [m.message.template for m in woken.messages] == ["thanks"]
    timeout = world.tick(NOW + timedelta(days=2))
    assert steps_of(timeout, 2) == [("wait", "timeout"), ("nudge", "next")]
    assert [(m.contact_id, m.message.channel, m.message.template) for m in world.messages] == [
        (1, "email", "thanks"),
        (2, "sms", "nudge"),
    ]


# --------------------------------------------------------------------------------------------------
# Effects and outcomes
# --------------------------------------------------------------------------------------------------


def test_apply_effect_reports_whether_the_contact_changed():
    contact = Contact(id=1, tags={"a"}, attributes={"x": 1})
    assert apply_effect(contact, AddTags(["a"])) is False
    assert apply_effect(contact, AddTags(["b"])) is True
    assert apply_effect(contact, RemoveTags(["zzz"])) is False
    assert apply_effect(contact, RemoveTags(["a"])) is True
    assert apply_effect(contact, SetAttributes({"x": 1})) is False
    assert apply_effect(contact, SetAttributes({"x": 2, "y": None})) is True
    assert apply_effect(contact, SetAttributes({"y": None})) is False
    assert apply_effect(contact, SendMessage(channel="email", template="t")) is False
    assert contact.tags == {"b"}
    assert contact.attributes == {"x": 2, "y": None}


def test_tag_that_changes_nothing_does_not_dirty_the_contact():
    graph = compile_([node("start", "trigger.manual"), node("t", "tag", {"add": ["vip"]})], [edge("start", "t")])
    assert advance(graph, [cursor(Contact(id=1, tags={"vip"}))], NOW).dirty_contacts == {}
    assert set(advance(graph, [cursor(Contact(id=2))], NOW).dirty_contacts) == {2}


class Counter(BlockType):
    """Test block: waits with a growing counter in its state, releasing at 3."""

    type = "test.counter"
    label = "Counter"
    category = "flow"
    pauses = True
    Config = msgspec.defstruct("CounterConfig", [])

    def step(self, config, item: Item, ctx: StepContext):
        n = item.state.get("n", 0) + 1
        if n >= 3:
            return Go("next")
        return Wait(until=ctx.now + timedelta(minutes=1), state={"n": n})


class Hold(BlockType):
    """Test block: waits until woken, without touching its state."""

    type = "test.hold"
    label = "Hold"
    category = "flow"
    pauses = True
    Config = msgspec.defstruct("HoldConfig", [])

    def step(self, config, item: Item, ctx: StepContext):
        return Wait()


def custom_registry(*extra: BlockType) -> Registry:
    return Registry([*default_registry(), *extra])


def test_wait_keeps_block_state_between_ticks():
    graph = compile_(
        [node("start", "trigger.manual"), node("count", "test.counter"), node("mail", "send", {"template": "t"})],
        [edge("start", "count"), edge("count", "mail")],
        registry=custom_registry(Counter()),
    )
    world = World(graph, [Contact(id=1)])
    world.enroll(1, NOW)
    first = world.tick(NOW)
    assert transition_of(first, 1).state == {"n": 1}
    second = world.tick(NOW + timedelta(minutes=1))
    assert transition_of(second, 1).state == {"n": 2}
    third = world.tick(NOW + timedelta(minutes=2))
    assert steps_of(third, 1) == [("count", "next"), ("mail", "next")]
    assert transition_of(third, 1).state is None


def test_wait_without_new_state_keeps_the_old_one_and_has_no_due_time():
    graph = compile_(
        [node("start", "trigger.manual"), node("hold", "test.hold")],
        [edge("start", "hold")],
        registry=custom_registry(Hold()),
    )
    result = advance(graph, [cursor(Contact(id=1), "hold", state={"kept": True})], NOW)
    assert transition_of(result, 1) == Transition(
        enrollment_id=1, node_id="hold", entered_at=NOW, status="active", due_at=None, state={"kept": True}
    )


def test_moving_on_clears_state_and_the_waking_event():
    graph = onboarding()
    contact = Contact(id=1)
    moving = cursor(contact, "wait", state={"x": 1}, event=Event(name="whatever"))
    advance(graph, [moving], NOW + timedelta(hours=2))
    assert moving.node_id == "mail"
    assert moving.state == {}
    assert moving.event is None


class Broken(BlockType):
    type = "test.broken"
    label = "Broken"
    Config = msgspec.defstruct("BrokenConfig", [])

    def __init__(self, outcomes) -> None:
        self.outcomes = outcomes

    def step_batch(self, config, items, ctx):
        return self.outcomes(items)


@pytest.mark.parametrize(
    ("outcomes", "error"),
    [(lambda items: [], RuntimeError), (lambda items: ["next"] * len(items), TypeError)],
    ids=["too few outcomes", "not an outcome"],
)
def test_misbehaving_block_is_an_error_not_a_silent_skip(outcomes, error):
    graph = compile_(
        [node("start", "trigger.manual"), node("bad", "test.broken")],
        [edge("start", "bad")],
        registry=custom_registry(Broken(outcomes)),
    )
    result = advance(graph, [cursor(Contact(id=1))], NOW)
    (failure,) = result.failures
    assert (failure.node_id, failure.error_type) == ("bad", error.__name__)
    assert "test.broken" in failure.error_message
    assert result.transitions == []
    assert [(s.node_id, s.outcome) for s in result.steps] == [("start", "next"), ("bad", "error")]


class RaisesFor(BlockType):
    """Tags everyone, except that its batch step raises when contact 13 is in the batch."""

    type = "test.raises_for"
    label = "Raises for one"
    Config = msgspec.defstruct("RaisesForConfig", [])

    def __init__(self, needs_error: Exception | None = None) -> None:
        self.needs_error = needs_error
        self.batch_sizes: list[int] = []

    def needs(self, config):
        if self.needs_error is not None:
            raise self.needs_error
        return super().needs(config)

    def step_batch(self, config, items, ctx):
        self.batch_sizes.append(len(items))
        if any(item.contact.id == 13 for item in items):
            raise ZeroDivisionError("division by zero for contact 13")
        return [Go("next", effects=(AddTags(["done"]),)) for _ in items]


def _raising_graph(block: RaisesFor) -> CompiledGraph:
    return compile_(
        [node("start", "trigger.manual"), node("bad", "test.raises_for"), node("after", "tag", {"add": ["after"]})],
        [edge("start", "bad"), edge("bad", "after")],
        registry=custom_registry(block),
    )


def test_a_step_that_raises_for_one_contact_parks_that_contact_and_the_batch_moves_on():
    block = RaisesFor()
    graph = _raising_graph(block)
    contacts = [Contact(id=i) for i in (11, 12, 13, 14)]
    result = advance(graph, [cursor(c) for c in contacts], NOW)

    assert block.batch_sizes == [4, 1, 1, 1, 1]  # the batch, then one by one after it raised
    (failure,) = result.failures
    assert (failure.enrollment_id, failure.contact_id, failure.node_id) == (13, 13, "bad")
    assert (failure.error_type, failure.error_message) == ("ZeroDivisionError", "division by zero for contact 13")
    assert failure.arrived and failure.entered_at == NOW
    assert isinstance(failure.exception, ZeroDivisionError)
    assert steps_of(result, 13) == [("start", "next"), ("bad", "error")]
    assert all(transition_of(result, i).status == "completed" for i in (11, 12, 14))
    assert 13 not in {t.enrollment_id for t in result.transitions}
    assert contacts[0].tags == {"done", "after"} and contacts[2].tags == set()


def test_nothing_fails_nothing_is_stepped_twice():
    block = RaisesFor()
    result = advance(_raising_graph(block), [cursor(Contact(id=i)) for i in (1, 2, 3)], NOW)
    assert block.batch_sizes == [3] and result.failures == []


def test_a_needs_that_raises_parks_the_contacts_reaching_that_block():
    block = RaisesFor(needs_error=KeyError("plan"))
    graph = _raising_graph(block)
    needs = needs_from(graph, {"start"})
    assert needs == Needs()
    assert "needs() raised KeyError" in str(graph.nodes["bad"].needs_error)

    result = advance(graph, [cursor(Contact(id=1)), cursor(Contact(id=2))], NOW)
    assert block.batch_sizes == []  # never stepped on data that was not loaded
    assert [(f.node_id, f.error_type) for f in result.failures] == [
        ("bad", "backend.engine.interpreter.NeedsFailed")
    ] * 2

    block.needs_error = None  # fixed (e.g. the plug-in was upgraded): the next tick clears the mark
    needs_from(graph, {"start"})
    assert graph.nodes["bad"].needs_error is None
    assert advance(graph, [cursor(Contact(id=1))], NOW).failures == []


def test_long_error_messages_are_cut():
    from backend.engine.interpreter import MAX_ERROR_MESSAGE, describe_error

    name, message = describe_error(ValueError("x" * 5000))
    assert name == "ValueError" and len(message) == MAX_ERROR_MESSAGE and message.endswith("…")


def test_timer_reports_seconds_per_block_type():
    result = advance(onboarding(), [cursor(Contact(id=1, attributes={"plan": "pro"}))], NOW, timer=time.perf_counter)
    assert set(result.seconds_per_node) == {"trigger.event", "condition", "tag", "wait.duration"}
    assert all(seconds >= 0 for seconds in result.seconds_per_node.values())
    assert advance(onboarding(), [cursor(Contact(id=2))], NOW).seconds_per_node == {}


def test_journey_timezone_reaches_the_blocks():
    graph = compile_(
        [node("start", "trigger.manual"), node("wait", "wait.until", {"time": "10:00"})],
        [edge("start", "wait")],
        timezone="Asia/Shanghai",
    )
    result = advance(graph, [cursor(Contact(id=1, timezone="Europe/Warsaw"))], NOW)
    assert transition_of(result, 1).due_at == datetime(2024, 5, 7, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


# --------------------------------------------------------------------------------------------------
# Runaway loops
# --------------------------------------------------------------------------------------------------


def zero_wait_loop() -> CompiledGraph:
    return compile_(
        [
            node("start", "trigger.manual"),
            node("tag", "tag", {"add": ["x"]}),
            node("wait", "wait.duration", {"duration": "PT0S"}),
        ],
        [edge("start", "tag"), edge("tag", "wait"), edge("wait", "tag")],
    )


def test_zero_wait_loop_is_parked_after_max_steps():
    result = advance(zero_wait_loop(), [cursor(Contact(id=1))], NOW)
    assert len(result.steps) == MAX_STEPS_PER_TICK
    (parked,) = result.transitions
    assert parked.status == "active"
    assert parked.due_at == NOW
    assert parked.node_id == "wait"  # the 64th hop, tag → wait, is not taken in this tick
    assert parked.entered_at == NOW


def test_parked_enrollment_carries_on_next_tick_and_others_are_not_held_up():
    graph = compile_(
        [
            node("start", "trigger.manual"),
            node("vip?", "condition", {"rule": {"kind": "tag", "tag": "vip"}}),
            node("tag", "tag", {"add": ["looped"]}),
            node("wait", "wait.duration", {"duration": "PT0S"}),
            node("mail", "send", {"template": "t"}),
        ],
        [
            edge("start", "vip?"),
            edge("vip?", "tag", "yes"),
            edge("vip?", "mail", "no"),
            edge("tag", "wait"),
            edge("wait", "tag"),
        ],
    )
    world = World(graph, [Contact(id=1, tags={"vip"}), Contact(id=2)])
    world.enroll(1, NOW)
    world.enroll(2, NOW)
    first = world.tick(NOW)
    assert transition_of(first, 2).status == "completed"
    assert [m.contact_id for m in first.messages] == [2]
    assert transition_of(first, 1).due_at == NOW
    for second in range(1, 4):
        result = world.tick(NOW + timedelta(seconds=second))
        assert len(steps_of(result, 1)) == MAX_STEPS_PER_TICK
        assert steps_of(result, 2) == []
    assert world.rows[1].status == "active"


# --------------------------------------------------------------------------------------------------
# needs_from and what a tick loads
# --------------------------------------------------------------------------------------------------


def purchases(within: str = "P30D") -> dict[str, Any]:
    return {"kind": "event", "event": "purchase", "within": within}


def query(rule: dict[str, Any]) -> EventQuery:
    return msgspec.convert(rule, EventRule).query()


def staged() -> CompiledGraph:
    """trigger → condition(purchases 30 d) → wait 1 d → condition(opens 7 d, VIP subscription) → send"""
    opened = {"kind": "event", "event": "email_opened", "within": "P7D"}
    return compile_(
        [
            node("start", "trigger.manual"),
            node("buyer?", "condition", {"rule": purchases()}),
            node("wait", "wait.duration", {"duration": "P1D"}),
            node(
                "engaged?",
                "condition",
                {"rule": {"kind": "all", "rules": [opened, {"kind": "subscription", "name": "VIP"}]}},
            ),
            node("mail", "send", {"template": "t"}),
        ],
        [
            edge("start", "buyer?"),
            edge("buyer?", "wait", "yes"),
            edge("buyer?", "mail", "no"),
            edge("wait", "engaged?"),
            edge("engaged?", "mail", "yes"),
        ],
    )


def test_needs_from_stops_at_the_first_wait():
    graph = staged()
    assert needs_from(graph, ["start"]) == Needs(subscriptions=False, events=(query(purchases()),))


def test_needs_from_a_wait_includes_what_lies_beyond_it():
    graph = staged()
    opened = {"kind": "event", "event": "email_opened", "within": "P7D"}
    assert needs_from(graph, ["wait"]) == Needs(subscriptions=True, events=(query(opened),))
    both = needs_from(graph, ["start", "wait"])
    assert both.subscriptions is True
    assert set(both.events) == {query(purchases()), query(opened)}
    assert needs_from(graph, ["mail"]) == Needs()


def test_needs_from_handles_loops():
    graph = compile_(
        [
            node("start", "trigger.manual"),
            node("c", "condition", {"rule": purchases()}),
            node("w", "wait.duration", {"duration": "P1D"}),
        ],
        [edge("start", "c"), edge("c", "w", "no"), edge("w", "c")],
    )
    assert needs_from(graph, ["start"]).events == (query(purchases()),)
    assert needs_from(graph, ["w"]).events == (query(purchases()),)


def test_condition_after_a_wait_that_is_already_over_sees_its_event_counts():
    """A wait.until whose date is past releases at once. The tick loaded the needs of blocks up to that wait
    only, so the condition behind it must not be evaluated with counts that were never loaded (it would
    take every buyer for a non-buyer)."""
    graph = compile_(
        [
            node("start", "trigger.manual"),
            node("launch", "wait.until", {"mode": "datetime", "datetime": "2024-01-01T00:00:00Z"}),
            node("buyer?", "condition", {"rule": purchases()}),
            node("thanks", "tag", {"add": ["buyer"]}),
            node("pitch", "tag", {"add": ["prospect"]}),
        ],
        [
            edge("start", "launch"),
            edge("launch", "buyer?"),
            edge("buyer?", "thanks", "yes"),
            edge("buyer?", "pitch", "no"),
        ],
    )
    world = World(graph, [Contact(id=1), Contact(id=2)])
    world.track(1, "purchase", NOW - timedelta(days=3))
    world.enroll(1, NOW)
    world.enroll(2, NOW)
    for second in range(3):
        world.tick(NOW + timedelta(seconds=second))
    assert world.contacts[1].tags == {"buyer"}
    assert world.contacts[2].tags == {"prospect"}
    assert {r.status for r in world.rows.values()} == {"completed"}
    # Each step still logged once: the deferral does not log the wait twice.
    assert [(s.node_id, s.outcome) for s in world.steps if s.enrollment_id == 1] == [
        ("start", "next"),
        ("launch", "next"),
        ("buyer?", "yes"),
        ("thanks", "next"),
    ]


def test_wait_that_is_over_does_not_cost_a_tick_when_nothing_behind_it_needs_loading():
    graph = compile_(
        [
            node("start", "trigger.manual"),
            node("launch", "wait.until", {"mode": "datetime", "datetime": "2024-01-01T00:00:00Z"}),
            node("mail", "send", {"template": "launch"}),
        ],
        [edge("start", "launch"), edge("launch", "mail")],
    )
    result = advance(graph, [cursor(Contact(id=1))], NOW)
    assert steps_of(result, 1) == [("start", "next"), ("launch", "next"), ("mail", "next")]
    assert len(result.messages) == 1
