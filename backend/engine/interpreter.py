"""The batch interpreter: walks many enrollments through one journey version, grouped by node.

Pure: it takes snapshots and returns what should change. The runtime loads the snapshots, persists the
result in one transaction, and never calls a block itself.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import msgspec

from backend.engine.sdk import (
    NO_NEEDS,
    AddTags,
    Contact,
    Effect,
    Event,
    EventQuery,
    Exit,
    Go,
    Item,
    Needs,
    RemoveTags,
    SendMessage,
    SetAttributes,
    StepContext,
    Wait,
)
from backend.engine.validation import CompiledGraph, CompiledNode

MAX_STEPS_PER_TICK = 64
"""A loop through a zero-length wait could spin forever inside one tick; past this the enrollment is
parked until the next tick."""


Cursor = Item
"""The interpreter moves an :class:`Item` from node to node, updating it in place."""


class Transition(msgspec.Struct, kw_only=True, gc=False):
    """Where an enrollment ends up after this tick."""

    enrollment_id: int
    node_id: str
    entered_at: datetime
    status: str  # active | completed | exited
    due_at: datetime | None = None
    wait_event: str | None = None
    state: dict[str, Any] | None = None
    exit_reason: str | None = None


class StepRecord(msgspec.Struct, array_like=True, gc=False):
    enrollment_id: int
    contact_id: int
    node_id: str
    outcome: str
    """The port taken, or ``wait`` / ``exit``."""


class StepFailure(msgspec.Struct, kw_only=True):
    """An enrollment whose step raised: the runtime parks it on ``node_id`` (status ``failed``) with the
    error, and the rest of the batch moves on."""

    enrollment_id: int
    contact_id: int
    node_id: str
    entered_at: datetime
    arrived: bool
    """True when it reached the node in this tick (the wait it left is no longer its own)."""
    state: dict[str, Any] | None
    event: Event | None = None
    """The event that woke it, kept so that a retry runs the same step again."""
    pending: list[Event] = []
    """Later events of the same request not applied yet (see ``Item.pending``), kept for the retry."""
    error_type: str
    error_message: str
    exception: BaseException | None = None
    """The exception itself, with its traceback, for the log; never persisted."""


class QueuedMessage(msgspec.Struct, kw_only=True):
    enrollment_id: int
    contact_id: int
    node_id: str
    message: SendMessage
    context: dict[str, Any] = {}


class Result(msgspec.Struct, kw_only=True):
    transitions: list[Transition] = []
    conversions: list[int] = []
    """Enrollments that reached the journey's goal through a pending event (see ``Item.pending``)."""
    steps: list[StepRecord] = []
    messages: list[QueuedMessage] = []
    dirty_contacts: dict[int, Contact] = {}
    seconds_per_node: dict[str, float] = {}
    failures: list[StepFailure] = []


def apply_effect(contact: Contact, effect: Effect) -> bool:
    """Apply an effect to the in-memory snapshot; True when the contact row changed."""
    if type(effect) is AddTags:
        before = len(contact.tags)
        contact.tags.update(effect.tags)
        return len(contact.tags) != before
    if type(effect) is RemoveTags:
        before = len(contact.tags)
        contact.tags.difference_update(effect.tags)
        return len(contact.tags) != before
    if type(effect) is SetAttributes:
        changed = any(contact.attributes.get(k, _MISSING) != v for k, v in effect.values.items())
        if changed:
            contact.attributes = {**contact.attributes, **effect.values}
        return changed
    return False


_MISSING = object()


def advance(
    graph: CompiledGraph,
    cursors: Iterable[Cursor],
    now: datetime,
    *,
    journey_id: int = 0,
    version_id: int = 0,
    timer: Any = None,
) -> Result:
    """Run every cursor forward until it waits, exits or reaches the end of a path.

    ``timer`` (e.g. ``time.perf_counter``) turns on per-node timing for the benchmark.
    """
    result = Result()
    transitions = result.transitions
    steps = result.steps
    messages = result.messages
    dirty = result.dirty_contacts
    seconds = result.seconds_per_node

    pending: dict[str, list[Cursor]] = defaultdict(list)
    hops: dict[int, int] = {}
    for cursor in cursors:
        pending[cursor.node_id].append(cursor)
    passable = _Passable(graph, set(pending))

    while pending:
        node_id, batch = pending.popitem()
        compiled = graph.nodes[node_id]
        ctx = StepContext(
            now=now,
            node_id=node_id,
            journey_id=journey_id,
            version_id=version_id,
            journey_timezone=graph.graph.settings.timezone,
        )
        started = timer() if timer else 0.0
        if compiled.needs_error is None:
            try:
                outcomes = compiled.block.step_batch(compiled.config, batch, ctx)
                if len(outcomes) != len(batch):
                    raise RuntimeError(f"{len(outcomes)} outcomes for {len(batch)} items")
            except Exception:
                # One bad contact must not hold back the others: find the items that fail, one at a time.
                outcomes = _step_one_by_one(compiled, batch, ctx)
        else:
            outcomes = [_Failed(compiled.needs_error)] * len(batch)

        next_node = graph.next_node
        # Contacts that reached a wait in this tick and are released at once (a date already past, a zero
        # wait) may only go on if what the blocks behind it need was loaded; otherwise they stay put and
        # go on in the next tick, which loads it (see needs_from).
        check_pass = compiled.block.pauses and node_id not in passable.starts
        for cursor, outcome in zip(batch, outcomes, strict=True):
            contact = cursor.contact
            kind = type(outcome)
            if kind is not Go and kind is not Wait and kind is not Exit:
                error = (
                    outcome.error
                    if kind is _Failed
                    else TypeError(f"block {compiled.block.type} returned {outcome!r}, not Go/Wait/Exit")
                )
                _fail(result, cursor, node_id, error)
                continue
            if check_pass and kind is Go and (node_id, outcome.port) in next_node and not passable(node_id):
                transitions.append(
                    Transition(
                        enrollment_id=cursor.enrollment_id,
                        node_id=node_id,
                        entered_at=cursor.entered_at,
                        status="active",
                        due_at=now,
                        state=cursor.state or None,
                    )
                )
                continue
            for effect in outcome.effects:
                if type(effect) is SendMessage:
                    messages.append(
                        QueuedMessage(
                            enrollment_id=cursor.enrollment_id,
                            contact_id=contact.id,
                            node_id=node_id,
                            message=effect,
                            context=cursor.context,
                        )
                    )
                elif apply_effect(contact, effect):
                    dirty[contact.id] = contact

            if kind is Go:
                steps.append(StepRecord(cursor.enrollment_id, contact.id, node_id, outcome.port))
                target = next_node.get((node_id, outcome.port))
                if target is None:
                    transitions.append(
                        Transition(
                            enrollment_id=cursor.enrollment_id,
                            node_id=node_id,
                            entered_at=cursor.entered_at,
                            status="completed",
                        )
                    )
                    continue
                count = hops.get(cursor.enrollment_id, 0) + 1
                hops[cursor.enrollment_id] = count
                if count >= MAX_STEPS_PER_TICK:
                    transitions.append(
                        Transition(
                            enrollment_id=cursor.enrollment_id,
                            node_id=target,
                            entered_at=now,
                            status="active",
                            due_at=now,
                        )
                    )
                    continue
                cursor.node_id = target
                cursor.entered_at = now
                cursor.state = {}
                cursor.event = None
                cursor.fresh = True
                pending[target].append(cursor)
            elif kind is Wait:
                if cursor.fresh:
                    # Count the arrival once, not every re-check of the wait.
                    steps.append(StepRecord(cursor.enrollment_id, contact.id, node_id, "wait"))
                if cursor.pending:
                    settled = _apply_pending(graph, cursor, outcome.event, result)
                    if settled == "woken":
                        cursor.fresh = False
                        pending[node_id].append(cursor)
                        continue
                    if settled is not None:
                        steps.append(StepRecord(cursor.enrollment_id, contact.id, node_id, "exit"))
                        transitions.append(
                            Transition(
                                enrollment_id=cursor.enrollment_id,
                                node_id=node_id,
                                entered_at=cursor.entered_at,
                                status="exited",
                                exit_reason=settled,
                            )
                        )
                        continue
                transitions.append(
                    Transition(
                        enrollment_id=cursor.enrollment_id,
                        node_id=node_id,
                        entered_at=cursor.entered_at,
                        status="active",
                        due_at=outcome.until,
                        wait_event=outcome.event,
                        state=outcome.state if outcome.state is not None else (cursor.state or None),
                    )
                )
            elif kind is Exit:
                steps.append(StepRecord(cursor.enrollment_id, contact.id, node_id, "exit"))
                transitions.append(
                    Transition(
                        enrollment_id=cursor.enrollment_id,
                        node_id=node_id,
                        entered_at=cursor.entered_at,
                        status="exited",
                        exit_reason=outcome.reason,
                    )
                )
        if timer:
            seconds[compiled.block.type] = seconds.get(compiled.block.type, 0.0) + timer() - started
    return result


def _apply_pending(graph: CompiledGraph, cursor: Cursor, waiting_for: str | None, result: Result) -> str | None:
    """Apply the request's later events, oldest first, to an enrollment that has just stopped: the
    goal (a conversion, and an exit when the goal ends the journey), the exit rules, or the event the
    wait is waiting for. Returns ``"woken"`` (step the wait again with that event), an exit reason, or
    None (nothing applied; the rest are spent, as they were in the past by the time it waits)."""
    settings = graph.graph.settings
    goal = settings.goal
    events, cursor.pending = cursor.pending, []
    for index, event in enumerate(events):
        if goal is not None and event.name == goal.event and cursor.enrollment_id not in result.conversions:
            result.conversions.append(cursor.enrollment_id)
            if goal.exit:
                return "goal reached"
        if event.name in settings.exit_when:
            return f"exit event: {event.name}"
        if waiting_for is not None and event.name == waiting_for:
            cursor.event = event
            cursor.pending = events[index + 1 :]
            return "woken"
    return None


class _Failed:
    """In place of an outcome: the step raised ``error`` for this item."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


class NeedsFailed(Exception):
    """A block's ``needs()`` raised, so what its step would read cannot be loaded."""


def _step_one_by_one(compiled: CompiledNode, batch: list[Cursor], ctx: StepContext) -> list[Any]:
    """Step each item on its own (n8n's per-item failure isolation): the outcome, or :class:`_Failed`
    for each item whose step raises. Only taken after the batch step raised, so the hot path never pays
    for it."""
    step_batch = compiled.block.step_batch
    config = compiled.config
    outcomes: list[Any] = []
    for item in batch:
        try:
            outcomes_of_one = step_batch(config, [item], ctx)
            if len(outcomes_of_one) != 1:
                raise RuntimeError(f"{compiled.block.type} returned {len(outcomes_of_one)} outcomes for 1 item")
            outcome = outcomes_of_one[0]
        except Exception as exc:
            outcome = _Failed(exc)
        outcomes.append(outcome)
    return outcomes


MAX_ERROR_MESSAGE = 1000


def describe_error(error: BaseException) -> tuple[str, str]:
    """(type, message) as recorded on a parked enrollment: built-in exceptions by their bare name,
    others with their module (``acme_blocks.flaky.FlakyError``)."""
    cls = type(error)
    name = cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    message = str(error)
    if len(message) > MAX_ERROR_MESSAGE:
        message = message[: MAX_ERROR_MESSAGE - 1] + "…"
    return name, message


def _fail(result: Result, cursor: Cursor, node_id: str, error: BaseException) -> None:
    error_type, message = describe_error(error)
    result.steps.append(StepRecord(cursor.enrollment_id, cursor.contact.id, node_id, "error"))
    result.failures.append(
        StepFailure(
            enrollment_id=cursor.enrollment_id,
            contact_id=cursor.contact.id,
            node_id=node_id,
            entered_at=cursor.entered_at,
            arrived=cursor.fresh,
            state=cursor.state or None,
            event=cursor.event,
            pending=cursor.pending,
            error_type=error_type,
            error_message=message,
            exception=error,
        )
    )


class _Passable:
    """May a contact released by a wait it reached in this tick go on? Only if the blocks behind that wait
    need nothing beyond what the runtime loaded for this batch, ``needs_from(graph, starts)``."""

    def __init__(self, graph: CompiledGraph, starts: set[str]) -> None:
        self.graph = graph
        self.starts = starts
        self._loaded: Needs | None = None
        self._answers: dict[str, bool] = {}

    def __call__(self, node_id: str) -> bool:
        answer = self._answers.get(node_id)
        if answer is None:
            if self._loaded is None:
                self._loaded = needs_from(self.graph, self.starts)
            behind = needs_from(self.graph, [node_id])
            loaded = self._loaded
            answer = (
                (loaded.subscriptions or not behind.subscriptions)
                and (loaded.segments or not behind.segments)
                and set(behind.events) <= set(loaded.events)
            )
            self._answers[node_id] = answer
        return answer


def needs_from(graph: CompiledGraph, start_nodes: Iterable[str]) -> Needs:
    """What the blocks a batch can reach in this tick need loaded (a path stops at the first block that
    makes contacts wait), so a condition far down the journey costs nothing until contacts get there."""
    subscriptions = segments = False
    events: set[EventQuery] = set()
    successors: dict[str, list[str]] = defaultdict(list)
    for (source, _port), target in graph.next_node.items():
        successors[source].append(target)
    starts = set(start_nodes)
    seen = set(starts)
    stack = list(seen)
    while stack:
        node_id = stack.pop()
        compiled = graph.nodes[node_id]
        needs = _needs_of(compiled)
        subscriptions = subscriptions or needs.subscriptions
        segments = segments or needs.segments
        events.update(needs.events)
        if compiled.block.pauses and node_id not in starts:
            continue
        for nxt in successors[node_id]:
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return Needs(subscriptions=subscriptions, events=tuple(sorted(events, key=repr)), segments=segments)


def _needs_of(compiled: CompiledNode) -> Needs:
    """The block's ``needs()``; when it raises (a plug-in's bug), nothing is loaded for it and the node
    remembers the error, so contacts that reach it are parked with it instead of stepping on data that
    was never loaded."""
    try:
        needs = compiled.block.needs(compiled.config)
        if type(needs) is not Needs:
            raise TypeError(f"needs() returned {needs!r}, not Needs")
    except Exception as exc:
        error = NeedsFailed(f"needs() raised {describe_error(exc)[0]}: {exc}")
        error.__cause__ = exc
        compiled.needs_error = error
        return NO_NEEDS
    if compiled.needs_error is not None:
        compiled.needs_error = None
    return needs
