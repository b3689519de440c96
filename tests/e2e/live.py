"""Start the real `waymark run` (SQLite in a temp var dir, the example `acme.slack` block package on its
PYTHONPATH, delivering to a given SMTP port) and the Debian Chromium launch options. Shared by the e2e
fixtures and `bench/spa_load.py`, so the benchmark runs the app exactly as the tests do."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests.plugin_support import env_with_plugin, install_acme_plugin
from tests.smtp_sink import free_port

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
DEMO_PASSWORD = "demo-password-123"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class LiveServer:
    url: str
    var_dir: Path
    write_key: str
    admin_key: str
    email: str
    password: str
    log_path: Path
    proc: subprocess.Popen | None = field(default=None, repr=False)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class ServerDidNotStart(RuntimeError):
    pass


def _credentials(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        label, _, value = line.partition("  ")
        values[label.strip()] = value.strip()
    return values


def start_live_server(root: Path, smtp_port: int, *, tick_seconds: str = "0.2", timeout: float = 60) -> LiveServer:
    """`python -m backend.cli run` on a free port with its state under ``root``; returns once it answers."""
    plugin = install_acme_plugin(root / "plugins")
    port = free_port()
    env = env_with_plugin(plugin)
    env.update(
        WAYMARK_VAR_DIR=str(root / "var"),
        WAYMARK_PORT=str(port),
        WAYMARK_BASE_URL=f"http://127.0.0.1:{port}",
        WAYMARK_SMTP_URL=f"smtp://127.0.0.1:{smtp_port}?tls=none&from=Waymark%20Demo%20<demo@waymark.test>",
        WAYMARK_DEMO_PASSWORD=DEMO_PASSWORD,
        WAYMARK_TICK_SECONDS=tick_seconds,
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
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url + "/schema/openapi.json", timeout=2):
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise ServerDidNotStart("waymark run did not start:\n" + log_path.read_text()) from None
            time.sleep(0.2)
    creds = _credentials(root / "var" / "demo-credentials.txt")
    email, _, password = creds["sign in"].partition(" / ")
    return LiveServer(url, root / "var", creds["write key"], creds["admin key"], email, password, log_path, proc)
