"""Acts: what happened to whom, when and where; disappearance details; alleged perpetrators."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date
from typing import Any

from flask_babel import gettext as _

from app.access import Action, can
from app.audit.recorder import record
from app.domain import dates
from app.domain.vocab import (
    ATTRIBUTION,
    DISAPPEARANCE_ACTS,
    FAMILY_STEP,
    INVOLVEMENT,
    SEXUAL_VIOLENCE_ACTS,
    VICTIM_STATUS,
    WHEREABOUTS,
)
from app.extensions import db
from app.models.acts import Act, DisappearanceDetails, FamilyStep, Involvement
from app.models.cases import Case
from app.models.people import Person
from app.models.users import User
from app.services import ServiceError
from app.services.cases import make_restricted
from app.services.changes import audit_fields, check_version, populate
from app.services.vocabularies import require_district, require_term

ACT_FIELDS = ("act_type", "victim_id", "district_code", "place_as_reported", "coordinates",
              "location_type", "description", "status_of_victim")
DISAPPEARANCE_FIELDS = ("last_seen_time", "place_last_seen", "circumstances", "taken_by",
                        "whereabouts", "deprived_of_liberty", "state_involvement", "concealment",
                        "relatives_consent_wgeid", "source_keeps_contact", "current_status",
                        "current_status_on")


def _editable(actor: User, case: Case) -> None:
    if not can(actor, Action.EDIT, case):
        raise ServiceError(_("This case cannot be edited in its current state."))


def _validate(case: Case, data: Mapping[str, Any]) -> None:
    require_term("act_type", data.get("act_type") or "", field="act_type")
    if data.get("location_type"):
        require_term("location_type", data["location_type"], field="location_type")
    if data.get("status_of_victim", "unknown") not in VICTIM_STATUS:
        raise ServiceError(_("Unknown status of the victim."), field="status_of_victim")
    if data.get("district_code"):
        require_district(data["district_code"])
    victim_id = data.get("victim_id")
    if victim_id is not None:
        victim = db.session.get(Person, victim_id)
        if victim is None or victim.case_id != case.id:
            raise ServiceError(_("Choose the victim among this case's people."), field="victim_id")


def _apply_dates(act: Act, start: dates.PartialDate, end: dates.PartialDate) -> list[str]:
    if start.latest and end.earliest and end.latest and start.earliest and end.latest < start.earliest:
        raise ServiceError(_("The end date is before the start date."), field="end")
    if start.earliest and start.earliest > date.today():
        raise ServiceError(_("The date cannot be in the future."), field="start")
    changed = []
    new = {"start_value": start.value, "start_precision": start.precision,
           "start_as_given": start.as_given, "start_earliest": start.earliest,
           "start_latest": start.latest, "end_value": end.value,
           "end_precision": end.precision, "end_as_given": end.as_given}
    for field, value in new.items():
        if getattr(act, field) != value:
            setattr(act, field, value)
            changed.append(field.split("_")[0])
    return sorted(set(changed))


def start_of(act: Act) -> dates.PartialDate:
    return dates.PartialDate(act.start_value, act.start_precision, act.start_as_given)


def end_of(act: Act) -> dates.PartialDate:
    return dates.PartialDate(act.end_value, act.end_precision, act.end_as_given)


def add_act(actor: User, case: Case, data: Mapping[str, Any], start: dates.PartialDate,
            end: dates.PartialDate | None = None) -> Act:
    _editable(actor, case)
    _validate(case, data)
    act = Act(id=uuid.uuid4(), case_id=case.id, created_by_id=actor.id, updated_by_id=actor.id,
              allegation_status="alleged", status_of_victim="unknown")
    changes = populate(act, data, ACT_FIELDS)
    _apply_dates(act, start, end or dates.PartialDate(None, "unknown"))
    if act.district_code:
        act.district_list_version = require_district(act.district_code).list_version
    db.session.add(act)
    db.session.flush()
    if act.act_type in DISAPPEARANCE_ACTS:
        db.session.add(DisappearanceDetails(id=uuid.uuid4(), act_id=act.id))
    record("act.create", actor_id=actor.id, object_type="act", object_id=act.id,
           case_id=case.id, details={"fields": audit_fields(changes) + ["start"],
                                     "act_type": act.act_type})
    if act.act_type in SEXUAL_VIOLENCE_ACTS:
        # Survivor-centred default: such cases are seen only by their named members.
        make_restricted(actor, case, reason="sexual_violence_act")
    db.session.flush()
    return act


def update_act(actor: User, case: Case, act: Act, data: Mapping[str, Any],
               start: dates.PartialDate, end: dates.PartialDate, version: Any) -> dict:
    _editable(actor, case)
    if act.case_id != case.id:
        raise ServiceError(_("This act belongs to another case."))
    _validate(case, data)
    check_version(act, version, data)
    changes = populate(act, data, ACT_FIELDS)
    date_fields = _apply_dates(act, start, end)
    if "district_code" in changes and act.district_code:
        act.district_list_version = require_district(act.district_code).list_version
    if act.act_type in DISAPPEARANCE_ACTS and act.disappearance is None:
        act.disappearance = DisappearanceDetails(id=uuid.uuid4())
    if changes or date_fields:
        act.updated_by_id = actor.id
        db.session.flush()
        record("act.update", actor_id=actor.id, object_type="act", object_id=act.id,
               case_id=case.id, details={"fields": audit_fields(changes) + date_fields})
    if act.act_type in SEXUAL_VIOLENCE_ACTS:
        make_restricted(actor, case, reason="sexual_violence_act")
    return changes


def validate_disappearance(data: Mapping[str, Any]) -> None:
    if data.get("whereabouts", "unknown") not in WHEREABOUTS:
        raise ServiceError(_("Unknown whereabouts."), field="whereabouts")
    if data.get("current_status") and data["current_status"] not in VICTIM_STATUS:
        raise ServiceError(_("Unknown current status."), field="current_status")


def validate_family_step(data: Mapping[str, Any]) -> None:
    if data.get("step") not in FAMILY_STEP:
        raise ServiceError(_("Choose what the family did."), field="step")
    if data.get("taken_on") and data["taken_on"] > date.today():
        raise ServiceError(_("The date cannot be in the future."), field="taken_on")


def validate_perpetrator(case: Case, data: Mapping[str, Any]) -> None:
    require_term("perpetrator_type", data.get("perpetrator_type") or "", field="perpetrator_type")
    if data.get("degree", "unknown") not in INVOLVEMENT:
        raise ServiceError(_("Unknown degree of involvement."), field="degree")
    if data.get("attribution", "none") not in ATTRIBUTION:
        raise ServiceError(_("Unknown attribution."), field="attribution")
    person_id = data.get("perpetrator_person_id")
    if person_id is not None:
        person = db.session.get(Person, person_id)
        if person is None or person.case_id != case.id:
            raise ServiceError(_("Choose a person of this case."), field="perpetrator_person_id")
    if not person_id and not (data.get("unit") or "").strip():
        raise ServiceError(_("Name the unit or force, or choose a person."), field="unit")


def update_disappearance(actor: User, case: Case, act: Act, data: Mapping[str, Any],
                         last_seen: dates.PartialDate, version: Any) -> dict:
    _editable(actor, case)
    details = act.disappearance
    if details is None or act.case_id != case.id:
        raise ServiceError(_("This act is not a disappearance."))
    validate_disappearance(data)
    check_version(details, version, data)
    changes = populate(details, data, DISAPPEARANCE_FIELDS)
    if (details.last_seen_value, details.last_seen_precision) != (last_seen.value,
                                                                   last_seen.precision):
        details.last_seen_value, details.last_seen_precision = last_seen.value, last_seen.precision
        changes["last_seen"] = (None, None)
    if changes:
        db.session.flush()
        record("disappearance.update", actor_id=actor.id, object_type="act", object_id=act.id,
               case_id=case.id, details={"fields": audit_fields(changes)})
    return changes


def add_family_step(actor: User, case: Case, act: Act, data: Mapping[str, Any]) -> FamilyStep:
    _editable(actor, case)
    if act.disappearance is None or act.case_id != case.id:
        raise ServiceError(_("This act is not a disappearance."))
    validate_family_step(data)
    step = FamilyStep(id=uuid.uuid4(), disappearance_id=act.disappearance.id,
                      created_by_id=actor.id, updated_by_id=actor.id)
    changes = populate(step, data, ("step", "taken_on", "court_or_office", "reference_number",
                                    "outcome"))
    db.session.add(step)
    db.session.flush()
    record("family_step.create", actor_id=actor.id, object_type="family_step",
           object_id=step.id, case_id=case.id, details={"fields": audit_fields(changes)})
    return step


def add_perpetrator(actor: User, case: Case, act: Act, data: Mapping[str, Any]) -> Involvement:
    _editable(actor, case)
    if act.case_id != case.id:
        raise ServiceError(_("This act belongs to another case."))
    validate_perpetrator(case, data)
    involvement = Involvement(id=uuid.uuid4(), act_id=act.id, created_by_id=actor.id,
                              updated_by_id=actor.id)
    changes = populate(involvement, data, ("perpetrator_person_id", "unit", "perpetrator_type",
                                           "degree", "attribution"))
    db.session.add(involvement)
    db.session.flush()
    record("involvement.create", actor_id=actor.id, object_type="involvement",
           object_id=involvement.id, case_id=case.id,
           details={"fields": audit_fields(changes), "act": str(act.id)})
    return involvement
