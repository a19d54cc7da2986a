"""Read-side queries for case pages: the filtered, scoped case list and a case's parts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Select, exists, or_, select

from app.access import scoped_cases
from app.extensions import db
from app.models.acts import Act, Involvement
from app.models.cases import Case, case_members
from app.models.users import User


@dataclass
class CaseFilters:
    status: str | None = None
    district: str | None = None
    act_type: str | None = None
    perpetrator_type: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    mine: bool = False


def filtered_cases(user: User, f: CaseFilters) -> Select:
    query = scoped_cases(user)
    if f.status:
        query = query.where(Case.status == f.status)
    act_conditions = []
    if f.district:
        act_conditions.append(Act.district_code == f.district)
    if f.act_type:
        act_conditions.append(Act.act_type == f.act_type)
    if f.date_from:
        act_conditions.append(Act.start_latest >= f.date_from)  # could be on or after
    if f.date_to:
        act_conditions.append(Act.start_earliest <= f.date_to)  # could be on or before
    if f.perpetrator_type:
        act_conditions.append(Act.id.in_(select(Involvement.act_id).where(
            Involvement.perpetrator_type == f.perpetrator_type)))
    if act_conditions:
        # Uncorrelated IN, not EXISTS: SQLite without statistics would otherwise probe the acts
        # index once per case (seconds at 100,000 cases; see bench/RESULTS.md, "scale").
        query = query.where(Case.id.in_(select(Act.case_id).where(*act_conditions)))
    if f.mine:
        query = query.where(or_(Case.owner_id == user.id, exists().where(
            case_members.c.case_id == Case.id, case_members.c.user_id == user.id)))
    # Both descending, so the (updated_at, id) index is read backwards and a page stops early.
    return query.order_by(Case.updated_at.desc(), Case.id.desc())


def acts_by_case(case_ids: list) -> dict:
    rows = db.session.execute(select(Act.case_id, Act.act_type, Act.district_code)
                              .where(Act.case_id.in_(case_ids))).all()
    result: dict = {}
    for case_id, act_type, district in rows:
        entry = result.setdefault(case_id, {"types": set(), "districts": set()})
        entry["types"].add(act_type)
        if district:
            entry["districts"].add(district)
    return result
