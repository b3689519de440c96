"""End-to-end fixtures: the real `waymark run` process on a free port (SQLite in a temp var dir), a real
SMTP server it delivers to, and the real built SPA in Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.plugin_support import env_with_plugin, install_acme_plugin
from tests.smtp_sink import SmtpSink, free_port

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
DEMO_PASSWORD = "demo-password-123"

pytestmark = pytest.mark.e2e


@dataclass
class LiveServer:
    url: str
    var_dir: Path
    write_key: str
    admin_key: str
    email: str
    password: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _credentials(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        label, _, value = line.partition("  ")
        values[label.strip()] = value.strip()
    return values


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
    root = tmp_path_factory.mktemp("live")
    plugin = install_acme_plugin(root / "plugins")
    port = free_port()
    env = env_with_plugin(plugin)
    env.update(
        WAYMARK_VAR_DIR=str(root / "var"),
        WAYMARK_PORT=str(port),
        WAYMARK_BASE_URL=f"http://127.0.0.1:{port}",
        WAYMARK_SMTP_URL=f"smtp://127.0.0.1:{mailbox.port}?tls=none&from=Waymark%20Demo%20<demo@waymark.test>",
        WAYMARK_DEMO_PASSWORD=DEMO_PASSWORD,
        WAYMARK_TICK_SECONDS="0.2",
    )
    env.pop("WAYMARK_DATABASE_URL", None)
    log_path = root / "server.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "backend.cli", "run", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url + "/schema/openapi.json", timeout=2):
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("waymark run did not start:\n" + log_path.read_text())
            time.sleep(0.2)
    creds = _credentials(root / "var" / "demo-credentials.txt")
    email, _, password = creds["sign in"].partition(" / ")
    server = LiveServer(url, root / "var", creds["write key"], creds["admin key"], email, password, log_path)
    yield server
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium_path,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="en-US")
    page = context.new_page()
    yield page
    if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"FAILED-{request.node.name}.png"), full_page=True)
    context.close()


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


def sign_in(page, server: LiveServer) -> None:
    page.goto(server.url + "/")
    page.get_by_test_id("sign-in-email").fill(server.email)
    page.get_by_test_id("sign-in-password").fill(server.password)
    page.get_by_test_id("sign-in-submit").click()
    page.get_by_test_id("nav-journeys").wait_for()


os.environ.setdefault("PLAYWRIGHT_BROWSERS_PATH", "0")  # never look for (or download) bundled browsers
