"""A caseworker documents a disappearance through the web pages, end to end."""

from __future__ import annotations

import re

from sqlalchemy import select

from app.extensions import db
from app.models.acts import Act
from app.models.cases import Case
from app.models.people import Person
from tests.factories import make_case
from tests.support import post_form, sign_in


def _case_id(response) -> str:
    return re.search(r"/cases/([0-9a-f-]{36})", response.headers["Location"]).group(1)


def test_caseworker_opens_a_case_adds_a_victim_and_an_act(app, caseworker_client):
    c = caseworker_client
    response = post_form(c, "/cases/new", {"title": "Abduction of a student in Turbat",
                                           "summary": "Taken at night.", "intake_channel": ""})
    assert response.status_code == 302, response.get_data(as_text=True)
    case_id = _case_id(response)
    response = post_form(c, f"/cases/{case_id}/people/new", {
        "full_name": "Bashir Ahmed", "other_names": "Basheer Ahmad\nBashir Ahmad",
        "father_name": "Ghulam Nabi", "sex": "male", "age": "22", "counting_unit": "individual",
        "cnic": "52203-1234567-1"})
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        victim = db.session.execute(select(Person)).scalar_one()
    response = post_form(c, f"/cases/{case_id}/acts/new", {
        "act_type": "enforced_disappearance", "victim_id": str(victim.id),
        "start": "March 2025", "district_code": "PK211", "place_as_reported": "Main bazaar",
        "status_of_victim": "still_missing"})
    assert response.status_code == 302, response.get_data(as_text=True)
    page = c.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Enforced disappearance" in page and "(alleged)" in page
    assert "Unsupported" in page
    assert "March 2025" in page
    assert "Bashir Ahmed" not in page and "B•••• A••••" in page  # masked by default
    with app.app_context():
        act = db.session.execute(select(Act)).scalar_one()
        assert (act.start_value, act.start_precision) == ("2025-03", "month")


def test_form_error_keeps_what_was_typed(app, caseworker_client):
    response = post_form(caseworker_client, "/cases/new", {"title": "", "summary": "بلوچستان"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "بلوچستان" in body
    with app.app_context():
        assert db.session.execute(select(Case)).first() is None


def test_bad_date_gets_a_clear_message_and_keeps_input(app, caseworker, caseworker_client):
    case_id = make_case(app, caseworker)
    response = post_form(caseworker_client, f"/cases/{case_id}/acts/new", {
        "act_type": "torture", "start": "the day after the flood", "status_of_victim": "unknown",
        "description": "ہاتھ باندھ دیے گئے"})
    body = response.get_data(as_text=True)
    assert "Write a date like" in body
    assert "ہاتھ باندھ دیے گئے" in body


def test_case_page_shows_support_and_submit_for_review(app, caseworker, caseworker_client):
    case_id = make_case(app, caseworker)
    page = caseworker_client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "W-17" in page and "Unsupported" not in page
    response = post_form(caseworker_client, f"/cases/{case_id}/status/submit", {},
                         page=f"/cases/{case_id}")
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Case, case_id).status == "under_review"


def test_reveal_shows_identity_once_and_is_logged(app, caseworker, caseworker_client):
    from app.models.audit import AuditEntry

    case_id = make_case(app, caseworker)
    with app.app_context():
        person = db.session.execute(select(Person).order_by(Person.created_at)).scalars().first()
    response = post_form(caseworker_client, f"/cases/{case_id}/people/{person.id}/reveal",
                         {"reason": "verify_with_family"}, page=f"/cases/{case_id}")
    assert "Bashir Ahmed" in response.get_data(as_text=True)
    assert "Bashir Ahmed" not in caseworker_client.get(f"/cases/{case_id}").get_data(as_text=True)
    with app.app_context():
        entry = db.session.execute(select(AuditEntry).where(
            AuditEntry.action == "person.reveal")).scalar_one()
        assert "verify_with_family" in entry.details and "Bashir" not in entry.details


def test_find_person_by_recorded_variant_spelling(app, caseworker, caseworker_client):
    make_case(app, caseworker)
    def find(**fields):
        return post_form(caseworker_client, "/cases/find-person", fields).get_data(as_text=True)

    assert "1 match" in find(full_name="basheer  AHMAD")
    assert "0 matches" in find(full_name="Basheer Ahmed")  # a near-miss is not a match
    assert "1 match" in find(cnic="5220312345671")
    # Identity values never travel in the address.
    assert "Basheer" not in caseworker_client.get("/cases/find-person").get_data(as_text=True)


def test_other_teams_case_is_not_found(app, caseworker):
    from tests.support import make_user

    make_case(app, caseworker)
    outsider = make_user(app, "caseworker", teams=["Gwadar"])
    client = app.test_client()
    sign_in(client, app, outsider)
    with app.app_context():
        case_id = db.session.execute(select(Case.id)).scalar_one()
    assert client.get(f"/cases/{case_id}").status_code == 404
    assert "AM-" not in client.get("/cases/").get_data(as_text=True)


def test_case_page_shows_its_history_with_field_names_only(app, caseworker, caseworker_client):
    case_id = make_case(app, caseworker)
    page = caseworker_client.get(f"/cases/{case_id}").get_data(as_text=True)
    history = page.split('id="history"', 1)[1]
    assert "case.create" in history and "person.create" in history and "link.create" in history
    assert "full_name" in history  # which fields changed
    assert "Bashir" not in history  # never what they were
