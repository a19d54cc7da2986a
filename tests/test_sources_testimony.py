"""Sources and testimony through the web pages: forms keep what was typed, optimistic locking,
and a testimony page that shows its narrative only to the roles allowed to read it."""

from __future__ import annotations

import re

from sqlalchemy import select

from app import access
from app.extensions import db
from app.models.audit import AuditEntry
from app.models.people import Person
from app.models.sources import Source
from app.models.sources import Testimony as Statement
from tests.factories import make_case
from tests.support import csrf_from, post_form, sign_in


def _testimony(app) -> Statement:
    with app.app_context():
        return db.session.execute(select(Statement)).scalars().first()


def _witness(app) -> Person:
    with app.app_context():
        return db.session.execute(select(Person).order_by(Person.created_at)).scalars().all()[1]


def test_add_source_person_masked_and_pseudonym_automatic(app, caseworker, caseworker_client):
    case_id = make_case(app, caseworker)
    page = caseworker_client.get(f"/cases/{case_id}/sources/new").get_data(as_text=True)
    assert "Bashir Ahmed" not in page and "B•••• A••••" in page  # the choice list is masked
    assert "A – Completely reliable" in page and "F – Reliability cannot be judged" in page
    victim = _witness(app)
    response = post_form(caseworker_client, f"/cases/{case_id}/sources/new",
                         {"person_id": str(victim.id), "reliability": "C", "pseudonym": ""})
    assert response.status_code == 302, response.get_data(as_text=True)
    assert "/testimonies/new?source=" in response.headers["Location"]
    with app.app_context():
        source = db.session.execute(select(Source).where(Source.pseudonym != "W-17")).scalar_one()
        assert (source.pseudonym, source.reliability, source.person_id) == ("S-02", "C", victim.id)
        entry = db.session.execute(select(AuditEntry).where(
            AuditEntry.action == "source.create").order_by(AuditEntry.seq.desc())).scalars().first()
        assert "person_id" in entry.details and str(victim.id) not in entry.details


def test_organisation_source(app, caseworker, caseworker_client):
    case_id = make_case(app, caseworker)
    response = post_form(caseworker_client, f"/cases/{case_id}/sources/new",
                         {"person_id": "", "organisation": "Voice for Baloch Missing Persons",
                          "reliability": "B", "pseudonym": "ORG-1"})
    assert response.status_code == 302
    page = caseworker_client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "ORG-1" in page and "Voice for Baloch Missing Persons" in page


def test_source_form_error_keeps_input(app, caseworker, caseworker_client):
    case_id = make_case(app, caseworker)
    response = post_form(caseworker_client, f"/cases/{case_id}/sources/new",
                         {"person_id": "", "organisation": "", "reliability": "D",
                          "pseudonym": "گواہ-3"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Choose the person who is the source, or name the organisation." in body
    assert "گواہ-3" in body
    assert re.search(r'<option selected value="D">|<option value="D" selected>', body)
    with app.app_context():
        assert db.session.execute(select(Source)).scalars().all()[0].pseudonym == "W-17"
        assert len(db.session.execute(select(Source)).scalars().all()) == 1


def test_add_testimony_and_its_page(app, caseworker, caseworker_client):
    case_id = make_case(app, caseworker)
    with app.app_context():
        source = db.session.execute(select(Source)).scalar_one()
    response = post_form(caseworker_client, f"/cases/{case_id}/testimonies/new", {
        "source_id": str(source.id), "given": "around March 2025", "language": "urd",
        "material": "interview", "connection": "relative", "credibility": "3",
        "interview_place": "A house in Turbat", "transcript": "وہ رات کو آئے۔\nThey came at night.",
        "notes": "Calm, consistent."})
    assert response.status_code == 302, response.get_data(as_text=True)
    page = caseworker_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "They came at night." in page and "وہ رات کو آئے۔" in page
    assert "Calm, consistent." in page and "3 – Possibly true" in page
    assert "Urdu" in page and "Relative" in page
    with app.app_context():
        t = db.session.execute(select(Statement).where(Statement.material == "interview")).scalar_one()
        assert (t.given_value, t.given_precision) == ("2025-03", "approximate")
    case_page = caseworker_client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert f"/testimonies/{t.id}" in case_page


def test_testimony_form_errors_keep_what_was_typed(app, caseworker, caseworker_client):
    case_id = make_case(app, caseworker)
    with app.app_context():
        source = db.session.execute(select(Source)).scalar_one()
    response = post_form(caseworker_client, f"/cases/{case_id}/testimonies/new", {
        "source_id": str(source.id), "given": "the day after the flood", "material": "interview",
        "credibility": "2", "transcript": "انہوں نے دروازہ توڑا"})
    body = response.get_data(as_text=True)
    assert "Write a date like" in body and "انہوں نے دروازہ توڑا" in body
    response = post_form(caseworker_client, f"/cases/{case_id}/testimonies/new", {
        "source_id": "", "given": "2025", "material": "interview", "credibility": "2",
        "transcript": "Second attempt text"})
    body = response.get_data(as_text=True)
    assert "Choose the source of this testimony." in body and "Second attempt text" in body
    with app.app_context():
        assert len(db.session.execute(select(Statement)).scalars().all()) == 1


def test_testimony_page_lists_the_acts_it_supports(app, caseworker, caseworker_client):
    case_id = make_case(app, caseworker)
    t = _testimony(app)
    page = caseworker_client.get(f"/cases/{case_id}/testimonies/{t.id}").get_data(as_text=True)
    assert "Supports" in page and "Enforced disappearance" in page and "(alleged)" in page
    assert "I saw them take him." in page
    assert "B – Usually reliable" in page and "2 – Probably true" in page


def test_narrative_hidden_from_roles_not_allowed_to_read_it(app, caseworker, caseworker_client,
                                                             monkeypatch):
    case_id = make_case(app, caseworker)
    t = _testimony(app)
    monkeypatch.setitem(access.FIELD_VISIBILITY, "narrative", frozenset({"supervisor"}))
    page = caseworker_client.get(f"/cases/{case_id}/testimonies/{t.id}").get_data(as_text=True)
    assert "I saw them take him." not in page
    assert "not shown to your role" in page
    assert "Enforced disappearance" in page  # which acts it supports is not narrative


def _version(html: str) -> str:
    match = re.search(r'id="version" name="version" type="hidden" value="(\d+)"|'
                      r'name="version" type="hidden" value="(\d+)"', html)
    assert match, "no version field"
    return next(g for g in match.groups() if g)


def test_testimony_edit_conflict_names_field_and_keeps_text(app, caseworker, supervisor,
                                                            caseworker_client):
    case_id = make_case(app, caseworker)
    t = _testimony(app)
    other = app.test_client()
    sign_in(other, app, supervisor)
    url = f"/cases/{case_id}/testimonies/{t.id}/edit"
    mine_html = caseworker_client.get(url).get_data(as_text=True)
    theirs_html = other.get(url).get_data(as_text=True)
    assert "I saw them take him." in mine_html
    base = {"source_id": str(t.source_id), "given": "2025-03-14", "language": "bal",
            "material": "witness_testimony", "connection": "witness", "credibility": "2",
            "interview_place": "", "notes": ""}
    first = other.post(url, data={**base, "transcript": "Their version of the statement.",
                                  "version": _version(theirs_html),
                                  "csrf_token": csrf_from(theirs_html)})
    assert first.status_code == 302, first.get_data(as_text=True)
    second = caseworker_client.post(url, data={
        **base, "transcript": "My careful correction of the statement.",
        "version": _version(mine_html), "csrf_token": csrf_from(mine_html)})
    body = second.get_data(as_text=True)
    assert second.status_code == 200
    assert "Someone else saved this record" in body
    assert "Changed by them: transcript" in body
    assert "My careful correction of the statement." in body  # my text is kept
    assert "Their version of the statement." in body  # theirs is shown to reconcile
    with app.app_context():
        assert db.session.get(Statement, t.id).transcript == "Their version of the statement."
    # Saving again from the conflict page (it carries the current version) succeeds.
    third = caseworker_client.post(url, data={
        **base, "transcript": "My careful correction of the statement.",
        "version": _version(body), "csrf_token": csrf_from(body)})
    assert third.status_code == 302
    with app.app_context():
        assert db.session.get(Statement, t.id).transcript == "My careful correction of the statement."
        entry = db.session.execute(select(AuditEntry).where(
            AuditEntry.action == "testimony.update").order_by(AuditEntry.seq.desc())
        ).scalars().first()
        assert "transcript" in entry.details and "correction" not in entry.details
