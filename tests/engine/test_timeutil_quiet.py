"""Quiet windows, including ones that span midnight, in the contact's timezone."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from backend.engine.timeutil import quiet_until

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("utc", "expected"),
    [
        ("2026-03-05T15:00:00", "2026-03-06T00:00:00"),  # 23:00 in Shanghai: held until 08:00 there
        ("2026-03-05T20:00:00", "2026-03-06T00:00:00"),  # 04:00: same window, same end
        ("2026-03-06T00:00:00", None),  # 08:00 exactly: the window is over
        ("2026-03-05T06:00:00", None),  # 14:00: open
    ],
)
def test_overnight_window(utc, expected):
    now = datetime.fromisoformat(utc).replace(tzinfo=UTC)
    until = quiet_until(time(22), time(8), SHANGHAI, now)
    assert until == (datetime.fromisoformat(expected).replace(tzinfo=UTC) if expected else None)


def test_daytime_window_and_an_empty_one():
    now = datetime(2026, 3, 5, 5, 0, tzinfo=UTC)  # 13:00 in Shanghai
    assert quiet_until(time(12), time(14), SHANGHAI, now) == datetime(2026, 3, 5, 6, 0, tzinfo=UTC)
    assert quiet_until(time(9), time(9), SHANGHAI, now) is None
