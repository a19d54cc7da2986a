"""Sources (graded A–F, named by pseudonym) and their testimonies (graded 1–6)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select

from app.access import Action, can
from app.audit.recorder import record
from app.domain import dates
from app.domain.vocab import CONNECTION, CREDIBILITY, LANGUAGE, RELIABILITY
from app.extensions import db
from app.models.cases import Case
from app.models.people import Person
from app.models.sources import Source, Testimony
from app.models.users import User
from app.services import ServiceError
from app.services.changes import audit_fields, check_version, populate
from app.services.vocabularies import require_term

TESTIMONY_FIELDS = ("source_id", "interview_place", "language", "material", "connection",
                    "transcript", "notes", "credibility")


def _editable(actor: User, case: Case) -> None:
    if not can(actor, Action.EDIT, case):
        raise ServiceError(_("This case cannot be edited in its current state."))


def next_pseudonym(case: Case, count: int | None = None) -> str:
    if count is None:
        count = db.session.execute(
            select(func.count()).select_from(Source).where(Source.case_id == case.id)).scalar_one()
    return f"S-{count + 1:02d}"


def validate_source(case: Case, data: Mapping[str, Any], existing: int | None = None) -> str:
    """Check a new source; return its pseudonym (given, or the next `S-nn` of the case, counting
    `existing` sources when the caller knows how many there are)."""
    if data.get("reliability", "F") not in RELIABILITY:
        raise ServiceError(_("Reliability is a grade from A to F."), field="reliability")
    person_id = data.get("person_id")
    if person_id is not None:
        person = db.session.get(Person, person_id)
        if person is None or person.case_id != case.id:
            raise ServiceError(_("Choose a person of this case."), field="person_id")
    elif not (data.get("organisation") or "").strip():
        raise ServiceError(_("Choose the person who is the source, or name the organisation."),
                           field="person_id")
    pseudonym = (data.get("pseudonym") or "").strip() or next_pseudonym(case, existing)
    if len(pseudonym) > 40:
        raise ServiceError(_("Keep the pseudonym under 40 characters."), field="pseudonym")
    return pseudonym


def add_source(actor: User, case: Case, data: Mapping[str, Any]) -> Source:
    _editable(actor, case)
    pseudonym = validate_source(case, data)
    source = Source(id=uuid.uuid4(), case_id=case.id, created_by_id=actor.id,
                    updated_by_id=actor.id)
    changes = populate(source, {**data, "pseudonym": pseudonym},
                       ("person_id", "organisation", "reliability", "pseudonym"))
    db.session.add(source)
    db.session.flush()
    record("source.create", actor_id=actor.id, object_type="source", object_id=source.id,
           case_id=case.id, details={"fields": audit_fields(changes)})
    return source


def _validate_testimony(case: Case, data: Mapping[str, Any]) -> None:
    source = db.session.get(Source, data.get("source_id")) if data.get("source_id") else None
    if source is None or source.case_id != case.id:
        raise ServiceError(_("Choose the source of this testimony."), field="source_id")
    require_term("material", data.get("material") or "", field="material")
    if data.get("connection") and data["connection"] not in CONNECTION:
        raise ServiceError(_("Unknown connection to the facts."), field="connection")
    if data.get("language") and data["language"] not in LANGUAGE:
        raise ServiceError(_("Unknown language."), field="language")
    if int(data.get("credibility", 6)) not in CREDIBILITY:
        raise ServiceError(_("Credibility is a grade from 1 to 6."), field="credibility")
    if len(data.get("transcript") or "") > 500_000:
        raise ServiceError(_("The transcript is too long; attach it as a file instead."),
                           field="transcript")


def add_testimony(actor: User, case: Case, data: Mapping[str, Any],
                  given: dates.PartialDate) -> Testimony:
    _editable(actor, case)
    _validate_testimony(case, data)
    testimony = Testimony(id=uuid.uuid4(), case_id=case.id, created_by_id=actor.id,
                          updated_by_id=actor.id, interviewer_id=actor.id, credibility=6)
    changes = populate(testimony, data, TESTIMONY_FIELDS)
    testimony.given_value, testimony.given_precision = given.value, given.precision
    db.session.add(testimony)
    db.session.flush()
    record("testimony.create", actor_id=actor.id, object_type="testimony",
           object_id=testimony.id, case_id=case.id, details={"fields": audit_fields(changes)})
    return testimony


def update_testimony(actor: User, case: Case, testimony: Testimony, data: Mapping[str, Any],
                     given: dates.PartialDate, version: Any) -> dict:
    _editable(actor, case)
    if testimony.case_id != case.id:
        raise ServiceError(_("This testimony belongs to another case."))
    _validate_testimony(case, data)
    check_version(testimony, version, data)
    changes = populate(testimony, data, TESTIMONY_FIELDS)
    if (testimony.given_value, testimony.given_precision) != (given.value, given.precision):
        testimony.given_value, testimony.given_precision = given.value, given.precision
        changes["date"] = (None, None)
    if changes:
        testimony.updated_by_id = actor.id
        db.session.flush()
        record("testimony.update", actor_id=actor.id, object_type="testimony",
               object_id=testimony.id, case_id=case.id, details={"fields": audit_fields(changes)})
        from app.services.allegations import reconcile_acts_citing

        reconcile_acts_citing(actor, testimony)
    return changes
