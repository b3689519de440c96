"""tag: add and remove tags and set attributes."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest

from backend.engine.interpreter import apply_effect
from backend.engine.sdk import NO_NEEDS, AddTags, Contact, Go, Item, RemoveTags, SetAttributes, StepContext
from blocks.tag import Tag

BLOCK = Tag()
NOW = datetime(2024, 5, 6, tzinfo=UTC)
CTX = StepContext(now=NOW, node_id="tag")


def run(raw: dict, contact: Contact) -> Contact:
    """Step the block and apply its effects, as the interpreter does."""
    outcome = BLOCK.step(BLOCK.parse_config(raw), Item(enrollment_id=1, contact=contact, entered_at=NOW), CTX)
    assert isinstance(outcome, Go) and outcome.port == "next"
    for effect in outcome.effects:
        apply_effect(contact, effect)
    return contact


def test_add_tags():
    contact = run({"add": ["vip", "newsletter"]}, Contact(id=1, tags={"newsletter"}))
    assert contact.tags == {"vip", "newsletter"}


def test_remove_tags_including_ones_the_contact_does_not_have():
    contact = run({"remove": ["trial", "never_had"]}, Contact(id=1, tags={"trial", "vip"}))
    assert contact.tags == {"vip"}


def test_set_attributes_keeps_the_others():
    contact = run({"set": {"plan": "pro", "score": 10}}, Contact(id=1, attributes={"plan": "free", "city": "Łódź"}))
    assert contact.attributes == {"plan": "pro", "score": 10, "city": "Łódź"}


def test_add_remove_and_set_together():
    contact = run(
        {"add": ["customer"], "remove": ["lead"], "set": {"stage": "won"}},
        Contact(id=1, tags={"lead"}, attributes={}),
    )
    assert contact.tags == {"customer"}
    assert contact.attributes == {"stage": "won"}


def test_effects_are_plain_data():
    config = BLOCK.parse_config({"add": ["a"], "remove": ["b"], "set": {"x": [1, 2]}})
    outcome = BLOCK.step(config, Item(enrollment_id=1, contact=Contact(id=1), entered_at=NOW), CTX)
    assert outcome == Go("next", effects=(AddTags(["a"]), RemoveTags(["b"]), SetAttributes({"x": [1, 2]})))
    only_add = BLOCK.step(
        BLOCK.parse_config({"add": ["a"]}), Item(enrollment_id=1, contact=Contact(id=1), entered_at=NOW), CTX
    )
    assert only_add == Go("next", effects=(AddTags(["a"]),))


def test_step_batch_agrees_with_step_and_does_not_leak_between_contacts():
    config = BLOCK.parse_config({"add": ["vip"], "set": {"tier": "gold"}})
    contacts = [Contact(id=i, attributes={"n": i}) for i in range(1, 4)]
    items = [Item(enrollment_id=c.id, contact=c, entered_at=NOW) for c in contacts]
    outcomes = BLOCK.step_batch(config, items, CTX)
    assert outcomes == [BLOCK.step(config, i, CTX) for i in items]
    for contact, outcome in zip(contacts, outcomes, strict=True):
        for effect in outcome.effects:
            apply_effect(contact, effect)
    contacts[0].attributes["tier"] = "changed"
    contacts[0].tags.add("only_me")
    assert [c.attributes for c in contacts] == [
        {"n": 1, "tier": "changed"},
        {"n": 2, "tier": "gold"},
        {"n": 3, "tier": "gold"},
    ]
    assert [c.tags for c in contacts] == [{"vip", "only_me"}, {"vip"}, {"vip"}]
    assert config.set == {"tier": "gold"}


def test_check_empty_config_and_contradictions():
    assert [(p.path, p.message) for p in BLOCK.check(BLOCK.parse_config({}))] == [
        ("", "add a tag, remove a tag or set an attribute")
    ]
    both = BLOCK.check(BLOCK.parse_config({"add": ["vip", "a"], "remove": ["vip", "b", "a"]}))
    assert [(p.path, p.message) for p in both] == [("/remove", "tags both added and removed: a, vip")]
    assert BLOCK.check(BLOCK.parse_config({"set": {"x": 1}})) == []


def test_declaration():
    config = BLOCK.parse_config({"add": ["x"]})
    assert BLOCK.output_ports(config) == ("next",)
    assert BLOCK.needs(config) == NO_NEEDS
    assert BLOCK.pauses is False


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ({"add": "vip"}, "`$.add`"),
        ({"add": ["vip", ""]}, "`$.add[1]`"),
        ({"remove": [1]}, "`$.remove[0]`"),
        ({"set": ["plan", "pro"]}, "`$.set`"),
        ({"tags": ["vip"]}, "unknown field `tags`"),
    ],
)
def test_bad_config_names_the_field(raw, fragment):
    with pytest.raises(msgspec.ValidationError) as exc:
        BLOCK.parse_config(raw)
    assert fragment in str(exc.value)
