"""condition: rule trees over attributes, tags, event counts, reachability and subscriptions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest

from backend.engine.rules import EventRule, matches_filters, matches_frozen_filters
from backend.engine.sdk import Contact, EventQuery, Go, Item, Needs, StepContext, Subscription
from blocks.condition import Condition

BLOCK = Condition()
NOW = datetime(2024, 5, 6, 12, 0, tzinfo=UTC)


def cfg(rule: dict[str, Any]):
    return BLOCK.parse_config({"rule": rule})


def holds(rule: dict[str, Any], contact: Contact | None = None, now: datetime = NOW) -> bool:
    """Run the block's step and read the port, as the interpreter would."""
    outcome = BLOCK.step(
        cfg(rule),
        Item(enrollment_id=1, contact=contact or Contact(id=1), entered_at=now),
        StepContext(now=now, node_id="c"),
    )
    assert outcome in (Go("yes"), Go("no"))
    return outcome.port == "yes"


def attr(key: str, op: str, value: Any = None) -> dict[str, Any]:
    return {"kind": "attribute", "key": key, "op": op, "value": value}


def person(**attributes: Any) -> Contact:
    return Contact(id=1, attributes=attributes)


# -- attributes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actual", "op", "value", "expected"),
    [
        ("pro", "eq", "pro", True),
        ("pro", "eq", "Pro", False),
        ("pro", "ne", "free", True),
        ("pro", "ne", "pro", False),
        (30, "gt", 18, True),
        (18, "gt", 18, False),
        (18, "gte", 18, True),
        (17.5, "lt", 18, True),
        (18, "lte", 17, False),
        ("gold member", "contains", "gold", True),
        ("silver", "contains", "gold", False),
        (["a", "b"], "contains", "b", True),
        (["a", "b"], "not_contains", "b", False),
        ("silver", "not_contains", "gold", True),
        ("anna@example.com", "ends_with", "@example.com", True),
        ("anna@example.com", "starts_with", "bob", False),
        ("PL", "in", ["PL", "ES"], True),
        ("DE", "in", ["PL", "ES"], False),
        ("DE", "not_in", ["PL", "ES"], True),
        ("PL", "not_in", ["PL", "ES"], False),
        ("x", "exists", None, True),
        (None, "exists", None, False),
        (None, "not_exists", None, True),
        (0, "exists", None, True),
        ("", "exists", None, True),
    ],
)
def test_attribute_operators(actual, op, value, expected):
    assert holds(attr("field", op, value), person(field=actual)) is expected


@pytest.mark.parametrize(
    ("actual", "op", "value", "expected"),
    [
        ("42", "gt", 40, True),
        ("42", "lt", 40, False),
        (42, "gt", "40", True),
        (42, "lte", "41.5", False),
        ("42", "eq", 42, True),
        (42, "eq", "42", True),
        (42, "eq", "42.0", True),
        ("42", "ne", 42, False),
        ("3", "in", [1, 2, 3], True),
        (["1", "2"], "contains", 1, True),
        ([1, 2], "not_contains", "2", False),
        ([True], "contains", 1, False),
        (3, "not_in", ["1", "2", "3"], False),
        ("abc", "gt", 10, False),
        (10, "gt", "abc", False),
        ("abc", "eq", 10, False),
        (True, "gt", 0, False),
        (True, "eq", 1, False),
        (True, "eq", "true", False),
        (1, "eq", True, False),
        (None, "gt", 0, False),
    ],
)
def test_numbers_and_numeric_strings_compare_as_numbers(actual, op, value, expected):
    """Attributes pushed over the API are often strings ("42"); a rule typed in the editor is a number."""
    assert holds(attr("age", op, value), person(age=actual)) is expected


def test_strings_compare_alphabetically():
    assert holds(attr("name", "lt", "m"), person(name="anna"))
    assert not holds(attr("name", "lt", "m"), person(name="zofia"))


def test_dates_compare_as_dates_whatever_their_format():
    assert holds(attr("signup", "gt", "2024-01-01"), person(signup="2024-03-05T10:00:00Z"))
    assert holds(attr("signup", "lt", "2024-03-05T12:00:00+02:00"), person(signup="2024-03-05T10:00:00+01:00"))
    assert not holds(attr("signup", "lt", "2024-03-05T12:00:00+02:00"), person(signup="2024-03-05T11:00:00+01:00"))
    assert holds(attr("signup", "gte", "2024-03-05"), person(signup=datetime(2024, 3, 5, tzinfo=UTC)))


@pytest.mark.parametrize(
    ("moment", "op", "span", "expected"),
    [
        (NOW - timedelta(days=3), "within_last", "P7D", True),
        (NOW - timedelta(days=7), "within_last", "P7D", True),
        (NOW - timedelta(days=7, seconds=1), "within_last", "P7D", False),
        (NOW + timedelta(days=1), "within_last", "P7D", False),
        (NOW - timedelta(days=31), "more_than_ago", "P30D", True),
        (NOW - timedelta(days=29), "more_than_ago", "P30D", False),
        (NOW + timedelta(days=60), "more_than_ago", "P30D", False),
        (NOW - timedelta(hours=3), "within_last", "PT2H", False),
        (NOW - timedelta(hours=1), "within_last", "PT2H", True),
    ],
)
def test_relative_dates(moment, op, span, expected):
    contact = person(last_purchase=moment.isoformat())
    assert holds(attr("last_purchase", op, span), contact) is expected


def test_relative_dates_with_bad_values_are_false_rather_than_errors():
    assert not holds(attr("d", "within_last", "P7D"), person(d="not a date"))
    assert not holds(attr("d", "within_last", "a week"), person(d=NOW.isoformat()))
    assert not holds(attr("d", "more_than_ago", "P7D"), person())


def test_date_only_attribute_within_last():
    assert holds(attr("birthday_sent", "within_last", "P2D"), person(birthday_sent="2024-05-05"))


def test_dotted_keys_reach_into_nested_attributes_and_literal_dotted_keys_win():
    contact = person(address={"city": "Kraków"}, **{"utm.source": "newsletter"})
    assert holds(attr("address.city", "eq", "Kraków"), contact)
    assert holds(attr("utm.source", "eq", "newsletter"), contact)
    assert not holds(attr("address.zip", "exists"), contact)


@pytest.mark.parametrize(
    ("op", "expected"),
    [
        ("eq", False),
        ("ne", True),
        ("gt", False),
        ("lt", False),
        ("contains", False),
        ("not_contains", True),
        ("in", False),
        ("not_in", True),
        ("starts_with", False),
        ("within_last", False),
        ("more_than_ago", False),
        ("exists", False),
        ("not_exists", True),
    ],
)
def test_missing_attribute(op, expected):
    """A contact without the attribute is not "equal to" anything but is "not equal to" everything."""
    value = ["x"] if op in ("in", "not_in") else "P1D" if "ago" in op or "last" in op else "x"
    assert holds(attr("plan", op, value), person()) is expected


# -- tags, composition -----------------------------------------------------------------------------


def test_tags():
    vip = Contact(id=1, tags={"vip", "newsletter"})
    assert holds({"kind": "tag", "tag": "vip"}, vip)
    assert not holds({"kind": "tag", "tag": "vip", "present": False}, vip)
    assert holds({"kind": "tag", "tag": "churned", "present": False}, vip)
    assert not holds({"kind": "tag", "tag": "VIP"}, vip)


def test_and_or_not():
    contact = Contact(id=1, tags={"vip"}, attributes={"country": "PL", "orders": 3})
    is_vip = {"kind": "tag", "tag": "vip"}
    in_spain = attr("country", "eq", "ES")
    repeat_buyer = attr("orders", "gte", 2)

    assert holds({"kind": "all", "rules": [is_vip, repeat_buyer]}, contact)
    assert not holds({"kind": "all", "rules": [is_vip, in_spain]}, contact)
    assert holds({"kind": "any", "rules": [in_spain, repeat_buyer]}, contact)
    assert not holds({"kind": "any", "rules": [in_spain, {"kind": "not", "rule": is_vip}]}, contact)
    assert holds({"kind": "not", "rule": in_spain}, contact)
    nested = {
        "kind": "all",
        "rules": [
            is_vip,
            {"kind": "any", "rules": [in_spain, {"kind": "not", "rule": {"kind": "not", "rule": repeat_buyer}}]},
        ],
    }
    assert holds(nested, contact)


def test_empty_all_is_true_and_empty_any_is_false():
    assert holds({"kind": "all", "rules": []})
    assert not holds({"kind": "any", "rules": []})


# -- event counts ----------------------------------------------------------------------------------


def event_rule(**fields: Any) -> dict[str, Any]:
    return {"kind": "event", **fields}


def counted(rule: dict[str, Any], count: int) -> Contact:
    """A contact whose event count for ``rule`` was loaded by the runtime, keyed by ``EventRule.query()``."""
    query = msgspec.convert(rule, EventRule).query()
    return Contact(id=1, event_counts={query: count})


@pytest.mark.parametrize(
    ("op", "count", "performed", "expected"),
    [
        ("at_least", 1, 0, False),
        ("at_least", 1, 1, True),
        ("at_least", 3, 2, False),
        ("at_least", 3, 5, True),
        ("at_most", 0, 0, True),
        ("at_most", 0, 1, False),
        ("at_most", 2, 2, True),
        ("exactly", 2, 2, True),
        ("exactly", 2, 3, False),
    ],
)
def test_event_counts(op, count, performed, expected):
    rule = event_rule(event="purchase", op=op, count=count, within="P30D")
    assert holds(rule, counted(rule, performed)) is expected


def test_event_count_is_read_for_the_exact_query_only():
    """A count loaded for another window or other filters must not be mistaken for this rule's count."""
    wanted = event_rule(event="purchase", within="P7D", where=[{"key": "total", "op": "gt", "value": 50}])
    other_window = counted(
        event_rule(event="purchase", within="P30D", where=[{"key": "total", "op": "gt", "value": 50}]), 9
    )
    other_filter = counted(
        event_rule(event="purchase", within="P7D", where=[{"key": "total", "op": "gt", "value": 10}]), 9
    )
    assert not holds(wanted, other_window)
    assert not holds(wanted, other_filter)
    assert holds(wanted, counted(wanted, 1))


def test_event_count_not_loaded_counts_as_never_performed():
    assert holds(event_rule(event="purchase", op="at_most", count=0), Contact(id=1))
    assert not holds(event_rule(event="purchase"), Contact(id=1))


def test_query_key_does_not_depend_on_filter_order():
    a = msgspec.convert(
        event_rule(event="x", where=[{"key": "a", "value": 1}, {"key": "b", "value": [1, 2]}]), EventRule
    ).query()
    b = msgspec.convert(
        event_rule(event="x", where=[{"key": "b", "value": [1, 2]}, {"key": "a", "value": 1}]), EventRule
    ).query()
    assert a == b
    assert hash(a) == hash(b)


def test_query_with_several_filters_on_one_property_and_mixed_values():
    """ "status is set and is not cancelled": two ``ne`` filters on one key with a null and a string value."""
    rule = event_rule(
        event="subscription_changed",
        where=[{"key": "status", "op": "ne", "value": None}, {"key": "status", "op": "ne", "value": "cancelled"}],
    )
    query = msgspec.convert(rule, EventRule).query()
    assert query.name == "subscription_changed"
    assert holds(rule, counted(rule, 1))


def test_query_with_dict_and_list_values_is_hashable():
    rule = msgspec.convert(
        event_rule(event="x", where=[{"key": "meta", "value": {"b": [1, {"c": 2}], "a": None}}]), EventRule
    )
    assert isinstance(hash(rule.query()), int)


@pytest.mark.parametrize(
    ("where", "properties", "expected"),
    [
        ([{"key": "total", "op": "gte", "value": 100}], {"total": "150"}, True),
        ([{"key": "sku", "op": "in", "value": ["A1", "B2"]}], {"sku": "B2"}, True),
        ([{"key": "sku", "op": "not_in", "value": ["A1", "B2"]}], {"sku": "B2"}, False),
        ([{"key": "size", "op": "in", "value": [[1, 2], [3, 4]]}], {"size": [3, 4]}, True),
        (
            [{"key": "meta", "op": "eq", "value": {"b": [1, {"c": 2}], "a": None}}],
            {"meta": {"a": None, "b": [1, {"c": 2}]}},
            True,
        ),
        ([{"key": "meta", "op": "eq", "value": {"a": 1}}], {"meta": [["a", 1]]}, False),
        ([{"key": "tags", "op": "contains", "value": "sale"}], {"tags": ["new", "sale"]}, True),
        (
            [{"key": "page.path", "op": "starts_with", "value": "/p"}, {"key": "ref", "op": "not_exists"}],
            {"page": {"path": "/pricing"}},
            True,
        ),
    ],
)
def test_runtime_counting_filter_agrees_with_the_rule(where, properties, expected):
    """The runtime counts events with the hashable filters stored in ``EventRule.query()``; they must
    select exactly the events the rule's own filters select."""
    rule = msgspec.convert(event_rule(event="x", where=where), EventRule)
    assert matches_filters(properties, rule.where) is expected
    assert matches_frozen_filters(properties, rule.query().where) is expected


def test_runtime_counting_filter_with_a_relative_date_needs_now():
    where = [{"key": "shipped_at", "op": "within_last", "value": "P2D"}]
    rule = msgspec.convert(event_rule(event="x", where=where), EventRule)
    recent = {"shipped_at": (NOW - timedelta(days=1)).isoformat()}
    old = {"shipped_at": (NOW - timedelta(days=5)).isoformat()}
    assert matches_frozen_filters(recent, rule.query().where, NOW) is matches_filters(recent, rule.where, NOW) is True
    assert matches_frozen_filters(old, rule.query().where, NOW) is matches_filters(old, rule.where, NOW) is False


def test_object_and_array_filter_values_are_different_queries():
    as_object = msgspec.convert(event_rule(event="x", where=[{"key": "m", "value": {"a": 1}}]), EventRule).query()
    as_array = msgspec.convert(event_rule(event="x", where=[{"key": "m", "value": [["a", 1]]}]), EventRule).query()
    assert as_object != as_array


def test_needs_lists_every_event_query_once_and_subscriptions_when_used():
    purchase = event_rule(event="purchase", within="P30D")
    opened = event_rule(event="email_opened", within="P7D", op="at_most", count=0)
    rule = {
        "kind": "any",
        "rules": [purchase, {"kind": "not", "rule": opened}, {"kind": "all", "rules": [purchase]}],
    }
    needs = BLOCK.needs(cfg(rule))
    assert needs == Needs(
        subscriptions=False,
        events=(
            EventQuery(name="purchase", within=timedelta(days=30)),
            EventQuery(name="email_opened", within=timedelta(days=7)),
        ),
    )
    with_subscription = {"kind": "not", "rule": {"kind": "any", "rules": [{"kind": "subscription", "name": "VIP"}]}}
    assert BLOCK.needs(cfg(with_subscription)) == Needs(subscriptions=True, events=())
    assert BLOCK.needs(cfg(attr("a", "exists"))) == Needs()


# -- reachability ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "contact", "expected"),
    [
        ("email", Contact(id=1, email="a@example.com"), True),
        ("email", Contact(id=1, email="a@example.com", consent={"email": True}), True),
        ("email", Contact(id=1, email="a@example.com", consent={"email": False}), False),
        ("email", Contact(id=1, email="a@example.com", consent={"sms": False}), True),
        ("email", Contact(id=1, email=""), False),
        ("email", Contact(id=1, phone="+48123456789"), False),
        ("sms", Contact(id=1, phone="+48123456789"), True),
        ("sms", Contact(id=1, phone="+48123456789", consent={"sms": False}), False),
        ("wechat", Contact(id=1, wechat_openid="oABC"), True),
        ("push", Contact(id=1, push_tokens=[]), False),
        ("push", Contact(id=1, push_tokens=[{"token": "t"}]), True),
        ("push", Contact(id=1, push_tokens=[{"token": "t"}], consent={"push": False}), False),
    ],
)
def test_reachable(channel, contact, expected):
    assert holds({"kind": "reachable", "channel": channel}, contact) is expected


# -- subscriptions ---------------------------------------------------------------------------------


def sub(**fields: Any) -> Subscription:
    return Subscription(**{"name": "VIP", **fields})


def subscribed(*subscriptions: Subscription) -> Contact:
    return Contact(id=1, subscriptions=list(subscriptions))


def test_subscription_ends_within():
    rule = {"kind": "subscription", "name": "VIP", "ends_within": "P7D"}
    assert holds(rule, subscribed(sub(end_at=NOW + timedelta(days=3))))
    assert holds(rule, subscribed(sub(end_at=NOW + timedelta(days=7))))
    assert not holds(rule, subscribed(sub(end_at=NOW + timedelta(days=8))))
    assert not holds(rule, subscribed(sub(end_at=NOW - timedelta(days=1))))
    assert not holds(rule, subscribed(sub(end_at=None)))
    assert not holds(rule, subscribed(sub(name="Basic", end_at=NOW + timedelta(days=3))))


def test_expiry_reminder_only_for_subscriptions_that_will_not_renew():
    rule = {"kind": "subscription", "ends_within": "P7D", "auto_renew": False}
    soon = NOW + timedelta(days=2)
    assert holds(rule, subscribed(sub(end_at=soon, auto_renew=False)))
    assert not holds(rule, subscribed(sub(end_at=soon, auto_renew=True)))
    assert holds(rule, subscribed(sub(end_at=soon, auto_renew=True), sub(name="Box", end_at=soon)))


def test_expired_not_renewed_win_back():
    """Ended within the last 30 days, had auto-renew on before and switched it off."""
    rule = {
        "kind": "subscription",
        "ended_within": "P30D",
        "auto_renew": False,
        "auto_renew_before": True,
        "status": "expired",
    }
    lapsed = sub(end_at=NOW - timedelta(days=10), auto_renew=False, auto_renew_before=True, status="expired")
    assert holds(rule, subscribed(lapsed))
    assert not holds(rule, subscribed(sub(end_at=NOW - timedelta(days=40), auto_renew_before=True, status="expired")))
    assert not holds(rule, subscribed(sub(end_at=NOW + timedelta(days=1), auto_renew_before=True, status="expired")))
    assert not holds(rule, subscribed(sub(end_at=NOW - timedelta(days=1), auto_renew_before=False, status="expired")))
    assert not holds(rule, subscribed(sub(end_at=NOW - timedelta(days=1), auto_renew_before=True, status="active")))


def test_subscription_rule_without_fields_means_has_any_subscription():
    assert holds({"kind": "subscription"}, subscribed(sub()))
    assert not holds({"kind": "subscription"}, subscribed())


# -- block behaviour -------------------------------------------------------------------------------


def test_step_batch_agrees_with_step():
    config = cfg({"kind": "any", "rules": [{"kind": "tag", "tag": "vip"}, attr("orders", "gte", 3)]})
    contacts = [
        Contact(id=1, tags={"vip"}),
        Contact(id=2, attributes={"orders": 5}),
        Contact(id=3, attributes={"orders": 1}),
        Contact(id=4),
    ]
    items = [Item(enrollment_id=c.id, contact=c, entered_at=NOW) for c in contacts]
    ctx = StepContext(now=NOW, node_id="c")
    batch = BLOCK.step_batch(config, items, ctx)
    assert batch == [BLOCK.step(config, i, ctx) for i in items]
    assert [o.port for o in batch] == ["yes", "yes", "no", "no"]


def test_declaration():
    config = cfg({"kind": "tag", "tag": "vip"})
    assert BLOCK.output_ports(config) == ("yes", "no")
    assert BLOCK.check(config) == []


def test_check_finds_values_that_could_never_match_deep_in_the_tree():
    rule = {
        "kind": "all",
        "rules": [
            attr("last_order", "within_last", "a week"),
            {
                "kind": "any",
                "rules": [
                    attr("country", "in", "PL"),
                    {"kind": "not", "rule": attr("age", "gt")},
                    attr("seen", "more_than_ago", "-P1D"),
                ],
            },
            {
                "kind": "event",
                "event": "purchase",
                "within": "PT0S",
                "where": [{"key": "total", "op": "gte", "value": 10}, {"key": "sku", "op": "not_in", "value": "A1"}],
            },
        ],
    }
    problems = BLOCK.check(cfg(rule))
    assert [p.path for p in problems] == [
        "/rule/rules/0/value",
        "/rule/rules/1/rules/0/value",
        "/rule/rules/1/rules/1/rule/value",
        "/rule/rules/1/rules/2/value",
        "/rule/rules/2/where/1/value",
        "/rule/rules/2/within",
    ]
    assert problems[0].message == "use a duration such as P7D (7 days) or PT12H (12 hours)"
    assert problems[1].message == "use a list of values"
    assert problems[2].message == "choose a value to compare with"


def test_check_accepts_sensible_rules():
    rule = {
        "kind": "any",
        "rules": [
            attr("last_order", "within_last", "P7D"),
            attr("seen", "more_than_ago", "PT12H"),
            attr("country", "not_in", []),
            attr("plan", "eq", None),
            attr("plan", "exists"),
            {"kind": "event", "event": "purchase", "where": [{"key": "sku", "op": "in", "value": ["A1"]}]},
            {"kind": "subscription", "ends_within": "P7D"},
            {"kind": "reachable", "channel": "sms"},
        ],
    }
    assert BLOCK.check(cfg(rule)) == []


@pytest.mark.parametrize(
    ("rule", "fragment"),
    [
        ({"kind": "attribute", "key": "x", "op": "like"}, "`$.rule.op`"),
        ({"kind": "attribute", "op": "eq"}, "missing required field `key` - at `$.rule`"),
        ({"kind": "weather"}, "Invalid value 'weather' - at `$.rule.kind`"),
        ({"kind": "all", "rules": [{"kind": "tag", "tag": "a"}, {"kind": "tag", "tag": 5}]}, "`$.rule.rules[1].tag`"),
        ({"kind": "not", "rule": {"kind": "event", "event": "x", "count": -1}}, "`$.rule.rule.count`"),
        ({"kind": "event", "event": "x", "within": "a month"}, "`$.rule.within`"),
        ({"kind": "reachable", "channel": "fax"}, "`$.rule.channel`"),
        ({"kind": "tag", "tag": "vip", "colour": "red"}, "unknown field `colour`"),
    ],
)
def test_bad_rule_names_the_field(rule, fragment):
    with pytest.raises(msgspec.ValidationError) as exc:
        cfg(rule)
    assert fragment in str(exc.value)
