"""Switching the editor to another language leaves no English in the built-in blocks' palette entries
and forms: every label, description, field title and help text has a translation."""

from __future__ import annotations

import pytest

from backend.engine.registry import default_registry
from blocks.translations import BLOCKS, LOCALES, PROBLEMS, TEXTS


def _texts(schema, defs_names=frozenset()):
    """User-visible titles and descriptions; a ``$defs`` entry's own title is its class name, not shown."""
    if isinstance(schema, list):
        for item in schema:
            yield from _texts(item, defs_names)
        return
    if not isinstance(schema, dict):
        return
    for key in ("title", "description"):
        value = schema.get(key)
        if isinstance(value, str) and not (key == "title" and value in defs_names):
            yield value
    for value in schema.values():
        yield from _texts(value, defs_names)


@pytest.mark.parametrize("locale", LOCALES)
def test_every_built_in_text_is_translated(locale):
    english = {b["type"]: b for b in default_registry().describe("en")}
    translated = {b["type"]: b for b in default_registry().describe(locale)}
    untranslated = []
    for block_type, source in english.items():
        target = translated[block_type]
        for key in ("label", "description"):
            intended = BLOCKS[block_type][locale][0 if key == "label" else 1]
            if target[key] == source[key] != intended:
                untranslated.append(f"{block_type}: {key} {source[key]!r}")
        schema = source["config_schema"]
        class_names = set(schema.get("$defs", {})) | {schema.get("title")}
        before = list(_texts(schema, class_names))
        after = list(_texts(target["config_schema"], class_names))
        untranslated += [
            f"{block_type}: {a!r}" for a, b in zip(before, after, strict=True) if a == b != TEXTS[locale].get(a)
        ]
    assert untranslated == []


def test_nested_rule_fields_are_translated():
    condition = next(b for b in default_registry().describe("pl") if b["type"] == "condition")
    event_rule = condition["config_schema"]["$defs"]["EventRule"]
    assert event_rule["properties"]["event"]["title"] == "Zdarzenie"
    assert event_rule["description"].startswith("Kontakt wykonał zdarzenie")


def _check_messages(block_type: str, config: dict) -> list[str]:
    from backend.engine.validation import validate

    block = {"id": "b", "type": block_type, "version": 1, "config": config}
    if block_type.startswith("trigger."):
        graph = {"schema_version": 1, "nodes": [block], "edges": []}
    else:
        trigger = {"id": "t", "type": "trigger.manual", "version": 1, "config": {}}
        edge = {"id": "e", "source": "t", "port": "next", "target": "b"}
        graph = {"schema_version": 1, "nodes": [trigger, block], "edges": [edge]}
    _, problems = validate(graph, default_registry())
    return [p.message for p in problems if p.node_id == "b"]


@pytest.mark.parametrize("locale", LOCALES)
def test_block_validation_messages_are_translated(locale):
    """The editor shows a block's own problems in the user's language from `problems` in the block type."""
    described = {b["type"]: b for b in default_registry().describe(locale)}
    cases = [
        ("wait.event", {"event": "x", "timeout": "PT0S"}),
        ("wait.duration", {"duration": "-PT1M"}),
        ("tag", {}),
        ("send", {"template": "t", "channel": "best", "fallback": []}),
        ("condition", {"rule": {"kind": "event", "event": "x", "within": "PT0S"}}),
        ("trigger.date", {"source": "attribute"}),
    ]
    for block_type, config in cases:
        messages = _check_messages(block_type, config)
        assert messages, (block_type, config)
        for message in messages:
            assert described[block_type]["problems"].get(message), (block_type, message)
    assert {frozenset(PROBLEMS[locale]) for locale in LOCALES} == {frozenset(PROBLEMS["es"])}
    assert described["tag"]["problems"] == PROBLEMS[locale]
    assert all(b["problems"] == {} for b in default_registry().describe("en"))
