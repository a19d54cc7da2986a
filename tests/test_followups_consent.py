"""Follow-up actions and consent through the web pages, and crypto-shredding an identity after
consent to store it is withdrawn: the person reads "[identity erased]", the case stays readable."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models.audit import AuditEntry
from app.models.followups import FollowUp
from app.models.people import ConsentRecord, Person
from app.models.sources import Testimony as Statement
from tests.factories import make_case
from tests.support import post_form, sign_in


@pytest.fixture
def supervisor_client(app, supervisor):
    client = app.test_client()
    assert sign_in(client, app, supervisor).status_code == 302
    return client


def _people(app) -> list[Person]:
    with app.app_context():
        return list(db.session.execute(select(Person).order_by(Person.created_at)).scalars())


# --- Follow-up actions --------------------------------------------------------------------------

def test_follow_up_form_errors_keep_what_was_typed(app, caseworker, caseworker_client):
    case_id = make_case(app, caseworker)
    url = f"/cases/{case_id}/follow-ups/new"
    response = post_form(caseworker_client, url, {
        "action_type": "", "status": "planned", "to_whom": "ہائی کورٹ بلوچستان",
        "response": "No answer yet"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "is not a current term of follow up type" in body
    assert "ہائی کورٹ بلوچستان" in body and "No answer yet" in body
    response = post_form(caseworker_client, url, {
        "action_type": "court_petition", "status": "awaiting_response",
        "taken_on": "2025-04-10", "next_step_on": "2025-04-01", "next_step": "Hearing",
        "to_whom": "High Court"})
    body = response.get_data(as_text=True)
    assert "The next step cannot be due before the action itself." in body
    assert "Hearing" in body and "High Court" in body
    with app.app_context():
        assert db.session.execute(select(FollowUp)).first() is None


def test_follow_ups_listed_by_next_step_with_overdue_highlighted(app, caseworker,
                                                                 caseworker_client):
    case_id = make_case(app, caseworker)
    url = f"/cases/{case_id}/follow-ups/new"
    today = date.today()
    later = today + timedelta(days=20)
    past = today - timedelta(days=3)
    for data in (
        {"action_type": "wgeid_submission", "status": "planned", "by_whom": "Legal team",
         "next_step": "Send the WGEID form", "next_step_on": later.isoformat()},
        {"action_type": "court_petition", "status": "awaiting_response",
         "taken_on": (today - timedelta(days=30)).isoformat(), "to_whom": "High Court",
         "response": "Notice issued to the ministry", "next_step": "Hearing",
         "next_step_on": past.isoformat()},
        {"action_type": "media", "status": "done", "taken_on": today.isoformat()},
    ):
        response = post_form(caseworker_client, url, data)
        assert response.status_code == 302, response.get_data(as_text=True)
    page = caseworker_client.get(f"/cases/{case_id}").get_data(as_text=True)
    section = page[page.index('id="follow-up"'):page.index('id="notes"')]
    items = re.findall(r'<li id="follow-up-[^"]+" class="([^"]+)"', section)
    assert items == ["follow-up overdue", "follow-up", "follow-up"]
    assert section.index("Hearing") < section.index("Send the WGEID form")
    assert "Overdue" in section and f"next step was due on {past.isoformat()}" in section
    with app.app_context():
        petition = db.session.execute(select(FollowUp).where(
            FollowUp.action_type == "court_petition")).scalar_one()
        assert petition.response == "Notice issued to the ministry"  # decrypts
        entry = db.session.execute(select(AuditEntry).where(
            AuditEntry.action == "follow_up.create", AuditEntry.object_id == str(petition.id))
        ).scalar_one()
        assert "response" in entry.details and "ministry" not in entry.details


def test_follow_up_edit_and_conflict(app, caseworker, supervisor, caseworker_client,
                                     supervisor_client):
    from tests.support import csrf_from

    case_id = make_case(app, caseworker)
    post_form(caseworker_client, f"/cases/{case_id}/follow-ups/new",
              {"action_type": "appeal", "status": "planned", "to_whom": "Home Department"})
    with app.app_context():
        follow_up = db.session.execute(select(FollowUp)).scalar_one()
    url = f"/cases/{case_id}/follow-ups/{follow_up.id}/edit"
    mine = caseworker_client.get(url).get_data(as_text=True)
    assert "Home Department" in mine
    response = post_form(supervisor_client, url, {
        "action_type": "appeal", "status": "done", "to_whom": "Home Department",
        "response": "Rejected", "version": re.search(
            r'name="version" type="hidden" value="(\d+)"',
            supervisor_client.get(url).get_data(as_text=True)).group(1)})
    assert response.status_code == 302, response.get_data(as_text=True)
    version = re.search(r'name="version" type="hidden" value="(\d+)"', mine).group(1)
    response = caseworker_client.post(url, data={
        "csrf_token": csrf_from(mine), "version": version, "action_type": "appeal",
        "status": "in_progress", "to_whom": "Chief Secretary", "response": ""})
    body = response.get_data(as_text=True)
    assert "Someone else saved this record" in body and "status" in body
    assert "Chief Secretary" in body
    with app.app_context():
        assert db.session.get(FollowUp, follow_up.id).status == "done"


# --- Consent and erasure ------------------------------------------------------------------------

def test_consent_add_validate_and_withdraw(app, caseworker, caseworker_client):
    case_id = make_case(app, caseworker)
    witness = _people(app)[1]
    url = f"/cases/{case_id}/people/{witness.id}/consent"
    page = caseworker_client.get(url).get_data(as_text=True)
    assert "Fictional Witness" not in page and "F•••• W••••" in page
    response = post_form(caseworker_client, url, {"purpose": "", "legal_basis": "public_interest",
                                                  "given_on": "2025-03-14",
                                                  "recording_allowed": "y"})
    body = response.get_data(as_text=True)
    assert "Choose what the consent is for." in body
    assert re.search(r'<option selected value="public_interest">', body)
    assert 'value="2025-03-14"' in body
    response = post_form(caseworker_client, url, {"purpose": "store", "legal_basis": "consent",
                                                  "given_on": "2025-03-14",
                                                  "recording_allowed": "y"})
    assert response.status_code == 302, response.get_data(as_text=True)
    post_form(caseworker_client, url, {"purpose": "share_wgeid_un", "legal_basis": "consent",
                                       "given_on": "2025-03-14"})
    page = caseworker_client.get(url).get_data(as_text=True)
    assert "Store their data in this case file" in page
    assert "Share with the WGEID or other UN bodies" in page and "Karim Caseworker" in page
    with app.app_context():
        store = db.session.execute(select(ConsentRecord).where(
            ConsentRecord.purpose == "store")).scalar_one()
        assert store.recording_allowed is True and store.obtained_by_id == caseworker.id
    withdraw = f"{url}/{store.id}/withdraw"
    future = (date.today() + timedelta(days=2)).isoformat()
    response = post_form(caseworker_client, withdraw, {"withdrawn_on": future}, page=url)
    assert "The date cannot be in the future." in response.get_data(as_text=True)
    response = post_form(caseworker_client, withdraw, {"withdrawn_on": "2025-01-01"}, page=url)
    assert "before it was given" in response.get_data(as_text=True)
    response = post_form(caseworker_client, withdraw,
                         {"withdrawn_on": date.today().isoformat()}, page=url)
    assert response.status_code == 302
    page = caseworker_client.get(url).get_data(as_text=True)
    assert f"Withdrawn on {date.today().isoformat()}" in page
    assert "Consent to store this person" in page and "data was withdrawn." in page
    assert "Ask a supervisor of this case to erase it." in page  # caseworkers cannot erase
    with app.app_context():
        assert db.session.get(ConsentRecord, store.id).withdrawn_on == date.today()
        actions = {e.action for e in db.session.execute(select(AuditEntry)).scalars()}
        assert {"consent.record", "consent.withdraw"} <= actions
    assert caseworker_client.get(f"/cases/{case_id}/people/{witness.id}/erase").status_code == 403
    # The people list links to the consent page.
    assert url in caseworker_client.get(f"/cases/{case_id}").get_data(as_text=True)


def test_shredding_after_withdrawal_erases_identity_and_keeps_the_case(
        app, caseworker, supervisor, caseworker_client, supervisor_client):
    case_id = make_case(app, caseworker)
    witness = _people(app)[1]
    url = f"/cases/{case_id}/people/{witness.id}/consent"
    post_form(caseworker_client, url, {"purpose": "store", "legal_basis": "consent",
                                       "given_on": "2025-03-14"})
    with app.app_context():
        consent = db.session.execute(select(ConsentRecord)).scalar_one()
    post_form(caseworker_client, f"{url}/{consent.id}/withdraw",
              {"withdrawn_on": date.today().isoformat()}, page=url)
    page = supervisor_client.get(url).get_data(as_text=True)
    erase = f"/cases/{case_id}/people/{witness.id}/erase"
    assert erase in page and "Erase this identity" in page
    # Both the reason and the confirmation are required; what was chosen is kept.
    response = post_form(supervisor_client, erase, {"reason": "consent_withdrawn"})
    body = response.get_data(as_text=True)
    assert "Confirm that you understand this cannot be undone." in body
    assert '<option selected value="consent_withdrawn">' in body
    response = post_form(supervisor_client, erase, {"reason": "", "confirm": "y"})
    assert "Choose why this identity is being erased." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Person, witness.id).shredded_at is None
    response = post_form(supervisor_client, erase, {"reason": "consent_withdrawn",
                                                    "confirm": "y"})
    assert response.status_code == 302, response.get_data(as_text=True)
    case_page = supervisor_client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "[identity erased]" in case_page
    assert "F•••• W••••" not in case_page
    assert "Enforced disappearance" in case_page and "W-17" in case_page  # act and source stay
    assert "B•••• A••••" in case_page  # the victim is untouched
    with app.app_context():
        person = db.session.get(Person, witness.id)
        assert person.shredded_at is not None
        assert person.full_name != "Fictional Witness"
        testimony = db.session.execute(select(Statement)).scalar_one()
        entry = db.session.execute(select(AuditEntry).where(
            AuditEntry.action == "person.shred")).scalar_one()
        assert "consent_withdrawn" in entry.details and "Fictional" not in entry.details
    testimony_page = caseworker_client.get(
        f"/cases/{case_id}/testimonies/{testimony.id}").get_data(as_text=True)
    assert "I saw them take him." in testimony_page and "[identity erased]" in testimony_page
    consent_page = caseworker_client.get(url).get_data(as_text=True)
    assert "[identity erased]" in consent_page and "was erased on" in consent_page


def test_caseworker_never_reaches_erasure(app, caseworker, caseworker_client):
    case_id = make_case(app, caseworker)
    witness = _people(app)[1]
    html = caseworker_client.get(f"/cases/{case_id}").get_data(as_text=True)
    from tests.support import csrf_from

    response = caseworker_client.post(f"/cases/{case_id}/people/{witness.id}/erase", data={
        "csrf_token": csrf_from(html), "reason": "safety_risk", "confirm": "y"})
    assert response.status_code == 403
    with app.app_context():
        assert db.session.get(Person, witness.id).shredded_at is None
