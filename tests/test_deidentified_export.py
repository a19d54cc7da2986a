"""The de-identified export: no identity or text leaves (canaries in every identity and narrative
field), districts and months coarsened at k = 5, restricted cases and withdrawn consent left out,
every export audited, refused to roles that may not have it."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from datetime import date

import pytest
from sqlalchemy import select

from app.analysis.deidentify import COLUMNS, case_pseudonym, deidentified_rows
from app.analysis.scope import AnalysisFilters
from app.domain import dates
from app.extensions import db
from app.models.audit import AuditEntry
from app.models.cases import Case
from app.services import ServiceError, acts, allegations, cases, people, sources
from tests.analysis_factories import new_case, seed_act
from tests.factories import actor
from tests.support import sign_in

CANARY = "CANARYq7z"


def _canary(field: str) -> str:
    return f"{CANARY}-{field}"


def _rows(client, url: str = "/analysis/export.csv") -> list[dict[str, str]]:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def _export_entries(app) -> list[dict]:
    with app.app_context():
        return [json.loads(e.details) for e in db.session.execute(
            select(AuditEntry).where(AuditEntry.action == "export.deidentified")
            .order_by(AuditEntry.seq)).scalars()]


def test_no_identity_or_text_leaves_in_the_export(app, caseworker, analyst, supervisor):
    cnic, phone = "52203-7777777-3", "+92 300 7777777"
    with app.app_context():
        worker = actor(caseworker)
        case = new_case(worker, _canary("title"), summary=_canary("summary"),
                        tags=_canary("tags"))
        victim = {"full_name": _canary("full_name"), "father_name": _canary("father_name"),
                  "tribe": _canary("tribe"), "date_of_birth": _canary("date_of_birth"),
                  "cnic": cnic, "phone": phone, "address": _canary("address"),
                  "physical_description": _canary("physical_description"),
                  "occupation": _canary("occupation"), "affiliation": _canary("affiliation"),
                  "sex": "female", "age": 16}
        act = seed_act(worker, case, victim=victim, other_names=[_canary("other_name")],
                       act_text={"place_as_reported": _canary("place_as_reported"),
                                 "coordinates": "25.9999,63.0777",
                                 "description": _canary("description"),
                                 "location_type": "home"})
        acts.add_perpetrator(worker, case, act, {"unit": _canary("unit"),
                                                 "perpetrator_type": "state_intelligence"})
        acts.update_disappearance(worker, case, act, {
            "place_last_seen": _canary("place_last_seen"),
            "circumstances": _canary("circumstances"), "taken_by": _canary("taken_by"),
            "whereabouts": "capture_denied"}, dates.parse("2025-03-11"), act.disappearance.version)
        acts.add_family_step(worker, case, act, {"step": "habeas_corpus",
                                                 "court_or_office": _canary("court"),
                                                 "reference_number": _canary("petition"),
                                                 "outcome": _canary("outcome")})
        witness = people.add_person(worker, case, {"full_name": _canary("witness_name")})
        source = sources.add_source(worker, case, {"person_id": witness.id, "reliability": "B",
                                                   "pseudonym": _canary("pseudonym")})
        testimony = sources.add_testimony(worker, case, {
            "source_id": source.id, "material": "witness_testimony",
            "interview_place": _canary("interview_place"), "transcript": _canary("transcript"),
            "notes": _canary("notes"), "credibility": 2}, dates.parse("2025-03-14"))
        allegations.link(worker, case, act, relation="supports", testimony=testimony,
                         note=_canary("link_note"))
        cases.add_note(worker, case, _canary("case_note"))
        db.session.commit()
        secrets = [case.reference, str(case.id), case.id.hex, str(act.id), str(act.victim_id),
                   cnic, "5220377777773", phone, "3007777777", "25.9999", "63.0777"]
    for account in (analyst, supervisor):
        client = app.test_client()
        sign_in(client, app, account)
        response = client.get("/analysis/export.csv")
        body = response.get_data(as_text=True)
        assert CANARY not in body, account.role
        for secret in secrets:
            assert secret not in body, (account.role, secret)
        rows = list(csv.DictReader(io.StringIO(body)))
        assert list(rows[0]) == list(COLUMNS)
        assert len(rows) == 1
        row = rows[0]
        assert row["act_type"] == "enforced_disappearance"
        assert row["perpetrator_types"] == "state_intelligence"
        assert (row["victim_sex"], row["victim_age_group"]) == ("female", "12-17")
        assert row["qualifier"] == "alleged" and row["allegation_status"] == "alleged"
        assert row["start_period"] == "2025" and row["start_precision"] == "year"  # 1 act < k
        assert row["district"] == "PK2 Balochistan" and row["place_level"] == "province"
        with app.app_context():
            assert row["case_pseudonym"] == case_pseudonym(case.id)
            assert len(row["case_pseudonym"]) == 16


def _seed_coarsening(app, caseworker) -> dict:
    """Kech (PK211): 6 acts, 5 of them in March 2025, 1 in January; Awaran (PK201): 2 acts."""
    with app.app_context():
        worker = actor(caseworker)
        kech = new_case(worker, "Kech")
        for day in (2, 5, 9, 14, 20):
            seed_act(worker, kech, district="PK211", start=f"2025-03-{day:02d}")
        seed_act(worker, kech, district="PK211", start="2025-01-15")
        awaran = new_case(worker, "Awaran")
        seed_act(worker, awaran, district="PK201", start="2025-03-03")
        seed_act(worker, awaran, district="PK201", start="March 2025")
        db.session.commit()
        return {"kech": kech.id, "awaran": awaran.id}


def test_small_districts_become_their_province_and_small_months_their_year(app, caseworker,
                                                                             analyst):
    ids = _seed_coarsening(app, caseworker)
    client = app.test_client()
    sign_in(client, app, analyst)
    rows = _rows(client)
    assert len(rows) == 8
    with app.app_context():
        kech, awaran = case_pseudonym(ids["kech"]), case_pseudonym(ids["awaran"])
    by_case = {kech: [r for r in rows if r["case_pseudonym"] == kech],
               awaran: [r for r in rows if r["case_pseudonym"] == awaran]}
    # Six acts share Kech: the district stays. Five share March 2025 there: the month stays;
    # the January act is alone in its month: only its year leaves. Never the day.
    assert {r["district"] for r in by_case[kech]} == {"PK211 Kech"}
    assert {r["place_level"] for r in by_case[kech]} == {"district"}
    assert Counter((r["start_period"], r["start_precision"]) for r in by_case[kech]) == {
        ("2025-03", "month"): 5, ("2025", "year"): 1}
    # Two acts in Awaran (< 5): the province, and the year (two share the month there).
    assert {r["district"] for r in by_case[awaran]} == {"PK2 Balochistan"}
    assert {r["place_level"] for r in by_case[awaran]} == {"province"}
    assert {(r["start_period"], r["start_precision"]) for r in by_case[awaran]} == {
        ("2025", "year")}
    for row in rows:
        assert len(row["start_period"]) in (4, 7)  # never a day
    # Filters select by released values: a district filter cannot reveal a coarsened district.
    assert {r["district"] for r in _rows(client, "/analysis/export.csv?district=PK201")} == set()
    assert len(_rows(client, "/analysis/export.csv?district=PK211")) == 6
    march = _rows(client, "/analysis/export.csv?date_from=2025-03-01&date_to=2025-03-31")
    assert len(march) == 8  # "2025" rows can fall in March; the January day cannot be told apart


def test_restricted_cases_and_withdrawn_consent_are_left_out(app, caseworker, supervisor):
    with app.app_context():
        worker = actor(caseworker)
        case = new_case(worker, "Mixed consent")
        kept = seed_act(worker, case)
        wgeid_withdrawn = seed_act(worker, case)
        store_withdrawn = seed_act(worker, case)
        anonymised_withdrawn = seed_act(worker, case)
        for act, purpose in ((wgeid_withdrawn, "share_wgeid_un"), (store_withdrawn, "store"),
                             (anonymised_withdrawn, "anonymised_only")):
            consent = people.record_consent(worker, case, act.victim, {"purpose": purpose})
            people.withdraw_consent(worker, case, consent, date.today())
        # A restricted case the supervisor may see (they own it) still never leaves.
        boss = actor(supervisor)
        restricted = new_case(boss, "Restricted")
        seed_act(boss, restricted, act_type="sexual_assault")
        db.session.commit()
        assert db.session.get(Case, restricted.id).confidentiality == "restricted"
        rows = deidentified_rows(boss)
        # Withdrawing consent to share with the UN does not stop de-identified statistics.
        assert len(rows) == 2 and kept.id and wgeid_withdrawn.id
        assert {r["act_type"] for r in rows} == {"enforced_disappearance"}
        db.session.rollback()


def test_every_export_is_audited_with_its_row_count(app, caseworker, analyst, supervisor):
    _seed_coarsening(app, caseworker)
    for account, url in ((analyst, "/analysis/export.csv"),
                         (supervisor, "/analysis/export.csv?district=PK211"),
                         (analyst, "/analysis/export.csv?date_from=2030-01-01")):
        client = app.test_client()
        sign_in(client, app, account)
        _rows(client, url)
    entries = _export_entries(app)
    assert [e["rows"] for e in entries] == [8, 6, 0]
    assert [e["filters"] for e in entries] == [[], ["district"], ["date_from"]]
    assert all(e["k"] == 5 for e in entries)
    with app.app_context():  # the function the CLI calls audits too
        deidentified_rows(actor(analyst), AnalysisFilters(district="PK211"))
        db.session.commit()
    assert [e["rows"] for e in _export_entries(app)] == [8, 6, 0, 6]


def test_roles_that_may_not_export_are_refused_with_a_reason(app, caseworker, admin):
    _seed_coarsening(app, caseworker)
    with app.app_context():
        for account in (caseworker, admin):
            with pytest.raises(ServiceError, match="Only analysts and supervisors"):
                deidentified_rows(actor(account))
    for account in (caseworker, admin):
        client = app.test_client()
        sign_in(client, app, account)
        assert client.get("/analysis/export.csv").status_code == 403
    assert _export_entries(app) == []
