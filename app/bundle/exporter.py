"""Exporting cases as a bundle: only cases the acting user may see, identities decrypted, and one
audit entry naming the case ids (never their content)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from app.access import Action, can, scoped_cases
from app.audit.recorder import record
from app.bundle.validate import FORMAT, VERSION
from app.cases.queries import CaseFilters, filtered_cases
from app.crypto.fields import Shredded
from app.domain.vocab import DISAPPEARANCE_ACTS
from app.extensions import db
from app.models.acts import Act, DisappearanceDetails, FamilyStep
from app.models.cases import Case, CaseNote
from app.models.followups import FollowUp
from app.models.people import ConsentRecord, Person
from app.models.sources import AllegationLink, Source, Testimony
from app.models.users import User
from app.services import ServiceError

URGENT_DAYS = 92  # WGEID urgent action: taken within the last three months
GENERATOR = "Amanat"


@dataclass
class ExportResult:
    bundle: dict[str, Any]
    case_ids: list[Any]
    skipped_evidence_links: int

    def to_json(self) -> str:
        return to_json(self.bundle)


def to_json(bundle: dict[str, Any]) -> str:
    """UTF-8 text, Arabic-script names and all, never \\u-escaped; stable key order."""
    return json.dumps(bundle, ensure_ascii=False, indent=2) + "\n"


def require_exporter(actor: User | None) -> User:
    if actor is None or not actor.active or actor.role not in ("caseworker", "supervisor"):
        raise ServiceError(_("Only active caseworkers and supervisors can export cases: "
                             "administrators and analysts never receive identified records."))
    return actor


def select_cases(actor: User, *, references: Iterable[str] = (), case_ids: Iterable[Any] = (),
                 filters: CaseFilters | None = None, everything: bool = False) -> list[Case]:
    """The cases to export, always within what `actor` may see (app.access.scoped_cases)."""
    require_exporter(actor)
    references, case_ids = list(references), list(case_ids)
    if references or case_ids:
        query = scoped_cases(actor)
        found: list[Case] = []
        if references:
            rows = {c.reference: c for c in db.session.execute(
                query.where(Case.reference.in_(references))).scalars()}
            missing = [r for r in references if r not in rows]
            if missing:
                # Not yours and not there read the same, as everywhere else (a 404).
                raise ServiceError(_("No case you may see has the reference %(refs)s.",
                                     refs=", ".join(missing)))
            found += [rows[r] for r in references]
        if case_ids:
            rows_by_id = {c.id: c for c in db.session.execute(
                query.where(Case.id.in_(case_ids))).scalars()}
            if len(rows_by_id) != len(set(case_ids)):
                raise ServiceError(_("One of these cases does not exist or is not yours to see."))
            found += [rows_by_id[i] for i in case_ids if rows_by_id[i] not in found]
        return found
    if filters is None and not everything:
        raise ServiceError(_("Say which cases to export: all of them, some references, or a "
                             "filter."))
    query = filtered_cases(actor, filters or CaseFilters())
    # Oldest first, so a re-import creates (and numbers) them in the same order.
    return sorted(db.session.execute(query).scalars(), key=lambda c: (c.created_at, str(c.id)))


def _clean(mapping: dict[str, Any]) -> dict[str, Any]:
    """Leave out what is not recorded (None, empty lists), so the bundle says only what is known."""
    return {k: v for k, v in mapping.items() if v is not None and v != [] and v != {}}


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _partial(value: str | None, precision: str, as_given: str | None = None) -> dict | None:
    if value is None and precision == "unknown" and not as_given:
        return None
    return _clean({"date": value, "precision": precision, "as_given": as_given})


def _urgent(act: Act, today: date) -> bool:
    latest = act.start_latest
    return (act.status_of_victim == "still_missing" and latest is not None
            and latest >= today - timedelta(days=URGENT_DAYS))


def _ids(rows: Iterable[Any], prefix: str) -> dict[Any, str]:
    return {row.id: f"{prefix}{n}" for n, row in enumerate(rows, start=1)}


def _ordered(model: Any, *conditions: Any) -> list[Any]:
    return list(db.session.execute(select(model).where(*conditions)
                                   .order_by(model.created_at, model.id)).scalars())


def case_to_bundle(case: Case, local_id: str) -> tuple[dict[str, Any], int]:
    """One case as a bundle case, and how many evidence links were left out."""
    today = date.today()
    persons = _ordered(Person, Person.case_id == case.id)
    act_rows = _ordered(Act, Act.case_id == case.id)
    source_rows = _ordered(Source, Source.case_id == case.id)
    testimony_rows = _ordered(Testimony, Testimony.case_id == case.id)
    link_rows = _ordered(AllegationLink, AllegationLink.act_id.in_([a.id for a in act_rows])) \
        if act_rows else []
    person_ids, act_ids = _ids(persons, "p"), _ids(act_rows, "a")
    source_ids, testimony_ids = _ids(source_rows, "s"), _ids(testimony_rows, "t")

    people_out = []
    for person in persons:
        erased = person.shredded_at is not None
        identity = {} if erased else {
            "full_name": person.full_name,
            "other_names": [n.name for n in person.other_names if n.name],
            "father_name": person.father_name, "tribe": person.tribe,
            "date_of_birth": person.date_of_birth, "cnic": person.cnic, "phone": person.phone,
            "address": person.address, "physical_description": person.physical_description}
        identity = {k: v for k, v in identity.items() if not isinstance(v, Shredded)}
        people_out.append(_clean({
            "id": person_ids[person.id], "counting_unit": person.counting_unit, **identity,
            "sex": person.sex, "age": person.age, "age_group": person.age_group,
            "occupation": person.occupation, "affiliation": person.affiliation,
            "identity_erased": True if erased else None}))

    acts_out = []
    for act in act_rows:
        out = {"id": act_ids[act.id], "type": act.act_type,
               "victim": person_ids.get(act.victim_id) if act.victim_id else None,
               "start": _partial(act.start_value, act.start_precision, act.start_as_given),
               "end": _partial(act.end_value, act.end_precision, act.end_as_given),
               "district": act.district_code,
               "district_list_version": act.district_list_version if act.district_code else None,
               "place_as_reported": act.place_as_reported, "coordinates": act.coordinates,
               "location_type": act.location_type, "description": act.description,
               "status_of_victim": act.status_of_victim,
               "allegation_status": act.allegation_status}
        details: DisappearanceDetails | None = act.disappearance
        if details is not None and act.act_type in DISAPPEARANCE_ACTS:
            steps = sorted(details.family_steps,
                           key=lambda s: (s.taken_on or date.min, s.created_at))
            out["disappearance"] = _clean({
                "last_seen": _partial(details.last_seen_value, details.last_seen_precision),
                "last_seen_time": details.last_seen_time,
                "place_last_seen": details.place_last_seen,
                "circumstances": details.circumstances, "taken_by": details.taken_by,
                "whereabouts": details.whereabouts,
                "deprived_of_liberty": details.deprived_of_liberty,
                "state_involvement": details.state_involvement,
                "concealment": details.concealment,
                "relatives_consent_wgeid": details.relatives_consent_wgeid,
                "source_keeps_contact": details.source_keeps_contact,
                "urgent": _urgent(act, today),
                "current_status": details.current_status,
                "current_status_on": _iso(details.current_status_on),
                "family_steps": [_family_step(s) for s in steps]})
        out["perpetrators"] = [_clean({
            "person": person_ids.get(i.perpetrator_person_id) if i.perpetrator_person_id else None,
            "unit": i.unit, "type": i.perpetrator_type, "involvement": i.degree,
            "attribution": i.attribution}) for i in act.perpetrators]
        acts_out.append(_clean(out))

    sources_out = [_clean({"id": source_ids[s.id],
                           "person": person_ids.get(s.person_id) if s.person_id else None,
                           "organisation": s.organisation, "reliability": s.reliability,
                           "pseudonym": s.pseudonym}) for s in source_rows]
    testimonies_out = [_clean({
        "id": testimony_ids[t.id], "source": source_ids[t.source_id], "date": t.given_value,
        "precision": t.given_precision, "language": t.language, "material": t.material,
        "connection": t.connection, "credibility": t.credibility, "transcript": t.transcript,
        "notes": t.notes, "interview_place": t.interview_place}) for t in testimony_rows]
    links_out, skipped = [], 0
    for link in link_rows:
        if link.testimony_id is None:
            skipped += 1  # evidence files do not travel in version 1
            continue
        links_out.append(_clean({"act": act_ids[link.act_id],
                                 "testimony": testimony_ids[link.testimony_id],
                                 "relation": link.relation, "note": link.note,
                                 "checked_on": _iso(link.checked_on)}))
    consents = list(db.session.execute(
        select(ConsentRecord).where(ConsentRecord.person_id.in_(list(person_ids)))
        .order_by(ConsentRecord.created_at, ConsentRecord.id)).scalars()) if persons else []
    follow_ups = _ordered(FollowUp, FollowUp.case_id == case.id)
    notes = _ordered(CaseNote, CaseNote.case_id == case.id)
    tags = [t.strip() for t in (case.tags or "").split(",") if t.strip()]
    result = _clean({
        "id": local_id, "reference": case.reference, "title": case.title,
        "summary": case.summary, "status": case.status,
        "confidentiality": case.confidentiality, "date_received": _iso(case.date_received),
        "intake_channel": case.intake_channel, "tags": tags, "people": people_out,
        "acts": acts_out, "sources": sources_out, "testimonies": testimonies_out,
        "links": links_out,
        "follow_ups": [_clean({"id": f"f{n}", "type": f.action_type,
                               "taken_on": _iso(f.taken_on), "by_whom": f.by_whom,
                               "to_whom": f.to_whom, "response": f.response,
                               "status": f.status, "next_step": f.next_step,
                               "next_step_on": _iso(f.next_step_on)})
                       for n, f in enumerate(follow_ups, start=1)],
        "consents": [_clean({"person": person_ids[c.person_id], "purpose": c.purpose,
                             "legal_basis": c.legal_basis, "given_on": _iso(c.given_on),
                             "recording_allowed": c.recording_allowed,
                             "withdrawn_on": _iso(c.withdrawn_on)}) for c in consents],
        "notes": [{"text": n.text} for n in notes if n.text]})
    return result, skipped


def _family_step(step: FamilyStep) -> dict[str, Any]:
    return _clean({"step": step.step, "taken_on": _iso(step.taken_on),
                   "court_or_office": step.court_or_office,
                   "reference_number": step.reference_number, "outcome": step.outcome})


def export_bundle(actor: User, selected: Iterable[Case], *, channel: str = "cli") -> ExportResult:
    """Build the bundle for these cases and audit the export (case ids only). Flushes; the caller
    commits so the audit entry is kept."""
    require_exporter(actor)
    chosen = list(selected)
    for case in chosen:  # defence in depth: select_cases already scoped the query
        if not can(actor, Action.EXPORT_IDENTIFIED, case):
            raise ServiceError(_("One of these cases is not yours to export."))
    out, skipped = [], 0
    for n, case in enumerate(chosen, start=1):
        item, left_out = case_to_bundle(case, f"c{n}")
        out.append(item)
        skipped += left_out
    bundle = {"format": FORMAT, "version": VERSION,
              "exported_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
              "generator": GENERATOR, "cases": out}
    record("bundle.export", actor_id=actor.id, object_type="bundle",
           details={"case_ids": [str(c.id) for c in chosen], "channel": channel,
                    "skipped_evidence_links": skipped})
    db.session.flush()
    return ExportResult(bundle, [c.id for c in chosen], skipped)
