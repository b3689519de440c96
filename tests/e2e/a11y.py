"""axe-core in the end-to-end suite: inject the npm package's ``axe.min.js`` (a devDependency of the
frontend, installed by ``npm ci``) into the page and fail on serious or critical violations.

    from tests.e2e.a11y import assert_accessible
    assert_accessible(page, "segments list")

Any page can use it; pass ``include`` to check a part of the page (a dialog) and ``disable`` to switch
off a rule for a documented reason."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.live import ROOT

AXE_CANDIDATES = (
    ROOT / "node_modules" / "axe-core" / "axe.min.js",
    ROOT / "frontend" / "node_modules" / "axe-core" / "axe.min.js",
)
FAILING_IMPACTS = ("serious", "critical")


def axe_script() -> Path:
    for path in AXE_CANDIDATES:
        if path.exists():
            return path
    raise AssertionError("axe-core is not installed: run `npm ci` (make test does it for you)")


_RUN = """async ([include, disable]) => {
  const rules = Object.fromEntries(disable.map((id) => [id, { enabled: false }]));
  const result = await window.axe.run(include ? { include: [include] } : document, {
    resultTypes: ['violations'],
    rules,
  });
  return result.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    nodes: v.nodes.slice(0, 5).map((n) => ({ target: n.target.join(' '), summary: n.failureSummary })),
  }));
}"""


def violations(page, *, include: str | None = None, disable: tuple[str, ...] = ()) -> list[dict]:
    """Every axe violation on the page (or inside the ``include`` selector), with up to five nodes each."""
    if not page.evaluate("() => Boolean(window.axe)"):
        # Evaluated, not added as a <script> tag: the app's Content-Security-Policy refuses inline scripts.
        page.evaluate(axe_script().read_text())
    return page.evaluate(_RUN, [include, list(disable)])


def assert_accessible(page, where: str, *, include: str | None = None, disable: tuple[str, ...] = ()) -> None:
    """Fail with a readable list when axe finds a serious or critical violation."""
    found = [v for v in violations(page, include=include, disable=disable) if v["impact"] in FAILING_IMPACTS]
    if found:
        lines = [f"{len(found)} serious/critical accessibility violation(s) on {where}:"]
        for v in found:
            lines.append(f"- {v['id']} ({v['impact']}): {v['help']}")
            lines += [f"    {n['target']}: {n['summary']}" for n in v["nodes"]]
        raise AssertionError("\n".join(lines) + "\n" + json.dumps(found)[:2000])


_SPILL = """(selector) => {
  const out = [];
  for (const el of document.querySelectorAll(selector)) {
    if (!el.checkVisibility()) continue;
    const style = getComputedStyle(el);
    // Boxes that scroll or clip on purpose take care of their own content.
    if (style.overflowX !== 'visible') continue;
    if (el.scrollWidth > el.clientWidth + 1) {
      out.push(`${el.tagName.toLowerCase()}.${[...el.classList].join('.')} "${el.innerText.slice(0, 60)}" ` +
        `(${el.scrollWidth} > ${el.clientWidth} px)`);
    }
  }
  return out;
}"""

SPILL_SELECTOR = (
    ".card, .button, .badge, .chip, .table td, .table th, .field, .field-label, h1, h2, .big-number, .day-range-hint"
)


def assert_no_spill(page, where: str, selector: str = SPILL_SELECTOR) -> None:
    """Fail when text runs out of its box (a long translation, a long name) anywhere in ``selector``."""
    found = page.evaluate(_SPILL, selector)
    assert not found, f"text spills out of its box on {where}:\n" + "\n".join(found)
