"""How the web app copes with a big journey, in Debian's Chromium (not a test: it prints figures).

Starts `waymark run` the way the end-to-end tests do (SQLite in a temp dir, a local SMTP sink), creates a
300-block journey through the admin API, and opens it in the built SPA:

- time to interactive: from navigation to the editor drawn (every block on screen rendered and measured,
  the view fitted), cold (empty cache) and warm (reload); plus how long a click takes to open a block's
  form on that canvas;
- frame times while dragging a block across the canvas with all 300 blocks on screen
  (requestAnimationFrame intervals: median, p95, worst, frames over 50 ms);
- the production bundle: the initial JS that index.html loads (entry + static imports from
  `frontend/dist/.vite/manifest.json`), gzipped, against the 350 KB target; the editor route's extra JS;
  and what the server actually sends for it (it gzips assets).

    python bench/spa_load.py [--blocks 300] [--runs 3]

Needs a built SPA (`npm run build -w frontend`) and /usr/bin/chromium.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.live import CHROMIUM, CHROMIUM_ARGS, LiveServer, start_live_server  # noqa: E402
from tests.smtp_sink import SmtpSink  # noqa: E402

DIST = ROOT / "frontend" / "dist"
TARGET_KB = 350
VIEWPORT = {"width": 1440, "height": 900}


# --- the journey --------------------------------------------------------------------------------------


def big_journey(blocks: int) -> dict:
    """A valid journey of ``blocks`` blocks: a trigger, then segments of wait → condition (yes: tag and on
    to the next segment; no: send → exit), laid out in columns so that fitting the view shows them all."""
    nodes: list[dict] = []
    edges: list[dict] = []

    def node(id_: str, type_: str, config: dict, x: int, y: int) -> str:
        nodes.append({"id": id_, "type": type_, "version": 1, "config": config, "position": {"x": x, "y": y}})
        return id_

    def edge(source: str, port: str, target: str) -> None:
        edges.append({"id": f"e{len(edges) + 1}", "source": source, "port": port, "target": target})

    per_column = 10
    previous = node("start", "trigger.event", {"event": "registration_started"}, 0, -160)
    previous_port = "next"
    segment = 0
    while len(nodes) + 5 <= blocks:
        column, row = divmod(segment, per_column)
        x, y = column * 640, row * 480
        wait = node(f"wait{segment}", "wait.duration", {"duration": f"PT{segment + 1}H"}, x, y)
        check = node(
            f"done{segment}",
            "condition",
            {"rule": {"kind": "event", "event": "registration_completed", "count": 1, "op": "at_least"}},
            x,
            y + 120,
        )
        tag = node(f"tag{segment}", "tag", {"add": [f"step_{segment}"]}, x, y + 240)
        send = node(f"send{segment}", "send", {"channel": "email", "template": "tpl_recovery_1"}, x + 300, y + 240)
        out = node(f"exit{segment}", "exit", {"reason": "reminded"}, x + 300, y + 360)
        edge(previous, previous_port, wait)
        edge(wait, "next", check)
        edge(check, "yes", tag)
        edge(check, "no", send)
        edge(send, "next", out)
        previous, previous_port = tag, "next"
        segment += 1
    column, row = divmod(segment, per_column)
    while len(nodes) < blocks:
        extra = node(f"extra{len(nodes)}", "tag", {"add": ["extra"]}, column * 640, row * 480 + 120 * (len(nodes) % 4))
        edge(previous, previous_port, extra)
        previous, previous_port = extra, "next"
    return {"schema_version": 1, "nodes": nodes, "edges": edges, "settings": {}}


def admin(server: LiveServer, method: str, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(
        server.url + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {server.admin_key}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"{}")


# --- in the browser -----------------------------------------------------------------------------------

# Resolves (with performance.now(), ms since navigation start) once the editor has drawn: blocks rendered,
# none still hidden for measuring, the viewport fitted, and the count stable over two frames.
READY = """() => new Promise((resolve) => {
  let last = -1, stable = 0;
  const check = () => {
    const editor = document.querySelector('[data-testid="editor"]');
    const nodes = document.querySelectorAll('.react-flow__node');
    const viewport = document.querySelector('.react-flow__viewport');
    const hidden = [...nodes].some((n) => n.style.visibility === 'hidden');
    const fitted = viewport && viewport.style.transform && !viewport.style.transform.includes('scale(1)');
    if (editor && nodes.length > 0 && !hidden && fitted) {
      stable = nodes.length === last ? stable + 1 : 0;
      last = nodes.length;
      if (stable >= 2) return resolve({ at: performance.now(), rendered: nodes.length });
    }
    requestAnimationFrame(check);
  };
  check();
})"""

# Samples every animation frame while dragging: its time and where the dragged block is drawn, so that
# the frames which drew a move can be told from idle ones.
START_FRAMES = """(nodeId) => {
  const node = document.querySelector(`.react-flow__node[data-id="${nodeId}"]`);
  window.__frames = [];
  window.__sampling = true;
  const tick = (t) => {
    window.__frames.push([t, node.style.transform]);
    if (window.__sampling) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}"""

STOP_FRAMES = """() => { window.__sampling = false; return window.__frames; }"""


def sign_in(context, server: LiveServer) -> None:
    credentials = {"email": server.email, "password": server.password}
    response = context.request.post(server.url + "/api/auth/login", data=credentials)
    assert response.ok, response.text()


def time_to_interactive(page, url: str) -> dict:
    page.goto(url, wait_until="commit")
    ready = page.evaluate(READY)
    return {"ms": ready["at"], "rendered": ready["rendered"]}


def click_to_form(page, node_id: str) -> float:
    """Milliseconds from a click on a block to its form in the side panel."""
    box = page.locator(f'.react-flow__node[data-id="{node_id}"]').bounding_box()
    started = time.perf_counter()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + 6)
    page.locator(f'[data-testid="node-panel"][data-node-id="{node_id}"]').wait_for()
    return (time.perf_counter() - started) * 1000


def drag_frames(page, node_id: str, steps: int = 150) -> tuple[list[float], list[float]]:
    """Drag a block across the canvas in small mouse moves, as fast as the browser takes them. Returns the
    intervals of every frame, and of the frames that drew the block somewhere new (the drag's own)."""
    box = page.locator(f'.react-flow__node[data-id="{node_id}"]').bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + 4
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 3, y + 3)  # past the drag threshold: the drag (and the selection) starts here
    page.evaluate(START_FRAMES, node_id)
    for i in range(steps):
        page.mouse.move(x + 3 + 300 * i / steps, y + 3 + 80 * (i % 20) / 20)
    page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
    frames = page.evaluate(STOP_FRAMES)
    page.mouse.up()
    every, moved = [], []
    for (t0, where0), (t1, where1) in itertools.pairwise(frames):
        every.append(t1 - t0)
        if where1 != where0:
            moved.append(t1 - t0)
    return every, moved


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# --- the bundle ---------------------------------------------------------------------------------------


def gz(path: Path) -> int:
    return len(gzip.compress(path.read_bytes(), compresslevel=9))


def bundle() -> dict:
    manifest = json.loads((DIST / ".vite" / "manifest.json").read_text())

    def closure(key: str, seen: set[str]) -> set[str]:
        if key in seen:
            return seen
        seen.add(key)
        for imported in manifest[key].get("imports", []):
            closure(imported, seen)
        return seen

    entry = next(k for k, v in manifest.items() if v.get("isEntry"))
    initial = closure(entry, set())
    editor_key = next(k for k in manifest if k.endswith("EditorPage.tsx"))
    editor = closure(editor_key, set()) - initial
    files = lambda keys: [DIST / manifest[k]["file"] for k in keys if manifest[k]["file"].endswith(".js")]  # noqa: E731
    css = [DIST / c for k in initial for c in manifest[k].get("css", [])]
    return {
        "initial_js_files": sorted(p.name for p in files(initial)),
        "initial_js_raw": sum(p.stat().st_size for p in files(initial)),
        "initial_js_gzip": sum(gz(p) for p in files(initial)),
        "initial_css_gzip": sum(gz(p) for p in css),
        "editor_js_gzip": sum(gz(p) for p in files(editor)),
        "editor_js_files": sorted(p.name for p in files(editor)),
    }


def served_bytes(server: LiveServer, names: list[str]) -> int:
    """What the server sends for these assets to a browser that accepts gzip (Content-Length or body)."""
    total = 0
    for name in names:
        request = urllib.request.Request(f"{server.url}/assets/{name}", headers={"Accept-Encoding": "gzip"})
        with urllib.request.urlopen(request, timeout=30) as response:
            total += len(response.read())  # urllib does not decode: these are the bytes on the wire
    return total


# --- main ---------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--blocks", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3, help="cold and warm loads to take the median of")
    args = parser.parse_args()
    if not (DIST / "index.html").exists():
        sys.exit("build the SPA first: npm run build -w frontend")

    from playwright.sync_api import sync_playwright

    sizes = bundle()
    sink = SmtpSink().start()
    with tempfile.TemporaryDirectory(prefix="waymark-bench-") as tmp:
        server = start_live_server(Path(tmp), sink.port, tick_seconds="5")
        try:
            graph = big_journey(args.blocks)
            journey = admin(server, "POST", "/api/journeys", {"name": f"{args.blocks} blocks", "graph": graph})
            check = admin(server, "POST", f"/api/journeys/{journey['id']}/validate", {})
            url = f"{server.url}/journeys/{journey['id']}"
            wire = served_bytes(server, sizes["initial_js_files"])
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
                cold, warm, clicks, rendered = [], [], [], 0
                for _ in range(args.runs):
                    context = browser.new_context(viewport=VIEWPORT, locale="en-US")
                    sign_in(context, server)
                    page = context.new_page()
                    first = time_to_interactive(page, url)
                    cold.append(first["ms"])
                    rendered = first["rendered"]
                    page.wait_for_timeout(300)
                    warm.append(time_to_interactive(page, url)["ms"])  # same page: the HTTP cache is warm
                    page.wait_for_timeout(300)
                    clicks.append(click_to_form(page, "send10"))
                    context.close()
                context = browser.new_context(viewport=VIEWPORT, locale="en-US")
                sign_in(context, server)
                page = context.new_page()
                time_to_interactive(page, url)
                page.wait_for_timeout(500)
                page.keyboard.press("Escape")
                frames, moved = [], []
                for node_id in ("tag12", "send25", "wait40"):
                    every, drawn = drag_frames(page, node_id)
                    frames += every
                    moved += drawn
                    page.wait_for_timeout(300)
                context.close()
                browser.close()
        finally:
            server.stop()
            sink.stop()

    print(f"Web app, {args.blocks}-block journey ({len(graph['edges'])} connections, valid: {check['valid']})")
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(
        f"  Chromium {CHROMIUM}, headless, software rendering, {VIEWPORT['width']}x{VIEWPORT['height']}, "
        f"{args.runs} runs (median); {os.cpu_count()} CPUs, load average {load}"
    )
    print(f"  blocks rendered on open (view fitted):     {rendered}")
    print(f"  time to interactive, cold cache:           {statistics.median(cold):7.0f} ms   (runs: {_ms(cold)})")
    print(f"  time to interactive, warm cache:           {statistics.median(warm):7.0f} ms   (runs: {_ms(warm)})")
    print(f"  click a block → its form shown:            {statistics.median(clicks):7.0f} ms")
    print(
        f"  dragging a block, frames that moved it ({len(moved)}): median {statistics.median(moved):5.1f} ms, "
        f"p95 {percentile(moved, 95):5.1f} ms, worst {max(moved):5.1f} ms, {sum(f > 50 for f in moved)} over 50 ms"
    )
    print(
        f"  dragging a block, every frame ({len(frames)}):     median {statistics.median(frames):5.1f} ms, "
        f"p95 {percentile(frames, 95):5.1f} ms, worst {max(frames):5.1f} ms, {sum(f > 50 for f in frames)} over 50 ms"
    )
    print(
        f"  initial JS: {sizes['initial_js_gzip'] / 1024:6.1f} KB gzipped (target {TARGET_KB} KB; "
        f"{sizes['initial_js_raw'] / 1024:.1f} KB raw; served as {wire / 1024:.1f} KB) "
        f"— {', '.join(sizes['initial_js_files'])}"
    )
    print(f"  initial CSS: {sizes['initial_css_gzip'] / 1024:5.1f} KB gzipped")
    print(
        f"  editor route adds {sizes['editor_js_gzip'] / 1024:.1f} KB gzipped JS on demand "
        f"— {', '.join(sizes['editor_js_files'])}"
    )
    if sizes["initial_js_gzip"] > TARGET_KB * 1024:
        print(f"  OVER BUDGET: initial JS is above {TARGET_KB} KB gzipped")


def _ms(values: list[float]) -> str:
    return ", ".join(f"{v:.0f}" for v in values)


if __name__ == "__main__":
    main()
