"""A case summary for a lawyer or a UN submission: each act, its allegation status (every act below
a supervisor's finding is called "alleged"), and the material for and against it by source
pseudonym, with reliability and credibility.

Identities and narrative appear only when the user asked for them after a fresh authentication
AND the person consented to use before courts (`courts`); everyone else stays masked, and an act's
description and place as reported are shown only when its victim is identified. Audited as
`export.case_report`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from app.access import Action, can, may_see_field_kind
from app.audit.recorder import record
from app.domain.vocab import label
from app.extensions import db
from app.models.acts import Act
from app.models.cases import Case
from app.models.people import Person
from app.models.users import User
from app.models.vocab import District
from app.services import ServiceError
from app.services.allegations import links_of, qualifier, support_of
from app.services.people import has_consent, mask, people_of

PURPOSE = "courts"


@dataclass
class PersonLine:
    number: str
    identified: bool
    name: str
    father_name: str
    details: str


@dataclass
class MaterialLine:
    relation: str
    source: str  # pseudonym, or "evidence item"
    reliability: str
    credibility: str
    material: str
    given: str
    checked: bool
    sha256: str | None = None


@dataclass
class ActSection:
    number: str
    heading: str
    status: str
    alleged: bool
    when: str
    where: str
    victim: PersonLine | None
    status_of_victim: str
    perpetrators: list[str]
    description: str | None
    place: str | None
    unsupported: bool
    independent_sources: int
    material: dict[str, list[MaterialLine]] = field(default_factory=dict)


@dataclass
class CaseReport:
    case_reference: str
    case_status: str
    prepared_on: date
    prepared_by: str
    organisation: str
    identities_requested: bool
    people: list[PersonLine]
    acts: list[ActSection]

    @property
    def identified_count(self) -> int:
        return sum(1 for p in self.people if p.identified)


def _person_line(number: str, person: Person, reveal: bool) -> PersonLine:
    details = ", ".join(filter(None, [label(person.sex) if person.sex else None,
                                      str(person.age) if person.age is not None else None]))
    if person.shredded_at is not None:
        return PersonLine(number, False, _("[identity erased]"), "", details)
    if reveal:
        return PersonLine(number, True, person.full_name or _("unnamed person"),
                          person.father_name or "", details)
    return PersonLine(number, False, mask(person.full_name) or _("unnamed person"),
                      mask(person.father_name), details)


def case_report(actor: User, case: Case, *, identities: bool = False,
                output: str = "html") -> CaseReport:
    """Build the report; `identities=True` only after the caller checked a fresh authentication."""
    if not may_see_field_kind(actor, "narrative") or not can(actor, Action.VIEW, case):
        raise ServiceError(_("You may not prepare a report of this case."))
    identities = identities and can(actor, Action.EXPORT_IDENTIFIED, case)
    people = people_of(case)
    numbers = {p.id: f"P{i}" for i, p in enumerate(people, start=1)}
    revealed = {p.id for p in people
                if identities and p.shredded_at is None and has_consent(p, PURPOSE)}
    lines = {p.id: _person_line(numbers[p.id], p, p.id in revealed) for p in people}
    districts = {d.code: d.name for d in db.session.execute(select(District)).scalars()}
    acts = list(db.session.execute(select(Act).where(Act.case_id == case.id)
                                   .order_by(Act.start_earliest, Act.created_at)).scalars())
    sections = []
    for index, act in enumerate(acts, start=1):
        links = links_of(act)
        support = support_of(act, links)
        material: dict[str, list[MaterialLine]] = {"supports": [], "contradicts": [], "mentions": []}
        for link in links:
            if link.testimony is not None:
                t = link.testimony
                line = MaterialLine(link.relation, t.source.pseudonym, t.source.reliability,
                                    str(t.credibility), label(t.material),
                                    t.given_value or "", link.checked_on is not None)
            else:
                line = MaterialLine(link.relation, _("evidence item"), "", "",
                                    link.evidence.media_type if link.evidence else "", "",
                                    link.checked_on is not None,
                                    link.evidence.sha256 if link.evidence else None)
            material.setdefault(link.relation, []).append(line)
        victim_shown = act.victim_id in revealed
        perpetrators = []
        for i in act.perpetrators:
            who = i.unit or (lines[i.perpetrator_person_id].name
                             if i.perpetrator_person_id in lines else _("unnamed"))
            text = f"{who} · {label(i.perpetrator_type)} · {label(i.degree)}"
            if i.attribution != "none":
                text += " · " + _("their response: %(a)s", a=label(i.attribution).lower())
            perpetrators.append(text)
        when = act.start_as_given or act.start_value or _("date unknown")
        if act.start_precision not in ("day", "unknown"):
            when += f" ({label(act.start_precision).lower()})"
        sections.append(ActSection(
            number=f"A{index}", heading=label(act.act_type), status=label(act.allegation_status),
            alleged=bool(qualifier(act.allegation_status)), when=when,
            where=districts.get(act.district_code or "", _("district not recorded")),
            victim=lines.get(act.victim_id) if act.victim_id else None,
            status_of_victim=label(act.status_of_victim), perpetrators=perpetrators,
            description=act.description if victim_shown else None,
            place=act.place_as_reported if victim_shown else None,
            unsupported=support.unsupported, independent_sources=support.independent_sources,
            material=material))
    report = CaseReport(
        case_reference=case.reference, case_status=label(case.status), prepared_on=date.today(),
        prepared_by=actor.name, organisation=current_app.config["ORGANISATION_NAME"],
        identities_requested=identities, people=list(lines.values()), acts=sections)
    record("export.case_report", actor_id=actor.id, object_type="case", object_id=case.id,
           case_id=case.id, details={"output": output, "identities_requested": identities,
                                     "identified": sorted(str(pid) for pid in revealed),
                                     "masked": len(people) - len(revealed)})
    return report

