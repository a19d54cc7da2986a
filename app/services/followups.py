"""Follow-up actions (ESF interventions): appeals, complaints, petitions, submissions, meetings.

The response and the next step are stored encrypted (they often quote officials and name
people); type, dates, status and the parties acted with are kept in clear for planning.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from flask_babel import gettext as _

from app.access import Action, can
from app.audit.recorder import record
from app.domain.vocab import FOLLOW_UP_STATUS
from app.extensions import db
from app.models.cases import Case
from app.models.followups import FollowUp
from app.models.users import User
from app.services import ServiceError
from app.services.changes import audit_fields, check_version, populate
from app.services.vocabularies import require_term

FOLLOW_UP_FIELDS = ("action_type", "taken_on", "by_whom", "to_whom", "response", "status",
                    "next_step", "next_step_on")
CLOSED_STATUSES = frozenset({"done", "abandoned"})
LIMITS = {"by_whom": 200, "to_whom": 200, "response": 20000, "next_step": 5000}


def _editable(actor: User, case: Case) -> None:
    if not can(actor, Action.EDIT, case):
        raise ServiceError(_("This case cannot be edited in its current state."))


def _validate(data: Mapping[str, Any]) -> None:
    require_term("follow_up_type", data.get("action_type") or "", field="action_type")
    status = data.get("status") or "planned"
    if status not in FOLLOW_UP_STATUS:
        raise ServiceError(_("Unknown status."), field="status")
    for field, limit in LIMITS.items():
        if len(data.get(field) or "") > limit:
            raise ServiceError(_("This is too long (%(n)d characters at most).", n=limit),
                               field=field)
    taken_on, next_on = data.get("taken_on"), data.get("next_step_on")
    if taken_on and taken_on > date.today() and status != "planned":
        raise ServiceError(_("Only a planned action can have a date in the future."),
                           field="taken_on")
    if taken_on and next_on and next_on < taken_on:
        raise ServiceError(_("The next step cannot be due before the action itself."),
                           field="next_step_on")
    if next_on and not (data.get("next_step") or "").strip():
        raise ServiceError(_("Say what the next step is."), field="next_step")


def add_follow_up(actor: User, case: Case, data: Mapping[str, Any]) -> FollowUp:
    _editable(actor, case)
    data = {**data, "status": data.get("status") or "planned"}
    _validate(data)
    follow_up = FollowUp(id=uuid.uuid4(), case_id=case.id, created_by_id=actor.id,
                         updated_by_id=actor.id)
    changes = populate(follow_up, data, FOLLOW_UP_FIELDS)
    db.session.add(follow_up)
    db.session.flush()
    record("follow_up.create", actor_id=actor.id, object_type="follow_up",
           object_id=follow_up.id, case_id=case.id,
           details={"fields": audit_fields(changes), "type": follow_up.action_type})
    return follow_up


def update_follow_up(actor: User, case: Case, follow_up: FollowUp, data: Mapping[str, Any],
                     version: Any) -> dict:
    _editable(actor, case)
    if follow_up.case_id != case.id:
        raise ServiceError(_("This follow-up action belongs to another case."))
    data = {**data, "status": data.get("status") or "planned"}
    _validate(data)
    check_version(follow_up, version, data)
    changes = populate(follow_up, data, FOLLOW_UP_FIELDS)
    if changes:
        follow_up.updated_by_id = actor.id
        db.session.flush()
        record("follow_up.update", actor_id=actor.id, object_type="follow_up",
               object_id=follow_up.id, case_id=case.id,
               details={"fields": audit_fields(changes)})
    return changes


def is_overdue(follow_up: FollowUp, today: date | None = None) -> bool:
    """A next step whose date has passed on an action that is still open."""
    today = today or date.today()
    return (follow_up.next_step_on is not None and follow_up.next_step_on < today
            and follow_up.status not in CLOSED_STATUSES)


def ordered(follow_ups: Iterable[FollowUp]) -> list[FollowUp]:
    """By next step date, those without one last (the same on SQLite and PostgreSQL)."""
    return sorted(follow_ups, key=lambda f: (f.next_step_on is None,
                                             f.next_step_on or date.max,
                                             f.taken_on or date.max))
