"""The search page: combined filters, precision-aware dates, identity search through blind
indexes, scoping per role, audit of identity searches, and saved searches without identities."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import select

from app.analysis.search import SearchFilters, save_search, search_acts
from app.extensions import db
from app.models.audit import AuditEntry
from app.models.cases import Case
from app.models.searches import SavedSearch
from app.services import ServiceError, cases
from tests.analysis_factories import new_case, seed_act
from tests.factories import actor
from tests.support import make_user, post_form, sign_in


@pytest.fixture
def other_caseworker(app):
    return make_user(app, "caseworker", name="Bibi Othercaseworker", teams=["Turbat"])


def _signed_in(app, account):
    client = app.test_client()
    assert sign_in(client, app, account).status_code == 302
    return client


def _search(client, data: dict) -> str:
    response = post_form(client, "/search", data)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def _references(app, *case_ids) -> list[str]:
    with app.app_context():
        return [db.session.get(Case, c).reference for c in case_ids]


def test_search_shows_only_acts_of_cases_in_scope(app, caseworker, supervisor, other_caseworker,
                                                   analyst, admin):
    with app.app_context():
        worker, other = actor(caseworker), actor(other_caseworker)
        own = new_case(worker, "Own team case")
        seed_act(worker, own)
        restricted = new_case(worker, "Restricted case")
        seed_act(worker, restricted, act_type="rape")  # restricts the case to its named members
        foreign = new_case(other, "Other team case")
        seed_act(other, foreign)
        db.session.commit()
        ids = own.id, restricted.id, foreign.id
        assert db.session.get(Case, restricted.id).confidentiality == "restricted"
    own_ref, restricted_ref, foreign_ref = _references(app, *ids)

    page = _search(_signed_in(app, caseworker), {})
    assert own_ref in page and restricted_ref in page and foreign_ref not in page
    page = _search(_signed_in(app, supervisor), {})
    assert own_ref in page and restricted_ref not in page and foreign_ref not in page
    page = _search(_signed_in(app, other_caseworker), {"district": "PK211"})
    assert foreign_ref in page and own_ref not in page and restricted_ref not in page
    for account in (analyst, admin):
        client = _signed_in(app, account)
        assert client.get("/search").status_code == 403
    with app.app_context():  # the service itself, for every role
        for account, wanted in ((caseworker, {own.id, restricted.id}), (supervisor, {own.id}),
                                (other_caseworker, {foreign.id}), (analyst, set()), (admin, set())):
            found = search_acts(actor(account), SearchFilters())
            assert {r.case_id for r in found.rows} == wanted, account.role


def test_filters_combine_district_act_type_and_date_range(app, caseworker):
    with app.app_context():
        worker = actor(caseworker)
        specs = {"match": ("PK211", "torture", "2025-03-11"),
                 "wrong_date": ("PK211", "torture", "2024-03-11"),
                 "wrong_district": ("PK201", "torture", "2025-03-12"),
                 "wrong_type": ("PK211", "abduction", "2025-03-12")}
        made = {}
        for name, (district, kind, start) in specs.items():
            case = new_case(worker, name)
            seed_act(worker, case, act_type=kind, district=district, start=start)
            made[name] = case.id
        db.session.commit()
        refs = dict(zip(made, _references(app, *made.values()), strict=True))
    page = _search(_signed_in(app, caseworker), {
        "district": "PK211", "act_type": "torture", "date_from": "2025-03-01",
        "date_to": "2025-03-31"})
    assert "1 alleged act found" in page
    assert refs["match"] in page
    for name in ("wrong_date", "wrong_district", "wrong_type"):
        assert refs[name] not in page, name
    assert "Torture" in page and "(alleged)" in page and "Kech" in page


def test_imprecise_dates_match_and_are_flagged(app, caseworker):
    with app.app_context():
        worker = actor(caseworker)
        made = {}
        for name, start in (("month", "March 2025"), ("inside_day", "2025-03-15"),
                            ("outside_day", "2025-03-25"), ("year", "2024"),
                            ("month_typed_iso", "2025-03")):
            case = new_case(worker, name)
            seed_act(worker, case, start=start)
            made[name] = case.id
        db.session.commit()
        refs = dict(zip(made, _references(app, *made.values()), strict=True))
        found = search_acts(worker, SearchFilters(date_from=date(2025, 3, 10),
                                                  date_to=date(2025, 3, 20)))
        by_case = {r.case_id: r for r in found.rows}
        assert set(by_case) == {made["month"], made["inside_day"], made["month_typed_iso"]}
        assert by_case[made["month"]].imprecise == "date given as March 2025"
        assert by_case[made["month_typed_iso"]].imprecise == "date given as March 2025"
        assert by_case[made["inside_day"]].imprecise is None
        # A month entirely inside the range is certain to match: no flag.
        wide = search_acts(worker, SearchFilters(date_from=date(2025, 1, 1),
                                                 date_to=date(2025, 12, 31)))
        assert all(r.imprecise is None for r in wide.rows)
    page = _search(_signed_in(app, caseworker), {"date_from": "2025-03-10",
                                                 "date_to": "2025-03-20"})
    assert refs["month"] in page and refs["inside_day"] in page
    assert refs["outside_day"] not in page and refs["year"] not in page
    assert "date given as March 2025" in page and "Imprecise" in page


def test_other_filters_each_narrow_the_results(app, caseworker, supervisor):
    with app.app_context():
        worker = actor(caseworker)
        a = new_case(worker, "A")
        seed_act(worker, a, perpetrator_types=["state_intelligence"], status_of_victim="released",
                 reliability="B")
        b = new_case(worker, "B", status="draft")
        seed_act(worker, b, perpetrator_types=["unknown"], reliability="D")
        db.session.commit()
        team = a.team_id
        assert team is not None

        def found(**kw):
            return {r.case_id for r in search_acts(worker, SearchFilters(**kw)).rows}

        assert found(perpetrator_type="state_intelligence") == {a.id}
        assert found(status_of_victim="released") == {a.id}
        assert found(status_of_victim="still_missing") == {b.id}
        assert found(allegation_status="alleged") == {a.id, b.id}
        assert found(allegation_status="finding") == set()
        assert found(reliability="A") == set()
        assert found(reliability="B") == {a.id}
        assert found(reliability="E") == {a.id, b.id}
        assert found(case_status="draft") == {b.id}
        assert found(team=str(team)) == {a.id, b.id}
        with pytest.raises(ServiceError):
            search_acts(worker, SearchFilters(date_from=date(2025, 5, 1), date_to=date(2025, 4, 1)))


def test_identity_search_matches_victims_exactly_is_masked_and_audited(app, caseworker,
                                                                       other_caseworker):
    with app.app_context():
        worker, other = actor(caseworker), actor(other_caseworker)
        mine = new_case(worker, "Mine")
        seed_act(worker, mine, victim={"full_name": "Bashir Ahmed", "father_name": "Ghulam Nabi",
                                       "cnic": "52203-1234567-1", "phone": "0300 1234567"},
                 other_names=["Basheer Ahmad"])
        decoy = new_case(worker, "Decoy")
        seed_act(worker, decoy, victim={"full_name": "Bashir Khan"})
        theirs = new_case(other, "Theirs")
        seed_act(other, theirs, victim={"full_name": "Bashir Ahmed"})
        db.session.commit()
        ids = mine.id, decoy.id, theirs.id
    mine_ref, decoy_ref, theirs_ref = _references(app, *ids)
    client = _signed_in(app, caseworker)
    page = _search(client, {"full_name": "basheer  AHMAD"})  # a recorded spelling, normalised
    assert mine_ref in page and decoy_ref not in page and theirs_ref not in page
    assert "Bashir Ahmed" not in page and "B•••• A••••" in page
    page = _search(client, {"cnic": "5220312345671", "father_name": "Ghulam Nabi"})
    assert mine_ref in page
    page = _search(client, {"phone": "0300-1234567", "district": "PK201"})
    assert "0 alleged acts found" in page
    with app.app_context():
        entries = db.session.execute(select(AuditEntry).where(
            AuditEntry.action == "search.identity").order_by(AuditEntry.seq)).scalars().all()
        assert [json.loads(e.details)["fields"] for e in entries] == [
            ["full_name"], ["cnic", "father_name"], ["phone"]]
        assert json.loads(entries[2].details)["filters"] == ["district"]
        text = " ".join(e.details for e in entries)
        for value in ("basheer", "AHMAD", "5220312345671", "Ghulam", "0300"):
            assert value not in text
        # A plain filter search is not an identity search.
        before = len(entries)
    _search(client, {"district": "PK211"})
    with app.app_context():
        assert db.session.execute(select(AuditEntry).where(
            AuditEntry.action == "search.identity")).scalars().all().__len__() == before


def test_identity_values_in_a_web_address_are_ignored(app, caseworker):
    with app.app_context():
        worker = actor(caseworker)
        case = new_case(worker, "Mine")
        seed_act(worker, case, victim={"full_name": "Bashir Ahmed"})
        db.session.commit()
    client = _signed_in(app, caseworker)
    page = client.get("/search?full_name=Bashir+Ahmed&district=PK211").get_data(as_text=True)
    assert "never from a web address" in page
    assert 'value="Bashir Ahmed"' not in page
    with app.app_context():
        assert db.session.execute(select(AuditEntry).where(
            AuditEntry.action == "search.identity")).first() is None


def test_saved_searches_keep_filters_refuse_identities_and_belong_to_their_user(
        app, caseworker, supervisor):
    client = _signed_in(app, caseworker)
    response = post_form(client, "/search/save", {
        "save_name": "Kech torture 2025", "district": "PK211", "act_type": "torture",
        "date_from": "2025-01-01"}, page="/search")
    assert response.status_code == 302
    assert "district=PK211" in response.headers["Location"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Kech torture 2025" in page
    refused = post_form(client, "/search/save", {
        "save_name": "Find Bashir", "district": "PK211", "cnic": "52203-1234567-1"},
        page="/search")
    body = refused.get_data(as_text=True)
    assert refused.status_code == 200
    assert "cannot keep a name, father&#39;s name, CNIC or phone number" in body
    with app.app_context():
        saved = db.session.execute(select(SavedSearch)).scalars().all()
        assert [s.name for s in saved] == ["Kech torture 2025"]
        assert json.loads(saved[0].filters) == {"act_type": "torture", "date_from": "2025-01-01",
                                                "district": "PK211"}
        for field in ("full_name", "father_name", "phone"):
            with pytest.raises(ServiceError, match="cannot keep"):
                save_search(actor(caseworker), "x", SearchFilters(district="PK211"),
                            {field: "Anything"})
        saved_id = str(saved[0].id)
    # Another user can neither see nor delete it.
    boss = _signed_in(app, supervisor)
    assert "Kech torture 2025" not in boss.get("/search").get_data(as_text=True)
    post_form(boss, "/search/saved/delete", {"saved_search": saved_id}, page="/search")
    with app.app_context():
        assert db.session.execute(select(SavedSearch)).scalar_one() is not None
    post_form(client, "/search/saved/delete", {"saved_search": saved_id}, page="/search")
    with app.app_context():
        assert db.session.execute(select(SavedSearch)).first() is None


def test_results_are_paginated(app, caseworker):
    with app.app_context():
        worker = actor(caseworker)
        case = new_case(worker, "Many acts")
        for _ in range(27):
            seed_act(worker, case)
        db.session.commit()
        first = search_acts(worker, SearchFilters(), page=1)
        second = search_acts(worker, SearchFilters(), page=2)
        assert (first.total, first.pages, len(first.rows), len(second.rows)) == (27, 2, 25, 2)
        assert not {r.act_id for r in first.rows} & {r.act_id for r in second.rows}
    page = _search(_signed_in(app, caseworker), {"page": "2"})
    assert "Page 2 of 2" in page


def test_search_respects_a_case_becoming_restricted(app, caseworker, supervisor):
    with app.app_context():
        worker = actor(caseworker)
        case = new_case(worker, "Becomes restricted")
        seed_act(worker, case)
        db.session.commit()
        assert search_acts(actor(supervisor), SearchFilters()).total == 1
        cases.make_restricted(worker, db.session.get(Case, case.id), reason="test")
        db.session.commit()
        assert search_acts(actor(supervisor), SearchFilters()).total == 0


def test_a_broad_search_counts_up_to_a_cap_and_pages_stay_correct(app, caseworker, monkeypatch):
    """Past COUNT_CAP results the page says "more than N" instead of counting every act; paging
    with previous / next still shows every act once, in the same order as an exact count."""
    from app.analysis import search

    with app.app_context():
        worker = actor(caseworker)
        case = new_case(worker, "Many acts")
        for day in range(1, 13):
            seed_act(worker, case, start=f"2025-03-{day:02d}")
        db.session.commit()
        exact = [r.act_id for p in (1, 2, 3, 4, 5, 6)
                 for r in search_acts(worker, SearchFilters(), page=p, per_page=2).rows]
        assert len(exact) == len(set(exact)) == 12
        monkeypatch.setattr(search, "COUNT_CAP", 5)
        first = search_acts(worker, SearchFilters(), page=1, per_page=2)
        assert (first.capped, first.total, first.has_next, len(first.rows)) == (True, 5, True, 2)
        assert first.total_shown == "5"
        seen, page = [], first
        while True:
            seen += [r.act_id for r in page.rows]
            if not page.has_next:
                break
            page = search_acts(worker, SearchFilters(), page=page.page + 1, per_page=2)
        assert seen == exact  # every act once, same order
        # Near the end the count is exact again: page 6 of 6, no next page.
        assert (page.page, page.capped, page.total, page.pages) == (6, False, 12, 6)
        # A page past the end comes back as the last page, as with an exact count.
        beyond = search_acts(worker, SearchFilters(), page=99, per_page=2)
        assert (beyond.page, beyond.total, beyond.capped) == (6, 12, False)
        # At the cap exactly, the count is exact.
        monkeypatch.setattr(search, "COUNT_CAP", 12)
        whole = search_acts(worker, SearchFilters(), page=1, per_page=2)
        assert (whole.capped, whole.total, whole.pages) == (False, 12, 6)
        monkeypatch.setattr(search, "COUNT_CAP", 11)
        assert search_acts(worker, SearchFilters(), page=1, per_page=2).capped


def test_identity_searches_always_count_exactly_for_their_audit_entry(app, caseworker,
                                                                    monkeypatch):
    from app.analysis import search

    with app.app_context():
        worker = actor(caseworker)
        case = new_case(worker, "Namesakes")
        for _ in range(4):
            seed_act(worker, case, victim={"full_name": "Bashir Ahmed"})
        db.session.commit()
        monkeypatch.setattr(search, "COUNT_CAP", 2)
        found = search_acts(worker, SearchFilters(), {"full_name": "Bashir Ahmed"}, per_page=2)
        assert (found.capped, found.total, found.pages) == (False, 4, 2)
        db.session.commit()
        entry = db.session.execute(select(AuditEntry).where(
            AuditEntry.action == "search.identity")).scalar_one()
        assert json.loads(entry.details)["results"] == 4


def test_the_page_says_when_the_count_stopped_at_the_cap(app, caseworker, monkeypatch):
    from app.analysis import search

    with app.app_context():
        worker = actor(caseworker)
        case = new_case(worker, "Many acts")
        for _ in range(30):
            seed_act(worker, case)
        db.session.commit()
    monkeypatch.setattr(search, "COUNT_CAP", 26)
    client = _signed_in(app, caseworker)
    page = _search(client, {"district": "PK211"})
    assert "More than 26 alleged acts found" in page
    assert "narrow the search" in page
    assert "Page 1" in page and "Page 1 of" not in page and 'value="2"' in page
    monkeypatch.setattr(search, "COUNT_CAP", 1000)
    page = _search(client, {"district": "PK211"})
    assert "30 alleged acts found" in page and "More than" not in page
    assert "Page 1 of 2" in page
