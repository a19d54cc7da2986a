"""Dashboard: counts equal a direct count of what was seeded, scoped per role, small cells hidden
from analysts, every chart an inline SVG with its table, basis and CSV."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from datetime import date

import pytest
from sqlalchemy import func, select

from app.analysis.dashboard import build_dashboard
from app.analysis.scope import AnalysisFilters
from app.extensions import db
from app.models.audit import AuditEntry
from app.services import people
from tests.analysis_factories import corroborate, new_case, seed_act
from tests.factories import actor
from tests.support import make_user, sign_in

# What the supervisor's team documents. `month` is the bar each act belongs to (by construction:
# day and month precision go to their month; year, approximate and unknown to their own bars).
IN_SCOPE = [
    dict(act_type="enforced_disappearance", district="PK211", start="2025-03-11",
         status="still_missing", perps=["state_intelligence"], month="2025-03", corroborate=True),
    dict(act_type="enforced_disappearance", district="PK211", start="March 2025",
         status="released", perps=["state_intelligence", "state_paramilitary"], month="2025-03"),
    dict(act_type="torture", district="PK201", start="2025-01-05", status="injured", perps=[],
         month="2025-01"),
    dict(act_type="extrajudicial_killing", district="PK226", start="2024", status="killed",
         perps=["unknown"], month="date_imprecise"),
    dict(act_type="abduction", district=None, start=None, status="unknown",
         perps=["non_state_armed_group"], month="date_unknown"),
    dict(act_type="torture", district="PK211", start="around Eid 2024", status="released",
         perps=["state_police"], month="date_imprecise"),
    dict(act_type="torture", district="PK211", start="2025-03-02", status="released",
         perps=["state_police"], month="2025-03"),
]


@pytest.fixture
def other_caseworker(app):
    return make_user(app, "caseworker", name="Bibi Othercaseworker", teams=["Turbat"])


def _seed(app, caseworker, other_caseworker) -> None:
    with app.app_context():
        worker = actor(caseworker)
        for spec in IN_SCOPE:
            case = new_case(worker, "Dashboard case")
            act = seed_act(worker, case, act_type=spec["act_type"], district=spec["district"],
                           start=spec["start"], status_of_victim=spec["status"],
                           perpetrator_types=spec["perps"])
            if spec.get("corroborate"):
                corroborate(worker, case, act)
        # Out of the supervisor's scope: another team's case, and a restricted case.
        other = actor(other_caseworker)
        seed_act(other, new_case(other, "Other team"), district="PK211")
        seed_act(worker, new_case(worker, "Restricted"), act_type="rape", district="PK211")
        db.session.commit()


def _counts(chart) -> dict[str, int]:
    return {cell.code: cell.count for cell in chart.cells if cell.count}


def test_dashboard_counts_equal_a_direct_count_of_the_seeded_acts(app, caseworker, supervisor,
                                                                  other_caseworker):
    _seed(app, caseworker, other_caseworker)
    expected = {
        "by_month": Counter(s["month"] for s in IN_SCOPE),
        "by_district": Counter(s["district"] or "not_recorded" for s in IN_SCOPE),
        "by_act_type": Counter(s["act_type"] for s in IN_SCOPE),
        "by_perpetrator_type": Counter(p for s in IN_SCOPE for p in (s["perps"] or ["not_recorded"])),
        "by_victim_status": Counter(s["status"] for s in IN_SCOPE),
        "by_allegation_status": Counter("corroborated" if s.get("corroborate") else "alleged"
                                        for s in IN_SCOPE),
    }
    with app.app_context():
        board = build_dashboard(actor(supervisor), AnalysisFilters())
        assert board.total == len(IN_SCOPE)
        for key, counter in expected.items():
            assert _counts(board.chart(key)) == dict(counter), key
        # The months between the first and the last are shown, even when empty, in order.
        months = [c.code for c in board.chart("by_month").cells]
        assert months == ["2025-01", "2025-02", "2025-03", "date_imprecise", "date_unknown"]
        corroborated = sum(1 for s in IN_SCOPE if s.get("corroborate"))
        assert board.share == f"{round(100 * corroborated / len(IN_SCOPE))}%"
        # Date filters are precision-aware: "2024" and "around Eid 2024" can fall in March 2024.
        march_2024 = build_dashboard(actor(supervisor), AnalysisFilters(
            date_from=date(2024, 3, 1), date_to=date(2024, 3, 31)))
        assert _counts(march_2024.chart("by_month")) == {"date_imprecise": 2}
        kech = build_dashboard(actor(supervisor), AnalysisFilters(district="PK211"))
        assert kech.total == sum(1 for s in IN_SCOPE if s["district"] == "PK211")
        # The caseworker who owns the restricted case is not a dashboard user; the service
        # counts nothing for roles outside supervisor and analyst.
        assert build_dashboard(actor(caseworker), AnalysisFilters()).total == 0


def test_dashboard_page_has_svg_charts_tables_basis_and_csv(app, caseworker, supervisor,
                                                            other_caseworker):
    _seed(app, caseworker, other_caseworker)
    client = app.test_client()
    sign_in(client, app, supervisor)
    response = client.get("/dashboard")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert page.count("<svg") == 6 and page.count("<table") == 6
    assert 'role="img"' in page and "<title id=\"chart-by_district-title\">" in page
    assert page.count("Basis: Counts of alleged acts documented, not of violations committed.") == 6
    assert "violations committed" not in page.replace("not of violations committed", "")
    assert "Date less precise than a month".lower() in page.lower()
    assert "<script" not in page and "style=" not in page
    assert "/dashboard.csv?chart=by_district" in page
    body = client.get("/dashboard.csv?chart=by_district").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(body)))
    assert {r["code"]: int(r["alleged_acts_documented"]) for r in rows} == dict(
        Counter(s["district"] or "not_recorded" for s in IN_SCOPE))
    assert rows[0]["basis"] == "Counts of alleged acts documented, not of violations committed."
    assert client.get("/dashboard.csv?chart=nonsense").status_code == 400
    with app.app_context():
        entry = db.session.execute(select(AuditEntry).where(
            AuditEntry.action == "export.dashboard")).scalar_one()
        assert json.loads(entry.details)["chart"] == "by_district"


def test_analyst_sees_small_cells_as_less_than_five_and_no_restricted_case(app, caseworker,
                                                                          supervisor, analyst):
    with app.app_context():
        worker = actor(caseworker)
        case = new_case(worker, "Many in Kech")
        for day in range(1, 7):
            seed_act(worker, case, district="PK211", start=f"2025-03-{day:02d}")
        small = new_case(worker, "Two in Awaran")
        for _ in range(2):
            seed_act(worker, small, district="PK201", start="2025-03-01")
        seed_act(worker, new_case(worker, "Restricted"), act_type="rape", district="PK201")
        db.session.commit()
        board = build_dashboard(actor(analyst), AnalysisFilters())
        districts = {c.code: c.shown for c in board.chart("by_district").cells}
        assert districts == {"PK211": "6", "PK201": "<5"}  # the restricted act is not counted
        assert board.total == 8 and board.any_suppressed
        assert {c.code: c.shown for c in board.chart("by_act_type").cells} == {
            "enforced_disappearance": "8"}
        # The supervisor of the team sees the real small number.
        sup = build_dashboard(actor(supervisor), AnalysisFilters())
        assert {c.code: c.shown for c in sup.chart("by_district").cells} == {
            "PK211": "6", "PK201": "2"}
    client = app.test_client()
    sign_in(client, app, analyst)
    page = client.get("/dashboard").get_data(as_text=True)
    assert "&lt;5" in page and ">2<" not in page
    assert "Many in Kech" not in page and "AM-" not in page  # no case record of any kind
    body = client.get("/dashboard.csv?chart=by_district").get_data(as_text=True)
    assert {r["code"]: r["alleged_acts_documented"]
            for r in csv.DictReader(io.StringIO(body))} == {"PK211": "6", "PK201": "<5"}


def test_analyst_counts_leave_out_victims_who_withdrew_consent_to_storage(app, caseworker,
                                                                         analyst, supervisor):
    with app.app_context():
        worker = actor(caseworker)
        case = new_case(worker, "Consent")
        kept = seed_act(worker, case)
        gone = seed_act(worker, case)
        for act in (kept, gone):
            people.record_consent(worker, case, act.victim, {"purpose": "store"})
        consent = people.record_consent(worker, case, gone.victim, {"purpose": "store"})
        for record in gone.victim.consents:
            people.withdraw_consent(worker, case, record, date.today())
        assert consent.withdrawn_on == date.today()
        db.session.commit()
        assert build_dashboard(actor(analyst), AnalysisFilters()).total == 1
        assert build_dashboard(actor(supervisor), AnalysisFilters()).total == 2


def test_analyst_date_filters_are_widened_to_whole_months():
    filters = AnalysisFilters(date_from=date(2025, 3, 10), date_to=date(2025, 2, 12))

    class Analyst:
        role = "analyst"

    widened = filters.for_user(Analyst())  # type: ignore[arg-type]
    assert (widened.date_from, widened.date_to) == (date(2025, 3, 1), date(2025, 2, 28))


def test_only_supervisors_and_analysts_reach_the_dashboard(app, caseworker, admin):
    for account in (caseworker, admin):
        client = app.test_client()
        sign_in(client, app, account)
        for url in ("/dashboard", "/dashboard.csv?chart=by_month", "/analysis/export.csv"):
            assert client.get(url).status_code == 403, (account.role, url)


def _python_counts(facts) -> dict[str, Counter]:
    """The dashboard's buckets counted act by act in Python, from one row per act."""
    from app.analysis.facts import month_of

    return {
        "by_month": Counter(month_of(f) or ("date_imprecise" if f.start_value else "date_unknown")
                            for f in facts),
        "by_district": Counter(f.district or "not_recorded" for f in facts),
        "by_act_type": Counter(f.act_type for f in facts),
        "by_perpetrator_type": Counter(k for f in facts
                                       for k in (f.perpetrator_types or ("not_recorded",))),
        "by_victim_status": Counter(f.status_of_victim for f in facts),
        "by_allegation_status": Counter(f.allegation_status for f in facts),
    }


def test_counts_grouped_in_the_database_equal_counting_every_act(app, caseworker, supervisor,
                                                                 analyst, other_caseworker):
    """Each chart is one GROUP BY in the database: its cells, the total and the share must equal
    counting the acts one by one, for every role and filter, perpetrator types and months too."""
    from app.analysis.facts import act_counts, act_facts
    from app.models.acts import Act, Involvement
    from app.models.cases import Case

    _seed(app, caseworker, other_caseworker)
    with app.app_context():
        worker = actor(caseworker)
        case = new_case(worker, "Edge cases")
        # Two alleged perpetrators of the same type: the act counts once under that type.
        seed_act(worker, case, district="PK201", start="2023-11",
                 perpetrator_types=["state_police", "state_police", "unknown"])
        seed_act(worker, case, district="PK211", start="2023-11-30", status_of_victim="killed",
                 perpetrator_types=["state_paramilitary"])
        withdrawn = seed_act(worker, case, district="PK211", start="2022-06-01",
                             perpetrator_types=["state_intelligence"])
        consent = people.record_consent(worker, case, withdrawn.victim, {"purpose": "store"})
        people.withdraw_consent(worker, case, consent, date.today())
        db.session.commit()
        filters = [AnalysisFilters(), AnalysisFilters(district="PK211"),
                   AnalysisFilters(date_from=date(2023, 11, 15)),
                   AnalysisFilters(date_from=date(2024, 1, 1), date_to=date(2025, 3, 5)),
                   AnalysisFilters(district="PK201", date_to=date(2024, 12, 31))]
        checked = 0
        for account in (supervisor, analyst):
            user = actor(account)
            for given in filters:
                wanted = given.for_user(user)
                facts = act_facts(user, wanted, release=False)
                counts = act_counts(user, wanted)
                expected = _python_counts(facts)
                for key, counter in expected.items():
                    assert +getattr(counts, key) == +counter, (account.role, given, key)
                assert counts.total == len(facts)
                # ... and a direct count of the acts in scope agrees with both.
                direct = db.session.execute(select(func.count(Act.id)).join(
                    Case, Case.id == Act.case_id).where(Act.id.in_([f.id for f in facts]))
                ).scalar_one()
                assert direct == counts.total
                board = build_dashboard(user, wanted)
                assert board.total == len(facts)
                for key, counter in expected.items():
                    assert {c.code: c.count for c in board.chart(key).cells if c.count} == dict(
                        +counter), (account.role, given, key)
                checked += bool(facts)
        assert checked >= 8  # the filters above are not all empty
        supervisor_board = build_dashboard(actor(supervisor), AnalysisFilters())
        perps = {c.code: c.count for c in supervisor_board.chart("by_perpetrator_type").cells}
        assert perps["state_police"] == 3 and perps["unknown"] == 2  # IN_SCOPE has 2 + 1, 1 + 1
        # The consent rule: the supervisor counts the act whose victim withdrew, the analyst not.
        in_2022 = AnalysisFilters(date_from=date(2022, 6, 1), date_to=date(2022, 6, 30))
        assert build_dashboard(actor(supervisor), in_2022).total == 1
        assert build_dashboard(actor(analyst), in_2022).total == 0
        assert db.session.execute(select(func.count()).select_from(Involvement)).scalar_one() > 0


def test_analyst_counts_follow_every_consent_and_shredding_rule(app, caseworker, analyst,
                                                                 supervisor):
    """The release rule, act by act: withdrawn consent to storage or to anonymised use blocks,
    a newer consent lifts the block, a crypto-shredded identity blocks, an act without a victim
    and a withdrawal for another purpose do not block."""
    from app.domain import dates
    from app.services import acts as act_service

    with app.app_context():
        worker, boss = actor(caseworker), actor(supervisor)
        case = new_case(worker, "Consent rules")
        kept = seed_act(worker, case, start="2023-01-05")
        withdrawn = seed_act(worker, case, start="2023-01-06")
        reconsented = seed_act(worker, case, start="2023-01-07")
        other_purpose = seed_act(worker, case, start="2023-01-08")
        shredded = seed_act(worker, case, start="2023-01-09")
        no_victim = act_service.add_act(worker, case, {"act_type": "torture",
                                                       "district_code": "PK211"},
                                        dates.parse("2023-01-10"))
        for act, purpose in ((withdrawn, "store"), (reconsented, "anonymised_only"),
                             (other_purpose, "share_wgeid_un")):
            consent = people.record_consent(worker, case, act.victim, {"purpose": purpose})
            people.withdraw_consent(worker, case, consent, date.today())
        people.record_consent(worker, case, reconsented.victim, {"purpose": "anonymised_only"})
        db.session.commit()
        people.shred_identity(boss, db.session.get(type(case), case.id), shredded.victim,
                              reason="test")
        db.session.commit()
        january = AnalysisFilters(date_from=date(2023, 1, 1), date_to=date(2023, 1, 31))
        kept_ids = {kept.id, reconsented.id, other_purpose.id, no_victim.id}
        from app.analysis.facts import act_facts

        assert {f.id for f in act_facts(actor(analyst), january, release=False)} == kept_ids
        assert build_dashboard(actor(analyst), january).total == len(kept_ids)
        assert {f.id for f in act_facts(actor(supervisor), january, release=True)} == kept_ids
        assert build_dashboard(actor(supervisor), january).total == 6  # supervisors count all
