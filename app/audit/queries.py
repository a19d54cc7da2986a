"""Reading the audit log for review: who may see which entries, filters, pages and exports.

Supervisors review the entries tied to no case and those of the cases they may see at all
(app/access.py decides which: their teams' cases, and restricted ones only as named members).
Administrators see only the entries about accounts, sign-ins, teams, keys, settings and the audit
log itself, never entries about cases (an administrator has no case content, and an entry's case
id and action already say something about a case).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, func, or_, select

from app.access import visibility_clause
from app.extensions import db
from app.models.audit import AuditEntry
from app.models.cases import Case
from app.models.users import Role, User

PAGE_SIZE = 50
# Actions an administrator may review: their own domain, no case events.
ADMIN_ACTION_PREFIXES = ("account.", "auth.", "team.", "token.", "keys.", "settings.", "audit.")


@dataclass(frozen=True)
class LogFilter:
    """What the reviewer asked for; every part optional. Dates are whole UTC days, inclusive."""

    actor_id: uuid.UUID | None = None
    case_id: uuid.UUID | None = None
    action: str | None = None
    date_from: date | None = None
    date_to: date | None = None

    def as_args(self) -> dict[str, str]:
        """The filter as query-string arguments (for links, pagination and export forms)."""
        args = {"actor": self.actor_id, "case": self.case_id, "action": self.action,
                "date_from": self.date_from, "date_to": self.date_to}
        return {k: str(v) for k, v in args.items() if v}

    @property
    def active(self) -> bool:
        return bool(self.as_args())


@dataclass
class ReviewRow:
    """One entry as a reviewer sees it: ids of cases outside their scope are blanked out."""

    entry: AuditEntry
    actor_name: str | None
    object_id: str | None
    details: str
    redacted: bool


@dataclass
class Page:
    items: list[Any]
    page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def may_review(user: Any) -> bool:
    return getattr(user, "role", None) in (Role.SUPERVISOR.value, Role.ADMIN.value)


def scope_condition(user: Any) -> ColumnElement[bool]:
    """The entries `user` may review."""
    if user.role == Role.SUPERVISOR.value:
        visible_cases = select(Case.id).where(visibility_clause(user))
        return or_(AuditEntry.case_id.is_(None), AuditEntry.case_id.in_(visible_cases))
    if user.role == Role.ADMIN.value:
        return and_(AuditEntry.case_id.is_(None),
                    or_(*(AuditEntry.action.startswith(p, autoescape=True)
                          for p in ADMIN_ACTION_PREFIXES)))
    return false()


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def filter_conditions(log_filter: LogFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if log_filter.actor_id:
        conditions.append(AuditEntry.actor_id == log_filter.actor_id)
    if log_filter.case_id:
        conditions.append(AuditEntry.case_id == log_filter.case_id)
    if log_filter.action:
        conditions.append(AuditEntry.action == log_filter.action)
    if log_filter.date_from:
        conditions.append(AuditEntry.occurred_at >= _day_start(log_filter.date_from))
    if log_filter.date_to:
        conditions.append(AuditEntry.occurred_at < _day_start(log_filter.date_to
                                                              + timedelta(days=1)))
    return conditions


def _entries(user: Any, log_filter: LogFilter) -> Select[Any]:
    return (select(AuditEntry, User.name.label("actor_name"))
            .outerjoin(User, User.id == AuditEntry.actor_id)
            .where(scope_condition(user), *filter_conditions(log_filter)))


_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
REDACTED_CASE = "[case outside your scope]"


def hidden_case_ids(user: Any, texts: Iterable[str | None]) -> set[str]:
    """The case ids mentioned in `texts` that `user` may not see (an export or link entry can name
    cases other than its own, and an entry about no case can name many)."""
    found = {m.lower() for t in texts if t for m in _UUID.findall(t)}
    if not found:
        return set()
    ids = [uuid.UUID(v) for v in found]
    cases = {str(i) for i in db.session.execute(select(Case.id).where(Case.id.in_(ids))).scalars()}
    if not cases:
        return set()
    visible = {str(i) for i in db.session.execute(
        select(Case.id).where(Case.id.in_(ids), visibility_clause(user))).scalars()}
    return cases - visible


def redact(text: str | None, hidden: set[str]) -> str | None:
    if not text or not hidden:
        return text
    return _UUID.sub(lambda m: REDACTED_CASE if m.group(0).lower() in hidden else m.group(0),
                     text)


def review_rows(user: Any, rows: list[Any]) -> list[ReviewRow]:
    hidden = hidden_case_ids(user, [t for r in rows
                                    for t in (r.AuditEntry.details, r.AuditEntry.object_id)])
    out = []
    for row in rows:
        entry = row.AuditEntry
        object_id, details = redact(entry.object_id, hidden), redact(entry.details, hidden)
        out.append(ReviewRow(entry, row.actor_name, object_id, details or "{}",
                             redacted=(object_id, details) != (entry.object_id, entry.details)))
    return out


def log_page(user: Any, log_filter: LogFilter, page: int) -> Page:
    """One page of the filtered log, newest first."""
    total = db.session.execute(
        select(func.count()).select_from(AuditEntry)
        .where(scope_condition(user), *filter_conditions(log_filter))).scalar_one()
    page = max(1, min(page, max(1, -(-total // PAGE_SIZE))))
    rows = db.session.execute(
        _entries(user, log_filter).order_by(AuditEntry.seq.desc())
        .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
    return Page(items=review_rows(user, list(rows)), page=page, total=total)


def export_rows(user: Any, log_filter: LogFilter, up_to_seq: int | None = None,
                batch: int = 2000) -> Iterator[ReviewRow]:
    """The filtered entries oldest first (the order of the Merkle tree), in batches."""
    query = _entries(user, log_filter).order_by(AuditEntry.seq)
    if up_to_seq is not None:
        query = query.where(AuditEntry.seq <= up_to_seq)
    result = db.session.execute(query.execution_options(yield_per=batch))
    for rows in result.partitions(batch):
        yield from review_rows(user, list(rows))


def count_entries(user: Any, log_filter: LogFilter) -> int:
    return db.session.execute(
        select(func.count()).select_from(AuditEntry)
        .where(scope_condition(user), *filter_conditions(log_filter))).scalar_one()


def reviewable_users() -> list[User]:
    return list(db.session.execute(select(User).order_by(User.name)).scalars())


def known_actions(user: Any) -> list[str]:
    return list(db.session.execute(
        select(AuditEntry.action).where(scope_condition(user)).distinct()
        .order_by(AuditEntry.action)).scalars())


def activity_since(user: Any, since: datetime) -> dict[uuid.UUID, int]:
    """Entries per actor since `since` that `user` may review (for the people page)."""
    rows = db.session.execute(
        select(AuditEntry.actor_id, func.count()).where(scope_condition(user),
                                                        AuditEntry.occurred_at >= since,
                                                        AuditEntry.actor_id.is_not(None))
        .group_by(AuditEntry.actor_id)).all()
    return {actor: count for actor, count in rows}


def start_of_week(today: date | None = None) -> date:
    """Monday of the current (UTC) week."""
    today = today or datetime.now(UTC).date()
    return today - timedelta(days=today.weekday())
