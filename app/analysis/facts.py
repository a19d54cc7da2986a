"""The coded facts of acts (no identity, no text) that dashboards and exports count."""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, case, distinct, func, literal, not_, select, union_all

from app.analysis.scope import (
    AnalysisFilters,
    consent_blocks_release,
    date_conditions,
    release_clause,
    statistics_clause,
)
from app.extensions import db
from app.models.acts import Act, Involvement
from app.models.cases import Case
from app.models.people import Person
from app.models.users import User


@dataclass(frozen=True)
class ActFacts:
    id: uuid.UUID
    case_id: uuid.UUID
    act_type: str
    district: str | None
    start_value: str | None
    start_precision: str
    status_of_victim: str
    allegation_status: str
    victim_id: uuid.UUID | None
    perpetrator_types: tuple[str, ...]


@dataclass(frozen=True)
class VictimFacts:
    """Columns of a person kept in clear (never the encrypted identity fields)."""

    sex: str | None
    age: int | None
    age_group: str | None
    counting_unit: str | None


def _act_conditions(user: User, filters: AnalysisFilters, *, release: bool) -> list:
    """WHERE clauses over Act joined to Case: the acts this user may count (release=False) or
    release as de-identified rows (release=True), within the filters.

    Analysts' counts follow the release consent rule too: they only ever see de-identified data.
    """
    conditions = [release_clause(user) if release else statistics_clause(user),
                  *date_conditions(filters)]
    if release or user.role == "analyst":
        conditions.append(not_(consent_blocks_release()))
    if filters.district:
        conditions.append(Act.district_code == filters.district)
    return conditions


def act_facts(user: User, filters: AnalysisFilters, *, release: bool) -> list[ActFacts]:
    """Acts this user may count (release=False) or release as de-identified rows (release=True),
    one row each (the de-identified export needs rows; the dashboard counts with `act_counts`)."""
    query = (select(Act.id, Act.case_id, Act.act_type, Act.district_code, Act.start_value,
                    Act.start_precision, Act.status_of_victim, Act.allegation_status,
                    Act.victim_id)
             .join(Case, Case.id == Act.case_id)
             .where(*_act_conditions(user, filters, release=release)))
    rows = db.session.execute(query.order_by(Act.id)).all()
    types = _perpetrator_types([row.id for row in rows])
    return [ActFacts(row.id, row.case_id, row.act_type, row.district_code, row.start_value,
                     row.start_precision or "unknown", row.status_of_victim or "unknown",
                     row.allegation_status or "alleged", row.victim_id,
                     tuple(sorted(types.get(row.id, ())))) for row in rows]


def _perpetrator_types(act_ids: list[uuid.UUID]) -> dict[uuid.UUID, set[str]]:
    result: dict[uuid.UUID, set[str]] = defaultdict(set)
    for chunk in _chunks(act_ids):
        for act_id, kind in db.session.execute(
                select(Involvement.act_id, Involvement.perpetrator_type)
                .where(Involvement.act_id.in_(chunk))):
            result[act_id].add(kind or "unknown")
    return result


# Bucket codes of the counts (the dashboard labels them).
IMPRECISE = "date_imprecise"
NO_DATE = "date_unknown"
NOT_RECORDED = "not_recorded"


@dataclass(frozen=True)
class ActCounts:
    """How many acts fall in each bucket of each dashboard chart (every act counted once per
    chart, except by perpetrator type: once under each type it has, or under "not recorded")."""

    by_month: Counter  # "YYYY-MM", IMPRECISE or NO_DATE
    by_district: Counter  # district code or NOT_RECORDED
    by_act_type: Counter
    by_perpetrator_type: Counter  # type, "unknown", or NOT_RECORDED for acts with none
    by_victim_status: Counter
    by_allegation_status: Counter

    @property
    def total(self) -> int:
        return sum(self.by_allegation_status.values())


def act_counts(user: User, filters: AnalysisFilters) -> ActCounts:
    """The dashboard's counts over the acts this user may count, grouped in the database: the
    same acts, buckets and defaults as counting `act_facts(release=False)` one by one in Python
    (tests/test_dashboard.py compares the two), without loading every act.

    PostgreSQL: two statements, the five per-act charts in one pass with GROUPING SETS, and the
    perpetrator chart, which joins the alleged perpetrators and counts each act once per type
    (count of distinct acts). SQLite: one statement, a GROUP BY per chart over the acts in
    scope found once (a common table expression).
    """
    conditions = _act_conditions(user, filters, release=False)

    def or_default(column, default: str):  # type: ignore[no-untyped-def]
        """The column, with NULL and '' read as `default` (as `value or default` in Python)."""
        return func.coalesce(func.nullif(column, ""), default)

    dated = and_(Act.start_value.is_not(None), Act.start_value != "")
    month = case((and_(dated, Act.start_precision.in_(("day", "month"))),
                  func.substr(Act.start_value, 1, 7)),
                 (dated, literal(IMPRECISE)), else_=literal(NO_DATE))
    buckets = {"by_month": month,
               "by_district": or_default(Act.district_code, NOT_RECORDED),
               "by_act_type": Act.act_type,
               "by_victim_status": or_default(Act.status_of_victim, "unknown"),
               "by_allegation_status": or_default(Act.allegation_status, "alleged")}
    # Every bucket is computed once, in an inner SELECT, and grouped by its column name there:
    # PostgreSQL would not recognise an expression with bound parameters in SELECT and in
    # GROUP BY as the same one.
    scoped = (select(Act.id.label("act_id"), *(expr.label(key) for key, expr in buckets.items()))
              .select_from(Act).join(Case, Case.id == Act.case_id).where(*conditions))
    counters: dict[str, Counter] = {key: Counter() for key in (*buckets, "by_perpetrator_type")}

    def kind(involvement):  # type: ignore[no-untyped-def]
        """An alleged perpetrator's type, or "not recorded" for an act with none (outer join)."""
        return case((involvement.id.is_(None), literal(NOT_RECORDED)),
                    else_=or_default(involvement.perpetrator_type, "unknown"))

    if db.session.get_bind().dialect.name == "postgresql":
        inner = scoped.subquery("scoped")
        columns = [inner.c[key] for key in buckets]
        # GROUPING(...) tells which set a row belongs to: a bit per column, 0 for the one
        # grouped by (the leftmost column is the highest bit).
        rows = db.session.execute(select(func.grouping(*columns), *columns, func.count())
                                  .group_by(func.grouping_sets(*columns)))
        everything = (1 << len(columns)) - 1
        for bits, *values, count in rows:
            index = next(i for i in range(len(columns))
                         if bits == everything ^ (1 << (len(columns) - 1 - i)))
            counters[list(buckets)[index]][values[index]] += count
        perpetrator = kind(Involvement).label("kind")
        kinds = (select(perpetrator, func.count(distinct(Act.id))).select_from(Act)
                 .join(Case, Case.id == Act.case_id)
                 .outerjoin(Involvement, Involvement.act_id == Act.id)
                 .where(*conditions).group_by(perpetrator))
        for code, count in db.session.execute(kinds):
            counters["by_perpetrator_type"][code] += count
    else:
        # SQLite: one statement; the acts in scope are found once (the CTE is materialised, as
        # it is used more than once) and each chart groups them, the perpetrator chart through
        # an outer join to the alleged perpetrators.
        inner = scoped.cte("scoped")
        parts = [select(literal(key).label("chart"), inner.c[key].label("code"), func.count())
                 .group_by(inner.c[key]) for key in buckets]
        perpetrator = kind(Involvement)
        parts.append(select(literal("by_perpetrator_type"), perpetrator,
                            func.count(distinct(inner.c.act_id)))
                     .select_from(inner.outerjoin(Involvement,
                                                  Involvement.act_id == inner.c.act_id))
                     .group_by(perpetrator))
        for key, code, count in db.session.execute(union_all(*parts)):
            counters[key][code] += count
    return ActCounts(**counters)


def victim_facts(person_ids: list[uuid.UUID]) -> dict[uuid.UUID, VictimFacts]:
    result = {}
    for chunk in _chunks(person_ids):
        for row in db.session.execute(
                select(Person.id, Person.sex, Person.age, Person.age_group, Person.counting_unit)
                .where(Person.id.in_(chunk))):
            result[row.id] = VictimFacts(row.sex, row.age, row.age_group, row.counting_unit)
    return result


def _chunks(ids: list, size: int = 500):  # type: ignore[no-untyped-def]
    unique = list(dict.fromkeys(i for i in ids if i is not None))
    for start in range(0, len(unique), size):
        yield unique[start:start + size]


def month_of(facts: ActFacts) -> str | None:
    """The month an act's start falls in, when the date says it (to the day or the month)."""
    if facts.start_value and facts.start_precision in ("day", "month"):
        return facts.start_value[:7]
    return None


def month_range(first: str, last: str) -> list[str]:
    y, m = int(first[:4]), int(first[5:7])
    end = (int(last[:4]), int(last[5:7]))
    months = []
    while (y, m) <= end:
        months.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return months


def month_label(month: str) -> str:
    from flask_babel import format_date

    return format_date(date(int(month[:4]), int(month[5:7]), 1), "MMM y")
