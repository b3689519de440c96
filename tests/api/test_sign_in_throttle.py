"""The sign-in throttle over real HTTP (uvicorn, as `waymark api` serves it, behind a trusted proxy that
names each client in X-Forwarded-For): a stranger's failures never lock the owner out, one client cannot
try many accounts, a guessing attack spread over many addresses stops only clients that never signed
in, and the counts are shared by every API process (they live in the database)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn

from backend import throttle
from backend.api.app import create_app
from backend.config import load_settings
from backend.services import Services
from backend.users import create_user
from tests.smtp_sink import free_port

ROOT = Path(__file__).resolve().parents[2]
OWNER = "owner@example.com"
PASSWORD = "correct horse"


@contextmanager
def serve(app) -> Iterator[str]:
    """The app on a free port with uvicorn's proxy headers trusted from 127.0.0.1 (its default)."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, proxy_headers=True, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def owner(sessions, workspace) -> str:
    with sessions.begin() as session:
        create_user(session, OWNER, PASSWORD, "Olga Owner", workspace_id=workspace.id)
    return OWNER


@pytest.fixture
def url(engine, clock, registry, owner, tmp_path) -> Iterator[str]:
    services = Services.create(
        load_settings(secret_key="k" * 32, var_dir=str(tmp_path), dev_inbox=False),
        engine=engine,
        clock=clock,
        registry=registry,
    )
    with serve(create_app(services)) as base:
        yield base


def sign_in(url: str, client_ip: str, email: str = OWNER, password: str = PASSWORD) -> httpx.Response:
    return httpx.post(
        url + "/api/auth/login",
        json={"email": email, "password": password},
        headers={"X-Forwarded-For": client_ip},
        timeout=30,
    )


def test_a_strangers_failures_lock_only_the_stranger(url, clock):
    for _ in range(throttle.PAIR_LIMIT):
        assert sign_in(url, "203.0.113.9", password="guess").status_code == 401
    refused = sign_in(url, "203.0.113.9")  # even the right password waits, from that client
    assert refused.status_code == 429
    assert 0 < int(refused.headers["retry-after"]) <= throttle.WINDOW.total_seconds()
    assert "try again in" in refused.json()["detail"]
    # The owner, from their own address, signs in as usual — before and after a first visit.
    assert sign_in(url, "198.51.100.7").status_code == 200
    # The window passes: the stranger may try again.
    clock.advance(seconds=int(refused.headers["retry-after"]))
    assert sign_in(url, "203.0.113.9", password="guess").status_code == 401


def test_one_client_cannot_try_many_accounts(url):
    for n in range(throttle.CLIENT_LIMIT):
        assert sign_in(url, "203.0.113.9", email=f"user{n}@example.com", password="guess").status_code == 401
    refused = sign_in(url, "203.0.113.9", email="yet-another@example.com", password="guess")
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
    assert sign_in(url, "203.0.113.9").status_code == 429  # any account it has not signed in to
    assert sign_in(url, "198.51.100.7").status_code == 200  # others are not affected


def test_a_client_that_signed_in_before_keeps_its_account(url):
    assert sign_in(url, "203.0.113.9").status_code == 200  # the owner, at the office
    for n in range(throttle.CLIENT_LIMIT):  # someone else at the same office tries many accounts
        sign_in(url, "203.0.113.9", email=f"user{n}@example.com", password="guess")
    assert sign_in(url, "203.0.113.9", email="new@example.com", password="guess").status_code == 429
    assert sign_in(url, "203.0.113.9").status_code == 200


def test_a_distributed_attack_stops_only_clients_that_never_signed_in(url):
    assert sign_in(url, "198.51.100.7").status_code == 200  # the owner's usual place
    for n in range(throttle.ACCOUNT_LIMIT):  # one guess each from many addresses
        assert sign_in(url, f"203.0.113.{n + 1}", password="guess").status_code == 401
    assert sign_in(url, "192.0.2.200").status_code == 429  # a new address, even with the password
    assert sign_in(url, "198.51.100.7").status_code == 200  # the owner is not locked out


def test_the_counts_are_shared_by_every_api_process(owner, db_url, tmp_path):
    """A second `waymark api` process on the same database refuses a client that failed on the first.
    Both use the real clock here (the second process has no other)."""
    second_port = free_port()
    env = {
        **os.environ,
        "WAYMARK_DATABASE_URL": db_url,
        "WAYMARK_VAR_DIR": str(tmp_path / "second"),
        "WAYMARK_SECRET_KEY": "k" * 32,
        "WAYMARK_DEV_INBOX": "0",
    }
    log = tmp_path / "second.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "backend.cli", "api", "--port", str(second_port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    second = f"http://127.0.0.1:{second_port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(second + "/schema/openapi.json", timeout=2)
                break
            except httpx.HTTPError:
                assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        for _ in range(throttle.PAIR_LIMIT):
            assert sign_in(second, "203.0.113.9", password="guess").status_code == 401
        # A different process (this test's own server) knows: the failures are in the database.
        with serve_real_clock(db_url, tmp_path) as first:
            assert sign_in(first, "203.0.113.9").status_code == 429
            assert sign_in(first, "198.51.100.7").status_code == 200
    finally:
        proc.terminate()
        proc.wait(10)


@contextmanager
def serve_real_clock(db_url: str, tmp_path: Path) -> Iterator[str]:
    from backend.db.session import make_engine

    engine = make_engine(db_url)
    services = Services.create(
        load_settings(secret_key="k" * 32, var_dir=str(tmp_path), dev_inbox=False), engine=engine
    )
    try:
        with serve(create_app(services)) as base:
            yield base
    finally:
        engine.dispose()
