"""Exporting bundles: scoped to what the user may see, audited, and a faithful round trip."""

from __future__ import annotations

import copy
import json
import shutil

import pytest
from sqlalchemy import select

from app import create_app
from app.bundle import exporter
from app.bundle.importer import import_bundle
from app.bundle.validate import validate_bundle
from app.extensions import db
from app.models import AuditEntry, Case
from app.services import ServiceError
from tests.conftest import BASE_CONFIG, ON_POSTGRES
from tests.factories import actor, make_case
from tests.support import make_user

URDU_NAME = "بشیر احمد بلوچ"
BALOCHI_TRANSCRIPT = "ما آییا گون وتی چمّان دیست که آ برتگ بوت۔\nدوئمی رِدّ: «سبزیں موٹر»"

# Every field of bundle version 1, written as the exporter writes it (its ids, its defaults).
RICH = {
    "format": "amanat-bundle", "version": 1,
    "cases": [{
        "id": "c1", "title": f"Disappearance of {URDU_NAME}", "summary": "خلاصہ: a summary.",
        "status": "open", "confidentiality": "normal", "date_received": "2025-04-02",
        "intake_channel": "partner_referral", "tags": ["student", "Kech", "2025 wave"],
        "people": [
            {"id": "p1", "counting_unit": "individual", "full_name": URDU_NAME,
             "other_names": ["Bashir Ahmed Baloch", "Basheer Ahmad Baluch"],
             "father_name": "غلام نبی", "tribe": "Baloch", "date_of_birth": "1999",
             "cnic": "52203-1234567-1", "phone": "+92 300 1234567",
             "address": "Ward 4, Turbat", "physical_description": "Tall, scar on left hand",
             "sex": "male", "age": 25, "age_group": "youth", "occupation": "student",
             "affiliation": "political worker"},
            {"id": "p2", "counting_unit": "individual", "full_name": "Fictional Mother",
             "sex": "female"},
            {"id": "p3", "counting_unit": "group", "full_name": "Fictional Witnesses"}],
        "acts": [
            {"id": "a1", "type": "enforced_disappearance", "victim": "p1",
             "start": {"date": "2025-03", "precision": "month"},
             "end": {"date": "2025", "precision": "approximate", "as_given": "around Eid 2025"},
             "district": "PK211", "district_list_version": "codeforpakistan-admin-codes-ad338cb",
             "place_as_reported": "بازار، تربت", "coordinates": "26.0031,63.0544",
             "location_type": "street", "description": "Taken from the bazaar at noon.",
             "status_of_victim": "still_missing", "allegation_status": "corroborated",
             "disappearance": {
                 "last_seen": {"date": "2025-03-11", "precision": "day"},
                 "last_seen_time": "12:30", "place_last_seen": "Main bazaar",
                 "circumstances": "Pushed into a car.", "taken_by": "Eight men, two vehicles",
                 "whereabouts": "capture_denied", "deprived_of_liberty": True,
                 "state_involvement": True, "concealment": False,
                 "relatives_consent_wgeid": True, "source_keeps_contact": False,
                 "urgent": False, "current_status": "still_missing",
                 "current_status_on": "2025-06-01",
                 "family_steps": [
                     {"step": "police_report_refused", "taken_on": "2025-03-12",
                      "court_or_office": "City police station", "outcome": "Refused."},
                     {"step": "habeas_corpus", "taken_on": "2025-04-20",
                      "court_or_office": "Balochistan High Court, Turbat Bench",
                      "reference_number": "C.P. 123/2025", "outcome": "Pending."}]},
             "perpetrators": [
                 {"unit": "Men in plain clothes", "type": "unknown",
                  "involvement": "directly_carried_out", "attribution": "denied"},
                 {"person": "p3", "type": "civilian_mob", "involvement": "present",
                  "attribution": "none"}]},
            {"id": "a2", "type": "torture", "victim": "p1",
             "start": {"date": "2025-03-12", "precision": "day"},
             "status_of_victim": "unknown", "allegation_status": "alleged"},
            {"id": "a3", "type": "death_threat", "victim": "p2",
             "start": {"precision": "unknown", "as_given": "some time after the FIR"},
             "status_of_victim": "unknown", "allegation_status": "alleged"}],
        "sources": [
            {"id": "s1", "person": "p2", "reliability": "B", "pseudonym": "M-01"},
            {"id": "s2", "person": "p3", "reliability": "C", "pseudonym": "W-02"},
            {"id": "s3", "organisation": "Fictional Rights Desk", "reliability": "F",
             "pseudonym": "O-03"}],
        "testimonies": [
            {"id": "t1", "source": "s1", "date": "2025-03-14", "precision": "day",
             "language": "bal", "material": "interview", "connection": "relative",
             "credibility": 2, "transcript": BALOCHI_TRANSCRIPT, "notes": "Calm, precise.",
             "interview_place": "Family home"},
            {"id": "t2", "source": "s2", "date": "2025-03", "precision": "month",
             "language": "urd", "material": "witness_testimony", "connection": "witness",
             "credibility": 3, "transcript": "ہم نے دیکھا۔"},
            {"id": "t3", "source": "s3", "precision": "unknown", "material": "news_report",
             "credibility": 6}],
        "links": [
            {"act": "a1", "testimony": "t1", "relation": "supports", "note": "Eyewitness."},
            {"act": "a1", "testimony": "t2", "relation": "supports",
             "checked_on": "2025-05-01"},
            {"act": "a1", "testimony": "t3", "relation": "mentions"},
            {"act": "a2", "testimony": "t1", "relation": "contradicts"}],
        "follow_ups": [
            {"id": "f1", "type": "wgeid_submission", "taken_on": "2025-05-10",
             "by_whom": "Legal desk", "to_whom": "WGEID", "response": "Acknowledged.",
             "status": "awaiting_response", "next_step": "Send update.",
             "next_step_on": "2026-12-01"}],
        "consents": [
            {"person": "p2", "purpose": "store", "legal_basis": "consent",
             "given_on": "2025-03-14", "recording_allowed": True},
            {"person": "p2", "purpose": "share_wgeid_un", "legal_basis": "consent",
             "given_on": "2025-03-14", "recording_allowed": False,
             "withdrawn_on": "2025-09-01"}],
        "notes": [{"text": "First note."}, {"text": "دوسرا نوٹ"}]}]}


def normalised(bundle: dict) -> dict:
    """What must survive a round trip: everything but the installation's own reference and the
    export's time stamp."""
    result = copy.deepcopy(bundle)
    result.pop("exported_at", None)
    result.pop("generator", None)
    for case in result["cases"]:
        case.pop("reference", None)
    return result


def _export(user, cases=None, **kwargs) -> dict:
    chosen = cases if cases is not None else exporter.select_cases(user, everything=True)
    result = exporter.export_bundle(user, chosen, **kwargs)
    db.session.commit()
    return json.loads(result.to_json())


def test_the_rich_example_is_valid(app, caseworker):
    with app.app_context():
        assert validate_bundle(RICH, actor(caseworker)) == []


def test_every_field_survives_import_then_export(app, caseworker):
    with app.app_context():
        user = actor(caseworker)
        import_bundle(user, copy.deepcopy(RICH))
        assert normalised(_export(user)) == RICH


def test_export_then_import_gives_the_same_records(app, caseworker):
    """Data entered through the services (as the case pages do), exported, re-imported, and
    exported again: the two bundles are the same but for references."""
    make_case(app, caseworker)
    with app.app_context():
        user = actor(caseworker)
        first = _export(user)
        summary = import_bundle(user, first)
        copy_case = db.session.get(Case, summary.cases[0][2])
        second = _export(user, [copy_case])
        assert normalised(second) == normalised(first)
        assert second["cases"][0]["reference"] != first["cases"][0]["reference"]


def test_arabic_script_text_round_trips_byte_for_byte(app, caseworker):
    with app.app_context():
        user = actor(caseworker)
        import_bundle(user, copy.deepcopy(RICH))
        text = exporter.export_bundle(user, exporter.select_cases(user, everything=True)).to_json()
        db.session.commit()
    raw = text.encode("utf-8")
    for value in (URDU_NAME, BALOCHI_TRANSCRIPT, "بازار، تربت", "ہم نے دیکھا۔"):
        assert json.dumps(value, ensure_ascii=False).encode("utf-8") in raw
    assert b"\\u06" not in raw  # never escaped


def test_date_precision_survives_the_round_trip(app, caseworker):
    with app.app_context():
        user = actor(caseworker)
        import_bundle(user, copy.deepcopy(RICH))
        act = _export(user)["cases"][0]["acts"][0]
    assert act["start"] == {"date": "2025-03", "precision": "month"}
    assert act["end"] == {"date": "2025", "precision": "approximate", "as_given": "around Eid 2025"}


def test_export_is_scoped_and_audited_without_content(app, caseworker, supervisor):
    make_case(app, caseworker)
    other = make_user(app, "caseworker", teams=["Turbat"])
    with app.app_context():
        assert exporter.select_cases(actor(other), everything=True) == []
        with pytest.raises(ServiceError):
            exporter.select_cases(actor(other), references=["AM-2026-0001"])
        bundle = _export(actor(supervisor))
        assert len(bundle["cases"]) == 1
        entry = db.session.execute(select(AuditEntry).where(
            AuditEntry.action == "bundle.export")).scalar_one()
        details = json.loads(entry.details)
        assert details["case_ids"] == [str(db.session.execute(select(Case.id)).scalar_one())]
        assert "Bashir" not in entry.details and "Turbat" not in entry.details


def test_admins_and_analysts_cannot_export(app, admin, analyst):
    with app.app_context():
        for user in (admin, analyst):
            with pytest.raises(ServiceError):
                exporter.select_cases(actor(user), everything=True)


def test_export_cli_writes_a_private_file(app, runner, caseworker, tmp_path):
    make_case(app, caseworker)
    out = tmp_path / "out.json"
    result = runner.invoke(args=["export", "--all", "-o", str(out), "--as", caseworker.email])
    assert result.exit_code == 0, result.output
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    bundle = json.loads(out.read_text(encoding="utf-8"))
    assert bundle["cases"][0]["people"][0]["full_name"] == "Bashir Ahmed"
    by_ref = runner.invoke(args=["export", "--case", bundle["cases"][0]["reference"],
                                 "--as", caseworker.email])
    assert by_ref.exit_code == 0 and '"format": "amanat-bundle"' in by_ref.output
    filtered = runner.invoke(args=["export", "--status", "closed", "--as", caseworker.email])
    assert json.loads(filtered.output.split("\nExported")[0])["cases"] == []
    assert runner.invoke(args=["export", "--as", caseworker.email]).exit_code == 2


@pytest.mark.skipif(ON_POSTGRES, reason="a second installation is a second SQLite file here")
def test_round_trip_into_an_empty_installation(app, caseworker, migrated_template, tmp_path):
    """Export from one installation, import into another (own database, own master key)."""
    make_case(app, caseworker)
    with app.app_context():
        user = actor(caseworker)
        import_bundle(user, copy.deepcopy(RICH))
        original = _export(user)
    second_db = tmp_path / "second.db"
    shutil.copyfile(migrated_template, second_db)
    instance = tmp_path / "second-instance"
    instance.mkdir(mode=0o700)
    other = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{second_db}",
                        "INSTANCE_PATH": str(instance)})
    worker = make_user(other, "caseworker", teams=["Gwadar"])
    with other.app_context():
        user = actor(worker)
        import_bundle(user, original)
        copied = _export(user)
        db.session.remove()
        db.engine.dispose()
    assert normalised(copied) == normalised(original)
