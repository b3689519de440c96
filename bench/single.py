"""Single-call ingestion against a real multi-process server (see bench/ingestion.py for how to run it).

``bench_app`` is what each server process serves: the app of ``waymark api`` plus one trivial route,
so the two endpoints share processes, event loops, sockets and the machine's load at that moment.
"""

from __future__ import annotations

import base64
import os
import re
import selectors
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from multiprocessing import get_context
from pathlib import Path

import msgspec
import sqlalchemy as sa
from litestar import Request, post

ROOT = Path(__file__).resolve().parent.parent
TRACK_PATH = "/v1/track"
TRIVIAL_PATH = "/bench/trivial"


class Success(msgspec.Struct):
    success: bool = True


@post(TRIVIAL_PATH, status_code=200, include_in_schema=False)
async def trivial(request: Request) -> Success:
    """The framework's ceiling: read the body, decode it as /v1/track does, answer."""
    from backend.api.ingest import TrackMessage

    msgspec.json.decode(await request.body(), type=TrackMessage)
    return Success()


def bench_app():
    """Factory for uvicorn (one call per server process)."""
    from backend.api.app import PUBLIC_HANDLERS
    from backend.cli import api_app

    PUBLIC_HANDLERS.append(trivial)
    return api_app()


# -------------------------------------------------------------------------------------------------
# Load generators: closed loop, a fixed number of keep-alive connections, each with one request in flight
# -------------------------------------------------------------------------------------------------

WRK_SCRIPT = r"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "%(auth)s"
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local prefix, counter = "", 0
function init(args)
  prefix = args[1] .. "-" .. tostring(tid)
end
function request()
  counter = counter + 1
  local body = string.format(
    '{"userId":"user-%%d","event":"viewed_page","messageId":"%%s-%%d",'
    .. '"properties":{"path":"/pricing","i":%%d},"context":{"timezone":"Europe/Warsaw"}}',
    counter %% 1000, prefix, counter, counter)
  return wrk.format(nil, nil, nil, body)
end
"""


class Round(msgspec.Struct):
    path: str
    ok: int
    failed: int
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_us: float = 0.0
    """Server CPU time (all its processes, user + system) per request answered."""
    timeouts: int = 0
    """Of ``failed``: socket errors and timeouts of the load generator (no answer within 2 s)."""


def _cpu_seconds(pid: int) -> float:
    """CPU time of a process and its children that are still running (the uvicorn workers)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry.name) == pid or int(fields[1]) == pid:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _ms(text: str) -> float:
    match = re.match(r"([\d.]+)(us|ms|s|m)\b", text.strip())
    if match is None:
        return float("nan")
    value, unit = match.groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def run_wrk(url: str, auth: str, tag: str, seconds: float, connections: int, threads: int) -> Round:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % {"auth": auth})
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--latency", "-s", script.name, url, "--", tag],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    os.unlink(script.name)
    total = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    return Round(
        path=url.split("/", 3)[-1],
        ok=total - non2xx,
        failed=non2xx + errors,
        timeouts=errors,
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        p50_ms=_ms(re.search(r"50%\s+(\S+)", out).group(1)),
        p99_ms=_ms(re.search(r"99%\s+(\S+)", out).group(1)),
    )


def _socket_worker(host, port, path, auth, tag, seconds, connections, queue) -> None:
    """One load process: ``connections`` raw HTTP/1.1 keep-alive sockets, one request in flight each."""
    sel = selectors.DefaultSelector()
    counter = 0
    latencies: list[float] = []
    ok = failed = 0

    def next_request() -> bytes:
        nonlocal counter
        counter += 1
        body = (
            b'{"userId":"user-%d","event":"viewed_page","messageId":"%s-%d",'
            b'"properties":{"path":"/pricing","i":%d},"context":{"timezone":"Europe/Warsaw"}}'
            % (counter % 1000, tag.encode(), counter, counter)
        )
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: {auth}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body

    for _ in range(connections):
        sock = socket.create_connection((host, port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(next_request())
        sel.register(sock, selectors.EVENT_READ, [b"", time.perf_counter()])
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        for key, _ in sel.select(0.1):
            state = key.data
            chunk = key.fileobj.recv(65536)
            if not chunk:
                raise SystemExit("the server closed a connection")
            state[0] += chunk
            head, sep, rest = state[0].partition(b"\r\n\r\n")
            if not sep:
                continue
            length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))
            if len(rest) < length:
                continue
            now = time.perf_counter()
            latencies.append(now - state[1])
            if head.startswith(b"HTTP/1.1 200"):
                ok += 1
            else:
                failed += 1
            state[0] = rest[length:]
            state[1] = now
            key.fileobj.sendall(next_request())
    queue.put((ok, failed, latencies))


def run_sockets(url: str, auth: str, tag: str, seconds: float, connections: int, processes: int) -> Round:
    host, port_path = url.removeprefix("http://").split(":", 1)
    port, path = port_path.split("/", 1)
    ctx = get_context("spawn")
    queue = ctx.Queue()
    per = max(1, connections // processes)
    procs = [
        ctx.Process(target=_socket_worker, args=(host, int(port), "/" + path, auth, f"{tag}-{i}", seconds, per, queue))
        for i in range(processes)
    ]
    for proc in procs:
        proc.start()
    ok = failed = 0
    latencies: list[float] = []
    for _ in procs:
        a, b, lat = queue.get()
        ok, failed, latencies = ok + a, failed + b, latencies + lat
    for proc in procs:
        proc.join()
    latencies.sort()
    return Round(
        path=path,
        ok=ok,
        failed=failed,
        rps=(ok + failed) / seconds,
        p50_ms=latencies[len(latencies) // 2] * 1000,
        p99_ms=latencies[int(len(latencies) * 0.99)] * 1000,
    )


# -------------------------------------------------------------------------------------------------
# The run
# -------------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(port: int, server: subprocess.Popen, auth: str) -> None:
    body = b'{"userId":"u","event":"e"}'
    request = (
        f"POST {TRIVIAL_PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("the server did not start")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(request)
                if s.recv(100).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the server did not answer within 60 s")


def run_single(args) -> None:
    from backend.db.migrate import upgrade
    from backend.db.session import make_engine
    from backend.services import Services
    from backend.workspaces import create_workspace

    sys.path.insert(0, str(ROOT))
    tmp = tempfile.mkdtemp(prefix="waymark-bench-single-")
    if args.database_url:
        from bench.ingestion import _fresh_pg

        url = _fresh_pg(args.database_url)
    else:
        url = f"sqlite:///{tmp}/bench.db"
    engine = make_engine(url)
    upgrade(engine)
    from backend.config import load_settings

    services = Services.create(load_settings(secret_key="b" * 32, var_dir=tmp, database_url=url), engine=engine)
    with services.sessions.begin() as session:
        ws = create_workspace(session, "bench", "Bench")
    auth = "Basic " + base64.b64encode(f"{ws.write_key}:".encode()).decode()

    client = args.client
    if client == "auto":
        client = "wrk" if shutil.which("wrk") else "sockets"
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "WAYMARK_DATABASE_URL": url,
        "WAYMARK_VAR_DIR": tmp,
        "WAYMARK_SECRET_KEY": "b" * 32,
        "WAYMARK_MAX_INGEST_PER_SECOND": "0",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "bench.single:bench_app",
            "--workers",
            str(args.workers),
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=env,
        cwd=ROOT,
    )
    load_before = os.getloadavg()
    try:
        _wait_ready(port, server, auth)
        results: dict[str, list[Round]] = {TRIVIAL_PATH: [], TRACK_PATH: []}
        for n in range(args.rounds):
            for path in (TRIVIAL_PATH, TRACK_PATH):
                tag = f"r{n}{path.replace('/', '-')}"
                target = f"http://127.0.0.1:{port}{path}"
                cpu = _cpu_seconds(server.pid)
                if client == "wrk":
                    r = run_wrk(target, auth, tag, args.seconds, args.connections, threads=2)
                else:
                    r = run_sockets(target, auth, tag, args.seconds, args.connections, processes=2)
                r.cpu_us = (_cpu_seconds(server.pid) - cpu) / max(1, r.ok + r.failed) * 1e6
                results[path].append(r)
                print(
                    f"  round {n + 1} {path:14s} {r.rps:8.0f} req/s  p50 {r.p50_ms:6.2f} ms  "
                    f"p99 {r.p99_ms:6.2f} ms  server CPU {r.cpu_us:5.0f} µs/request  "
                    f"({r.ok} ok, {r.failed - r.timeouts} other answers, {r.timeouts} timeouts)",
                    flush=True,
                )
        time.sleep(1)
        with engine.connect() as conn:
            stored = conn.execute(sa.text("SELECT count(*) FROM events WHERE name = 'viewed_page'")).scalar()
    finally:
        server.terminate()
        server.wait(30)
    load_after = os.getloadavg()
    answered = sum(r.ok for r in results[TRACK_PATH])
    track = statistics.median(r.rps for r in results[TRACK_PATH])
    trivial = statistics.median(r.rps for r in results[TRIVIAL_PATH])
    print(
        f"single calls — {engine.dialect.name}, {args.workers} server process(es), {os.cpu_count()} cores, "
        f"client {client} with {args.connections} connections, {args.rounds}×{args.seconds:g} s rounds each, "
        f"load average {load_before[0]:.1f} → {load_after[0]:.1f}"
    )
    for path in (TRACK_PATH, TRIVIAL_PATH):
        rounds = results[path]
        print(
            f"  {path:14s} median {statistics.median(r.rps for r in rounds):7.0f} req/s  "
            f"p50 {statistics.median(r.p50_ms for r in rounds):6.2f} ms  "
            f"p99 {statistics.median(r.p99_ms for r in rounds):6.2f} ms  "
            f"server CPU {statistics.median(r.cpu_us for r in rounds):5.0f} µs/request"
        )
    ratios = [a.rps / b.rps for a, b in zip(results[TRACK_PATH], results[TRIVIAL_PATH], strict=True)]
    print(f"  ratio track/trivial {track / trivial:.2f} (rounds' own: {statistics.median(ratios):.2f})")
    print(f"  every 200 stored: {answered} answered 200, {stored} events stored")
    if stored < answered:
        raise SystemExit("FAILED: fewer events stored than requests answered 200")
    engine.dispose()
