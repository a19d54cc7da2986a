"""Case use cases: open, edit, assign, move through review, notes; reference numbers."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.access import Action, can
from app.audit.recorder import record
from app.domain.vocab import CASE_STATUS, CONFIDENTIALITY
from app.extensions import db
from app.models.cases import Case, CaseNote, CaseReferenceCounter
from app.models.users import User
from app.services import ServiceError
from app.services.changes import audit_fields, check_version, populate
from app.services.vocabularies import require_term

CASE_FIELDS = ("title", "summary", "date_received", "intake_channel", "tags", "confidentiality",
               "team_id")

# (from, to) -> who may: "editor" (anyone who may edit) or "supervisor".
TRANSITIONS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "open": (("draft",), "open", "editor"),
    "submit": (("draft", "open"), "under_review", "editor"),
    "return": (("under_review",), "open", "supervisor"),
    "mark_reviewed": (("under_review",), "reviewed", "supervisor"),
    "close": (("open", "reviewed"), "closed", "supervisor"),
    "reopen": (("closed",), "open", "supervisor"),
    "archive": (("closed",), "archived", "supervisor"),
}


def next_reference(year: int | None = None) -> str:
    """AM-<year>-<nnnn>: the counter row is locked (FOR UPDATE; SQLite serialises writers)."""
    return reserve_references(1, year)[0]


def reserve_references(count: int, year: int | None = None) -> list[str]:
    """The next `count` reference numbers, taken from the counter in one locked update."""
    year = year or datetime.now(UTC).year
    # Make sure the year's row exists without racing another writer (FOR UPDATE cannot lock a
    # row that is not there yet), then lock it.
    dialect = db.session.get_bind().dialect.name
    insert_ = pg_insert if dialect == "postgresql" else sqlite_insert
    db.session.execute(insert_(CaseReferenceCounter).values(year=year, last=0)
                       .on_conflict_do_nothing(index_elements=["year"]))
    counter = db.session.execute(
        select(CaseReferenceCounter).where(CaseReferenceCounter.year == year).with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()
    first = counter.last + 1
    counter.last += count
    db.session.flush()
    return [f"AM-{year}-{n:04d}" for n in range(first, first + count)]


def _validate(data: Mapping[str, Any]) -> None:
    title = (data.get("title") or "").strip()
    if not title:
        raise ServiceError(_("Give the case a title."), field="title")
    if len(title) > 300:
        raise ServiceError(_("Keep the title under 300 characters."), field="title")
    if data.get("confidentiality", "normal") not in CONFIDENTIALITY:
        raise ServiceError(_("Unknown confidentiality."), field="confidentiality")
    if data.get("intake_channel"):
        require_term("intake_channel", data["intake_channel"], field="intake_channel")
    received = data.get("date_received")
    if received and received > date.today():
        raise ServiceError(_("The date received cannot be in the future."), field="date_received")


def _check_team(actor: User, team_id: uuid.UUID | None) -> None:
    if team_id is not None and team_id not in {t.id for t in actor.teams}:
        raise ServiceError(_("You can only file a case under one of your own teams."),
                           field="team_id")


def open_case(actor: User, data: Mapping[str, Any]) -> Case:
    if actor.role not in ("caseworker", "supervisor"):
        raise ServiceError(_("Only caseworkers and supervisors document cases."))
    _validate(data)
    data = dict(data)
    data.setdefault("team_id", actor.teams[0].id if actor.teams else None)
    _check_team(actor, data["team_id"])
    case = Case(id=uuid.uuid4(), reference=next_reference(), status="draft", owner_id=actor.id,
                created_by_id=actor.id, updated_by_id=actor.id, confidentiality="normal")
    changes = populate(case, data, CASE_FIELDS)
    db.session.add(case)
    db.session.flush()
    record("case.create", actor_id=actor.id, object_type="case", object_id=case.id,
           case_id=case.id, details={"fields": audit_fields(changes)})
    return case


def update_case(actor: User, case: Case, data: Mapping[str, Any], version: Any) -> dict:
    if not can(actor, Action.EDIT, case):
        raise ServiceError(_("This case cannot be edited in its current state."))
    _validate(data)
    check_version(case, version, data)
    if "team_id" in data and data["team_id"] != case.team_id:
        # Moving a case between teams changes who may see it: a supervisor's decision.
        if not can(actor, Action.ASSIGN, case):
            raise ServiceError(_("Only a supervisor of this case's team can move it to another "
                                 "team."), field="team_id")
        if data["team_id"] is None:
            raise ServiceError(_("Choose the team this case belongs to."), field="team_id")
        _check_team(actor, data["team_id"])
    changes = populate(case, data, CASE_FIELDS)
    if changes:
        case.updated_by_id = actor.id
        db.session.flush()
        record("case.update", actor_id=actor.id, object_type="case", object_id=case.id,
               case_id=case.id, details={"fields": audit_fields(changes)})
    return changes


def make_restricted(actor: User, case: Case, reason: str) -> None:
    """Restrict a case to its owner and named members (default for sexual-violence acts)."""
    if case.confidentiality != "restricted":
        case.confidentiality = "restricted"
        record("case.restrict", actor_id=actor.id, object_type="case", object_id=case.id,
               case_id=case.id, details={"reason": reason})


def transition_target(case: Case, transition: str, may: Callable[[Action], bool]) -> str:
    """The status `transition` moves this case to, or a ServiceError; `may(action)` answers
    `can(actor, action, case)` (the bulk importer passes a memoised answer)."""
    if transition not in TRANSITIONS:
        raise ServiceError(_("Unknown action."))
    sources, target, who = TRANSITIONS[transition]
    if case.status not in sources:
        raise ServiceError(_("A case that is %(status)s cannot be moved that way.",
                             status=case.status.replace("_", " ")))
    if not may(Action.REVIEW if who == "supervisor" else Action.EDIT):
        raise ServiceError(_("You may not do this to this case."))
    return target


def change_status(actor: User, case: Case, transition: str, comment: str | None = None) -> None:
    target = transition_target(case, transition, lambda action: can(actor, action, case))
    if transition == "return":
        if not (comment or "").strip():
            raise ServiceError(_("Say what needs to change when returning a case."),
                               field="comment")
        case.review_comment = comment.strip()
    old = case.status
    case.status = target
    case.updated_by_id = actor.id
    db.session.flush()
    record("case.status", actor_id=actor.id, object_type="case", object_id=case.id,
           case_id=case.id, details={"from": old, "to": target,
                                     "comment": bool((comment or "").strip())})


def assign(actor: User, case: Case, users: Iterable[User]) -> None:
    """Set the named members (the assigned caseworkers); supervisors of the case's team only."""
    if not can(actor, Action.ASSIGN, case):
        raise ServiceError(_("Only a supervisor of this case's team can assign it."))
    wanted = sorted(users, key=lambda u: u.name)
    for user in wanted:
        if user.role not in ("caseworker", "supervisor") or not user.active:
            raise ServiceError(_("%(name)s cannot be assigned cases.", name=user.name))
    before = {u.id for u in case.members}
    case.members = wanted
    db.session.flush()
    record("case.assign", actor_id=actor.id, object_type="case", object_id=case.id,
           case_id=case.id, details={"added": sorted(str(u.id) for u in wanted if u.id not in before),
                                     "removed": sorted(str(i) for i in before - {u.id for u in wanted})})


def hand_over(actor: User, case: Case, new_owner: User) -> None:
    if not can(actor, Action.ASSIGN, case):
        raise ServiceError(_("Only a supervisor of this case's team can hand it over."))
    if new_owner.role not in ("caseworker", "supervisor") or not new_owner.active:
        raise ServiceError(_("%(name)s cannot own cases.", name=new_owner.name))
    old = case.owner_id
    case.owner_id = new_owner.id
    record("case.hand_over", actor_id=actor.id, object_type="case", object_id=case.id,
           case_id=case.id, details={"from": str(old), "to": str(new_owner.id)})


def note_text(text: str | None) -> str:
    """The note as it will be stored (stripped), or a ServiceError."""
    text = (text or "").strip()
    if not text:
        raise ServiceError(_("The note is empty."), field="text")
    if len(text) > 20000:
        raise ServiceError(_("Keep a note under 20,000 characters."), field="text")
    return text


def add_note(actor: User, case: Case, text: str) -> CaseNote:
    if not can(actor, Action.VIEW, case) or actor.role not in ("caseworker", "supervisor"):
        raise ServiceError(_("You may not add notes to this case."))
    text = note_text(text)
    note = CaseNote(id=uuid.uuid4(), case_id=case.id, created_by_id=actor.id,
                    updated_by_id=actor.id)
    note.text = text
    db.session.add(note)
    db.session.flush()
    record("case.note", actor_id=actor.id, object_type="case_note", object_id=note.id,
           case_id=case.id)
    return note


def statuses() -> tuple[str, ...]:
    return CASE_STATUS
