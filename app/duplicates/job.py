"""The duplicate scan a supervisor runs, the review list, decisions, and linked records.

The scan reads the people of the supervisor's own cases (`visibility_clause`), decrypts their
identity fields in this process only, scores pairs with `app.duplicates.matching`, and stores for
each candidate pair the two ids, a score and the names of the features that agreed — nothing
decrypted is written anywhere, and nothing is logged but counts.
"""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import selectinload

from app.access import Action, can, visibility_clause
from app.audit.recorder import record
from app.domain.vocab import DISAPPEARANCE_ACTS
from app.duplicates import matching
from app.extensions import db
from app.models.acts import Act
from app.models.cases import Case
from app.models.duplicates import DuplicateCandidate
from app.models.people import Person
from app.models.users import User
from app.services import ServiceError
from app.services.changes import check_version
from app.services.people import reveal_identity

_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")
DECISIONS = ("same", "different")


@dataclass(frozen=True)
class ScanResult:
    persons: int
    compared: int
    candidates: int
    new: int
    updated: int
    removed: int
    suppressed: int
    oversized_blocks: int
    seconds: float


def _require_supervisor(actor: User) -> None:
    if actor.role != "supervisor" or not actor.active:
        raise ServiceError(_("Only a supervisor can look for duplicate records."))


def visible_people(actor: User) -> Select:
    """Ids of the people in the cases this user may see: the scope of scans and reviews."""
    return (select(Person.id).join(Case, Case.id == Person.case_id)
            .where(visibility_clause(actor)))


def _records(actor: User) -> list[matching.PersonRecord]:
    """Decrypt, in memory, what the scorer needs of each individual in the actor's cases."""
    people = db.session.execute(
        select(Person).join(Case, Case.id == Person.case_id)
        .where(visibility_clause(actor), Person.shredded_at.is_(None),
               Person.counting_unit == "individual")
        .options(selectinload(Person.other_names))).scalars().all()
    events: dict[uuid.UUID, list] = defaultdict(list)
    districts: dict[uuid.UUID, set[str]] = defaultdict(set)
    ids = [p.id for p in people]
    for start in range(0, len(ids), 500):
        rows = db.session.execute(
            select(Act.victim_id, Act.start_earliest, Act.start_latest, Act.district_code)
            .where(Act.victim_id.in_(ids[start:start + 500]),
                   Act.act_type.in_(DISAPPEARANCE_ACTS))).all()
        for victim_id, earliest, latest, district in rows:
            if earliest:
                events[victim_id].append((earliest, latest))
            if district:
                districts[victim_id].add(district)
    records = []
    for person in people:
        names = [n for n in [person.full_name, *(o.name for o in person.other_names)] if n]
        year = _YEAR.search(person.date_of_birth or "")
        records.append(matching.PersonRecord(
            id=person.id, case_id=person.case_id, names=names, father_name=person.father_name,
            cnic=person.cnic, sex=person.sex, age=person.age,
            birth_year=int(year.group(1)) if year else None, events=events.get(person.id, ()),
            districts=frozenset(districts.get(person.id, ()))))
    return records


def _pair_key(a: Any, b: Any) -> tuple[str, str]:
    first, second = sorted((str(a), str(b)))
    return first, second


def scan(actor: User) -> ScanResult:
    """Find candidate pairs among the actor's cases; decided pairs are never proposed again."""
    _require_supervisor(actor)
    scope = visible_people(actor)
    existing = {
        _pair_key(row.person_a_id, row.person_b_id): row
        for row in db.session.execute(select(DuplicateCandidate).where(
            DuplicateCandidate.person_a_id.in_(scope),
            DuplicateCandidate.person_b_id.in_(scope))).scalars()}
    decided = {key for key, row in existing.items() if row.status != "open"}

    def skip(a: Any, b: Any) -> bool:
        return _pair_key(a, b) in decided

    records = _records(actor)
    matches, stats = matching.find_candidates(records, skip=skip)
    del records  # the plaintext lives no longer than the scoring
    now = datetime.now(UTC)
    new = updated = 0
    found = set()
    for match in matches:
        key = _pair_key(match.a, match.b)
        found.add(key)
        row = existing.get(key)
        if row is None:
            row = DuplicateCandidate(
                id=uuid.uuid4(), person_a_id=uuid.UUID(key[0]), person_b_id=uuid.UUID(key[1]),
                status="open", found_by_id=actor.id)
            db.session.add(row)
            new += 1
        else:
            updated += 1
        row.score = match.score
        row.matched = ",".join(match.matched)
        row.conflicting = ",".join(match.conflicting)
        row.last_seen_at = now
    removed = 0
    for key, row in existing.items():
        if row.status == "open" and key not in found:
            db.session.delete(row)  # the records changed and no longer look alike
            removed += 1
    db.session.flush()
    result = ScanResult(persons=stats.persons, compared=stats.compared,
                        candidates=len(matches), new=new, updated=updated, removed=removed,
                        suppressed=len(decided), oversized_blocks=stats.oversized_blocks,
                        seconds=round(stats.seconds, 2))
    record("duplicates.scan", actor_id=actor.id, object_type="duplicate_scan",
           details={k: v for k, v in result.__dict__.items() if k != "seconds"})
    return result


def candidates(actor: User, status: str = "open") -> list[DuplicateCandidate]:
    """Pairs whose two people are both in cases this supervisor may see, best score first."""
    _require_supervisor(actor)
    scope = visible_people(actor)
    query = select(DuplicateCandidate).where(
        DuplicateCandidate.person_a_id.in_(scope), DuplicateCandidate.person_b_id.in_(scope))
    if status != "all":
        query = query.where(DuplicateCandidate.status == status)
    return list(db.session.execute(
        query.order_by(DuplicateCandidate.score.desc(), DuplicateCandidate.created_at)
        .options(selectinload(DuplicateCandidate.person_a),
                 selectinload(DuplicateCandidate.person_b))).scalars())


def candidate_or_none(actor: User, candidate_id: Any) -> DuplicateCandidate | None:
    """One pair, or None when it is missing or either person is outside the actor's cases."""
    try:
        key = candidate_id if isinstance(candidate_id, uuid.UUID) else uuid.UUID(str(candidate_id))
    except ValueError:
        return None
    _require_supervisor(actor)
    scope = visible_people(actor)
    return db.session.execute(select(DuplicateCandidate).where(
        DuplicateCandidate.id == key, DuplicateCandidate.person_a_id.in_(scope),
        DuplicateCandidate.person_b_id.in_(scope))).scalar_one_or_none()


def _cases_of(candidate: DuplicateCandidate) -> tuple[Case, Case]:
    return (db.session.get(Case, candidate.person_a.case_id),
            db.session.get(Case, candidate.person_b.case_id))


def decide(actor: User, candidate: DuplicateCandidate, decision: str, version: Any) -> None:
    """"same" links the two records (both stay as they are); "different" suppresses the pair."""
    _require_supervisor(actor)
    if decision not in DECISIONS:
        raise ServiceError(_("Choose whether these are the same person."), field="decision")
    cases = _cases_of(candidate)
    if not all(can(actor, Action.REVIEW, case) for case in cases):
        raise ServiceError(_("Only a supervisor of both cases can decide this pair."))
    check_version(candidate, version, {"status": decision})
    old = candidate.status
    candidate.status = decision
    candidate.decided_by_id = actor.id
    candidate.decided_at = datetime.now(UTC)
    db.session.flush()
    for case, person_id in zip(cases, (candidate.person_a_id, candidate.person_b_id), strict=True):
        record("duplicates.decide", actor_id=actor.id, object_type="duplicate_candidate",
               object_id=candidate.id, case_id=case.id,
               details={"decision": decision, "from": old, "person": str(person_id),
                        "persons": [str(candidate.person_a_id), str(candidate.person_b_id)]})


def reveal_pair(actor: User, candidate: DuplicateCandidate, reason: str) -> None:
    """Log the reveal of both identities of a pair (each on its own case's trail)."""
    _require_supervisor(actor)
    for case, person in zip(_cases_of(candidate), (candidate.person_a, candidate.person_b),
                            strict=True):
        reveal_identity(actor, case, person, reason)


@dataclass(frozen=True)
class LinkedRecord:
    person_id: uuid.UUID
    case_id: uuid.UUID
    case_reference: str


def linked_records(actor: User, person_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[LinkedRecord]]:
    """For each person, the records decided "same person" in other cases this user may see.

    For the case page's "also recorded in case X" (the lead wires it into templates/cases/view.html).
    """
    if not person_ids:
        return {}
    rows = db.session.execute(select(DuplicateCandidate).where(
        DuplicateCandidate.status == "same",
        or_(DuplicateCandidate.person_a_id.in_(person_ids),
            DuplicateCandidate.person_b_id.in_(person_ids)))).scalars().all()
    other_ids = {r.person_b_id if r.person_a_id in person_ids else r.person_a_id for r in rows}
    if not other_ids:
        return {}
    visible = {pid: (cid, ref) for pid, cid, ref in db.session.execute(
        select(Person.id, Case.id, Case.reference).join(Case, Case.id == Person.case_id)
        .where(Person.id.in_(other_ids), visibility_clause(actor))).all()}
    result: dict[uuid.UUID, list[LinkedRecord]] = defaultdict(list)
    for row in rows:
        for mine, other in ((row.person_a_id, row.person_b_id), (row.person_b_id, row.person_a_id)):
            if mine in person_ids and other in visible:
                case_id, reference = visible[other]
                result[mine].append(LinkedRecord(other, case_id, reference))
    return dict(result)
