"""Browser fixtures: the real app served on loopback, Debian's Chromium driven by Playwright,
a request log that fails any test whose pages reach beyond the app, screenshots, and axe-core.

Nothing is downloaded here: Chromium comes from Debian (`apt-get install chromium`) and axe-core
from npm (`npm install` at the repository root). Playwright never fetches a browser of its own.
When either is missing the tests skip loudly, or fail when AMANAT_REQUIRE_BROWSER=1 (CI).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.browser.helpers import AXE_JS, ROOT, LiveServer, RequestLog

CHROMIUM = Path(os.environ.get("AMANAT_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SKIP_REASON = ("browser tests skipped: install chromium (apt-get install chromium) "
               "and run npm install")


def _missing() -> list[str]:
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    if not AXE_JS.exists():
        missing.append(f"{AXE_JS.relative_to(ROOT)} (npm install at the repository root)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright Python package (pip install -e '.[test]')")
    return missing


def _require_browser() -> None:
    missing = _missing()
    if not missing:
        return
    if os.environ.get("AMANAT_REQUIRE_BROWSER") == "1":
        pytest.fail("AMANAT_REQUIRE_BROWSER=1 but the browser tests cannot run; missing: "
                    + "; ".join(missing), pytrace=False)
    pytest.skip(f"{SKIP_REASON} [missing: {'; '.join(missing)}]")


# --- failure screenshots ----------------------------------------------------------------------

@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    # Keep each phase's report on the test so the page fixture can tell, at teardown, whether
    # the test body failed and a last screenshot is worth taking.
    setattr(item, f"report_{report.when}", report)
    return report


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_")[:120]


# --- the live server --------------------------------------------------------------------------

@pytest.fixture
def live_server(app) -> Iterator[LiveServer]:
    """The per-test app (same migrated database fixtures as every other test) over real HTTP."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    port = server.server_port
    thread = threading.Thread(target=server.serve_forever, name="amanat-live-server",
                              daemon=True)
    thread.start()
    try:
        yield LiveServer(url=f"http://127.0.0.1:{port}", host="127.0.0.1", port=port)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


# --- the browser ------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def browser():
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _new_page(browser, live_server: LiveServer, *, bypass_csp: bool):
    context = browser.new_context(
        bypass_csp=bypass_csp,
        viewport={"width": 1280, "height": 860},
        locale="en-GB",
        service_workers="block",
    )
    context.set_default_timeout(15_000)
    log = RequestLog(live_server)

    def route(route, request) -> None:
        log.seen.append(request.url)
        if log.allowed(request.url):
            route.continue_()
        else:
            log.outside.append(request.url)
            route.abort("blockedbyclient")

    context.route("**/*", route)
    return context, context.new_page(), log


def _check_outside(log: RequestLog) -> None:
    assert not log.outside, (
        "pages must load nothing from outside the app, but requested:\n  "
        + "\n  ".join(log.outside))


@pytest.fixture
def page(browser, live_server: LiveServer, request: pytest.FixtureRequest):
    """A fresh browser context per test, whose every request must go to the live server.

    bypass_csp=True is here ONLY so that axe_check can inject axe-core as an inline script; the
    app's CSP (script-src 'self') would rightly refuse it. The CSP itself is exercised by
    `strict_page`, which does not bypass it.
    """
    context, pg, log = _new_page(browser, live_server, bypass_csp=True)
    pg.request_log = log
    yield pg
    _finish(request, context, pg, log)


@pytest.fixture
def strict_page(browser, live_server: LiveServer, request: pytest.FixtureRequest):
    """Like `page` but with the app's Content-Security-Policy enforced; records CSP reports."""
    context, pg, log = _new_page(browser, live_server, bypass_csp=False)
    pg.request_log = log
    pg.csp_violations = []
    pg.on("console", lambda msg: pg.csp_violations.append(msg.text)
          if msg.type == "error" and "Content Security Policy" in msg.text else None)
    yield pg
    _finish(request, context, pg, log)


def _finish(request: pytest.FixtureRequest, context, pg, log: RequestLog) -> None:
    report = getattr(request.node, "report_call", None)
    try:
        if report is not None and report.failed and not pg.is_closed():
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            path = SCREENSHOTS / f"{_safe(request.node.name)}-failure.png"
            try:
                pg.screenshot(path=str(path), full_page=True)
                print(f"failure screenshot: {path}")
            except Exception as error:  # noqa: BLE001 - a screenshot must not hide the failure
                print(f"could not take a failure screenshot: {error}")
    finally:
        context.close()
    _check_outside(log)


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Callable[..., Path]:
    """shot(page, "step") saves test-artifacts/screenshots/<test-name>-<step>.png."""
    for stale in SCREENSHOTS.glob(f"{_safe(request.node.name)}-*.png"):
        stale.unlink()  # the pictures left are this run's

    def take(pg, step: str, *, full_page: bool = True) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{_safe(request.node.name)}-{_safe(step)}.png"
        pg.screenshot(path=str(path), full_page=full_page)
        return path
    return take
