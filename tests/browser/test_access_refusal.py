"""Refusals as people see them: out-of-scope case addresses answer with the friendly 404 page
(indistinguishable from a case that does not exist, and carrying none of its data); an analyst,
who never opens case records, gets the 403 page. Screenshots of each, axe-checked.
"""

from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models.acts import Act
from app.models.cases import Case
from tests.browser.helpers import axe_check
from tests.browser.test_sign_in_flow import heading, sign_in
from tests.factories import make_case
from tests.support import make_user

pytestmark = pytest.mark.browser

TITLE = "Abduction of a student in Turbat"


def case_secrets(app, case_id) -> tuple[str, list[str]]:
    """The act id, and strings only the case's own pages may show."""
    with app.app_context():
        case = db.session.get(Case, case_id)
        act_id = db.session.execute(select(Act.id).where(Act.case_id == case_id)).scalar_one()
        return str(act_id), [TITLE, case.reference, "Turbat", "Bashir", "B••••", "W-17",
                             str(case_id)]


def assert_shows_nothing_of_the_case(page, secrets: list[str]) -> None:
    text = page.locator("body").inner_text()
    html = page.content()
    leaked = [s for s in secrets if s in text or s in html]
    assert not leaked, f"the refusal page shows case data: {leaked}"


def sign_out(page, live_server) -> None:
    page.goto(live_server("/"))  # error pages carry no menu: they never touch the database
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/login"))


def test_out_of_scope_case_is_not_found_and_analyst_is_refused(app, live_server, page, shot):
    owner = make_user(app, "caseworker", name="Nadia Baloch", teams=["Kech"])
    other_worker = make_user(app, "caseworker", name="Karim Marri", teams=["Quetta"])
    other_supervisor = make_user(app, "supervisor", name="Zahid Bugti", teams=["Quetta"])
    analyst = make_user(app, "analyst", name="Amina Analyst")
    case_id = make_case(app, owner, title=TITLE)
    act_id, secrets = case_secrets(app, case_id)
    case_path = f"/cases/{case_id}"

    # --- a caseworker of another team: the case "does not exist" -------------------------------
    sign_in(page, live_server, app, other_worker)
    response = page.goto(live_server(case_path))
    assert response.status == 404
    assert heading(page) == "Page not found"
    assert page.get_by_role("link", name="Go to the home page").is_visible()
    assert_shows_nothing_of_the_case(page, secrets)
    shot(page, "1-other-team-caseworker-404")
    axe_check(page, context="404 for another team's caseworker")

    # A page deeper inside the case, and a made-up case id, answer exactly the same way.
    deeper = page.goto(live_server(f"{case_path}/acts/{act_id}/edit"))
    assert deeper.status == 404 and heading(page) == "Page not found"
    assert_shows_nothing_of_the_case(page, secrets)
    missing = page.goto(live_server(f"/cases/{uuid.uuid4()}"))
    assert missing.status == 404 and heading(page) == "Page not found"

    # Nor does the case appear in their list.
    page.goto(live_server("/cases/"))
    assert "0 cases" in page.locator("main").inner_text()
    assert_shows_nothing_of_the_case(page, secrets)
    sign_out(page, live_server)

    # --- a supervisor of another team: the same ------------------------------------------------
    sign_in(page, live_server, app, other_supervisor)
    response = page.goto(live_server(case_path))
    assert response.status == 404 and heading(page) == "Page not found"
    assert_shows_nothing_of_the_case(page, secrets)
    sign_out(page, live_server)

    # --- an analyst: case records are not for this role at all ---------------------------------
    sign_in(page, live_server, app, analyst)
    response = page.goto(live_server(case_path))
    assert response.status == 403
    assert heading(page) == "You do not have access to this page"
    assert "ask your supervisor or administrator" in page.locator("main").inner_text()
    assert_shows_nothing_of_the_case(page, secrets)
    shot(page, "2-analyst-403")
    axe_check(page, context="403 for an analyst")

    for path in ("/cases/", f"{case_path}/report", "/search"):
        refused = page.goto(live_server(path))
        assert refused.status == 403, path
        assert_shows_nothing_of_the_case(page, secrets)
    # What the analyst may open instead: the dashboard of counts, which names no one.
    page.goto(live_server("/"))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard").click()
    assert heading(page) == "Dashboard"
    assert_shows_nothing_of_the_case(page, [TITLE, "Bashir", "B••••", str(case_id)])
