"""split.random: a deterministic, weighted draw per enrollment (A/B tests)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from backend.engine.sdk import NO_NEEDS, Contact, Go, Item, StepContext
from blocks.split_random import SplitRandom

BLOCK = SplitRandom()
NOW = datetime(2024, 5, 6, 12, 0, tzinfo=UTC)
N = 10_000


def cfg(*weights: int, names: str = "abcdefghij"):
    return BLOCK.parse_config({"branches": [{"name": names[i], "weight": w} for i, w in enumerate(weights)]})


def item(enrollment_id: int) -> Item:
    return Item(enrollment_id=enrollment_id, contact=Contact(id=enrollment_id), entered_at=NOW)


def draw(config, enrollment_id: int, node_id: str = "split", now: datetime = NOW) -> str:
    outcome = BLOCK.step(config, item(enrollment_id), StepContext(now=now, node_id=node_id))
    assert isinstance(outcome, Go)
    return outcome.port


def shares(config, node_id: str = "split", first: int = 1) -> dict[str, float]:
    counts = Counter(draw(config, i, node_id) for i in range(first, first + N))
    return {port: count / N for port, count in counts.items()}


def test_the_same_enrollment_always_takes_the_same_branch():
    config = cfg(50, 50)
    for enrollment_id in (1, 2, 99, 123_456_789):
        ports = {draw(config, enrollment_id, now=NOW + timedelta(hours=h)) for h in range(5)}
        assert len(ports) == 1


@pytest.mark.parametrize(
    "weights",
    [(50, 50), (1, 1), (90, 10), (70, 20, 10), (1, 1, 1), (5, 3, 2), (25, 25, 25, 25)],
)
@pytest.mark.parametrize("first", [1, 5_000_000])
def test_branches_roughly_match_the_weights_over_10000_enrollments(weights, first):
    got = shares(cfg(*weights), first=first)
    total = sum(weights)
    for i, weight in enumerate(weights):
        assert got.get("abcdefghij"[i], 0.0) == pytest.approx(weight / total, abs=0.02), got


def test_zero_weight_branch_is_never_taken():
    got = shares(cfg(1, 0, 1))
    assert "b" not in got
    assert got["a"] == pytest.approx(0.5, abs=0.02)


def test_two_splits_in_one_journey_are_independent():
    """The second A/B test must split each branch of the first one evenly; otherwise everybody in A of the
    first test would also be in A of the second and the two tests could not be told apart."""
    config = cfg(1, 1)
    pairs = Counter((draw(config, i, "split_random_1"), draw(config, i, "split_random_2")) for i in range(1, N + 1))
    for pair in (("a", "a"), ("a", "b"), ("b", "a"), ("b", "b")):
        assert pairs[pair] / N == pytest.approx(0.25, abs=0.02), pairs


def test_different_nodes_draw_differently_for_50_50_weights():
    config = cfg(50, 50)
    first = [draw(config, i, "split_random_1") for i in range(1, 2001)]
    second = [draw(config, i, "split_random_2") for i in range(1, 2001)]
    agreement = sum(a == b for a, b in zip(first, second, strict=True)) / 2000
    assert agreement == pytest.approx(0.5, abs=0.05)


def test_step_batch_agrees_with_step():
    config = cfg(3, 2, 5)
    items = [item(i) for i in range(1, 200)]
    ctx = StepContext(now=NOW, node_id="split")
    assert BLOCK.step_batch(config, items, ctx) == [BLOCK.step(config, i, ctx) for i in items]


def test_output_ports_are_the_branch_names():
    config = BLOCK.parse_config({"branches": [{"name": "control"}, {"name": "variant_1"}, {"name": "variant-2"}]})
    assert BLOCK.output_ports(config) == ("control", "variant_1", "variant-2")
    assert BLOCK.output_ports(BLOCK.parse_config({})) == ("a", "b")
    assert BLOCK.needs(config) == NO_NEEDS


def test_default_is_a_50_50_split_between_a_and_b():
    got = shares(BLOCK.parse_config({}))
    assert set(got) == {"a", "b"}
    assert got["a"] == pytest.approx(0.5, abs=0.02)


def test_check_duplicate_names_and_all_zero_weights():
    duplicate = BLOCK.parse_config({"branches": [{"name": "a"}, {"name": "b"}, {"name": "a"}]})
    assert [(p.path, p.message) for p in BLOCK.check(duplicate)] == [
        ("/branches/2/name", "branch name 'a' is used twice")
    ]
    assert [p.path for p in BLOCK.check(cfg(0, 0))] == ["/branches"]
    assert BLOCK.check(cfg(0, 1)) == []


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ({"branches": [{"name": "a"}]}, "`$.branches`"),
        ({"branches": [{"name": f"b{i}"} for i in range(11)]}, "`$.branches`"),
        ({"branches": [{"name": "a"}, {"name": "has space"}]}, "`$.branches[1].name`"),
        ({"branches": [{"name": "a"}, {"name": ""}]}, "`$.branches[1].name`"),
        ({"branches": [{"name": "a", "weight": -1}, {"name": "b"}]}, "`$.branches[0].weight`"),
        ({"branches": [{"name": "a", "weight": "half"}, {"name": "b"}]}, "`$.branches[0].weight`"),
        ({"branches": [{"name": "a", "share": 1}, {"name": "b"}]}, "unknown field `share` - at `$.branches[0]`"),
    ],
)
def test_bad_config_names_the_field(raw, fragment):
    with pytest.raises(msgspec.ValidationError) as exc:
        BLOCK.parse_config(raw)
    assert fragment in str(exc.value)
