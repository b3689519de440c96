"""Locale-aware template filters: dates, times, numbers and money read naturally in each language, and
missing or unreadable values never break a message."""

from __future__ import annotations

import pytest

from backend.templates.environment import text_env


def render(source: str, **context) -> str:
    return text_env.from_string(source).render(**context)


@pytest.mark.parametrize(
    ("locale", "expected"),
    [("en", "Mar 5, 2026"), ("pl", "5 mar 2026"), ("es", "5 mar 2026"), ("zh-CN", "2026年3月5日")],
)
def test_dates_in_the_contact_language(locale, expected):
    assert render("{{ d | date }}", d="2026-03-05T10:00:00Z", locale=locale) == expected


def test_datetime_uses_the_contact_timezone_and_survives_a_bad_one():
    value = "2026-03-05T10:00:00Z"
    assert (
        render("{{ d | datetime('short') }}", d=value, locale="en", timezone="Asia/Shanghai") == "3/5/26, 6:00\u202fPM"
    )
    assert render("{{ d | datetime('short') }}", d=value, locale="en", timezone="Mars/Base") == "3/5/26, 10:00\u202fAM"


def test_numbers_and_money():
    assert render("{{ n | number }}", n=1234.5, locale="pl") == "1\u00a0234,5"
    assert render("{{ n | number }}", n="1234567.5", locale="es") == "1.234.567,5"
    assert render("{{ n | currency('EUR') }}", n=19.9, locale="pl") == "19,90\u00a0€"
    assert render("{{ n | currency('CNY') }}", n=19.9, locale="zh-CN") == "¥19.90"


def test_unknown_locale_falls_back_to_english():
    assert render("{{ n | currency('USD') }}", n=5, locale="xx-YY") == "$5.00"


def test_missing_or_unreadable_values_do_not_break_the_message():
    assert render("[{{ missing | date }}|{{ none | number }}]", none=None, locale="en") == "[|]"
    assert render("{{ v | date }} {{ w | currency('EUR') }}", v="soon", w="lots", locale="en") == "soon lots"
