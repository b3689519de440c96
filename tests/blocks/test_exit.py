"""exit: take the contact out of the journey with a reason reports can show."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest

from backend.engine.sdk import NO_NEEDS, Contact, Exit, Item, StepContext
from blocks.exit import Exit as ExitBlock

BLOCK = ExitBlock()
NOW = datetime(2024, 5, 6, tzinfo=UTC)
CTX = StepContext(now=NOW, node_id="bye")
ITEM = Item(enrollment_id=1, contact=Contact(id=1), entered_at=NOW)


def test_exits_with_the_configured_reason():
    assert BLOCK.step(BLOCK.parse_config({"reason": "already a customer"}), ITEM, CTX) == Exit("already a customer")


def test_default_reason():
    assert BLOCK.step(BLOCK.parse_config({}), ITEM, CTX) == Exit("exit")


def test_step_batch_agrees_with_step():
    config = BLOCK.parse_config({"reason": "done"})
    assert BLOCK.step_batch(config, [ITEM, ITEM], CTX) == [Exit("done"), Exit("done")]


def test_has_no_output_ports():
    config = BLOCK.parse_config({})
    assert BLOCK.output_ports(config) == ()
    assert BLOCK.category == "exit"
    assert BLOCK.needs(config) == NO_NEEDS
    assert BLOCK.check(config) == []


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [({"reason": 5}, "`$.reason`"), ({"reason": "x" * 201}, "`$.reason`"), ({"why": "x"}, "unknown field `why`")],
)
def test_bad_config_names_the_field(raw, fragment):
    with pytest.raises(msgspec.ValidationError) as exc:
        BLOCK.parse_config(raw)
    assert fragment in str(exc.value)
