"""Who may do what to which case: the one place that decides, for pages, lists, counts and exports.

Roles: admin (accounts, teams, vocabularies, keys; no case content), supervisor (their teams'
cases, review, audit), caseworker (cases they own or are assigned to), analyst (de-identified data
only). A restricted case is visible only to its owner and named members. Out of scope is a 404.
"""

from __future__ import annotations

import uuid
from enum import StrEnum

from flask import abort
from sqlalchemy import Select, and_, false, or_, select, true

from app.extensions import db
from app.models.cases import Case, case_members
from app.models.users import User, team_members


class Action(StrEnum):
    VIEW = "view"
    EDIT = "edit"
    REVIEW = "review"  # return, mark reviewed, close, archive, reopen, record a finding
    ASSIGN = "assign"
    REVEAL = "reveal"  # see an identity unmasked (with a reason, logged)
    EXPORT_IDENTIFIED = "export_identified"


EDITABLE_STATUSES = frozenset({"draft", "open", "under_review"})

# Which kinds of field each role may ever receive, declared once and read by pages and exports.
FIELD_VISIBILITY: dict[str, frozenset[str]] = {
    "identity": frozenset({"supervisor", "caseworker"}),  # names, CNIC, phone, address, DOB
    "narrative": frozenset({"supervisor", "caseworker"}),  # transcripts, descriptions, notes
    "statistics": frozenset({"supervisor", "caseworker", "analyst"}),  # codes, dates, districts
}


# Roles that may receive counts and de-identified rows (never case records, for analysts).
STATISTICS_ROLES = ("supervisor", "analyst")


def may_see_field_kind(user: User, kind: str) -> bool:
    return user.role in FIELD_VISIBILITY[kind]


# Uncorrelated IN subqueries, not correlated EXISTS: each is computed once per query (a user's
# few cases and teams), so a list can walk the cases in index order and stop after one page.
def _is_member(user_id: uuid.UUID):  # type: ignore[no-untyped-def]
    return Case.id.in_(select(case_members.c.case_id).where(case_members.c.user_id == user_id))


def _in_users_teams(user_id: uuid.UUID):  # type: ignore[no-untyped-def]
    return Case.team_id.in_(select(team_members.c.team_id).where(team_members.c.user_id == user_id))


def visibility_clause(user: User):  # type: ignore[no-untyped-def]
    """A WHERE clause over Case: the cases this user may see at all."""
    named = or_(Case.owner_id == user.id, _is_member(user.id))
    if user.role == "caseworker":
        return named
    if user.role == "supervisor":
        return or_(named, and_(Case.confidentiality != "restricted", _in_users_teams(user.id)))
    return false()  # admins and analysts never open identified case records


def statistics_clause(user: User):  # type: ignore[no-untyped-def]
    """A WHERE clause over Case: the cases whose acts this user may count (never open).

    Supervisors count what they may see; analysts, who never open a case record, count every
    case that is not restricted — aggregate numbers only (`FIELD_VISIBILITY["statistics"]`).
    """
    if user.role not in STATISTICS_ROLES or not may_see_field_kind(user, "statistics"):
        return false()
    if user.role == "analyst":
        return Case.confidentiality != "restricted"
    return visibility_clause(user)


def scoped_cases(user: User) -> Select:
    """Every list, search, count and export of cases starts from this query."""
    return select(Case).where(visibility_clause(user))


def can(user: User, action: Action, case: Case) -> bool:
    if not user.is_authenticated or not user.active:
        return False
    visible = db.session.execute(
        select(true()).where(Case.id == case.id, visibility_clause(user))
    ).first() is not None
    if not visible:
        return False
    if action in (Action.VIEW, Action.REVEAL, Action.EXPORT_IDENTIFIED):
        return True
    if action == Action.EDIT:
        if case.status not in EDITABLE_STATUSES:
            return False
        return user.role == "supervisor" or case.status != "under_review"
    if action in (Action.REVIEW, Action.ASSIGN):
        return user.role == "supervisor"
    return False


def load_case_or_404(case_id: str | uuid.UUID, action: Action, user: User) -> Case:
    """The single place that turns "missing" and "not yours" into 404, and "read-only" into 403."""
    try:
        key = case_id if isinstance(case_id, uuid.UUID) else uuid.UUID(str(case_id))
    except ValueError:
        abort(404)
    case = db.session.get(Case, key)
    if case is None or not can(user, Action.VIEW, case):
        abort(404)
    if action != Action.VIEW and not can(user, action, case):
        abort(403)
    return case
