"""HURIDOCS ESF export: codes from the micro-thesauri, consent refusals, no identity leaks, audit."""

from __future__ import annotations

import csv
import io
import json

import pytest
from sqlalchemy import select

from app.exports import ConsentRefused
from app.exports.huridocs import export_huridocs, to_csv
from app.extensions import db
from app.models.audit import AuditEntry
from app.services import ServiceError
from tests.exports_support import consent, make_complete_disappearance, victim_and_act
from tests.factories import actor, make_case
from tests.support import PASSWORD, make_user, post_form, sign_in

IDENTITY = ("Bashir Ahmed", "Basheer Ahmad", "Ghulam Nabi", "52203", "1234567", "Fictional Witness",
            "Main bazaar", "I saw them take him", "Taken from a shop", "Eight men")


def _with_consent(app, owner, *purposes):
    case_id = make_complete_disappearance(app, owner, purposes=purposes)
    return case_id


def _export(app, owner, case_ids, **kwargs):
    with app.app_context():
        data = export_huridocs(actor(owner), case_ids, **kwargs)
        db.session.commit()
        return data


def test_export_speaks_esf_with_micro_thesaurus_codes(app, caseworker):
    case_id = _with_consent(app, caseworker, "store", "anonymised_only")
    data = _export(app, caseworker, [case_id])
    assert data["format"] == "huridocs-esf"
    event = data["events"][0]
    act = event["acts"][0]
    assert act["type_of_act"] == {"code": "enforced_disappearance",
                                  "huridocs": {"list": "4", "term": "030103000000"}}
    assert act["initial_date"] == {"date": "2025-03-11", "precision": "day"}
    assert act["location"]["district"] == "PK211"
    assert act["qualifier"] == "alleged"
    involvement = act["involvements"][0]
    assert involvement["type_of_perpetrator"]["huridocs"]["list"] == "24"
    assert involvement["degree_of_involvement"]["code"] == "directly_carried_out"
    assert involvement["attribution"]["huridocs"]["list"] == "28"
    assert event["sources"] == [{"source_record_number": "S1", "pseudonym": "W-17",
                                 "reliability": "B"}]
    info = event["information"][0]
    assert info["type_of_source_material"]["huridocs"]["list"] == "16"
    assert info["credibility"] == 2
    assert act["information"][0]["relation"] == "supports"


def test_no_identity_leaks_without_partner_consent(app, caseworker):
    case_id = _with_consent(app, caseworker, "store", "anonymised_only")
    data = _export(app, caseworker, [case_id], identities=True)
    text = json.dumps(data, ensure_ascii=False)
    for value in IDENTITY:
        assert value not in text, value
    victim = data["events"][0]["persons"][0]
    assert victim == {"person_record_number": "P1", "counting_unit": "individual", "sex": "male",
                      "age_group": "youth", "identified": False}
    assert all(value not in to_csv(data) for value in IDENTITY)


def test_partner_consent_names_the_person_only_when_identities_are_asked(app, caseworker):
    case_id = _with_consent(app, caseworker, "store", "partner_ngos")
    masked = json.dumps(_export(app, caseworker, [case_id]), ensure_ascii=False)
    assert "Bashir Ahmed" not in masked
    named = _export(app, caseworker, [case_id], identities=True)
    victim = named["events"][0]["persons"][0]
    assert victim["identified"] is True and victim["full_name"] == "Bashir Ahmed"
    assert victim["other_names"] == ["Basheer Ahmad"]
    text = json.dumps(named, ensure_ascii=False)
    assert "52203" not in text and "Main bazaar" not in text  # never exported here
    assert "Bashir Ahmed" not in to_csv(named)


def test_refused_without_sharing_consent(app, caseworker):
    case_id = make_case(app, caseworker)
    with app.app_context():
        with pytest.raises(ConsentRefused) as refused:
            export_huridocs(actor(caseworker), [case_id])
        assert "AM-" in refused.value.message and "no consent" in refused.value.message
        assert db.session.execute(select(AuditEntry).where(
            AuditEntry.action == "export.huridocs")).first() is None


def test_other_teams_case_is_refused(app, caseworker):
    case_id = _with_consent(app, caseworker, "anonymised_only")
    outsider = make_user(app, "caseworker", teams=["Gwadar"])
    with app.app_context():
        with pytest.raises(ServiceError):
            export_huridocs(actor(outsider), [case_id])


def test_every_case_exported_is_audited(app, caseworker):
    first = _with_consent(app, caseworker, "anonymised_only")
    second = make_complete_disappearance(app, caseworker, purposes=("partner_ngos",))
    _export(app, caseworker, [], identities=True)  # all of the user's cases
    with app.app_context():
        entries = db.session.execute(select(AuditEntry).where(
            AuditEntry.action == "export.huridocs")).scalars().all()
        assert {e.case_id for e in entries} == {first, second}
        assert all("Bashir" not in e.details for e in entries)


def test_export_page_downloads_json_and_csv_and_records_refusals(app, caseworker, caseworker_client):
    good = _with_consent(app, caseworker, "anonymised_only")
    response = post_form(caseworker_client, "/exports/huridocs", {"case": str(good),
                                                                   "format": "json"})
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    data = json.loads(response.get_data(as_text=True))
    assert data["events"][0]["acts"][0]["type_of_act"]["code"] == "enforced_disappearance"
    response = post_form(caseworker_client, "/exports/huridocs", {"case": str(good),
                                                                   "format": "csv"})
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0]["huridocs_term"] == "030103000000" and rows[0]["victim_sex"] == "male"
    bad = make_case(app, caseworker)
    refused = post_form(caseworker_client, "/exports/huridocs", {"case": str(bad),
                                                                  "format": "json"})
    assert refused.status_code == 200 and "no consent" in refused.get_data(as_text=True)
    with app.app_context():
        entry = db.session.execute(select(AuditEntry).where(
            AuditEntry.action == "export.huridocs", AuditEntry.case_id == bad)).scalar_one()
        assert "refused" in entry.details


def test_identities_ask_for_a_fresh_authentication(app, caseworker, caseworker_client):
    case_id = _with_consent(app, caseworker, "partner_ngos")
    with caseworker_client.session_transaction() as session:
        session["auth_at"] = session["auth_at"] - 16 * 60
    response = post_form(caseworker_client, "/exports/huridocs",
                         {"case": str(case_id), "format": "json", "identities": "y"})
    assert response.status_code == 302 and "/reauthenticate" in response.headers["Location"]
    post_form(caseworker_client, response.headers["Location"], {"secret": PASSWORD})
    response = post_form(caseworker_client, "/exports/huridocs",
                         {"case": str(case_id), "format": "json", "identities": "y"})
    assert "Bashir Ahmed" in response.get_data(as_text=True)


def test_analyst_cannot_export(app, caseworker, analyst):
    client = app.test_client()
    sign_in(client, app, analyst)
    assert client.get("/exports/huridocs").status_code == 403
    with app.app_context():
        with pytest.raises(ServiceError):
            export_huridocs(actor(analyst), [])


def test_consent_helper_records_purposes(app, caseworker):
    case_id = make_case(app, caseworker)
    with app.app_context():
        victim, _ = victim_and_act(case_id)
        consent(actor(caseworker), case_id, victim, "anonymised_only")
        db.session.commit()
    assert _export(app, caseworker, [case_id])["identity_policy"] == "de-identified"
