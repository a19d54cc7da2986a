"""WGEID submission drafts: every minimum element, what is missing, consent refusals, audit."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.domain import dates
from app.exports import ConsentRefused
from app.exports.wgeid import wgeid_draft
from app.extensions import db
from app.models.audit import AuditEntry
from app.models.cases import Case
from app.services import acts, people
from tests.exports_support import consent, make_complete_disappearance, victim_and_act
from tests.factories import actor, make_case
from tests.support import PASSWORD, post_form


def _draft(app, owner, case_id):
    with app.app_context():
        case = db.session.get(Case, case_id)
        _, act = victim_and_act(case_id)
        draft = wgeid_draft(actor(owner), case, act, output="text")
        db.session.commit()
        return draft


def test_complete_case_has_every_minimum_element_and_nothing_missing(app, caseworker):
    case_id = make_complete_disappearance(app, caseworker)
    with app.app_context():
        app.config["ORGANISATION_NAME"] = "Fictional Rights Council"
        draft = _draft(app, caseworker, case_id)
        text = draft.render_text()
    assert draft.missing == [] and draft.complete
    for element in (
            "Bashir Ahmed", "Basheer Ahmad", "Ghulam Nabi", "Male", "2003", "22",
            "52203-1234567-1", "Pakistani", "Student",  # identity
            "2025-03-11", "Kech", "Main bazaar, Turbat", "Eight men in uniform",  # when and where
            "Frontier Corps patrol", "State paramilitary", "denied",  # presumed responsible
            "State involvement (at least by support or acquiescence): yes",
            "FIR 41/2025", "2025-03-12", "Registered after three days",  # family steps
            "Balochistan High Court", "CP 512/2025", "Pending",
            "Capture denied", "Still missing",  # whereabouts
            "W-17", "reliability B, credibility 2",  # sources by pseudonym
            "Fictional Rights Council", "Karim Caseworker",  # submitting organisation
            "Relatives consent to this submission: yes",
            "The source can keep in contact with the Working Group: yes"):
        assert element.lower() in text.lower(), element
    assert "Fictional Witness" not in text  # the source is named by pseudonym only
    assert "(alleged)" in text


def test_incomplete_case_names_what_is_missing(app, caseworker):
    case_id = make_case(app, caseworker)
    with app.app_context():
        user = actor(caseworker)
        case = db.session.get(Case, case_id)
        victim, act = victim_and_act(case_id)
        people.update_person(user, case, victim, {"age": None, "cnic": None}, victim.version)
        consent(user, case_id, victim, "share_wgeid_un")
        acts.update_disappearance(user, case, act, {"relatives_consent_wgeid": True},
                                  dates.parse(""),
                                  act.disappearance.version)
        db.session.commit()
    draft = _draft(app, caseworker, case_id)
    assert "Date of birth or age not recorded" in draft.missing
    assert "No steps by the family recorded" in draft.missing
    assert "No party presumed responsible recorded" in draft.missing
    assert any("CNIC" in item for item in draft.missing)
    assert any("keep in contact" in item for item in draft.missing)
    assert "MISSING before this can be submitted" in draft.render_text()


@pytest.mark.parametrize("purposes,relatives,reason", [
    (("store",), True, "victim_consent_missing"),
    (("store", "share_wgeid_un"), None, "relatives_consent_not_recorded"),
    (("store", "share_wgeid_un"), False, "relatives_consent_refused"),
])
def test_refused_without_consent(app, caseworker, purposes, relatives, reason):
    case_id = make_complete_disappearance(app, caseworker, purposes=purposes,
                                          relatives_consent=relatives)
    with app.app_context():
        case = db.session.get(Case, case_id)
        _, act = victim_and_act(case_id)
        with pytest.raises(ConsentRefused) as refused:
            wgeid_draft(actor(caseworker), case, act)
        assert reason in refused.value.reasons
        assert "Refused" in refused.value.message


def test_withdrawn_consent_refuses(app, caseworker):
    from datetime import date

    case_id = make_complete_disappearance(app, caseworker)
    with app.app_context():
        user = actor(caseworker)
        case = db.session.get(Case, case_id)
        victim, act = victim_and_act(case_id)
        record = next(c for c in victim.consents if c.purpose == "share_wgeid_un")
        people.withdraw_consent(user, case, record, date(2025, 4, 1))
        with pytest.raises(ConsentRefused):
            wgeid_draft(user, case, act)


def test_page_shows_draft_after_step_up_and_is_audited(app, caseworker, caseworker_client):
    case_id = make_complete_disappearance(app, caseworker)
    with app.app_context():
        _, act = victim_and_act(case_id)
    url = f"/cases/{case_id}/acts/{act.id}/wgeid"
    with caseworker_client.session_transaction() as session:
        session["auth_at"] = session["auth_at"] - 16 * 60
    stale = caseworker_client.get(url)
    assert stale.status_code == 302 and "/reauthenticate" in stale.headers["Location"]
    post_form(caseworker_client, stale.headers["Location"], {"secret": PASSWORD})
    page = caseworker_client.get(url)
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Bashir Ahmed" in body and "Missing before" not in body
    text = caseworker_client.get(url + ".txt")
    assert text.headers["Content-Type"].startswith("text/plain")
    assert "attachment" in text.headers["Content-Disposition"]
    with app.app_context():
        entries = db.session.execute(select(AuditEntry).where(
            AuditEntry.action == "export.wgeid")).scalars().all()
        assert [e.object_id for e in entries] == [str(act.id)] * 2
        assert all("Bashir" not in e.details for e in entries)


def test_page_refusal_is_clear_and_audited(app, caseworker, caseworker_client):
    case_id = make_complete_disappearance(app, caseworker, purposes=("store",))
    with app.app_context():
        _, act = victim_and_act(case_id)
    response = caseworker_client.get(f"/cases/{case_id}/acts/{act.id}/wgeid")
    body = response.get_data(as_text=True)
    assert response.status_code == 403
    assert "does not include sharing with the WGEID" in body
    assert "Bashir Ahmed" not in body
    with app.app_context():
        entry = db.session.execute(select(AuditEntry).where(
            AuditEntry.action == "export.wgeid")).scalar_one()
        assert "victim_consent_missing" in entry.details


def test_other_team_and_analyst_cannot_reach_the_draft(app, caseworker, analyst):
    from tests.support import make_user, sign_in

    case_id = make_complete_disappearance(app, caseworker)
    with app.app_context():
        _, act = victim_and_act(case_id)
    outsider = make_user(app, "caseworker", teams=["Gwadar"])
    client = app.test_client()
    sign_in(client, app, outsider)
    assert client.get(f"/cases/{case_id}/acts/{act.id}/wgeid").status_code == 404
    analyst_client = app.test_client()
    sign_in(analyst_client, app, analyst)
    assert analyst_client.get(f"/cases/{case_id}/acts/{act.id}/wgeid").status_code == 403
