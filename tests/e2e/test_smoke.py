"""The real app in real Chromium: sign in with the seeded owner and see the demo journey."""

from __future__ import annotations

from tests.e2e.conftest import screenshot, sign_in


def test_sign_in_and_see_the_demo_journey(page, live_server):
    sign_in(page, live_server)
    page.get_by_text("Abandoned registration recovery").wait_for()
    screenshot(page, "journeys-list")
