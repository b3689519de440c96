"""The real app in real Chromium: sign in with the seeded owner and see the demo journey; sign out on
every device from the account menu."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.conftest import screenshot, sign_in


def test_sign_in_and_see_the_demo_journey(page, live_server):
    sign_in(page, live_server)
    page.get_by_text("Abandoned registration recovery").wait_for()
    screenshot(page, "journeys-list")


def test_sign_out_on_all_devices_ends_the_other_browsers_session(page, browser, live_server):
    laptop = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    try:
        other = laptop.new_page()
        sign_in(other, live_server)
        sign_in(page, live_server)

        page.get_by_test_id("account-menu").locator("summary").click()
        expect(page.get_by_test_id("sign-out-everywhere")).to_have_text("Sign out on all devices")
        screenshot(page, "account-menu")
        page.get_by_test_id("sign-out-everywhere").click()
        expect(page.get_by_test_id("sign-in-submit")).to_be_visible()

        other.reload()  # the other browser still has its cookie, but the session is gone
        expect(other.get_by_test_id("sign-in-submit")).to_be_visible()
        sign_in(other, live_server)  # and signing in again works
    finally:
        laptop.close()
