"""Every page a person can open, for every role, passes axe-core and loads nothing from outside.

The list of pages is built from the app's own URL map, so a new page is checked without anyone
remembering to add it: each GET endpoint the role may reach (per its guard declaration) is opened
with its ids filled from a case seeded with one object of every kind (tests/matrix_support.py:
populate_case), including an evidence upload. Endpoints that answer with a file (CSV, JSON, plain
text) are skipped, and so are the public sign-in and link pages, which test_sign_in_flow.py walks
with their real tokens. The test collects every problem and fails once, listing them all.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Error as PlaywrightError

from app.extensions import db
from app.models.cases import Case
from app.web.guard import PUBLIC, SIGNED_IN, access_of
from tests.browser.helpers import AXE_JS, PHONE, axe_check, no_horizontal_scroll
from tests.browser.test_sign_in_flow import sign_in
from tests.factories import actor, make_case
from tests.matrix_support import populate_case
from tests.support import make_user

pytestmark = pytest.mark.browser

# Endpoints that answer with a file, not a page (addresses ending in a file suffix are skipped
# without being listed here).
FILE_ENDPOINTS = {"static", "main.health"}
FILE_SUFFIXES = (".csv", ".json", ".txt", ".zip", ".pdf")
ROLES = ("caseworker", "supervisor", "analyst", "admin")
# Pages also checked (and screenshotted) at phone width, per role; the rest share their layouts.
PHONE_PAGES = {
    "caseworker": {"cases.index", "cases.view", "cases.evidence_item", "cases.testimony",
                   "analysis.search"},
    "supervisor": {"audit.log", "analysis.dashboard"},
    "analyst": {"analysis.dashboard"},
    "admin": set(),
}

# Pages in a state worth its own check: with results, or filtered.
STATES = {
    "caseworker": ["/search?district=PK211", "/cases/?status=open&district=PK211"],
    "supervisor": ["/audit/?case={case_id}", "/dashboard?district=PK211"],
    "analyst": ["/dashboard?district=PK211"],
    "admin": ["/audit/?action=account.create"],
}


def seed(app) -> tuple[dict[str, Any], dict[str, Any]]:
    people = {
        "caseworker": make_user(app, "caseworker", name="Nadia Caseworker", teams=["Kech"]),
        "supervisor": make_user(app, "supervisor", name="Saeed Supervisor", teams=["Kech"]),
        "analyst": make_user(app, "analyst", name="Amina Analyst"),
        "admin": make_user(app, "admin", name="Farzana Admin"),
    }
    case_id = make_case(app, people["caseworker"])
    with app.app_context():
        owner = actor(people["caseworker"])
        case = db.session.get(Case, case_id)
        ids = populate_case(app, owner, case, "every-page")
        db.session.commit()
    values = {"case_id": case_id, "act_id": ids["act"], "item_id": ids["evidence"],
              "follow_up_id": ids["follow_up"], "person_id": ids["person"],
              "testimony_id": ids["testimony"], "user_id": people["caseworker"].id}
    return people, values


def pages_for(app, role: str, values: dict[str, Any]) -> list[tuple[str, str]]:
    """(endpoint, path) of every GET page this role may open, ids filled from the seeded case."""
    pages = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if ("GET" not in rule.methods or rule.endpoint in FILE_ENDPOINTS
                or rule.rule.endswith(FILE_SUFFIXES)):
            continue
        access = access_of(app.view_functions[rule.endpoint])
        if access == PUBLIC:
            continue
        if access != SIGNED_IN and role not in access:
            continue
        missing = [arg for arg in rule.arguments if values.get(arg) is None]
        assert not missing, f"no seeded value for {missing} in {rule.rule}: add it to seed()"
        pages.append((rule.endpoint, rule.build({a: str(values[a]) for a in rule.arguments},
                                               append_unknown=False)[1]))
    pages += [("(with results)", path.format(**values)) for path in STATES[role]]
    return pages


def test_every_page_passes_axe_for_every_role(app, live_server, page, shot):
    people, values = seed(app)
    # axe-core in every document from the start: a third faster than injecting it per page.
    page.context.add_init_script(path=str(AXE_JS))
    problems: list[str] = []
    visited: dict[str, int] = {}
    for role in ROLES:
        sign_in(page, live_server, app, people[role])
        for endpoint, path in pages_for(app, role, values):
            try:
                response = page.goto(live_server(path))
            except PlaywrightError as error:  # a download, say: add it to FILE_ENDPOINTS
                problems.append(f"{role} {path} ({endpoint}) did not open as a page: {error}")
                continue
            status = response.status if response else 0
            visited[f"{role} {path}"] = status
            if status >= 400:
                problems.append(f"{role} {path} ({endpoint}): HTTP {status}")
                continue
            try:
                axe_check(page, context=f"{role} {path} ({endpoint})")
            except AssertionError as error:
                problems.append(str(error))
            if endpoint in PHONE_PAGES[role]:
                page.set_viewport_size(PHONE)
                try:
                    no_horizontal_scroll(page)
                except AssertionError as error:
                    problems.append(f"{role} {path} at 375px: {error}")
                shot(page, f"{role}-{endpoint}-phone")
                page.set_viewport_size({"width": 1280, "height": 860})
                shot(page, f"{role}-{endpoint}")
        page.goto(live_server("/"))
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(lambda url: "/login" in url)
    # Every role reached a fair number of pages: an empty list would pass vacuously.
    for role, least in (("caseworker", 25), ("supervisor", 30), ("analyst", 4), ("admin", 8)):
        reached = [k for k in visited if k.startswith(role + " ")]
        assert len(reached) >= least, f"{role} reached only {reached}"
    print("\n".join(f"{status} {key}" for key, status in visited.items()))
    assert not problems, f"{len(problems)} page(s) failed:\n\n" + "\n\n".join(problems)
