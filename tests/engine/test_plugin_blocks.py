"""A block type from a separately installed package appears in the registry, with a form schema and
validation, through the same entry-point group the built-ins use."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.plugin_support import env_with_plugin, install_acme_plugin

PROBE = """
import json
from backend.engine.registry import load_entry_points
from backend.engine.validation import validate
registry = load_entry_points()
slack = [b for b in registry.describe("zh-CN") if b["type"] == "acme.slack"]
graph = {"nodes": [
    {"id": "t", "type": "trigger.manual"},
    {"id": "s", "type": "acme.slack", "config": {"webhook_url": "https://hooks.slack.com/x", "priority": "urgent"}}],
  "edges": [{"id": "e", "source": "t", "target": "s"}]}
_, problems = validate(graph, registry)
print(json.dumps({"slack": slack, "problems": [[p.pointer, p.message] for p in problems]}))
"""


@pytest.fixture(scope="module")
def plugin_dir(tmp_path_factory):
    return install_acme_plugin(tmp_path_factory.mktemp("acme"))


def test_installed_plugin_block_is_registered_with_schema_and_checks(plugin_dir):
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=env_with_plugin(plugin_dir), capture_output=True, text=True, check=True
    )
    result = json.loads(out.stdout)
    (slack,) = result["slack"]
    assert slack["label"] == "通知 Slack"
    assert slack["category"] == "action"
    assert slack["config_schema"]["properties"]["priority"]["enum"] == ["normal", "urgent"]
    assert result["problems"] == [["/nodes/1/config/mention_here", "urgent messages must mention @here"]]


def test_plugin_is_absent_when_not_installed():
    from backend.engine.registry import load_entry_points

    assert "acme.slack" not in load_entry_points()
