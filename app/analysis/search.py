"""The search page's queries: acts matching combined filters and exact identity, in scope only.

Every query starts from `access.visibility_clause`: an act of a case the user may not see never
appears, not even in a count. Dates match precision-aware (an act dated "March 2025" is found by a
search for 10-20 March 2025) and such results say so. Identity fields (name incl. recorded other
spellings, father's name, CNIC, phone) match the act's victim exactly through the blind indexes,
then by comparing decrypted, normalised values; each identity search is audited
("search.identity", field names only). Saved searches keep filters, never identity values.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from datetime import date
from typing import Any

from flask_babel import format_date, format_number
from flask_babel import gettext as _
from sqlalchemy import exists, false, func, select
from sqlalchemy.orm import selectinload

from app.access import visibility_clause
from app.audit.recorder import record
from app.crypto import runtime
from app.domain.vocab import (
    ALLEGATION_STATUS,
    CASE_STATUS,
    RELIABILITY,
    VICTIM_STATUS,
)
from app.extensions import db
from app.models.acts import Act, Involvement
from app.models.cases import Case
from app.models.searches import SavedSearch
from app.models.sources import AllegationLink, Source, Testimony
from app.models.users import Team, User
from app.models.vocab import District
from app.services import ServiceError, people
from app.services.allegations import qualifier
from app.services.people import mask

IDENTITY_KEYS = ("full_name", "father_name", "cnic", "phone")
# Grades A (completely reliable) to E (unreliable) are a scale; F ("cannot be judged") is not on
# it, so "F or better" would mean nothing and is not offered.
RELIABILITY_SCALE = tuple(g for g in RELIABILITY if g != "F")
PER_PAGE = 25
MAX_SAVED = 50
# Filter searches count their results up to this many; beyond, the page says "more than 1,000"
# and offers previous / next (counting and sorting 100,000 acts on every page view is too slow).
# Identity searches always count exactly: the number is in their audit entry.
COUNT_CAP = 1000


@dataclass(frozen=True)
class SearchFilters:
    district: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    act_type: str | None = None
    perpetrator_type: str | None = None
    status_of_victim: str | None = None
    allegation_status: str | None = None
    reliability: str | None = None  # acts supported by a source graded this or better
    team: str | None = None  # team id
    case_status: str | None = None

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def is_empty(self) -> bool:
        return not any(getattr(self, k) for k in self.keys())

    def as_query(self) -> dict[str, str]:
        """The set filters as strings (URL query, saved-search JSON): codes and ISO dates only."""
        return {k: (v.isoformat() if isinstance(v, date) else str(v))
                for k, v in asdict(self).items() if v}

    @classmethod
    def from_query(cls, data: Mapping[str, Any]) -> SearchFilters:
        """Read stored or typed filters; unknown keys are ignored, bad dates dropped."""
        values: dict[str, Any] = {}
        for key in cls.keys():
            raw = data.get(key)
            if raw in (None, ""):
                continue
            if key in ("date_from", "date_to"):
                if isinstance(raw, date):
                    values[key] = raw
                else:
                    try:
                        values[key] = date.fromisoformat(str(raw))
                    except ValueError:
                        continue
            else:
                values[key] = str(raw)[:60]
        return cls(**values)


@dataclass(frozen=True)
class ResultRow:
    act_id: uuid.UUID
    case_id: uuid.UUID
    reference: str
    restricted: bool
    act_type: str
    date_text: str
    imprecise: str | None  # "date given as March 2025", when it may fall outside the range
    district: str
    allegation_status: str
    qualifier: str
    victim: str


@dataclass(frozen=True)
class SearchPage:
    rows: list[ResultRow]
    total: int  # exact, unless `capped`: then at least this many (more exist)
    page: int
    pages: int  # exact, unless `capped`: then at least this many (a next page exists)
    identity_fields: list[str]
    capped: bool = False

    @property
    def has_next(self) -> bool:
        return self.capped or self.page < self.pages

    @property
    def total_shown(self) -> str:
        """The total with digits grouped as the user's language does (1,000 / 1.000 / ١٬٠٠٠)."""
        return format_number(self.total)


def validate(filters: SearchFilters) -> None:
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        raise ServiceError(_("The start of the date range is after its end."), field="date_to")
    for key, allowed in (("status_of_victim", VICTIM_STATUS),
                         ("allegation_status", ALLEGATION_STATUS),
                         ("reliability", RELIABILITY_SCALE), ("case_status", CASE_STATUS)):
        value = getattr(filters, key)
        if value and value not in allowed:
            raise ServiceError(_("Unknown value in this filter."), field=key)
    if filters.team:
        try:
            uuid.UUID(filters.team)
        except ValueError:
            raise ServiceError(_("Unknown team."), field="team") from None


def identity_used(identity: Mapping[str, str | None]) -> dict[str, str]:
    return {k: v.strip() for k, v in identity.items()
            if k in IDENTITY_KEYS and isinstance(v, str) and v.strip()}


def _conditions(filters: SearchFilters) -> list:
    conditions = []
    if filters.district:
        conditions.append(Act.district_code == filters.district)
    if filters.date_from:
        conditions.append(Act.start_latest >= filters.date_from)  # could be on or after
    if filters.date_to:
        conditions.append(Act.start_earliest <= filters.date_to)  # could be on or before
    if filters.act_type:
        conditions.append(Act.act_type == filters.act_type)
    if filters.perpetrator_type:
        # Uncorrelated IN: fast on SQLite without statistics too (bench/RESULTS.md, "scale").
        conditions.append(Act.id.in_(select(Involvement.act_id).where(
            Involvement.perpetrator_type == filters.perpetrator_type)))
    if filters.status_of_victim:
        conditions.append(Act.status_of_victim == filters.status_of_victim)
    if filters.allegation_status:
        conditions.append(Act.allegation_status == filters.allegation_status)
    if filters.reliability:
        grades = RELIABILITY_SCALE[:RELIABILITY_SCALE.index(filters.reliability) + 1]
        # Correlated (per act, through ix_allegation_links_act_id): a capped count stops after
        # COUNT_CAP acts and a page walked in date order after 25, where an uncorrelated IN
        # would first collect every supported act of the database (bench/RESULTS.md).
        conditions.append(exists().where(
            AllegationLink.act_id == Act.id, AllegationLink.relation == "supports",
            AllegationLink.testimony_id == Testimony.id, Testimony.source_id == Source.id,
            Source.reliability.in_(grades)))
    if filters.team:
        conditions.append(Case.team_id == uuid.UUID(filters.team))
    if filters.case_status:
        conditions.append(Case.status == filters.case_status)
    return conditions


# The index on acts.start_earliest (declared with `index=True` on the column), by its name.
_START_INDEX = next(ix.name for ix in Act.__table__.indexes
                    if [c.name for c in ix.columns] == ["start_earliest"])


def search_acts(actor: User, filters: SearchFilters, identity: Mapping[str, str | None] | None = None,
                page: int = 1, per_page: int = PER_PAGE) -> SearchPage:
    """One page of matching acts, in the user's scope only. Audits identity searches."""
    validate(filters)
    used = identity_used(identity or {})
    query = (select(Act, Case.reference, Case.confidentiality)
             .join(Case, Case.id == Act.case_id)
             .where(visibility_clause(actor), *_conditions(filters)))
    if used:
        victims = [p.id for p in people.matching_people(actor, used)]
        query = query.where(Act.victim_id.in_(victims) if victims else false())
    page = max(page, 1)
    # Count no further than needed: up to COUNT_CAP (or up to this page, deeper), so that a
    # broad filter does not count every act in scope; identity searches are already narrow and
    # count exactly.
    limit = None if used else max(COUNT_CAP, page * per_page) + 1
    counted = query.with_only_columns(Act.id).order_by(None)
    if limit is not None:
        counted = counted.limit(limit)
    total = db.session.execute(
        select(func.count()).select_from(counted.subquery())).scalar_one()
    capped = limit is not None and total >= limit
    if capped:
        total = limit - 1  # more than this many; this page and the next exist
        pages = page + 1
    else:
        pages = max(1, math.ceil(total / per_page))
        page = min(page, pages)
    ordered = query.order_by(Act.start_earliest.desc().nulls_last(), Case.reference, Act.id)
    if capped:
        # Many results: read acts newest first through the start-date index and stop at the
        # end of this page, instead of matching and sorting every act in scope. PostgreSQL's
        # planner does so by itself (incremental sort); SQLite's must be told
        # (`sqlite_indexed_by`, applied in app/database.py).
        ordered = ordered.execution_options(sqlite_indexed_by=("acts", _START_INDEX))
    # The page's ids first (the sort carries ids, not whole acts), then those acts.
    ids = list(db.session.execute(ordered.with_only_columns(Act.id)
                                  .limit(per_page).offset((page - 1) * per_page)).scalars())
    found = {act.id: (act, reference, confidentiality)
             for act, reference, confidentiality in db.session.execute(
                 select(Act, Case.reference, Case.confidentiality)
                 .join(Case, Case.id == Act.case_id).where(Act.id.in_(ids))
                 .options(selectinload(Act.victim)))} if ids else {}
    rows = [found[act_id] for act_id in ids]
    # The victims' own keys, unwrapped with one key-store read (their names are shown masked).
    runtime.keyring().preload(act.victim.data_key_id for act, _ref, _conf in rows
                              if act.victim is not None and act.victim.shredded_at is None)
    if used:
        record("search.identity", actor_id=actor.id, object_type="act",
               details={"fields": sorted(used), "filters": sorted(filters.as_query()),
                        "results": total})
    names = {d.code: d.name for d in db.session.query(District)}
    return SearchPage([_row(act, reference, confidentiality, filters, names)
                       for act, reference, confidentiality in rows],
                      total, page, pages, sorted(used), capped)


def date_text(value: str | None, precision: str, as_given: str | None) -> str:
    """The start date as it was given, never made to look more exact than it is."""
    if as_given:
        return as_given
    if not value:
        return _("date unknown")
    parts = [int(p) for p in value.split("-")]
    if len(parts) == 3:
        text = format_date(date(*parts), "d MMMM y")
    elif len(parts) == 2:
        text = format_date(date(parts[0], parts[1], 1), "MMMM y")
    else:
        text = str(parts[0])
    return _("around %(date)s", date=text) if precision == "approximate" else text


def _imprecise_note(act: Act, filters: SearchFilters, shown: str) -> str | None:
    """Said when the act matched only because its date is imprecise: it may lie outside."""
    if not (filters.date_from or filters.date_to) or act.start_precision == "day":
        return None
    inside = ((filters.date_from is None or (act.start_earliest and
                                             act.start_earliest >= filters.date_from)) and
              (filters.date_to is None or (act.start_latest and act.start_latest <= filters.date_to)))
    if inside:
        return None
    return _("date given as %(date)s", date=shown)


def _row(act: Act, reference: str, confidentiality: str, filters: SearchFilters,
         names: dict[str, str]) -> ResultRow:
    shown = date_text(act.start_value, act.start_precision, act.start_as_given)
    victim = act.victim
    if victim is None:
        victim_text = _("no victim recorded")
    elif victim.shredded_at is not None:
        victim_text = _("[identity erased]")
    else:
        victim_text = mask(victim.full_name) or _("unnamed person")
    return ResultRow(act.id, act.case_id, reference, confidentiality == "restricted",
                     act.act_type, shown, _imprecise_note(act, filters, shown),
                     names.get(act.district_code or "", act.district_code or ""),
                     act.allegation_status, qualifier(act.allegation_status), victim_text)


def team_choices(actor: User) -> list[tuple[str, str]]:
    """Teams of the cases this user may see (never a list of every team)."""
    team_ids = select(Case.team_id).where(visibility_clause(actor), Case.team_id.is_not(None))
    teams = db.session.execute(select(Team).where(Team.id.in_(team_ids))
                               .order_by(Team.name)).scalars()
    return [(str(t.id), t.name) for t in teams]


# --- Saved searches ------------------------------------------------------------------------


def save_search(actor: User, name: str, filters: SearchFilters,
                identity: Mapping[str, str | None] | None = None) -> SavedSearch:
    """Save (or replace) a named filter set. Refuses identity values: they would be stored in
    clear and tie a name to this user's interests."""
    if identity_used(identity or {}):
        raise ServiceError(_("A saved search cannot keep a name, father's name, CNIC or phone "
                             "number. Clear those fields and save the filters alone; identity "
                             "searches must be typed each time (they are audited)."),
                           field="save_name")
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise ServiceError(_("Give the search a name of 1 to 120 characters."), field="save_name")
    validate(filters)
    if filters.is_empty():
        raise ServiceError(_("Choose at least one filter to save."), field="save_name")
    stored = json.dumps(filters.as_query(), sort_keys=True)
    existing = db.session.execute(select(SavedSearch).where(
        SavedSearch.user_id == actor.id, SavedSearch.name == name)).scalar_one_or_none()
    if existing is not None:
        existing.filters = stored
        db.session.flush()
        return existing
    count = db.session.execute(select(func.count()).select_from(SavedSearch)
                               .where(SavedSearch.user_id == actor.id)).scalar_one()
    if count >= MAX_SAVED:
        raise ServiceError(_("You have %(n)d saved searches; delete one first.", n=count),
                           field="save_name")
    saved = SavedSearch(id=uuid.uuid4(), user_id=actor.id, name=name, filters=stored)
    db.session.add(saved)
    db.session.flush()
    return saved


def saved_searches(actor: User) -> list[SavedSearch]:
    return list(db.session.execute(select(SavedSearch).where(SavedSearch.user_id == actor.id)
                                   .order_by(SavedSearch.name)).scalars())


def saved_filters(saved: SavedSearch) -> SearchFilters:
    try:
        data = json.loads(saved.filters or "{}")
    except ValueError:
        data = {}
    return SearchFilters.from_query(data if isinstance(data, dict) else {})


def delete_saved_search(actor: User, saved_id: str | None) -> None:
    """Delete one of the user's own saved searches; anyone else's is "not found"."""
    try:
        key = uuid.UUID(str(saved_id))
    except ValueError:
        raise ServiceError(_("This saved search was not found.")) from None
    saved = db.session.get(SavedSearch, key)
    if saved is None or saved.user_id != actor.id:
        raise ServiceError(_("This saved search was not found."))
    db.session.delete(saved)
    db.session.flush()
