"""People in a case: record, edit, other spellings, find by exact identity, reveal, shred, consent."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.access import Action, can, visibility_clause
from app.audit.recorder import record
from app.crypto import runtime
from app.crypto.blind_index import INDEXES
from app.crypto.fields import blind_index_of
from app.domain.vocab import AGE_GROUP, CONSENT_PURPOSE, COUNTING_UNIT, LEGAL_BASIS, SEX
from app.extensions import db
from app.models.cases import Case
from app.models.people import ConsentRecord, Person, PersonName
from app.models.users import User
from app.services import ServiceError
from app.services.changes import audit_fields, check_version, populate

IDENTITY_FIELDS = ("full_name", "father_name", "tribe", "date_of_birth", "cnic", "phone",
                   "address", "physical_description")
PERSON_FIELDS = IDENTITY_FIELDS + ("counting_unit", "sex", "age", "age_group", "occupation",
                                   "affiliation")
SEARCHABLE = {"full_name": "person_name", "father_name": "person_father_name",
              "cnic": "person_cnic", "phone": "person_phone"}
REVEAL_REASONS = ("verify_with_family", "prepare_submission", "check_duplicate", "edit_record",
                  "court_or_legal", "supervisor_review", "other")


def _validate(data: Mapping[str, Any]) -> None:
    if data.get("counting_unit", "individual") not in COUNTING_UNIT:
        raise ServiceError(_("Unknown counting unit."), field="counting_unit")
    if data.get("sex") and data["sex"] not in SEX:
        raise ServiceError(_("Unknown value for sex."), field="sex")
    if data.get("age_group") and data["age_group"] not in AGE_GROUP:
        raise ServiceError(_("Unknown age group."), field="age_group")
    age = data.get("age")
    if age is not None and not (0 <= int(age) <= 120):
        raise ServiceError(_("Age must be between 0 and 120."), field="age")
    for field in IDENTITY_FIELDS:
        value = data.get(field)
        if value is not None and len(str(value)) > 2000:
            raise ServiceError(_("This is too long (2,000 characters at most)."), field=field)
    cnic = data.get("cnic")
    if cnic and len("".join(ch for ch in cnic if ch.isdigit())) != 13:
        raise ServiceError(_("A CNIC has 13 digits, e.g. 52203-1234567-1."), field="cnic")


def wanted_names(names: Iterable[str]) -> list[str]:
    """Other names as stored: stripped, blanks and repeats dropped, in the order given."""
    wanted: list[str] = []
    for raw in names:
        name = raw.strip()
        if name and name not in wanted:
            wanted.append(name)
    return wanted


def _sync_other_names(person: Person, names: Iterable[str]) -> bool:
    wanted = wanted_names(names)
    current = [n.name for n in person.other_names]
    if current == wanted:
        return False
    person.other_names.clear()
    db.session.flush()
    for name in wanted:
        other = PersonName(id=uuid.uuid4(), data_key_id=person.data_key_id)
        other.name = name  # encrypted under the person's own key
        person.other_names.append(other)
    return True


def add_person(actor: User, case: Case, data: Mapping[str, Any],
               other_names: Iterable[str] = ()) -> Person:
    if not can(actor, Action.EDIT, case):
        raise ServiceError(_("This case cannot be edited."))
    _validate(data)
    person = Person(id=uuid.uuid4(), case_id=case.id, created_by_id=actor.id,
                    updated_by_id=actor.id, counting_unit="individual")
    person.data_key_id = runtime.keyring().new_key("person", make_active=False)
    changes = populate(person, data, PERSON_FIELDS)
    db.session.add(person)
    db.session.flush()
    renamed = _sync_other_names(person, other_names)
    db.session.flush()
    fields = audit_fields(changes) + (["other_names"] if renamed else [])
    record("person.create", actor_id=actor.id, object_type="person", object_id=person.id,
           case_id=case.id, details={"fields": fields})
    return person


def update_person(actor: User, case: Case, person: Person, data: Mapping[str, Any],
                  version: Any, other_names: Iterable[str] | None = None) -> dict:
    if not can(actor, Action.EDIT, case) or person.case_id != case.id:
        raise ServiceError(_("This case cannot be edited."))
    if person.shredded_at is not None:
        raise ServiceError(_("This person's identity was erased and cannot be edited."))
    _validate(data)
    check_version(person, version, data)
    changes = populate(person, data, PERSON_FIELDS)
    renamed = other_names is not None and _sync_other_names(person, other_names)
    if changes or renamed:
        person.updated_by_id = actor.id
        db.session.flush()
        fields = audit_fields(changes) + (["other_names"] if renamed else [])
        record("person.update", actor_id=actor.id, object_type="person", object_id=person.id,
               case_id=case.id, details={"fields": fields})
    return changes


def mask(value: str | None) -> str:
    """B•••• A•••• : first letter of each word kept, so a caseworker can tell rows apart."""
    if not value:
        return ""
    return " ".join(word[0] + "•" * 4 for word in value.split())


def reveal_identity(actor: User, case: Case, person: Person, reason: str) -> None:
    """Log that this user saw this identity unmasked, and why (a code, never free text)."""
    if reason not in REVEAL_REASONS:
        raise ServiceError(_("Choose why you need to see this identity."), field="reason")
    if not can(actor, Action.REVEAL, case) or person.case_id != case.id:
        raise ServiceError(_("You may not see this identity."))
    record("person.reveal", actor_id=actor.id, object_type="person", object_id=person.id,
           case_id=case.id, details={"reason": reason})


def matching_people(actor: User, criteria: Mapping[str, str]) -> list[Person]:
    """Exact-match through blind indexes, only within cases the user may see; not audited.

    The short (ambiguous by design) index narrows candidates; each is then decrypted and compared
    in normalised form, so coincidental index matches never reach the user.
    """
    used = _used_criteria(criteria)
    query = select(Person).join(Case, Case.id == Person.case_id).where(
        visibility_clause(actor), Person.shredded_at.is_(None))
    for field, value in used.items():
        bidx = blind_index_of(SEARCHABLE[field], value)
        if bidx is None:
            raise ServiceError(_("Nothing to search for in %(f)s.", f=field), field=field)
        if field == "full_name":
            other = blind_index_of("person_other_name", value)
            # One set of ids from the two indexes (not `bidx = ? OR id IN (...)`, which
            # PostgreSQL's planner misjudges into reading every person).
            query = query.where(Person.id.in_(
                select(Person.id).where(Person.full_name_bidx == bidx)
                .union(select(PersonName.person_id).where(PersonName.name_bidx == other))))
        else:
            query = query.where(getattr(Person, f"{field}_bidx") == bidx)

    def norm(field: str, value: str) -> str:
        return INDEXES[SEARCHABLE[field]].normaliser(value)

    # Every candidate with its other names (one more query, not one per candidate), and every
    # candidate's own key unwrapped with one key-store read before anything is decrypted.
    if "full_name" in used:
        query = query.options(selectinload(Person.other_names))
    candidates = list(db.session.execute(query.limit(2000)).scalars())
    runtime.keyring().preload(p.data_key_id for p in candidates)
    results = []
    for person in candidates:
        for field, value in used.items():
            names = [getattr(person, field) or ""]
            if field == "full_name":
                names += [n.name or "" for n in person.other_names]
            if norm(field, value) not in {norm(field, n) for n in names if n}:
                break
        else:
            results.append(person)
    return results


def _used_criteria(criteria: Mapping[str, str]) -> dict[str, str]:
    used = {k: v.strip() for k, v in criteria.items() if k in SEARCHABLE and v and v.strip()}
    if not used:
        raise ServiceError(_("Type at least a name, father's name, CNIC or phone number."))
    return used


def find_people(actor: User, criteria: Mapping[str, str]) -> list[Person]:
    """"Find a person" before entering the same disappeared person twice; audited (field names
    and the number of results, never the values searched for)."""
    results = matching_people(actor, criteria)
    record("person.search", actor_id=actor.id, object_type="person",
           details={"fields": sorted(_used_criteria(criteria)), "results": len(results)})
    return results


def shred_identity(actor: User, case: Case, person: Person, reason: str) -> None:
    """Crypto-shred: destroy the person's data key; identity fields read "[shredded]" forever."""
    if actor.role != "supervisor" or not can(actor, Action.REVIEW, case):
        raise ServiceError(_("Only a supervisor of this case can erase an identity."))
    if person.shredded_at is not None:
        return
    key_id = person.data_key_id
    for field in ("full_name", "father_name", "cnic", "phone"):
        setattr(person, f"{field}_bidx", None)
    for other in person.other_names:
        other.name_bidx = None
    person.shredded_at = datetime.now(UTC)
    if key_id is not None:
        runtime.keyring().destroy(key_id)
    db.session.flush()
    record("person.shred", actor_id=actor.id, object_type="person", object_id=person.id,
           case_id=case.id, details={"reason": reason})


def validate_consent(data: Mapping[str, Any]) -> None:
    if data.get("purpose") not in CONSENT_PURPOSE:
        raise ServiceError(_("Choose what the consent is for."), field="purpose")
    if data.get("legal_basis", "consent") not in LEGAL_BASIS:
        raise ServiceError(_("Choose a legal basis."), field="legal_basis")
    given = data.get("given_on")
    if given and given > date.today():
        raise ServiceError(_("The date cannot be in the future."), field="given_on")


def validate_withdrawal(consent: ConsentRecord, on: date) -> None:
    if on > date.today():
        raise ServiceError(_("The date cannot be in the future."), field="withdrawn_on")
    if consent.given_on and on < consent.given_on:
        raise ServiceError(_("Consent cannot be withdrawn before it was given."),
                           field="withdrawn_on")


def record_consent(actor: User, case: Case, person: Person, data: Mapping[str, Any]) -> ConsentRecord:
    if not can(actor, Action.EDIT, case) or person.case_id != case.id:
        raise ServiceError(_("This case cannot be edited."))
    validate_consent(data)
    consent = ConsentRecord(id=uuid.uuid4(), person_id=person.id, created_by_id=actor.id,
                            updated_by_id=actor.id, obtained_by_id=actor.id)
    populate(consent, data, ("purpose", "legal_basis", "given_on", "recording_allowed"))
    db.session.add(consent)
    db.session.flush()
    record("consent.record", actor_id=actor.id, object_type="consent", object_id=consent.id,
           case_id=case.id, details={"purpose": consent.purpose, "person": str(person.id)})
    return consent


def withdraw_consent(actor: User, case: Case, consent: ConsentRecord, on: date) -> None:
    if not can(actor, Action.EDIT, case):
        raise ServiceError(_("This case cannot be edited."))
    person = db.session.get(Person, consent.person_id)
    if person is None or person.case_id != case.id:
        raise ServiceError(_("This consent record belongs to another case."))
    validate_withdrawal(consent, on)
    if consent.withdrawn_on is None:
        consent.withdrawn_on = on
        db.session.flush()
        record("consent.withdraw", actor_id=actor.id, object_type="consent",
               object_id=consent.id, case_id=case.id, details={"purpose": consent.purpose})


def has_consent(person: Person, purpose: str, on: date | None = None) -> bool:
    """True when the person has a current consent (or other legal basis) for this purpose."""
    on = on or date.today()
    return any(c.purpose == purpose and (c.withdrawn_on is None or c.withdrawn_on > on)
               for c in person.consents)


def people_of(case: Case) -> list[Person]:
    return list(db.session.execute(
        select(Person).where(Person.case_id == case.id).order_by(Person.created_at)).scalars())
