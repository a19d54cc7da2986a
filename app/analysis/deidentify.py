"""De-identified rows: one per act, codes and coarsened place and time only (docs/deidentification.md).

Nothing that names, locates or quotes anyone leaves: no names, CNIC, phone, address, free text,
case reference, coordinates or place as reported. The case appears only as a keyed hash of its id.
Coarsening (k = 5), computed over everything this user may release, before any filter:

1. District: kept when at least k released acts share it; otherwise the province ("PK2 Balochistan").
2. Start date: never more precise than the month. The month is kept when at least k released acts
   share that month in the same (possibly coarsened) place; otherwise only the year. A date known
   only to the year stays a year; an approximate date keeps "approximate" as its precision and is
   coarsened the same way; an unknown date stays empty.
3. Filters then select rows by their released values, so filtering can never reveal what the
   coarsening hid (a district filter matches only rows released at district level).

Every call writes an "export.deidentified" audit entry with the row count (in the caller's
transaction: commit after writing the file).
"""

from __future__ import annotations

import csv
import io
import uuid
from collections import Counter
from datetime import date

from flask_babel import gettext as _

from app.access import STATISTICS_ROLES
from app.analysis.dashboard import safe_cell
from app.analysis.facts import ActFacts, VictimFacts, act_facts, victim_facts
from app.analysis.scope import AnalysisFilters, K
from app.audit.recorder import record
from app.crypto import runtime
from app.domain import dates
from app.extensions import db
from app.models.users import User
from app.models.vocab import District
from app.services import ServiceError

COLUMNS = ("case_pseudonym", "act_type", "perpetrator_types", "status_of_victim",
           "allegation_status", "qualifier", "district", "place_level", "start_period",
           "start_precision", "victim_sex", "victim_age_group", "counting_unit")
# Ages coarsened to bands; without an age, the recorded age group (child, youth...) is used.
AGE_BANDS = ((0, 11, "0-11"), (12, 17, "12-17"), (18, 29, "18-29"), (30, 44, "30-44"),
             (45, 59, "45-59"), (60, 200, "60+"))
PSEUDONYM_INDEX = "deidentified_case"
PSEUDONYM_BITS = 64


def refuse_unless_allowed(actor: User) -> None:
    if not actor.active or actor.role not in STATISTICS_ROLES:
        raise ServiceError(_("Only analysts and supervisors may export de-identified data; "
                             "your role (%(role)s) does not allow it.", role=actor.role))


def case_pseudonym(case_id: uuid.UUID) -> str:
    """A keyed hash of the case id (HMAC-SHA256, key derived by HKDF from the blind-index key
    under its own name): stable across exports, meaningless without the key ring."""
    digest = runtime.indexer().compute(PSEUDONYM_INDEX, str(case_id), bits=PSEUDONYM_BITS,
                                       normaliser=str)
    return digest.hex()


def age_band(victim: VictimFacts | None) -> str:
    if victim is None:
        return "unknown"
    if victim.age is not None:
        for low, high, band in AGE_BANDS:
            if low <= victim.age <= high:
                return band
    return victim.age_group or "unknown"


def _place(facts: ActFacts, district_counts: Counter, districts: dict[str, District]
           ) -> tuple[str, str]:
    """(released place, level)."""
    if not facts.district:
        return "", "unknown"
    district = districts.get(facts.district)
    if district is None:
        return "", "unknown"
    if district_counts[facts.district] >= K:
        return f"{district.code} {district.name}", "district"
    return f"{district.province_code} {district.province}", "province"


def _month_candidate(facts: ActFacts) -> str | None:
    """The month this act could be released at (never finer than a month)."""
    if facts.start_value and len(facts.start_value) >= 7 and facts.start_precision in (
            "day", "month", "approximate"):
        return facts.start_value[:7]
    return None


def _released_date(facts: ActFacts, month_ok: bool) -> tuple[str, str]:
    """(period, precision): "2025-03"/"month", "2025"/"year", approximate keeps its word."""
    if not facts.start_value or facts.start_precision == "unknown":
        return "", "unknown"
    approximate = facts.start_precision == "approximate"
    month = _month_candidate(facts)
    if month and month_ok:
        return month, "approximate" if approximate else "month"
    return facts.start_value[:4], "approximate" if approximate else "year"


def _within(period: str, filters: AnalysisFilters) -> bool:
    if not (filters.date_from or filters.date_to):
        return True
    if not period:
        return False
    return dates.overlaps(dates.PartialDate(period, "month" if len(period) == 7 else "year"),
                          filters.date_from, filters.date_to)


def deidentified_rows(actor: User, filters: AnalysisFilters | None = None) -> list[dict[str, str]]:
    """The de-identified rows this user may take out, filtered by their released values.

    Refuses (ServiceError) any role but analyst and supervisor. Audits the export; the caller
    commits.
    """
    refuse_unless_allowed(actor)
    filters = (filters or AnalysisFilters()).for_user(actor)
    facts = act_facts(actor, AnalysisFilters(), release=True)
    victims = victim_facts([f.victim_id for f in facts if f.victim_id])
    districts = {d.code: d for d in db.session.query(District)}
    district_counts = Counter(f.district for f in facts if f.district)
    places = [_place(f, district_counts, districts) for f in facts]
    month_counts = Counter((place, _month_candidate(f)) for f, place in zip(facts, places, strict=True)
                           if _month_candidate(f))
    rows = []
    for f, (place, level) in zip(facts, places, strict=True):
        month = _month_candidate(f)
        period, precision = _released_date(f, month is not None and
                                           month_counts[((place, level), month)] >= K)
        if filters.district and not (level == "district" and place.split(" ")[0] == filters.district):
            continue
        if not _within(period, filters):
            continue
        victim = victims.get(f.victim_id) if f.victim_id else None
        rows.append({
            "case_pseudonym": case_pseudonym(f.case_id),
            "act_type": f.act_type,
            "perpetrator_types": ";".join(f.perpetrator_types),
            "status_of_victim": f.status_of_victim,
            "allegation_status": f.allegation_status,
            "qualifier": "finding" if f.allegation_status == "finding" else "alleged",
            "district": place,
            "place_level": level,
            "start_period": period,
            "start_precision": precision,
            "victim_sex": (victim.sex if victim and victim.sex else "unknown"),
            "victim_age_group": age_band(victim),
            "counting_unit": (victim.counting_unit if victim and victim.counting_unit
                              else "unknown"),
        })
    rows.sort(key=lambda r: (r["start_period"], r["district"], r["act_type"],
                             r["case_pseudonym"]))
    record("export.deidentified", actor_id=actor.id, object_type="export",
           details={"rows": len(rows), "filters": filters.names(), "k": K,
                    "on": date.today().isoformat()})
    return rows


def rows_to_csv(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, extrasaction="raise")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: safe_cell(v) for k, v in row.items()})
    return out.getvalue()
