"""The block registry: entry points in, JSON Schemas with editor hints and translations out."""

from __future__ import annotations

import logging
from typing import Annotated, Any

import msgspec
import pytest

from backend.engine import registry as registry_module
from backend.engine.registry import ENTRY_POINT_GROUP, Registry, default_registry, load_entry_points
from backend.engine.sdk import BlockType, Go

BUILT_INS = {
    "trigger.event",
    "trigger.date",
    "trigger.manual",
    "trigger.segment",
    "trigger.score",
    "wait.duration",
    "wait.until",
    "wait.event",
    "wait.segment",
    "condition",
    "split.random",
    "split.rules",
    "tag",
    "send",
    "webhook",
    "exit",
}


def describe_by_type(locale: str | None = None, registry: Registry | None = None) -> dict[str, dict[str, Any]]:
    return {d["type"]: d for d in (registry or load_entry_points()).describe(locale)}


def sources(schema: Any) -> set[str]:
    """Every ``x-source`` hint anywhere in a schema."""
    found: set[str] = set()
    if isinstance(schema, dict):
        if "x-source" in schema:
            found.add(schema["x-source"])
        for value in schema.values():
            found |= sources(value)
    elif isinstance(schema, list):
        for value in schema:
            found |= sources(value)
    return found


# -- loading ---------------------------------------------------------------------------------------


def test_entry_points_yield_every_built_in():
    registry = load_entry_points()
    built_in = [b for b in registry if type(b).__module__.startswith("blocks.")]
    assert sorted(b.type for b in built_in) == sorted(BUILT_INS)
    for block_type in BUILT_INS:
        assert block_type in registry
        assert registry.versions(block_type) == [1]
        assert registry.get(block_type).type == block_type


def test_default_registry_is_loaded_once():
    assert default_registry() is default_registry()
    assert {b.type for b in default_registry()} >= BUILT_INS


class FakeEntryPoint:
    def __init__(self, name: str, loader) -> None:
        self.name, self.value, self._loader = name, f"fake:{name}", loader

    def load(self):
        return self._loader()


class Slack(BlockType):
    type = "acme.slack"
    label = "Post to Slack"
    description = "Post a message to a channel."
    icon = "message-square"
    category = "action"
    Config = msgspec.defstruct("SlackConfig", [("channel", str)])
    translations = {
        "pl": {"label": "Wyślij na Slacka", "field.channel": "Kanał", "field.channel.description": "np. #sprzedaż"},
        "zh-CN": {"label": "发送到 Slack", "description": "向频道发送消息", "field.channel": "频道"},
        "zh": {"label": "Slack (zh)"},
    }

    def step(self, config, item, ctx):
        return Go("next")


class SlackV2(Slack):
    version = 2


def fake_entry_points(monkeypatch, *entries: FakeEntryPoint) -> None:
    def entry_points(group: str):
        assert group == ENTRY_POINT_GROUP
        return list(entries)

    monkeypatch.setattr(registry_module, "entry_points", entry_points)


def test_third_party_entry_points_load_like_built_ins(monkeypatch):
    fake_entry_points(monkeypatch, FakeEntryPoint("acme.slack", lambda: Slack), FakeEntryPoint("v2", lambda: SlackV2()))
    registry = load_entry_points()
    assert registry.versions("acme.slack") == [1, 2]
    assert registry.get("acme.slack").version == 2
    assert registry.get("acme.slack", 1).version == 1
    assert registry.get("acme.slack", 3) is None
    assert registry.get("acme.nothing") is None


def test_broken_package_is_logged_and_skipped(monkeypatch, caplog):
    def explode():
        raise ImportError("No module named 'acme_sdk'")

    fake_entry_points(
        monkeypatch,
        FakeEntryPoint("broken", explode),
        FakeEntryPoint("not_a_block", lambda: dict),
        FakeEntryPoint("acme.slack", lambda: Slack),
    )
    with caplog.at_level(logging.ERROR, logger="backend.engine.registry"):
        registry = load_entry_points()
    assert [b.type for b in registry] == ["acme.slack"]
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "broken" in logged
    assert "not_a_block" in logged


def test_duplicate_registration_is_an_error():
    registry = Registry([Slack()])
    with pytest.raises(ValueError, match=r"'acme\.slack' version 1 is registered twice"):
        registry.add(Slack())
    registry.add(SlackV2())
    assert registry.versions("acme.slack") == [1, 2]


def test_duplicate_entry_point_keeps_the_first_and_logs_the_second(monkeypatch, caplog):
    class Impostor(Slack):
        label = "Impostor"

    fake_entry_points(monkeypatch, FakeEntryPoint("a", lambda: Slack), FakeEntryPoint("b", lambda: Impostor))
    with caplog.at_level(logging.ERROR, logger="backend.engine.registry"):
        registry = load_entry_points()
    assert registry.get("acme.slack").label == "Post to Slack"
    assert "registered twice" in caplog.text


# -- describe() ------------------------------------------------------------------------------------


def test_describe_has_a_json_schema_form_per_block():
    described = {t: d for t, d in describe_by_type().items() if t in BUILT_INS}
    assert set(described) == BUILT_INS
    for block_type, d in described.items():
        schema = d["config_schema"]
        assert schema["type"] == "object", block_type
        assert "properties" in schema, block_type
        assert d["label"] and d["icon"] and d["category"] in ("trigger", "flow", "action", "exit")
        assert d["version"] == 1 and d["latest"] is True
    assert described["send"]["config_schema"]["required"] == ["template"]
    assert described["wait.duration"]["config_schema"]["properties"]["duration"]["format"] == "duration"
    assert described["wait.event"]["ports"] == ["event", "timeout"]
    assert described["condition"]["ports"] == ["yes", "no"]
    assert described["exit"]["ports"] == []
    assert described["split.random"]["dynamic_ports"] is True
    assert described["tag"]["dynamic_ports"] is False
    assert {t for t, d in described.items() if d["trigger"]} == {
        "trigger.event",
        "trigger.date",
        "trigger.manual",
        "trigger.segment",
        "trigger.score",
    }
    assert {t for t, d in described.items() if d["pauses"]} == {
        "wait.duration",
        "wait.until",
        "wait.event",
        "wait.segment",
    }


def test_a_new_block_form_starts_from_working_defaults():
    """Defaults made by a factory (a list) are in the schema, and a config built from every default
    parses, so a block dropped on the canvas is only missing what the marketer must choose."""
    described = describe_by_type()
    assert described["send"]["config_schema"]["properties"]["fallback"]["default"] == ["email", "push", "sms", "wechat"]
    assert described["split.random"]["config_schema"]["properties"]["branches"]["default"] == [
        {"name": "a", "weight": 50},
        {"name": "b", "weight": 50},
    ]
    registry = load_entry_points()
    split = registry.get("split.random")
    defaults = {k: v["default"] for k, v in described["split.random"]["config_schema"]["properties"].items()}
    assert split.output_ports(split.parse_config(defaults)) == ("a", "b")


def test_config_dependent_ports_say_where_they_come_from():
    described = describe_by_type()
    assert described["split.random"]["ports_from"] == "branches"
    assert {t for t, d in described.items() if d["ports_from"] and t in BUILT_INS} == {"split.random", "split.rules"}
    assert {t for t, d in described.items() if d["dynamic_ports"] and t in BUILT_INS} == {"split.random", "split.rules"}


def test_every_schema_reference_resolves_inside_its_own_schema():
    """The editor renders each block's form from its schema alone, so every $ref must point into $defs."""
    for block_type, d in describe_by_type().items():
        schema = d["config_schema"]
        defs = schema.get("$defs", {})

        def walk(value: Any, block_type: str = block_type, defs: dict = defs) -> None:
            if isinstance(value, dict):
                ref = value.get("$ref")
                if ref is not None:
                    assert ref.startswith("#/$defs/"), (block_type, ref)
                    assert ref.removeprefix("#/$defs/") in defs, (block_type, ref)
                for v in value.values():
                    walk(v)
            elif isinstance(value, list):
                for v in value:
                    walk(v)

        walk(schema)


def test_schemas_carry_x_source_hints_for_pickers():
    described = describe_by_type()
    hints = {t: sources(d["config_schema"]) for t, d in described.items()}
    assert hints["condition"] >= {"attributes", "events", "tags"}
    assert hints["trigger.event"] == {"events"}
    assert hints["wait.event"] == {"events"}
    assert hints["trigger.date"] == {"attributes"}
    assert hints["tag"] == {"tags", "attributes"}
    assert hints["send"] == {"templates"}
    assert described["send"]["config_schema"]["properties"]["template"]["x-source"] == "templates"


def test_describe_is_sorted_for_a_stable_palette():
    described = load_entry_points().describe()
    keys = [(d["category"], d["type"], d["version"]) for d in described]
    assert keys == sorted(keys)


def test_describe_marks_only_the_newest_version_latest():
    described = Registry([Slack(), SlackV2()]).describe()
    assert [(d["version"], d["latest"]) for d in described] == [(1, False), (2, True)]


# -- translations ----------------------------------------------------------------------------------


def test_translations_override_label_description_and_field_titles():
    registry = Registry([Slack()])
    (polish,) = registry.describe("pl")
    assert polish["label"] == "Wyślij na Slacka"
    assert polish["description"] == "Post a message to a channel."
    assert polish["config_schema"]["properties"]["channel"]["title"] == "Kanał"
    assert polish["config_schema"]["properties"]["channel"]["description"] == "np. #sprzedaż"

    (chinese,) = registry.describe("zh-CN")
    assert (chinese["label"], chinese["description"]) == ("发送到 Slack", "向频道发送消息")
    assert chinese["config_schema"]["properties"]["channel"]["title"] == "频道"


def test_region_falls_back_to_the_language_and_unknown_locales_to_the_original():
    registry = Registry([Slack()])
    assert registry.describe("pl-PL")[0]["label"] == "Wyślij na Slacka"
    assert registry.describe("zh-TW")[0]["label"] == "Slack (zh)"
    for locale in ("es", "en", None, ""):
        (described,) = registry.describe(locale)
        assert described["label"] == "Post to Slack"
        assert "title" not in described["config_schema"]["properties"]["channel"]


def test_translating_one_request_does_not_leak_into_the_next():
    registry = Registry([Slack()])
    registry.describe("pl")
    assert "title" not in registry.describe()[0]["config_schema"]["properties"]["channel"]


class Titled(BlockType):
    type = "acme.titled"
    label = "Titled"
    Config = msgspec.defstruct(
        "TitledConfig", [("url", Annotated[str, msgspec.Meta(title="URL", extra_json_schema={"x-source": "links"})])]
    )
    translations = {"es": {"field.url": "Dirección"}}


def test_translated_title_replaces_the_declared_one_and_keeps_hints():
    (spanish,) = Registry([Titled()]).describe("es")
    assert spanish["config_schema"]["properties"]["url"] == {
        "type": "string",
        "title": "Dirección",
        "x-source": "links",
    }
