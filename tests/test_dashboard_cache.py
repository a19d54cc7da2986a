"""The dashboard's counts are kept until anything changes, and never served stale."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from app.analysis import counts_cache, facts
from app.analysis.dashboard import build_dashboard
from app.analysis.scope import AnalysisFilters
from app.extensions import db
from app.models.acts import Act
from app.models.cases import Case
from app.models.users import Team
from app.services import accounts, people
from tests.analysis_factories import new_case, seed_act
from tests.factories import actor
from tests.support import make_user, sign_in


@pytest.fixture
def computed(monkeypatch) -> list[int]:
    """How many times the counts were computed in the database."""
    calls: list[int] = []
    real = facts.act_counts

    def counting(user, filters):  # type: ignore[no-untyped-def]
        calls.append(1)
        return real(user, filters)

    monkeypatch.setattr(counts_cache, "act_counts", counting)
    return calls


def _total(app, who) -> int:
    with app.app_context():
        return build_dashboard(actor(who), AnalysisFilters()).total


def test_counts_are_kept_until_a_change_and_recounted_after_it(app, caseworker, supervisor,
                                                               computed):
    with app.app_context():
        worker = actor(caseworker)
        seed_act(worker, new_case(worker, "First"))
        db.session.commit()
    assert _total(app, supervisor) == 1 and len(computed) == 1
    assert _total(app, supervisor) == 1 and len(computed) == 1  # kept
    with app.app_context():  # another filter is counted on its own
        build_dashboard(actor(supervisor), AnalysisFilters(district="PK211"))
    assert len(computed) == 2
    with app.app_context():
        worker = actor(caseworker)
        seed_act(worker, new_case(worker, "Second"))
        db.session.commit()
    assert _total(app, supervisor) == 2 and len(computed) == 3


def test_the_page_and_its_csv_downloads_share_one_count(app, caseworker, supervisor, computed):
    supervisor_client = app.test_client()
    assert sign_in(supervisor_client, app, supervisor).status_code == 302
    with app.app_context():
        worker = actor(caseworker)
        seed_act(worker, new_case(worker, "Case"))
        db.session.commit()
    assert supervisor_client.get("/dashboard").status_code == 200
    before = len(computed)
    download = supervisor_client.get("/dashboard.csv?chart=by_district")
    assert download.status_code == 200 and "PK211" in download.get_data(as_text=True)
    # Downloads, sign-ins and reveals are audited but change no count: still counted once.
    assert supervisor_client.get("/dashboard.csv?chart=by_act_type").status_code == 200
    other = app.test_client()
    assert sign_in(other, app, supervisor).status_code == 302
    assert supervisor_client.get("/dashboard").status_code == 200
    assert len(computed) == before
    with app.app_context():  # a change to case data is counted afresh
        worker = actor(caseworker)
        seed_act(worker, new_case(worker, "Another"))
        db.session.commit()
    answer = supervisor_client.get("/dashboard.csv?chart=by_act_type").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(answer)))
    assert sum(int(row["alleged_acts_documented"]) for row in rows) == 2
    assert len(computed) == before + 1


def test_consent_withdrawal_and_team_changes_show_at_once(app, caseworker, supervisor, analyst):
    with app.app_context():
        worker = actor(caseworker)
        case = new_case(worker, "Consent")
        act_id = seed_act(worker, case).id
        db.session.commit()
    assert _total(app, analyst) == 1 and _total(app, supervisor) == 1
    with app.app_context():
        worker = actor(caseworker)
        found = db.session.get(Act, act_id)
        case, victim = db.session.get(Case, found.case_id), found.victim
        record = people.record_consent(worker, case, victim, {"purpose": "store"})
        people.withdraw_consent(worker, case, record, date.today())
        db.session.commit()
    assert _total(app, analyst) == 0
    admin = make_user(app, "admin", name="Team Admin")
    make_user(app, "caseworker", name="Turbat Caseworker", teams=["Turbat"])
    with app.app_context():
        turbat = db.session.execute(select(Team).filter_by(name="Turbat")).scalar_one()
        accounts.set_teams(actor(admin), actor(supervisor), [turbat])
        db.session.commit()
    assert _total(app, supervisor) == 0  # no longer in the team of the case


def test_a_new_day_is_counted_afresh(app, caseworker, supervisor, computed, monkeypatch):
    with app.app_context():
        worker = actor(caseworker)
        seed_act(worker, new_case(worker, "Case"))
        db.session.commit()
    _total(app, supervisor)

    class Tomorrow(date):
        @classmethod
        def today(cls):  # type: ignore[no-untyped-def]
            return date.today() + timedelta(days=1)

    monkeypatch.setattr(counts_cache, "date", Tomorrow)
    _total(app, supervisor)
    assert len(computed) == 2


def test_the_cache_can_be_turned_off(app, caseworker, supervisor, computed):
    app.config["DASHBOARD_CACHE"] = False
    _total(app, supervisor)
    _total(app, supervisor)
    assert len(computed) == 2
