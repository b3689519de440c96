"""trigger.manual: contacts are enrolled through the API or by hand."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest

from backend.engine.sdk import NO_NEEDS, Contact, Go, Item, StepContext
from blocks.trigger_manual import TriggerManual

BLOCK = TriggerManual()
NOW = datetime(2024, 5, 6, tzinfo=UTC)


def test_step_lets_the_contact_in():
    item = Item(enrollment_id=1, contact=Contact(id=1), entered_at=NOW)
    config = BLOCK.parse_config({"note": "imported from the spring fair list"})
    assert BLOCK.step(config, item, StepContext(now=NOW, node_id="t")) == Go("next")


def test_declaration():
    config = BLOCK.parse_config({})
    assert config.note == ""
    assert BLOCK.category == "trigger"
    assert BLOCK.trigger == "manual"
    assert BLOCK.output_ports(config) == ("next",)
    assert BLOCK.needs(config) == NO_NEEDS
    assert BLOCK.check(config) == []


@pytest.mark.parametrize(
    ("raw", "fragment"), [({"note": 1}, "`$.note`"), ({"segment": "all"}, "unknown field `segment`")]
)
def test_bad_config_names_the_field(raw, fragment):
    with pytest.raises(msgspec.ValidationError) as exc:
        BLOCK.parse_config(raw)
    assert fragment in str(exc.value)
