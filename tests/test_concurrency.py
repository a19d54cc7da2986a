"""Concurrent writers through the services, each thread with its own app context (and so its own
database session), on SQLite and on PostgreSQL:

* case reference numbers stay unique and gapless (a new year's first cases included);
* no lost update: two edits of one record made from the same version -- one is saved, the other
  gets ConflictError or StaleDataError, and the stored record is one writer's complete values;
* the audit chain stays valid (contiguous seq, `verify_log` passes) after concurrent writes.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm.exc import StaleDataError

from app.audit.verify import verify_log
from app.extensions import db
from app.models.audit import AuditEntry
from app.models.cases import Case, CaseReferenceCounter
from app.models.people import Person
from app.models.users import User
from app.services import cases as case_service
from app.services import people as people_service
from app.services.changes import ConflictError
from tests.conftest import ON_POSTGRES
from tests.factories import make_case
from tests.support import make_user

THREADS = 8
CASES_PER_THREAD = 4
YEAR = datetime.now(UTC).year


def run_threads(app, count: int, work: Callable[[int, threading.Barrier], Any],
                timeout: float = 120) -> list[Any]:
    """Run `work(i, barrier)` in `count` threads, each inside its own app context; return each
    thread's result, or the exception it raised."""
    barrier = threading.Barrier(count, timeout=60)
    results: list[Any] = [None] * count

    def target(i: int) -> None:
        with app.app_context():
            try:
                results[i] = work(i, barrier)
            except BaseException as error:  # noqa: BLE001 - reported by the test
                db.session.rollback()
                results[i] = error
            finally:
                db.session.remove()

    threads = [threading.Thread(target=target, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
        assert not thread.is_alive(), "a writer hung (deadlock?)"
    return results


def assert_audit_chain_valid(app) -> None:
    with app.app_context():
        count, low, high = db.session.execute(
            select(func.count(), func.min(AuditEntry.seq), func.max(AuditEntry.seq))).one()
        assert (low, high) == (1, count), f"audit seq not contiguous: {count} rows, {low}..{high}"
        report = verify_log()
        assert report.ok, [p.message for p in report.problems]


def _open_cases(app, user_id: uuid.UUID):  # type: ignore[no-untyped-def]
    def work(i: int, barrier: threading.Barrier) -> list[str]:
        user = db.session.get(User, user_id)
        db.session.rollback()  # hold no transaction (SQLite: no write lock) at the barrier
        barrier.wait()
        references = []
        for n in range(CASES_PER_THREAD):
            case = case_service.open_case(user, {"title": f"Writer {i} case {n}"})
            references.append(case.reference)
            db.session.commit()
        return references
    return work


@pytest.mark.parametrize("counter", ["new_year", "counter_exists"])
def test_reference_numbers_stay_unique_and_gapless_under_concurrent_writers(app, caseworker,
                                                                            counter):
    """`new_year`: no counter row for this year yet (the first cases of January, or a fresh
    installation) -- every writer finds none at once. `counter_exists`: the row is there."""
    if counter == "counter_exists":
        make_case(app, caseworker)
    with app.app_context():
        start = db.session.execute(select(CaseReferenceCounter.last).where(
            CaseReferenceCounter.year == YEAR)).scalar() or 0
    results = run_threads(app, THREADS, _open_cases(app, caseworker.id))
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, f"{len(errors)} of {THREADS} writers failed: " + "; ".join(
        f"{type(e).__name__}: {str(e).splitlines()[0][:160]}" for e in errors)
    references = [ref for refs in results for ref in refs]
    wanted = [f"AM-{YEAR}-{n:04d}" for n in range(start + 1, start + 1 + THREADS * CASES_PER_THREAD)]
    assert sorted(references) == wanted, "duplicate or missing reference numbers"
    with app.app_context():
        stored = sorted(db.session.execute(select(Case.reference)).scalars())
        assert stored[-len(wanted):] == wanted and len(set(stored)) == len(stored)
        assert db.session.execute(select(CaseReferenceCounter.last).where(
            CaseReferenceCounter.year == YEAR)).scalar_one() == start + len(wanted)
    assert_audit_chain_valid(app)


ROUNDS = 6


def _edit_from_same_version(app, case_id: uuid.UUID, user_id: uuid.UUID, round_: int,
                            *, hold_rows: bool) -> list[Any]:
    """Two writers edit one case from the version both saw. `hold_rows` False is the web's
    shape (the form was loaded in an earlier request); True keeps both loaded records in open
    transactions up to the save, so both pass the version check and race in the UPDATE."""
    with app.app_context():
        seen = db.session.get(Case, case_id).version

    def work(i: int, barrier: threading.Barrier) -> str:
        user = db.session.get(User, user_id)
        case = db.session.get(Case, case_id)
        if not hold_rows:
            db.session.rollback()
        barrier.wait()
        if not hold_rows:
            case = db.session.get(Case, case_id)
        data = {"title": f"Round {round_} by writer {i}", "summary": f"Summary {round_}/{i}",
                "tags": f"writer-{i}"}
        try:
            case_service.update_case(user, case, data, seen)
            db.session.commit()
            return "saved"
        except ConflictError:
            db.session.rollback()
            return "conflict"
        except StaleDataError:
            db.session.rollback()
            return "stale"

    return run_threads(app, 2, work)


@pytest.mark.parametrize("hold_rows", [False, True], ids=["web-shape", "both-in-transaction"])
def test_two_concurrent_edits_never_lose_an_update(app, caseworker, hold_rows):
    if hold_rows and not ON_POSTGRES:
        pytest.skip("SQLite takes the write lock at BEGIN: a writer cannot hold a row while "
                    "another loads it, so this race cannot happen there (the web shape covers it)")
    case_id = make_case(app, caseworker)
    for round_ in range(ROUNDS):
        outcomes = _edit_from_same_version(app, case_id, caseworker.id, round_,
                                           hold_rows=hold_rows)
        errors = [o for o in outcomes if isinstance(o, BaseException)]
        assert not errors, errors
        assert outcomes.count("saved") == 1, (
            f"round {round_}: {outcomes} (exactly one edit must be saved)")
        assert set(outcomes) - {"saved"} <= {"conflict", "stale"}
        with app.app_context():
            case = db.session.get(Case, case_id)
            writer = outcomes.index("saved")
            assert (case.title, case.summary, case.tags) == (
                f"Round {round_} by writer {writer}", f"Summary {round_}/{writer}",
                f"writer-{writer}"), "the stored record mixes the two edits"
    assert_audit_chain_valid(app)


def test_two_concurrent_edits_of_a_person_never_lose_an_update(app, caseworker):
    """The same for a person, whose identity fields are encrypted under the person's own key."""
    case_id = make_case(app, caseworker)
    with app.app_context():
        person = db.session.execute(select(Person).where(Person.case_id == case_id)
                                    .order_by(Person.created_at)).scalars().first()
        person_id, seen = person.id, person.version

    def work(i: int, barrier: threading.Barrier) -> str:
        user = db.session.get(User, caseworker.id)
        db.session.rollback()
        barrier.wait()
        person = db.session.get(Person, person_id)
        case = db.session.get(Case, case_id)
        try:
            people_service.update_person(user, case, person, {
                "full_name": f"Name by writer {i}", "father_name": f"Father by writer {i}"},
                seen, [f"Alias by writer {i}"])
            db.session.commit()
            return "saved"
        except (ConflictError, StaleDataError):
            db.session.rollback()
            return "refused"

    outcomes = run_threads(app, 2, work)
    assert sorted(outcomes) == ["refused", "saved"], outcomes
    writer = outcomes.index("saved")
    with app.app_context():
        person = db.session.get(Person, person_id)
        assert (person.full_name, person.father_name, [n.name for n in person.other_names]) == (
            f"Name by writer {writer}", f"Father by writer {writer}",
            [f"Alias by writer {writer}"])


def test_the_audit_chain_stays_valid_under_mixed_concurrent_writes(app, caseworker):
    """Opening cases, adding notes and people, and editing, from eight writers at once."""
    case_ids = [make_case(app, caseworker) for _ in range(2)]

    def work(i: int, barrier: threading.Barrier) -> int:
        user = db.session.get(User, caseworker.id)
        db.session.rollback()
        barrier.wait()
        writes = 0
        for n in range(3):
            case = db.session.get(Case, case_ids[(i + n) % 2])
            if (i + n) % 3 == 0:
                case_service.open_case(user, {"title": f"Writer {i} / {n}"})
            elif (i + n) % 3 == 1:
                case_service.add_note(user, case, f"Note {i}/{n}")
            else:
                people_service.add_person(user, case, {"full_name": f"Person {i}/{n}"})
            db.session.commit()
            writes += 1
        return writes

    results = run_threads(app, THREADS, work)
    assert results == [3] * THREADS, results
    assert_audit_chain_valid(app)


@pytest.fixture
def second_caseworker(app):
    return make_user(app, "caseworker", name="Second Caseworker", teams=["Quetta"])


def test_concurrent_writers_as_different_users_keep_references_and_audit_intact(
        app, caseworker, second_caseworker):
    users = [caseworker.id, second_caseworker.id]
    make_case(app, caseworker)  # this year's counter exists (the new-year race is tested above)

    def work(i: int, barrier: threading.Barrier) -> list[str]:
        return _open_cases(app, users[i % 2])(i, barrier)

    results = run_threads(app, THREADS, work)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, [f"{type(e).__name__}: {str(e)[:160]}" for e in errors]
    references = sorted(ref for refs in results for ref in refs)
    assert len(set(references)) == len(references) == THREADS * CASES_PER_THREAD
    numbers = [int(r.rsplit("-", 1)[1]) for r in references]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers))), "gaps in numbering"
    with app.app_context():
        actors = set(db.session.execute(select(AuditEntry.actor_id).where(
            AuditEntry.action == "case.create")).scalars())
        assert actors == set(users)
    assert_audit_chain_valid(app)
