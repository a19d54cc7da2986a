"""Browser-test helpers: the live server address, the request log, axe-core and layout checks."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
AXE_JS = ROOT / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING_IMPACTS = ("serious", "critical")
PHONE = {"width": 375, "height": 740}


@dataclass
class LiveServer:
    url: str
    host: str
    port: int

    def __call__(self, path: str = "/") -> str:
        return self.url + path


@dataclass
class RequestLog:
    """Every request the pages made, and those that went anywhere but the live server."""

    server: LiveServer
    seen: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)

    def allowed(self, url: str) -> bool:
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob", "about"):
            return True
        return (parts.scheme == "http" and parts.hostname == self.server.host
                and parts.port == self.server.port)


# --- accessibility ----------------------------------------------------------------------------

def _describe(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"[{v['impact']}] {v['id']}: {v['help']} ({v['helpUrl']})")
        for node in v["nodes"][:8]:
            target = " ".join(json.dumps(t) if not isinstance(t, str) else t
                              for t in node["target"])
            lines.append(f"    at {target}")
            lines.append(f"       {node['html'][:200]}")
            summary = (node.get("failureSummary") or "").replace("\n", "\n       ")
            if summary:
                lines.append(f"       {summary}")
    return "\n".join(lines)


def axe_check(pg, *, context: str | None = None) -> list[dict]:
    """Run axe-core on the page; fail on any serious or critical violation.

    Minor and moderate findings are printed (shown with -s or when the test fails) and returned.
    """
    if not pg.evaluate("() => typeof window.axe !== 'undefined'"):
        pg.add_script_tag(path=str(AXE_JS))
    results = pg.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations']})")
    violations = results["violations"]
    blocking = [v for v in violations if v.get("impact") in BLOCKING_IMPACTS]
    other = [v for v in violations if v.get("impact") not in BLOCKING_IMPACTS]
    where = context or pg.url
    if other:
        print(f"axe (not blocking) on {where}:\n{_describe(other)}")
    assert not blocking, f"accessibility violations on {where}:\n{_describe(blocking)}"
    return other


def no_horizontal_scroll(pg) -> None:
    """The page fits its viewport: nothing forces a sideways scroll."""
    overflow = pg.evaluate(
        "() => ({doc: document.documentElement.scrollWidth, view: window.innerWidth,"
        " wide: [...document.querySelectorAll('body *')]"
        "   .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1"
        "             && !e.closest('.table-wrap'))"
        "   .slice(0, 5).map(e => e.outerHTML.slice(0, 120))})")
    assert overflow["doc"] <= overflow["view"], (
        f"page is {overflow['doc']}px wide in a {overflow['view']}px viewport; "
        f"too wide: {overflow['wide']}")
