"""The real app in real Chromium: sign in with the seeded owner and see the demo journey; sign out on
every device from the account menu; a viewer sees a journey read-only."""

from __future__ import annotations

import os
import subprocess
import sys

from playwright.sync_api import expect

from tests.e2e.conftest import screenshot, sign_in
from tests.e2e.live import ROOT


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


def test_a_viewer_sees_the_journey_but_cannot_change_it(page, live_server):
    env = {**os.environ, "WAYMARK_VAR_DIR": str(live_server.var_dir)}
    env.pop("WAYMARK_DATABASE_URL", None)
    viewer = ["--email", "vi@example.com", "--password", "viewer pass", "--role", "viewer"]
    subprocess.run(
        [sys.executable, "-m", "backend.cli", "create-user", "--workspace", "demo", *viewer],
        check=True,
        env=env,
        cwd=ROOT,
        capture_output=True,
    )
    sign_in(page, live_server, "vi@example.com", "viewer pass", path="/journeys/1")

    expect(page.get_by_test_id("read-only")).to_have_text("Read-only")
    expect(page.get_by_test_id("canvas")).to_be_visible()
    expect(page.get_by_test_id("publish-button")).to_have_count(0)
    expect(page.get_by_test_id("undo")).to_have_count(0)
    expect(page.locator('[data-testid^="palette-item-"]')).to_have_count(0)

    page.locator('.react-flow__node[data-id="send_recovery"]').click()
    expect(page.get_by_test_id("node-config")).to_have_attribute("disabled", "")
    expect(page.get_by_test_id("field-label")).to_be_disabled()
    expect(page.get_by_test_id("node-delete")).to_have_count(0)
    page.keyboard.press("Delete")  # the shortcut changes nothing either
    expect(page.locator('.react-flow__node[data-id="send_recovery"]')).to_be_visible()
    page.get_by_test_id("node-tab-contacts").click()  # the live lists stay usable
    screenshot(page, "editor-read-only")

    page.get_by_test_id("nav-journeys").click()
    expect(page.get_by_text("Abandoned registration recovery")).to_be_visible()
    expect(page.get_by_test_id("journey-create")).to_have_count(0)
    expect(page.get_by_test_id("journey-rename-1")).to_have_count(0)
