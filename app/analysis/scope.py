"""Which acts a user may count or release, built on the access policy.

* Search pages show case records: they use `access.visibility_clause` directly.
* Counts (the dashboard): a supervisor counts the cases `visibility_clause` gives them; an analyst,
  who never sees a case record (`visibility_clause` is false for them), counts every case that is
  not restricted — counts only, through `FIELD_VISIBILITY["statistics"]`.
* De-identified rows (the export): the same, but restricted cases never leave, whoever asks, and
  acts whose victim withdrew consent to storage or to anonymised use (or whose identity was
  crypto-shredded) are left out. Analysts' dashboards apply the same consent rule.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta

from sqlalchemy import and_, or_, select

from app.access import statistics_clause
from app.models.acts import Act
from app.models.cases import Case
from app.models.people import ConsentRecord, Person
from app.models.users import User

# Consent purposes whose withdrawal takes a victim's acts out of every de-identified output.
RELEASE_BLOCKING_PURPOSES = ("store", "anonymised_only")


@dataclass(frozen=True)
class AnalysisFilters:
    """Filters of the dashboard and the de-identified export."""

    date_from: date | None = None
    date_to: date | None = None
    district: str | None = None

    def names(self) -> list[str]:
        """Which filters are set (for audit entries: names, never values)."""
        return [name for name in ("date_from", "date_to", "district") if getattr(self, name)]

    def for_user(self, user: User) -> AnalysisFilters:
        """Analysts filter by whole months: day-sized windows would let differences between two
        queries single out one act."""
        if user.role != "analyst":
            return self
        start = self.date_from.replace(day=1) if self.date_from else None
        end = None
        if self.date_to:
            following = (self.date_to.replace(day=28) + timedelta(days=4)).replace(day=1)
            end = following - timedelta(days=1)
        return replace(self, date_from=start, date_to=end)


def release_clause(user: User):  # type: ignore[no-untyped-def]
    """A WHERE clause over Case: cases whose acts may leave as de-identified rows."""
    return and_(statistics_clause(user), Case.confidentiality != "restricted")


def consent_blocks_release(on: date | None = None):  # type: ignore[no-untyped-def]
    """A WHERE clause over Act: its victim withdrew consent to storage or to anonymised use
    (and gave no newer consent for it), or the victim's identity was crypto-shredded.

    Written with uncorrelated IN sets (each computed once per query: withdrawals and shredded
    identities are few), not with an EXISTS per act. An act without a victim is never blocked.
    """
    on = on or date.today()
    blocked = []
    for purpose in RELEASE_BLOCKING_PURPOSES:
        withdrawn = select(ConsentRecord.person_id).where(
            ConsentRecord.purpose == purpose, ConsentRecord.withdrawn_on.is_not(None),
            ConsentRecord.withdrawn_on <= on)
        current = select(ConsentRecord.person_id).where(
            ConsentRecord.purpose == purpose,
            or_(ConsentRecord.withdrawn_on.is_(None), ConsentRecord.withdrawn_on > on))
        blocked.append(and_(Act.victim_id.in_(withdrawn), Act.victim_id.not_in(current)))
    shredded = Act.victim_id.in_(select(Person.id).where(Person.shredded_at.is_not(None)))
    # person_id and people.id are never NULL, so for an act with a victim each IN is plainly
    # true or false; the first term keeps an act without a victim out of NULL logic.
    return and_(Act.victim_id.is_not(None), or_(*blocked, shredded))


def date_conditions(filters: AnalysisFilters) -> list:
    """Precision-aware: an act matches when any day its start date can mean is in the range."""
    conditions = []
    if filters.date_from:
        conditions.append(Act.start_latest >= filters.date_from)
    if filters.date_to:
        conditions.append(Act.start_earliest <= filters.date_to)
    return conditions


# Cells and groups smaller than this are hidden from analysts ("<5") and coarsened in exports.
K = 5


def small_count(count: int, user: User) -> tuple[str, bool]:
    """How a count is shown to this user: analysts see "<5" for 1-4 (zero stays zero)."""
    if user.role == "analyst" and 0 < count < K:
        return f"<{K}", True
    return str(count), False
