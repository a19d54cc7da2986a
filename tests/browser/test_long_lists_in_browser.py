"""Long lists in a real browser: above the count cap the case list and the search say "more than"
and page with previous/next; both pass axe-core."""

from __future__ import annotations

import pytest

from app.extensions import db
from tests.analysis_factories import new_case, seed_act
from tests.browser.helpers import axe_check
from tests.browser.test_sign_in_flow import sign_in
from tests.factories import actor
from tests.support import make_user

pytestmark = pytest.mark.browser


def test_case_list_and_search_above_the_count_cap(app, live_server, page, shot, monkeypatch):
    import app.analysis.search as search
    import app.cases.routes as routes
    import app.paging as paging

    monkeypatch.setattr(paging, "COUNT_CAP", 4)
    monkeypatch.setattr(search, "COUNT_CAP", 4)
    monkeypatch.setattr(routes, "PAGE_SIZE", 3)
    supervisor = make_user(app, "supervisor", name="Saima Supervisor", teams=["Quetta"])
    with app.app_context():
        user = actor(supervisor)
        for i in range(27):  # more than a page of search results (25)
            seed_act(user, new_case(user, f"Disappearance in Kech {i}"))
        db.session.commit()
    sign_in(page, live_server, app, supervisor)

    page.goto(live_server("/cases/"))
    assert page.get_by_text("More than 4 cases: use the filters to narrow the list.").is_visible()
    page.get_by_role("link", name="Next").click()
    assert "page=2" in page.url and page.get_by_text("Page 2").is_visible()
    assert page.get_by_role("link", name="Previous").is_visible()
    shot(page, "1-case-list-above-the-cap")
    axe_check(page, context="case list above the count cap")

    page.goto(live_server("/search"))
    page.get_by_label("Type of act").select_option("enforced_disappearance")
    page.get_by_role("button", name="Search").first.click()
    # Counting stops at the cap or at the end of the page asked for, whichever is further.
    assert page.get_by_role("heading", name="More than 25 alleged acts found").is_visible()
    assert page.get_by_role("button", name="Next").is_visible()
    shot(page, "2-search-above-the-cap")
    axe_check(page, context="search above the count cap")
