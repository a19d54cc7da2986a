"""Review in a real browser: a supervisor returns a submitted case with a comment, the caseworker
reads it and resubmits, the supervisor marks the case reviewed; a finding is offered only where
the rules allow it (a supervisor, on a supported act), and never to a caseworker.
"""

from __future__ import annotations

import re

import pytest

from app.domain import dates
from app.extensions import db
from app.models.cases import Case
from app.services import acts, cases
from tests.browser.helpers import axe_check
from tests.browser.test_sign_in_flow import sign_in
from tests.factories import actor, make_case
from tests.support import make_user

pytestmark = pytest.mark.browser

COMMENT = "Add the FIR number and the date the family petitioned the High Court."
SUPPORTED_PLACE = "Main bazaar, Turbat"  # make_case's act, supported by a witness testimony
UNSUPPORTED_PLACE = "Road to Gwadar"
CASE_URL = re.compile(r"/cases/[0-9a-f-]{36}(#.*)?$")


def submitted_case(app, owner) -> str:
    """make_case's case plus an act nothing supports yet, submitted for review by its owner."""
    case_id = make_case(app, owner, title="Student taken from Turbat bazaar")
    with app.app_context():
        user, case = actor(owner), db.session.get(Case, case_id)
        acts.add_act(user, case, {"act_type": "enforced_disappearance",
                                  "district_code": "PK211",
                                  "place_as_reported": UNSUPPORTED_PLACE},
                     dates.parse("April 2025"))
        cases.change_status(user, case, "submit")
        db.session.commit()
    return str(case_id)


def sign_out(page) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/login"))


def click_and_load(page, target) -> None:
    """Click, and wait until the page it leads to has loaded (its address may be the same)."""
    with page.expect_navigation():
        target.click()


def act(page, place: str):
    return page.locator("article.act", has_text=place)


def status_choices(page) -> list[str]:
    return page.get_by_label("Allegation status", exact=True).locator("option").all_inner_texts()


def test_return_resubmit_and_mark_reviewed(app, live_server, page, shot):
    worker = make_user(app, "caseworker", name="Nadia Baloch", teams=["Kech"])
    supervisor = make_user(app, "supervisor", name="Saeed Rind", teams=["Kech"])
    case_id = submitted_case(app, worker)

    # --- the supervisor finds the submitted case and returns it with a comment ----------------
    sign_in(page, live_server, app, supervisor)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Cases").click()
    row = page.get_by_role("row", name=re.compile("Student taken from Turbat bazaar"))
    assert "Under review" in row.inner_text()
    row.get_by_role("link").first.click()
    page.wait_for_url(CASE_URL)
    assert "Under review" in page.locator(".case-head .meta").inner_text()
    assert page.get_by_role("button", name="Mark reviewed").is_visible()
    shot(page, "1-supervisor-opens")
    axe_check(page, context="case under review, supervisor")

    page.get_by_label("What needs to change", exact=True).fill(COMMENT)
    click_and_load(page, page.get_by_role("button", name="Return with comments"))
    assert "The case is now open." in page.locator(".flashes").inner_text()
    assert "Open" in page.locator(".case-head .meta").inner_text()
    shot(page, "2-returned")
    axe_check(page, context="case returned, supervisor")
    sign_out(page)

    # --- the caseworker reads the comment, sees no finding on offer, and resubmits -----------
    sign_in(page, live_server, app, worker)
    page.goto(live_server(f"/cases/{case_id}"))
    returned = page.get_by_role("note")
    assert "Returned by the supervisor:" in returned.inner_text()
    assert COMMENT in returned.inner_text()
    shot(page, "3-caseworker-sees-comment")
    axe_check(page, context="returned case, caseworker")

    act(page, SUPPORTED_PLACE).get_by_role("link", name="Change status").click()
    assert "Alleged" in status_choices(page)
    assert "Finding" not in status_choices(page)  # a finding is a supervisor's conclusion
    axe_check(page, context="allegation status, caseworker")
    page.go_back()

    click_and_load(page, page.get_by_role("button", name="Submit for review"))
    assert "The case is now under review." in page.locator(".flashes").inner_text()
    # Once resubmitted, the old comment is no longer shown as an open request.
    assert page.get_by_role("note").count() == 0
    sign_out(page)

    # --- the supervisor marks it reviewed and records a finding where it is allowed ----------
    sign_in(page, live_server, app, supervisor)
    page.goto(live_server(f"/cases/{case_id}"))
    click_and_load(page, page.get_by_role("button", name="Mark reviewed"))
    assert "The case is now reviewed." in page.locator(".flashes").inner_text()
    assert "Reviewed" in page.locator(".case-head .meta").inner_text()
    shot(page, "4-reviewed")
    axe_check(page, context="reviewed case, supervisor")

    # The act nothing supports: no finding on offer, it stays alleged.
    act(page, UNSUPPORTED_PLACE).get_by_role("link", name="Change status").click()
    assert "Unsupported" in page.locator(".flash-warning").inner_text()
    choices = status_choices(page)
    assert "Finding" not in choices and "Corroborated" not in choices
    assert "Alleged" in choices
    shot(page, "5-status-unsupported")
    axe_check(page, context="allegation status, unsupported act")
    page.go_back()

    # The supported act: a finding is offered, and recording it drops "(alleged)".
    assert "(alleged)" in act(page, SUPPORTED_PLACE).get_by_role("heading", level=3).inner_text()
    act(page, SUPPORTED_PLACE).get_by_role("link", name="Change status").click()
    assert "Finding" in status_choices(page)
    assert "Corroborated" not in status_choices(page)  # one independent source only
    shot(page, "6-status-supported")
    axe_check(page, context="allegation status, supported act")
    page.get_by_label("Allegation status", exact=True).select_option(label="Finding")
    click_and_load(page, page.get_by_role("button", name="Set status"))
    assert "Status saved." in page.locator(".flashes").inner_text()
    supported = act(page, SUPPORTED_PLACE)
    assert "(alleged)" not in supported.get_by_role("heading", level=3).inner_text()
    assert "Finding" in supported.inner_text()
    assert "(alleged)" in act(page, UNSUPPORTED_PLACE).get_by_role("heading", level=3).inner_text()
    shot(page, "7-finding")
    axe_check(page, context="case with a finding")
