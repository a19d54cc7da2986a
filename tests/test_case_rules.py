"""Service rules of the record: review workflow, corroboration, unsupported acts, locking, dates."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.domain import dates
from app.extensions import db
from app.models import sources as source_models
from app.models.acts import Act
from app.models.cases import Case
from app.models.people import Person
from app.services import ServiceError, acts, allegations, cases, people, sources
from app.services.changes import ConflictError
from tests.factories import actor, make_case
from tests.support import make_user, post_form, sign_in


def _one(model):
    return db.session.execute(select(model).order_by(model.created_at)).scalars().first()


def test_review_workflow_follows_the_allowed_transitions(app, caseworker, supervisor):
    case_id = make_case(app, caseworker)
    with app.app_context():
        worker, boss = actor(caseworker), actor(supervisor)
        case = db.session.get(Case, case_id)
        with pytest.raises(ServiceError):
            cases.change_status(worker, case, "mark_reviewed")  # only a supervisor reviews
        cases.change_status(worker, case, "submit")
        with pytest.raises(ServiceError, match="Say what needs to change"):
            cases.change_status(boss, case, "return", "")
        cases.change_status(boss, case, "return", "Add the FIR number.")
        assert case.status == "open" and case.review_comment == "Add the FIR number."
        cases.change_status(worker, case, "submit")
        cases.change_status(boss, case, "mark_reviewed")
        cases.change_status(boss, case, "close")
        with pytest.raises(ServiceError):
            cases.update_case(worker, case, {"title": "x"}, case.version)  # closed: read-only
        cases.change_status(boss, case, "archive")
        assert case.status == "archived"


def test_caseworker_cannot_edit_a_case_under_review(app, caseworker):
    case_id = make_case(app, caseworker)
    with app.app_context():
        worker = actor(caseworker)
        case = db.session.get(Case, case_id)
        cases.change_status(worker, case, "submit")
        with pytest.raises(ServiceError, match="cannot be edited"):
            cases.update_case(worker, case, {"title": "Changed"}, case.version)


def test_unsupported_act_cannot_move_past_alleged(app, caseworker, supervisor):
    case_id = make_case(app, caseworker)
    with app.app_context():
        worker = actor(caseworker)
        case = db.session.get(Case, case_id)
        victim = _one(Person)
        act = acts.add_act(worker, case, {"act_type": "torture", "victim_id": victim.id},
                           dates.parse("2025"))
        assert allegations.support_of(act).unsupported
        with pytest.raises(ServiceError, match="stays alleged"):
            allegations.set_status(worker, case, act, "corroborated")
        with pytest.raises(ServiceError):
            allegations.set_status(actor(supervisor), case, act, "finding")


def test_corroboration_counts_independent_sources_only(app, caseworker):
    case_id = make_case(app, caseworker)
    with app.app_context():
        worker = actor(caseworker)
        case = db.session.get(Case, case_id)
        act = db.session.execute(select(Act)).scalar_one()
        first = db.session.execute(select(source_models.Testimony)).scalar_one()
        # A second statement from the same source is a re-report: still one source.
        again = sources.add_testimony(worker, case, {
            "source_id": first.source_id, "material": "interview", "credibility": 2},
            dates.parse("2025-04"))
        allegations.link(worker, case, act, relation="supports", testimony=again)
        assert allegations.support_of(act).independent_sources == 1
        with pytest.raises(ServiceError, match="two independent sources"):
            allegations.set_status(worker, case, act, "corroborated")
        # A different source makes two.
        relative = people.add_person(worker, case, {"full_name": "Fictional Mother"})
        other = sources.add_source(worker, case, {"person_id": relative.id, "reliability": "C"})
        statement = sources.add_testimony(worker, case, {
            "source_id": other.id, "material": "victim_testimony", "credibility": 3},
            dates.parse("2025-03-20"))
        link = allegations.link(worker, case, act, relation="supports", testimony=statement)
        allegations.set_status(worker, case, act, "corroborated")
        assert act.allegation_status == "corroborated"
        # Removing the second source's link lowers the status again, automatically.
        allegations.unlink(worker, case, link)
        assert act.allegation_status == "alleged"


def test_finding_only_by_a_supervisor_and_outputs_say_alleged_below_it(app, caseworker,
                                                                       supervisor):
    case_id = make_case(app, caseworker)
    with app.app_context():
        worker, boss = actor(caseworker), actor(supervisor)
        case = db.session.get(Case, case_id)
        act = db.session.execute(select(Act)).scalar_one()
        with pytest.raises(ServiceError, match="supervisor"):
            allegations.set_status(worker, case, act, "finding")
        assert allegations.qualifier(act.allegation_status) == "alleged"
        allegations.set_status(boss, case, act, "finding")
        db.session.commit()
        assert allegations.qualifier("finding") == ""
    client = app.test_client()
    sign_in(client, app, supervisor)
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Finding" in page


def test_concurrent_edit_is_refused_with_what_changed_and_nothing_is_lost(app, caseworker):
    case_id = make_case(app, caseworker)
    first, second = app.test_client(), app.test_client()
    sign_in(first, app, caseworker)
    sign_in(second, app, caseworker)
    form_a = first.get(f"/cases/{case_id}/edit").get_data(as_text=True)
    form_b = second.get(f"/cases/{case_id}/edit").get_data(as_text=True)
    from tests.support import csrf_from

    def save(client, html, title):
        import re

        version = re.search(r'name="version" type="hidden" value="(\d+)"', html).group(1)
        return client.post(f"/cases/{case_id}/edit", data={
            "csrf_token": csrf_from(html), "version": version, "title": title,
            "summary": "", "intake_channel": "", "team_id": "", "tags": ""})

    assert save(first, form_a, "Title from the first caseworker").status_code == 302
    conflict = save(second, form_b, "Title from the second caseworker")
    body = conflict.get_data(as_text=True)
    assert conflict.status_code == 200
    assert "Someone else saved this record" in body and "title" in body
    assert "Title from the second caseworker" in body  # their text is kept in the form
    assert "Title from the first caseworker" in body  # and the other version is shown
    with app.app_context():
        assert db.session.get(Case, case_id).title == "Title from the first caseworker"


@pytest.mark.parametrize("given,value,precision", [
    ("11 March 2025", "2025-03-11", "day"), ("March 2025", "2025-03", "month"),
    ("2019", "2019", "year"), ("around Eid 2024", "2024", "approximate"),
])
def test_date_precision_round_trip(app, caseworker, given, value, precision):
    case_id = make_case(app, caseworker)
    with app.app_context():
        worker = actor(caseworker)
        case = db.session.get(Case, case_id)
        act = acts.add_act(worker, case, {"act_type": "death_threat"}, dates.parse(given))
        db.session.commit()
        stored = db.session.get(Act, act.id)
        assert (stored.start_value, stored.start_precision) == (value, precision)
        assert acts.start_of(stored).display() == given  # shown as given
        assert stored.start_earliest <= stored.start_latest


def test_right_to_left_text_round_trips_in_every_text_field(app, caseworker, caseworker_client):
    urdu = "محمد بشیر ولد غلام نبی، تربت کے مرکزی بازار سے"
    balochi = "بشیر احمد بلوچ"
    response = post_form(caseworker_client, "/cases/new", {"title": urdu, "summary": balochi})
    case_path = response.headers["Location"]
    case_id = case_path.rsplit("/", 1)[-1]
    post_form(caseworker_client, f"/cases/{case_id}/people/new", {
        "full_name": balochi, "father_name": "غلام نبی", "other_names": "بشير أحمد",
        "address": urdu, "counting_unit": "individual"})
    with app.app_context():
        case = db.session.get(Case, __import__("uuid").UUID(case_id))
        person = db.session.execute(select(Person)).scalar_one()
        assert (case.title, case.summary) == (urdu, balochi)
        assert (person.full_name, person.father_name, person.address) == (
            balochi, "غلام نبی", urdu)
        assert [n.name for n in person.other_names] == ["بشير أحمد"]
    page = caseworker_client.get(case_path).get_data(as_text=True)
    assert urdu in page and 'dir="auto"' in page


def test_sexual_violence_act_restricts_the_case_to_named_members(app, caseworker, supervisor):
    case_id = make_case(app, caseworker)
    with app.app_context():
        worker = actor(caseworker)
        case = db.session.get(Case, case_id)
        acts.add_act(worker, case, {"act_type": "rape"}, dates.parse("2024"))
        db.session.commit()
        assert case.confidentiality == "restricted"
    client = app.test_client()
    sign_in(client, app, supervisor)  # same team, but not a named member
    assert client.get(f"/cases/{case_id}").status_code == 404


def test_stale_version_in_a_service_call_raises_conflict(app, caseworker):
    case_id = make_case(app, caseworker)
    with app.app_context():
        worker = actor(caseworker)
        case = db.session.get(Case, case_id)
        with pytest.raises(ConflictError):
            cases.update_case(worker, case, {"title": "x"}, case.version - 1)


def test_reference_numbers_are_unique_and_sequential(app, caseworker):
    ids = [make_case(app, caseworker, title=f"Case {i}") for i in range(3)]
    with app.app_context():
        refs = [db.session.get(Case, i).reference for i in ids]
    assert len(set(refs)) == 3
    numbers = sorted(int(r.rsplit("-", 1)[1]) for r in refs)
    assert numbers == list(range(numbers[0], numbers[0] + 3))


def test_supervisor_returns_a_case_through_the_web(app, caseworker, supervisor):
    case_id = make_case(app, caseworker)
    worker = app.test_client()
    sign_in(worker, app, caseworker)
    post_form(worker, f"/cases/{case_id}/status/submit", {}, page=f"/cases/{case_id}")
    boss = app.test_client()
    sign_in(boss, app, supervisor)
    page = boss.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Return with comments" in page and "Mark reviewed" in page
    post_form(boss, f"/cases/{case_id}/status/return", {"comment": "Add the FIR number."},
              page=f"/cases/{case_id}")
    page = worker.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Add the FIR number." in page
    assert make_user  # fixtures cover the roles
