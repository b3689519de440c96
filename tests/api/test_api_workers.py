"""``waymark api --workers N`` serves from several processes that all write to the same database."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import sqlalchemy as sa

from backend.db.models import Event

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry.name))
    return out


def test_api_with_two_worker_processes_serves_and_stores_every_call(db_url, engine, workspace, tmp_path):
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "WAYMARK_DATABASE_URL": db_url,
        "WAYMARK_VAR_DIR": str(tmp_path),
        "WAYMARK_SECRET_KEY": "k" * 32,
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "backend.cli", "api", "--workers", "2", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=ROOT,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        auth = (workspace.write_key, "")
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.stderr.read().decode()
            try:
                if httpx.get(f"{base}/schema/openapi.json", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
        assert len(_children(server.pid)) >= 2  # the supervisor's worker processes

        def send(chunk: range) -> list[int]:
            with httpx.Client(base_url=base, auth=auth, timeout=30) as client:
                return [
                    client.post(
                        "/v1/track", json={"userId": f"u-{i % 5}", "event": "viewed", "messageId": f"m-{i}"}
                    ).status_code
                    for i in chunk
                ]

        with ThreadPoolExecutor(8) as pool:
            statuses = [s for part in pool.map(send, [range(i, 200, 8) for i in range(8)]) for s in part]
        assert statuses == [200] * 200
        with engine.connect() as conn:
            stored = conn.execute(sa.select(Event.message_id).where(Event.workspace_id == workspace.id)).scalars()
            assert sorted(stored) == sorted(f"m-{i}" for i in range(200))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)
