"""The audit trail as a supervisor uses it: filter by person and by case, "Verify now" passes;
then someone edits an entry straight in the database, and verification turns the pages red.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select, text

from app.extensions import db
from app.models.audit import AuditEntry
from tests.browser.helpers import axe_check
from tests.browser.test_sign_in_flow import heading, sign_in
from tests.factories import make_case
from tests.support import make_user

pytestmark = pytest.mark.browser


def entry_rows(page):
    return page.locator("table.audit-table tbody tr")


def click_and_load(page, target) -> None:
    """Click, and wait until the page it leads to has loaded (its address may be the same)."""
    with page.expect_navigation():
        target.click()


def tamper(app, case_id) -> int:
    """What someone with database access but no Amanat account might do: rewrite the details
    of one entry in place. Returns the entry's sequence number."""
    with app.app_context():
        seq = db.session.execute(
            select(func.min(AuditEntry.seq)).where(AuditEntry.case_id == case_id)).scalar_one()
        db.session.execute(text("UPDATE audit_entries SET details = :details WHERE seq = :seq"),
                           {"details": json.dumps({"fields": ["nothing to see here"]}),
                            "seq": seq})
        db.session.commit()
        return seq


def test_filter_verify_and_detect_tampering(app, live_server, page, shot):
    worker = make_user(app, "caseworker", name="Nadia Baloch", teams=["Kech"])
    other = make_user(app, "caseworker", name="Karim Marri", teams=["Kech"])
    supervisor = make_user(app, "supervisor", name="Saeed Rind", teams=["Kech"])
    case_id = make_case(app, worker)
    other_case = make_case(app, other, title="Arrest at a checkpoint near Hub")

    sign_in(page, live_server, app, supervisor)
    click_and_load(page, page.get_by_role("navigation", name="Main").get_by_role("link", name="Audit trail"))
    assert heading(page) == "Audit log"
    everything = entry_rows(page).count()
    axe_check(page, context="audit log")

    # --- by person -----------------------------------------------------------------------------
    page.get_by_label("Person", exact=True).select_option(label="Nadia Baloch")
    page.get_by_role("button", name="Filter", exact=True).click()
    page.wait_for_url(lambda url: "actor=" in url)
    people = entry_rows(page).locator("td:nth-child(3)").all_inner_texts()
    assert people and set(people) == {"Nadia Baloch"}
    assert len(people) < everything
    assert page.get_by_role("link", name="Clear the filter").is_visible()
    shot(page, "1-filtered-by-person")
    axe_check(page, context="audit log filtered by person")

    # --- by case -------------------------------------------------------------------------------
    click_and_load(page, page.get_by_role("link", name="Clear the filter"))
    page.get_by_label("Case id", exact=True).fill(str(case_id))
    page.get_by_role("button", name="Filter", exact=True).click()
    page.wait_for_url(lambda url: "case=" in url)
    rows = entry_rows(page)
    assert rows.count() >= 8  # the case, its people, act, source, testimony, link...
    actions = rows.locator("code.action").all_inner_texts()
    assert {"case.create", "person.create", "act.create", "testimony.create"} <= set(actions)
    body = page.locator("table.audit-table").inner_text()
    assert str(other_case) not in body
    assert set(rows.locator("td:nth-child(3)").all_inner_texts()) == {"Nadia Baloch"}
    shot(page, "2-filtered-by-case")
    axe_check(page, context="audit log filtered by case")

    # --- Verify now: it holds ------------------------------------------------------------------
    audit_nav = page.get_by_role("navigation", name="Audit")
    click_and_load(page, audit_nav.get_by_role("link", name="Verification"))
    assert heading(page) == "Verification of the audit log"
    click_and_load(page, page.get_by_role("button", name="Verify now"))
    flashes = page.locator(".flashes")
    assert "The audit log verified:" in flashes.inner_text()
    assert "every check held" in flashes.inner_text()
    assert page.locator(".audit-alarm").count() == 0
    shot(page, "3-verified")
    axe_check(page, context="verification passed")

    # --- someone rewrites an entry in the database; verification catches it --------------------
    seq = tamper(app, case_id)
    click_and_load(page, page.get_by_role("button", name="Verify now"))
    alarm = page.get_by_role("alert").filter(has_text="The audit log failed its last verification")
    assert alarm.is_visible()
    assert page.locator(".audit-alarm").evaluate(
        "e => getComputedStyle(e).borderTopColor") == "rgb(161, 38, 13)"  # --danger: red
    result = page.locator("section[aria-labelledby=result-title]")
    assert "Failed:" in result.inner_text()
    assert "no longer matches its hash" in result.inner_text()
    assert page.locator(".flashes").count() == 0
    shot(page, "4-tampered")
    axe_check(page, context="verification failed")

    # The banner stays on every audit page until a verification passes again.
    click_and_load(page, audit_nav.get_by_role("link", name="Audit log"))
    assert page.locator(".audit-alarm").is_visible()
    click_and_load(page, page.get_by_role("link", name="See what failed"))
    assert f"(entry {seq})" in page.locator("main").inner_text()
    shot(page, "5-banner-stays")
    axe_check(page, context="verification page after a failure")
