"""HURIDOCS Events Standard Formats (ESF) export: events, acts, persons, involvements, sources and
information records, each vocabulary value given with its micro-thesaurus list and term code.

Who is named (see docs/exports.md):
* Only the cases the user may see (`scoped_cases`) can be exported; asking for another is refused.
* A case is refused unless every victim of its acts has a current consent for `partner_ngos` or
  `anonymised_only`: nothing leaves for a purpose its person did not consent to.
* A person is identified (names, father's name, date of birth, age, occupation) only when the
  user may see identities, asked for them after a fresh authentication, and the person has a
  current `partner_ngos` consent. Everyone else is de-identified: a record number, counting unit,
  sex and age group. CNIC, phone, address and physical description are never exported here.
* Sources appear by pseudonym and reliability only; narrative fields (descriptions, transcripts,
  places as reported) are never exported here.
Every export is audited as `export.huridocs`, one entry per case.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from app.access import may_see_field_kind, scoped_cases
from app.audit.recorder import record
from app.exports import ConsentRefused
from app.extensions import db
from app.models.acts import Act
from app.models.cases import Case
from app.models.followups import FollowUp
from app.models.people import Person
from app.models.sources import AllegationLink, Source, Testimony
from app.models.users import User
from app.models.vocab import VocabularyTerm
from app.services import ServiceError
from app.services.allegations import qualifier
from app.services.people import has_consent

SHARING_PURPOSES = ("partner_ngos", "anonymised_only")
LISTS = {"4": "types_of_acts", "16": "types_of_source_material", "17": "types_of_locations",
         "18": "degrees_of_involvement", "19": "connection_to_event", "20": "types_of_intervention",
         "24": "types_of_perpetrators", "25": "status_of_victim", "28": "attribution",
         "30": "whereabouts"}


def _age_group(person: Person) -> str | None:
    if person.age_group and person.age_group != "unknown":
        return person.age_group
    if person.age is None:
        return None
    return ("child" if person.age < 18 else "youth" if person.age < 30 else
            "adult" if person.age < 60 else "elderly")


class _Terms:
    """Vocabulary code -> {code, huridocs: {list, term}} read once from vocabulary_terms."""

    def __init__(self) -> None:
        self.map = {(t.vocabulary, t.code): (t.huridocs_list, t.huridocs_term) for t in
                    db.session.execute(select(VocabularyTerm)).scalars()}

    def __call__(self, vocabulary: str, code: str | None) -> dict[str, Any] | None:
        if code is None:
            return None
        huri_list, term = self.map.get((vocabulary, code), (None, None))
        return {"code": code, "huridocs": {"list": huri_list, "term": term} if term else None}


def _date(value: str | None, precision: str | None) -> dict[str, Any] | None:
    return {"date": value, "precision": precision} if value else None


def _cases(actor: User, case_ids: Iterable[Any] | None) -> list[Case]:
    query = scoped_cases(actor).order_by(Case.reference)
    if not case_ids:
        return list(db.session.execute(query).scalars())
    wanted = []
    for raw in case_ids:
        try:
            wanted.append(raw if isinstance(raw, uuid.UUID) else uuid.UUID(str(raw)))
        except ValueError:
            raise ServiceError(_("%(id)s is not a case id.", id=str(raw)[:40])) from None
    found = list(db.session.execute(query.where(Case.id.in_(wanted))).scalars())
    if len(found) != len(set(wanted)):
        raise ServiceError(_("Some of these cases do not exist or are not among the cases you may "
                             "export."))
    return found


def _check_consent(case: Case, acts: list[Act], people: dict[uuid.UUID, Person],
                   numbers: dict[uuid.UUID, str]) -> list[str]:
    problems = []
    for act in acts:
        victim = people.get(act.victim_id) if act.victim_id else None
        if victim is not None and not any(has_consent(victim, p) for p in SHARING_PURPOSES):
            problems.append(_("%(case)s: the victim of act %(act)s has no consent to share with "
                              "partner organisations, not even anonymised.", case=case.reference,
                              act=numbers[act.id]))
    return problems


def export_huridocs(actor: User, case_ids: Iterable[Any] | None = None, *,
                    identities: bool = False, output: str = "json") -> dict[str, Any]:
    """The ESF export of these cases (all the actor's cases when `case_ids` is empty).

    `identities=True` names people who consented to sharing with partner NGOs; the web page passes
    it only after a fresh authentication. Raises ConsentRefused or ServiceError; audits each case.
    """
    if actor.role not in ("caseworker", "supervisor"):
        raise ServiceError(_("Only caseworkers and supervisors export case records."))
    cases = _cases(actor, case_ids)
    if not cases:
        raise ServiceError(_("There are no cases to export."))
    identities = identities and may_see_field_kind(actor, "identity")
    terms = _Terms()
    events, refusals, audits = [], [], []
    for case in cases:
        event, problems, counts = _event(case, terms, identities)
        refusals += problems
        events.append(event)
        audits.append((case, counts))
    if refusals:
        raise ConsentRefused(" ".join([_("Refused: nothing leaves without consent.")] + refusals),
                             ["victim_consent_missing"])
    for case, counts in audits:
        record("export.huridocs", actor_id=actor.id, object_type="case", object_id=case.id,
               case_id=case.id, details={"output": output, **counts})
    return {
        "format": "huridocs-esf", "version": 1,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "organisation": current_app.config["ORGANISATION_NAME"],
        "thesauri": {"name": "HURIDOCS micro-thesauri", "lists": LISTS},
        "identity_policy": ("identified only with a current partner_ngos consent"
                            if identities else "de-identified"),
        "events": events,
    }


def _event(case: Case, terms: _Terms, identities: bool) -> tuple[dict, list[str], dict]:
    acts = list(db.session.execute(select(Act).where(Act.case_id == case.id)
                                   .order_by(Act.start_earliest, Act.created_at)).scalars())
    act_numbers = {a.id: f"A{i}" for i, a in enumerate(acts, start=1)}
    person_ids = {a.victim_id for a in acts if a.victim_id}
    person_ids |= {i.perpetrator_person_id for a in acts for i in a.perpetrators
                   if i.perpetrator_person_id}
    people = {p.id: p for p in db.session.execute(
        select(Person).where(Person.id.in_(person_ids)).order_by(Person.created_at)).scalars()}
    person_numbers = {pid: f"P{i}" for i, pid in enumerate(people, start=1)}
    problems = _check_consent(case, acts, people, act_numbers)

    sources = list(db.session.execute(select(Source).where(Source.case_id == case.id)
                                      .order_by(Source.pseudonym)).scalars())
    source_numbers = {s.id: f"S{i}" for i, s in enumerate(sources, start=1)}
    testimonies = list(db.session.execute(select(Testimony).where(Testimony.case_id == case.id)
                                          .order_by(Testimony.created_at)).scalars())
    info_numbers = {t.id: f"I{i}" for i, t in enumerate(testimonies, start=1)}
    links = list(db.session.execute(select(AllegationLink).join(Act, Act.id == AllegationLink.act_id)
                                    .where(Act.case_id == case.id)).scalars())

    act_records = []
    for act in acts:
        details = act.disappearance
        act_records.append({
            "act_record_number": act_numbers[act.id],
            "type_of_act": terms("act_type", act.act_type),
            "initial_date": _date(act.start_value, act.start_precision),
            "final_date": _date(act.end_value, act.end_precision),
            "location": {"district": act.district_code,
                         "code_list_version": act.district_list_version,
                         "type_of_location": terms("location_type", act.location_type)},
            "victim": person_numbers.get(act.victim_id) if act.victim_id else None,
            "status_of_victim": terms("victim_status", act.status_of_victim),
            "allegation_status": act.allegation_status,
            "qualifier": "alleged" if qualifier(act.allegation_status) else None,
            "disappearance": None if details is None else {
                "whereabouts": terms("whereabouts", details.whereabouts),
                "deprived_of_liberty": details.deprived_of_liberty,
                "state_involvement": details.state_involvement,
                "concealment": details.concealment,
                "family_steps": [{"type": step.step, "date": step.taken_on.isoformat()
                                  if step.taken_on else None} for step in details.family_steps],
            },
            "involvements": [{
                "perpetrator": person_numbers.get(i.perpetrator_person_id)
                if i.perpetrator_person_id else None,
                "unit": i.unit,
                "type_of_perpetrator": terms("perpetrator_type", i.perpetrator_type),
                "degree_of_involvement": terms("involvement", i.degree),
                "attribution": terms("attribution", i.attribution),
            } for i in act.perpetrators],
            "information": [{
                "information": info_numbers.get(link.testimony_id) if link.testimony_id else None,
                "evidence_sha256": link.evidence.sha256 if link.evidence_id else None,
                "relation": link.relation, "checked": link.checked_on is not None,
            } for link in links if link.act_id == act.id],
        })

    identified = 0
    person_records = []
    for pid, person in people.items():
        entry: dict[str, Any] = {"person_record_number": person_numbers[pid],
                                 "counting_unit": person.counting_unit, "sex": person.sex,
                                 "age_group": _age_group(person)}
        named = (identities and person.shredded_at is None
                 and has_consent(person, "partner_ngos"))
        if named:
            identified += 1
            entry.update({
                "identified": True, "full_name": person.full_name,
                "other_names": [n.name for n in person.other_names if n.name],
                "father_name": person.father_name, "date_of_birth": person.date_of_birth,
                "age": person.age, "occupation": person.occupation,
                "affiliation": person.affiliation})
        else:
            entry["identified"] = False
        person_records.append(entry)

    follow_ups = db.session.execute(select(FollowUp).where(FollowUp.case_id == case.id)
                                    .order_by(FollowUp.taken_on)).scalars()
    event = {
        "event_record_number": case.reference,
        "status": case.status,
        "date_received": case.date_received.isoformat() if case.date_received else None,
        "acts": act_records,
        "persons": person_records,
        "sources": [{"source_record_number": source_numbers[s.id], "pseudonym": s.pseudonym,
                     "reliability": s.reliability} for s in sources],
        "information": [{
            "information_record_number": info_numbers[t.id],
            "source": source_numbers.get(t.source_id),
            "date": _date(t.given_value, t.given_precision),
            "language": t.language,
            "type_of_source_material": terms("material", t.material),
            "connection_to_event": terms("connection", t.connection),
            "credibility": t.credibility,
        } for t in testimonies],
        "interventions": [{"type_of_intervention": terms("follow_up_type", f.action_type),
                           "date": f.taken_on.isoformat() if f.taken_on else None,
                           "status": f.status} for f in follow_ups],
    }
    counts = {"acts": len(acts), "identified": identified,
              "deidentified": len(person_records) - identified}
    return event, problems, counts


CSV_COLUMNS = ("event", "act", "type_of_act", "huridocs_list", "huridocs_term", "initial_date",
               "date_precision", "district", "type_of_location", "victim", "victim_sex",
               "victim_age_group", "status_of_victim", "perpetrator_types", "allegation_status",
               "information_records")


def to_csv(export: dict[str, Any]) -> str:
    """One row per act, codes only: no name appears in the CSV even when the JSON names people."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for event in export["events"]:
        persons = {p["person_record_number"]: p for p in event["persons"]}
        for act in event["acts"]:
            victim = persons.get(act["victim"] or "", {})
            kind = act["type_of_act"] or {}
            huri = kind.get("huridocs") or {}
            writer.writerow([
                event["event_record_number"], act["act_record_number"], kind.get("code"),
                huri.get("list"), huri.get("term"),
                (act["initial_date"] or {}).get("date"), (act["initial_date"] or {}).get("precision"),
                act["location"]["district"],
                (act["location"]["type_of_location"] or {}).get("code"), act["victim"],
                victim.get("sex"), victim.get("age_group"),
                (act["status_of_victim"] or {}).get("code"),
                ";".join(i["type_of_perpetrator"]["code"] for i in act["involvements"]),
                act["allegation_status"], len(act["information"])])
    return out.getvalue()
