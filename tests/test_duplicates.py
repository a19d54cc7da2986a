"""Duplicate detection: variant spellings meet, different people do not, decisions are audited and
respected by later scans, scans stay inside the supervisor's cases, nothing decrypted is stored."""

from __future__ import annotations

import random
import uuid

import pytest
from sqlalchemy import select

from app.domain import dates
from app.duplicates import job
from app.duplicates.matching import PersonRecord, canonical_tokens, find_candidates, prepare, score_pair
from app.extensions import db
from app.models.audit import AuditEntry
from app.models.duplicates import DuplicateCandidate
from app.models.people import Person
from app.services import ServiceError, acts, cases, people
from tests.factories import actor
from tests.support import PASSWORD, make_user, post_form, sign_in


def _case_with(app, owner, name, father, *, sex="male", age=None, cnic=None, when="2025-03-11",
               district="PK211", other_names=()) -> uuid.UUID:
    """A case with one person disappeared on `when` in `district`; returns the person's id."""
    with app.app_context():
        user = actor(owner)
        case = cases.open_case(user, {"title": f"Case of {name}"})
        person = people.add_person(user, case, {"full_name": name, "father_name": father,
                                                "sex": sex, "age": age, "cnic": cnic},
                                   other_names=other_names)
        acts.add_act(user, case, {"act_type": "enforced_disappearance", "victim_id": person.id,
                                  "district_code": district, "status_of_victim": "still_missing"},
                     dates.parse(when))
        db.session.commit()
        return person.id


@pytest.fixture
def supervisor_client(app, supervisor):
    client = app.test_client()
    assert sign_in(client, app, supervisor).status_code == 302
    return client


def _scan(app, user):
    with app.app_context():
        result = job.scan(actor(user))
        db.session.commit()
        return result


def _pairs(app, status="open"):
    with app.app_context():
        rows = db.session.execute(select(DuplicateCandidate).where(
            DuplicateCandidate.status == status)).scalars().all()
        return [({r.person_a_id, r.person_b_id}, r.matched_features, r.id) for r in rows]


# --- the matcher alone -------------------------------------------------------------------------

def test_variant_spellings_share_one_canonical_form():
    assert canonical_tokens("Muhammad Bashir Baloch") == canonical_tokens("Mohd. Basheer Baluch")
    assert canonical_tokens("Abdal Rahman Balouch") == canonical_tokens("Abdul Rehman Baloch")
    assert canonical_tokens("Ahmed Jaan Khan") == canonical_tokens("Ahmad Jan Khan")
    assert canonical_tokens("محمد بشیر بلوچ") == canonical_tokens("Mohammed Bashir Baloch")


def test_scores_same_person_high_and_different_people_low():
    def rec(i, name, father, age, cnic=None):
        return prepare(PersonRecord(i, i, [name], father, cnic, "male", age))

    same = score_pair(rec(1, "Muhammad Bashir Baloch", "Ghulam Nabi", 24),
                      rec(2, "Mohd Basheer Baluch", "Gulam Nabi", 26))
    assert same.score >= 60 and {"name", "father_name", "age"} <= set(same.matched)
    namesake = score_pair(rec(1, "Muhammad Bashir Baloch", "Ghulam Nabi", 24),
                          rec(3, "Muhammad Bashir Baloch", "Allah Dad", 51))
    assert namesake.score < 60 and "father_name" in namesake.conflicting
    other = score_pair(rec(1, "Muhammad Bashir Baloch", "Ghulam Nabi", 24),
                       rec(4, "Abdul Rahman Marri", "Khuda Bakhsh", 40))
    assert other.score < 30
    by_cnic = score_pair(rec(1, "Bashir Baloch", None, None, "52203-1234567-1"),
                         rec(5, "B. Ahmad", None, None, "5220312345671"))
    assert "cnic" in by_cnic.matched


def test_blocking_compares_far_fewer_pairs_than_everyone_with_everyone():
    rng = random.Random(7)

    def word() -> str:
        return "".join(rng.choice("bdfghjklmnprstz") + rng.choice("aeiou") for _ in range(3))

    records = [PersonRecord(i, i, [f"{word()} {word()}"], word(), None, "male", 30)
               for i in range(400)]
    records += [PersonRecord(1000, 1000, ["Mohd Basheer Baluch"], "Gulam Nabi", None, "male", 30),
                PersonRecord(1001, 1001, ["Muhammad Bashir Baloch"], "Ghulam Nabi", None, "male", 31)]
    matches, stats = find_candidates(records)
    assert stats.compared < 402 * 401 // 2 // 20
    assert [(m.a, m.b) for m in matches] == [(1000, 1001)]


# --- the scan ------------------------------------------------------------------------------------

def test_scan_finds_the_seeded_variant_pair_and_not_different_people(app, caseworker, supervisor):
    a = _case_with(app, caseworker, "Muhammad Bashir Baloch", "Ghulam Nabi", age=24)
    b = _case_with(app, caseworker, "Mohd Basheer Baluch", "Gulam Nabi", age=25, when="March 2025")
    _case_with(app, caseworker, "Abdul Rahman Marri", "Khuda Bakhsh", age=40, when="2019-06-02")
    _case_with(app, caseworker, "Muhammad Bashir Baloch", "Allah Dad", age=55, when="2016-01-09",
               district="PK201")
    result = _scan(app, supervisor)
    assert result.persons == 4 and result.new == 1
    pairs = _pairs(app)
    assert len(pairs) == 1
    persons, matched, _ = pairs[0]
    assert persons == {a, b}
    assert {"name", "father_name", "sex", "age", "district"} <= set(matched)
    with app.app_context():
        row = db.session.execute(select(DuplicateCandidate)).scalar_one()
        stored = " ".join(str(v) for v in row.__dict__.values())
        for plaintext in ("Bashir", "Basheer", "Baloch", "Ghulam", "Nabi"):
            assert plaintext not in stored
        entry = db.session.execute(select(AuditEntry).where(
            AuditEntry.action == "duplicates.scan")).scalar_one()
        assert '"new": 1' in entry.details and "Bashir" not in entry.details


def test_different_decision_is_audited_and_never_proposed_again(app, caseworker, supervisor):
    _case_with(app, caseworker, "Muhammad Bashir Baloch", "Ghulam Nabi", age=24)
    _case_with(app, caseworker, "Mohd Basheer Baluch", "Gulam Nabi", age=25)
    _scan(app, supervisor)
    (_, _, pair_id), = _pairs(app)
    with app.app_context():
        pair = db.session.get(DuplicateCandidate, pair_id)
        job.decide(actor(supervisor), pair, "different", pair.version)
        db.session.commit()
        entries = db.session.execute(select(AuditEntry).where(
            AuditEntry.action == "duplicates.decide")).scalars().all()
        assert len(entries) == 2  # one on each case's trail
        assert all('"decision": "different"' in e.details for e in entries)
    result = _scan(app, supervisor)
    assert result.new == 0 and result.suppressed == 1
    assert _pairs(app) == []
    assert len(_pairs(app, "different")) == 1


def test_same_decision_links_both_records_and_keeps_them(app, caseworker, supervisor):
    a = _case_with(app, caseworker, "Muhammad Bashir Baloch", "Ghulam Nabi", age=24)
    b = _case_with(app, caseworker, "Mohd Basheer Baluch", "Gulam Nabi", age=25)
    _scan(app, supervisor)
    (_, _, pair_id), = _pairs(app)
    with app.app_context():
        pair = db.session.get(DuplicateCandidate, pair_id)
        job.decide(actor(supervisor), pair, "same", pair.version)
        db.session.commit()
        assert db.session.get(Person, a).full_name == "Muhammad Bashir Baloch"
        assert db.session.get(Person, b).full_name == "Mohd Basheer Baluch"
        links = job.linked_records(actor(caseworker), [a])
        assert [link.person_id for link in links[a]] == [b]
        assert links[a][0].case_reference.startswith("AM-")
    assert _scan(app, supervisor).new == 0


def test_scan_stays_inside_the_supervisors_cases(app, caseworker, supervisor):
    _case_with(app, caseworker, "Muhammad Bashir Baloch", "Ghulam Nabi", age=24)
    gwadar_worker = make_user(app, "caseworker", teams=["Gwadar"])
    gwadar_supervisor = make_user(app, "supervisor", teams=["Gwadar"])
    _case_with(app, gwadar_worker, "Mohd Basheer Baluch", "Gulam Nabi", age=25)
    result = _scan(app, supervisor)
    assert result.persons == 1 and _pairs(app) == []
    assert _scan(app, gwadar_supervisor).persons == 1
    with app.app_context():
        with pytest.raises(ServiceError):
            job.scan(actor(caseworker))


# --- the pages and the command ---------------------------------------------------------------------

def test_review_page_masks_reveals_with_reason_and_decides(app, caseworker, supervisor,
                                                           supervisor_client):
    _case_with(app, caseworker, "Muhammad Bashir Baloch", "Ghulam Nabi", age=24)
    _case_with(app, caseworker, "Mohd Basheer Baluch", "Gulam Nabi", age=25)
    response = post_form(supervisor_client, "/duplicates/scan", {}, page="/duplicates/")
    assert response.status_code == 302
    page = supervisor_client.get("/duplicates/").get_data(as_text=True)
    assert "M•••• B•••• B••••" in page and "Bashir" not in page and "Basheer" not in page
    assert "father&#39;s name" in page or "father's name" in page
    (_, _, pair_id), = _pairs(app)
    with supervisor_client.session_transaction() as session:
        session["auth_at"] = session["auth_at"] - 16 * 60
    stale = post_form(supervisor_client, f"/duplicates/{pair_id}/reveal",
                      {"reason": "check_duplicate"}, page="/duplicates/")
    assert "/reauthenticate" in stale.headers["Location"]
    post_form(supervisor_client, stale.headers["Location"], {"secret": PASSWORD})
    shown = post_form(supervisor_client, f"/duplicates/{pair_id}/reveal",
                      {"reason": "check_duplicate"}, page="/duplicates/")
    body = shown.get_data(as_text=True)
    assert "Muhammad Bashir Baloch" in body and "Mohd Basheer Baluch" in body
    with app.app_context():
        reveals = db.session.execute(select(AuditEntry).where(
            AuditEntry.action == "person.reveal")).scalars().all()
        assert len(reveals) == 2 and all("check_duplicate" in e.details for e in reveals)
        version = db.session.get(DuplicateCandidate, pair_id).version
    decided = post_form(supervisor_client, f"/duplicates/{pair_id}/decide",
                        {"decision": "different", "version": str(version)}, page="/duplicates/")
    assert decided.status_code == 302
    assert len(_pairs(app, "different")) == 1


def test_caseworkers_cannot_reach_the_review(app, caseworker_client):
    assert caseworker_client.get("/duplicates/").status_code == 403


def test_cli_scan_as_a_supervisor(app, caseworker, supervisor, runner):
    _case_with(app, caseworker, "Muhammad Bashir Baloch", "Ghulam Nabi", age=24)
    _case_with(app, caseworker, "Mohd Basheer Baluch", "Gulam Nabi", age=25)
    result = runner.invoke(args=["duplicates", "scan", "--as", supervisor.email])
    assert result.exit_code == 0, result.output
    assert "1 candidates (1 new" in result.output and "Bashir" not in result.output
    refused = runner.invoke(args=["duplicates", "scan", "--as", caseworker.email])
    assert refused.exit_code != 0
