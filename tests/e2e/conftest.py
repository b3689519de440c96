"""End-to-end fixtures: the real `waymark run` process on a free port (SQLite in a temp var dir), a real
SMTP server it delivers to, and the real built SPA in Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.e2e.live import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DEMO_PASSWORD,
    ROOT,
    LiveServer,
    ServerDidNotStart,
    start_live_server,
)
from tests.smtp_sink import SmtpSink

ARTIFACTS = ROOT / "test-artifacts"
__all__ = ["DEMO_PASSWORD", "LiveServer", "screenshot", "sign_in"]

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="session")
def spa_dist() -> Path:
    index = ROOT / "frontend" / "dist" / "index.html"
    if not index.exists():
        pytest.fail("the SPA is not built: run `make build` (make test does it for you)")
    return index.parent


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: `apt-get install chromium` (make test installs it)")
    return CHROMIUM


@pytest.fixture(scope="module")
def mailbox():
    """The SMTP server the live Waymark delivers to (module-scoped, like the server)."""
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture(scope="module")
def live_server(tmp_path_factory, spa_dist, mailbox) -> LiveServer:
    try:
        server = start_live_server(tmp_path_factory.mktemp("live"), mailbox.port)
    except ServerDidNotStart as exc:
        pytest.fail(str(exc))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser(chromium_path):
    """Module-scoped on purpose: Playwright's sync API keeps an asyncio loop running in this thread while
    it is open, and a later test in the same process that calls ``asyncio.run()`` (the dispatcher does)
    would fail. pytest tears module fixtures down before the next module's tests run."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium_path,
            headless=True,
            args=CHROMIUM_ARGS,
        )
        yield browser
        browser.close()


def csp_violations(page) -> list[str]:
    """Collects what the browser refused under the server's Content-Security-Policy (in the console)."""
    refused: list[str] = []
    page.on(
        "console",
        lambda message: refused.append(message.text) if "Content Security Policy" in message.text else None,
    )
    return refused


@pytest.fixture
def page(browser, request):
    """A fresh browser tab; the test fails if the page broke the Content-Security-Policy anywhere (an
    inline script or style the policy refused would leave part of the app dead)."""
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="en-US")
    page = context.new_page()
    refused = csp_violations(page)
    yield page
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    if failed:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"FAILED-{request.node.name}.png"), full_page=True)
    context.close()
    if not failed:
        assert not refused, "the Content-Security-Policy refused:\n" + "\n".join(refused)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def screenshot(page, name: str) -> Path:
    """Save a screenshot as a test artefact (test-artifacts/), kept by CI."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def sign_in(page, server: LiveServer, email: str | None = None, password: str | None = None, path: str = "/") -> None:
    """Sign in as the seeded owner, or as ``email``/``password``, starting at ``path``."""
    page.goto(server.url + path)
    page.get_by_test_id("sign-in-email").fill(email or server.email)
    page.get_by_test_id("sign-in-password").fill(password or server.password)
    page.get_by_test_id("sign-in-submit").click()
    page.get_by_test_id("nav-journeys").wait_for()


os.environ.setdefault("PLAYWRIGHT_BROWSERS_PATH", "0")  # never look for (or download) bundled browsers
