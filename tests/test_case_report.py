"""The case report for a lawyer or UN submission: allegation wording, material by pseudonym,
identities only after step-up and with consent for courts, audit."""

from __future__ import annotations

from sqlalchemy import select

from app.domain import dates
from app.extensions import db
from app.models.audit import AuditEntry
from app.models.cases import Case
from app.services import allegations, people, sources
from tests.exports_support import consent, victim_and_act
from tests.factories import actor, make_case
from tests.support import PASSWORD, post_form


def _add_contradiction(app, owner, case_id):
    with app.app_context():
        user = actor(owner)
        case = db.session.get(Case, case_id)
        _, act = victim_and_act(case_id)
        relative = people.add_person(user, case, {"full_name": "Fictional Relative", "sex": "male"})
        source = sources.add_source(user, case, {"person_id": relative.id, "reliability": "D",
                                                 "pseudonym": "R-03"})
        testimony = sources.add_testimony(user, case, {
            "source_id": source.id, "material": "interview", "connection": "relative",
            "credibility": 4, "transcript": "He left for Karachi."}, dates.parse("2025-03-20"))
        allegations.link(user, case, act, relation="contradicts", testimony=testimony)
        db.session.commit()


def test_report_says_alleged_and_lists_material_by_pseudonym(app, caseworker, caseworker_client):
    case_id = make_case(app, caseworker)
    _add_contradiction(app, caseworker, case_id)
    response = caseworker_client.get(f"/cases/{case_id}/report")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Enforced disappearance" in body and "(alleged)" in body
    assert "Supporting material" in body and "Contradicting material" in body
    assert "W-17" in body and "R-03" in body
    assert ">B<" in body and ">2<" in body and ">D<" in body and ">4<" in body
    assert "witness testimony" in body.lower()
    for secret in ("Bashir Ahmed", "Fictional Witness", "Fictional Relative", "I saw them",
                   "Karachi", "Main bazaar"):
        assert secret not in body, secret
    assert "B•••• A••••" in body
    with app.app_context():
        entry = db.session.execute(select(AuditEntry).where(
            AuditEntry.action == "export.case_report")).scalar_one()
        assert entry.case_id == case_id and '"identities_requested": false' in entry.details


def test_finding_is_not_called_alleged(app, caseworker, supervisor):
    from tests.support import sign_in

    case_id = make_case(app, caseworker)
    with app.app_context():
        _, act = victim_and_act(case_id)
        allegations.set_status(actor(supervisor), db.session.get(Case, case_id), act, "finding")
        db.session.commit()
    client = app.test_client()
    sign_in(client, app, supervisor)
    body = client.get(f"/cases/{case_id}/report").get_data(as_text=True)
    assert 'id="act-A1">A1. Enforced disappearance</h2>' in body
    assert "(alleged)" not in body


def test_identities_need_step_up_and_consent_for_courts(app, caseworker, caseworker_client):
    case_id = make_case(app, caseworker)
    url = f"/cases/{case_id}/report?identities=1"
    # Fresh sign-in but no consent for courts: still masked.
    body = caseworker_client.get(url).get_data(as_text=True)
    assert "Bashir Ahmed" not in body and "no consent for courts" in body
    with app.app_context():
        victim, _ = victim_and_act(case_id)
        victim_id = victim.id
        consent(actor(caseworker), case_id, victim, "courts")
        db.session.commit()
    with caseworker_client.session_transaction() as session:
        session["auth_at"] = session["auth_at"] - 16 * 60
    stale = caseworker_client.get(url)
    assert stale.status_code == 302 and "/reauthenticate" in stale.headers["Location"]
    post_form(caseworker_client, stale.headers["Location"], {"secret": PASSWORD})
    body = caseworker_client.get(url).get_data(as_text=True)
    assert "Bashir Ahmed" in body and "Ghulam Nabi" in body
    assert "Main bazaar, Turbat" in body  # the identified victim's act shows its place
    assert "Fictional Witness" not in body  # the witness gave no consent for courts
    with app.app_context():
        entries = db.session.execute(select(AuditEntry).where(
            AuditEntry.action == "export.case_report")).scalars().all()
        assert len(entries) == 2 and str(victim_id) in entries[-1].details


def test_other_team_cannot_get_the_report(app, caseworker):
    from tests.support import make_user, sign_in

    case_id = make_case(app, caseworker)
    outsider = make_user(app, "caseworker", teams=["Gwadar"])
    client = app.test_client()
    sign_in(client, app, outsider)
    assert client.get(f"/cases/{case_id}/report").status_code == 404
