"""The case report page in a real browser: the bundled Amiri draws the Urdu name under
the app's own Content-Security-Policy, the "Download PDF" link passes axe-core and downloads the
report as a PDF named by the case reference."""

from __future__ import annotations

import pytest

from app.exports import pdf
from app.extensions import db
from app.models.cases import Case
from app.services import people
from tests.browser.helpers import axe_check
from tests.browser.test_sign_in_flow import sign_in
from tests.exports_support import consent, victim_and_act
from tests.factories import actor, make_case
from tests.support import make_user

pytestmark = pytest.mark.browser
URDU_NAME = "نصیر احمد"


def test_report_page_urdu_font_and_pdf_link(app, live_server, strict_page, page, shot):
    """strict_page enforces the CSP (the font must load under font-src 'self'); `page` bypasses
    it only so axe-core can be injected."""
    caseworker = make_user(app, "caseworker", name="Nadia Caseworker", teams=["Kech"])
    case_id = make_case(app, caseworker)
    with app.app_context():
        user = actor(caseworker)
        case = db.session.get(Case, case_id)
        victim, _ = victim_and_act(case_id)
        people.update_person(user, case, victim, {"full_name": URDU_NAME,
                                                  "father_name": "غلام نبی بلوچ"}, victim.version)
        consent(user, case_id, victim, "courts")
        db.session.commit()
        reference = case.reference
    url = live_server(f"/cases/{case_id}/report?identities=1")
    sign_in(strict_page, live_server, app, caseworker)
    strict_page.goto(url)
    strict_page.evaluate("async () => { await document.fonts.ready; }")
    name = strict_page.locator("li .identified").first
    assert name.inner_text() == URDU_NAME and name.get_attribute("dir") == "rtl"
    loaded = strict_page.evaluate(
        "() => [...document.fonts].filter(f => f.family.replace(/\"/g, '') === 'Amiri'"
        " && f.status === 'loaded').map(f => f.weight)")
    assert "400" in loaded, loaded
    assert any("/static/fonts/amiri-arabic-400-normal.woff2" in url
               for url in strict_page.request_log.seen)
    assert not strict_page.csp_violations, strict_page.csp_violations
    shot(strict_page, "1-report-urdu")

    sign_in(page, live_server, app, caseworker)
    page.goto(url)
    link = page.get_by_role("link", name="Download PDF")
    assert link.get_attribute("href") == f"/cases/{case_id}/report.pdf?identities=1"
    axe_check(page, context="case report with the PDF link")

    if pdf.unavailable_reason() is None:
        with page.expect_download() as download:
            link.click()
        assert download.value.suggested_filename == f"case-report-{reference}.pdf"
        with open(download.value.path(), "rb") as body:
            assert body.read(5) == b"%PDF-"
