"""The case list: every filter, newest change first, and pages that never count past a cap."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.domain import dates
from app.extensions import db
from app.models.cases import Case
from app.services import acts, cases
from tests.factories import actor
from tests.support import make_user, sign_in


def _open(app, owner, title: str, *, act: dict | None = None, start: str = "",
          perpetrator: str | None = None, status: str = "open", age_days: int = 0) -> str:
    with app.app_context():
        user = actor(owner)
        case = cases.open_case(user, {"title": title, "summary": ""})
        if act is not None:
            made = acts.add_act(user, case, {"status_of_victim": "unknown", **act},
                                dates.parse(start))
            if perpetrator:
                acts.add_perpetrator(user, case, made, {"perpetrator_type": perpetrator,
                                                        "unit": "Unnamed unit"})
        if status != "draft":
            cases.change_status(user, case, "open")
        case.updated_at = datetime.now(UTC) - timedelta(days=age_days)
        db.session.commit()
        return case.reference


def _listed(client, query: str = "") -> list[str]:
    page = client.get(f"/cases/{query}")
    assert page.status_code == 200
    return re.findall(r">(AM-\d{4}-\d+)<", page.get_data(as_text=True))


@pytest.fixture
def world(app, caseworker):
    refs = {
        "turbat": _open(app, caseworker, "Turbat", start="March 2025", age_days=5,
                        act={"act_type": "enforced_disappearance", "district_code": "PK211"},
                        perpetrator="state_intelligence"),
        "quetta": _open(app, caseworker, "Quetta", start="2019", age_days=3,
                        act={"act_type": "abduction", "district_code": "PK201"},
                        perpetrator="non_state_armed_group"),
        "kech": _open(app, caseworker, "Kech", start="2025-03-20", age_days=1,
                      act={"act_type": "enforced_disappearance", "district_code": "PK201"}),
        "draft": _open(app, caseworker, "Draft", status="draft", age_days=0),
    }
    return refs


def test_newest_change_first_and_every_filter(app, caseworker_client, world):
    c = caseworker_client
    assert _listed(c) == [world["draft"], world["kech"], world["quetta"], world["turbat"]]
    assert _listed(c, "?status=draft") == [world["draft"]]
    assert _listed(c, "?district=PK201") == [world["kech"], world["quetta"]]
    assert _listed(c, "?act_type=enforced_disappearance") == [world["kech"], world["turbat"]]
    assert _listed(c, "?perpetrator_type=non_state_armed_group") == [world["quetta"]]
    # "March 2025" could be any day of March: a search for 10-15 March finds it, not Kech (20th).
    assert _listed(c, "?date_from=2025-03-10&date_to=2025-03-15") == [world["turbat"]]
    assert _listed(c, "?district=PK201&act_type=abduction") == [world["quetta"]]
    assert _listed(c, "?district=PK211&perpetrator_type=non_state_armed_group") == []


def test_assigned_to_me_and_other_teams_cases_stay_out(app, caseworker, caseworker_client, world):
    supervisor = make_user(app, "supervisor", name="Quetta Supervisor", teams=["Quetta"])
    assigned = _open(app, supervisor, "Assigned by the supervisor", age_days=10)
    unassigned = _open(app, supervisor, "Kept by the supervisor", age_days=11)
    with app.app_context():
        case = db.session.execute(select(Case).filter_by(reference=assigned)).scalar_one()
        cases.assign(actor(supervisor), case, [actor(caseworker)])
        db.session.commit()
    mine = _listed(caseworker_client, "?mine=y")
    assert assigned in mine and unassigned not in mine and world["kech"] in mine
    other = make_user(app, "caseworker", name="Other Team Worker", teams=["Turbat"])
    theirs = _open(app, other, "Theirs")
    client = app.test_client()
    assert sign_in(client, app, other).status_code == 302
    assert _listed(client) == [theirs]
    sup = app.test_client()
    assert sign_in(sup, app, supervisor).status_code == 302
    seen = _listed(sup)
    assert theirs not in seen and world["kech"] in seen and unassigned in seen
    assert _listed(sup, "?mine=y") == [assigned, unassigned]


def test_exact_count_and_pages_below_the_cap(app, caseworker, caseworker_client, monkeypatch):
    import app.cases.routes as routes

    monkeypatch.setattr(routes, "PAGE_SIZE", 3)
    made = [_open(app, caseworker, f"Case {i}", age_days=i) for i in range(7)]
    c = caseworker_client
    first = c.get("/cases/").get_data(as_text=True)
    assert "7 cases" in first and "Page 1 of 3" in first
    assert _listed(c) == made[:3]
    assert _listed(c, "?page=3") == made[6:]
    # A page past the end shows the last one rather than an empty list.
    for far in (99, 400):  # 400 pages of 3 lie beyond the count cap: counted, then clamped
        late = c.get(f"/cases/?page={far}").get_data(as_text=True)
        assert "Page 3 of 3" in late and made[6] in late


def test_above_the_cap_the_list_says_more_than_and_still_pages(app, caseworker, caseworker_client,
                                                                 monkeypatch):
    import app.cases.routes as routes
    import app.paging as paging

    monkeypatch.setattr(routes, "PAGE_SIZE", 3)
    monkeypatch.setattr(paging, "COUNT_CAP", 5)
    made = [_open(app, caseworker, f"Case {i}", age_days=i) for i in range(8)]
    c = caseworker_client
    first = c.get("/cases/").get_data(as_text=True)
    assert "More than 5 cases" in first and "Page 1<" in first and "of 3" not in first
    assert "page=2" in first  # a Next link
    assert _listed(c, "?page=2") == made[3:6]
    last = c.get("/cases/?page=3").get_data(as_text=True)
    assert re.findall(r">(AM-\d{4}-\d+)<", last) == made[6:]
    assert "page=4" not in last and "page=2" in last  # no Next past the end; Previous is there
    # With a filter that leaves fewer than the cap, the exact count comes back.
    draft = _open(app, caseworker, "Only draft", status="draft", age_days=30)
    filtered = c.get("/cases/?status=draft").get_data(as_text=True)
    assert "1 case<" in filtered and draft in filtered and "More than" not in filtered
