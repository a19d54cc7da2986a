"""A draft submission to the UN Working Group on Enforced or Involuntary Disappearances (WGEID).

It gathers the Working Group's minimum elements for one disappearance act — who the disappeared
person is, when (at least month and year) and where they were deprived of liberty, who is presumed
responsible (state agents, or others acting with the state's support or acquiescence), what the
family did to find them, the organisation submitting — plus the relatives' consent and whether the
source can keep in contact. What is missing is listed first, so a caseworker sees what to complete.

Nothing is drafted without consent: the victim's consent records must include `share_wgeid_un`
and the relatives' consent to a WGEID submission must be recorded as given. Sources appear only by
pseudonym. Every draft produced is audited as `export.wgeid`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from flask import current_app
from flask_babel import gettext as _

from app.access import Action, can, may_see_field_kind
from app.audit.recorder import record
from app.domain.vocab import DISAPPEARANCE_ACTS, label
from app.exports import ConsentRefused
from app.extensions import db
from app.models.acts import Act
from app.models.cases import Case
from app.models.people import Person
from app.models.users import User
from app.models.vocab import District
from app.services import ServiceError
from app.services.allegations import links_of, qualifier
from app.services.people import has_consent

STATE_TYPES = frozenset({"state_armed_forces", "state_paramilitary", "state_police",
                         "state_counter_terrorism", "state_intelligence",
                         "state_backed_armed_group"})
STEP_KINDS = {"police_report_filed", "police_report_refused", "habeas_corpus",
              "commission_of_inquiry_complaint", "wgeid_submission", "other"}


@dataclass
class Section:
    title: str
    rows: list[tuple[str, str]] = field(default_factory=list)

    def add(self, name: str, value: object) -> None:
        self.rows.append((name, _("not recorded") if value in (None, "") else str(value)))


@dataclass
class WgeidDraft:
    case_reference: str
    act_id: str
    title: str
    prepared_on: date
    organisation: str
    prepared_by: str
    missing: list[str]
    sections: list[Section]
    urgent: bool

    @property
    def complete(self) -> bool:
        return not self.missing

    def render_text(self) -> str:
        """Plain text for pasting into the Working Group's form or an e-mail."""
        lines = [self.title, "=" * len(self.title),
                 _("Case %(ref)s · prepared %(on)s by %(who)s, %(org)s", ref=self.case_reference,
                   on=self.prepared_on.isoformat(), who=self.prepared_by, org=self.organisation)]
        if self.urgent:
            lines.append(_("URGENT: the person was taken within the last three months."))
        lines.append("")
        if self.missing:
            lines.append(_("MISSING before this can be submitted:"))
            lines += [f"  - {item}" for item in self.missing]
            lines.append("")
        for section in self.sections:
            lines += [section.title, "-" * len(section.title)]
            lines += [f"{name}: {value}" for name, value in section.rows]
            lines.append("")
        return "\n".join(lines).rstrip() + "\n"


def _date_text(value: str | None, precision: str, as_given: str | None = None) -> str | None:
    if not value:
        return as_given
    shown = as_given or value
    return shown if precision in ("day", None) else f"{shown} ({label(precision).lower()})"


def _refusal(victim: Person | None, details) -> tuple[list[str], list[str]]:  # type: ignore[no-untyped-def]
    """(reason codes, messages) why this act may not go to the WGEID; empty when it may."""
    codes, messages = [], []
    if victim is not None and victim.shredded_at is not None:
        codes.append("identity_erased")
        messages.append(_("The disappeared person's identity was erased after consent was "
                          "withdrawn."))
    elif victim is not None and not has_consent(victim, "share_wgeid_un"):
        codes.append("victim_consent_missing")
        messages.append(_("The disappeared person's consent record does not include sharing "
                          "with the WGEID or other UN bodies."))
    if details.relatives_consent_wgeid is None:
        codes.append("relatives_consent_not_recorded")
        messages.append(_("Relatives' consent to a WGEID submission is not recorded."))
    elif details.relatives_consent_wgeid is False:
        codes.append("relatives_consent_refused")
        messages.append(_("The relatives did not consent to a WGEID submission."))
    return codes, messages


def missing_elements(act: Act) -> list[str]:
    """What the record still lacks of the WGEID minimum elements (checks presence only, so it
    can be shown even when the draft itself is refused)."""
    missing = []
    victim: Person | None = act.victim
    details = act.disappearance
    if victim is None:
        missing.append(_("No disappeared person is recorded as the victim of this act."))
    else:
        if victim.full_name_enc is None:
            missing.append(_("Full name not recorded"))
        if not victim.sex or victim.sex == "unknown":
            missing.append(_("Sex not recorded"))
        if victim.date_of_birth_enc is None and victim.age is None:
            missing.append(_("Date of birth or age not recorded"))
        if victim.cnic_enc is None:
            missing.append(_("National identity card (CNIC) number or nationality not recorded"))
    if not act.start_value or act.start_precision not in ("day", "month"):
        missing.append(_("Date of the deprivation of liberty not recorded to at least the month "
                         "and year"))
    if not act.district_code and act.place_as_reported_enc is None and (
            details is None or details.place_last_seen_enc is None):
        missing.append(_("Place of the deprivation of liberty not recorded"))
    if not act.perpetrators:
        missing.append(_("No party presumed responsible recorded"))
    state_types = {i.perpetrator_type for i in act.perpetrators} & STATE_TYPES
    if not state_types and (details is None or details.state_involvement is not True):
        missing.append(_("State involvement, at least by support or acquiescence, not recorded"))
    if details is None or not details.family_steps:
        missing.append(_("No steps by the family recorded"))
    else:
        for step in details.family_steps:
            if step.taken_on is None:
                missing.append(_("Date of a step by the family (%(step)s) not recorded",
                                 step=label(step.step).lower()))
    if details is None or details.source_keeps_contact is None:
        missing.append(_("Whether the source can keep in contact with the Working Group not "
                         "recorded"))
    return missing


def check_allowed(actor: User, case: Case, act: Act) -> None:
    """Refuse (ServiceError / ConsentRefused) unless this user may draft a WGEID submission."""
    if act.case_id != case.id:
        raise ServiceError(_("This act belongs to another case."))
    if not may_see_field_kind(actor, "identity") or not can(actor, Action.EXPORT_IDENTIFIED, case):
        raise ServiceError(_("You may not prepare submissions for this case."))
    if act.act_type not in DISAPPEARANCE_ACTS or act.disappearance is None:
        raise ServiceError(_("A WGEID submission is prepared for an enforced disappearance or an "
                             "abduction; this act is a %(type)s.", type=label(act.act_type).lower()))
    if act.victim is None:
        raise ServiceError(_("Record who was disappeared (the victim of this act) first."))
    codes, messages = _refusal(act.victim, act.disappearance)
    if codes:
        raise ConsentRefused(" ".join([_("Refused: no WGEID draft without consent.")] + messages),
                             codes, missing_elements(act))


def wgeid_draft(actor: User, case: Case, act: Act, *, output: str = "html") -> WgeidDraft:
    """The draft for one disappearance act; audited as `export.wgeid`.

    Raises ConsentRefused (with `.reasons` and `.missing`) or ServiceError; the caller commits.
    """
    check_allowed(actor, case, act)
    victim: Person = act.victim
    details = act.disappearance
    missing = missing_elements(act)

    person = Section(_("1. The disappeared person"))
    person.add(_("Full name"), victim.full_name)
    person.add(_("Other names and spellings"), "; ".join(n.name for n in victim.other_names if n.name))
    person.add(_("Father's name"), victim.father_name)
    person.add(_("Sex"), label(victim.sex) if victim.sex else None)
    person.add(_("Date of birth"), victim.date_of_birth)
    person.add(_("Age"), victim.age)
    person.add(_("National identity card (CNIC)"), victim.cnic)
    person.add(_("Nationality"), _("Pakistani (holds a CNIC)") if victim.cnic else None)
    person.add(_("Occupation"), victim.occupation)
    person.add(_("Affiliation"), victim.affiliation)
    person.add(_("Tribe or clan"), victim.tribe)
    person.add(_("Physical description"), victim.physical_description)

    district = db.session.get(District, act.district_code) if act.district_code else None
    when = Section(_("2. Date and place of the deprivation of liberty"))
    when.add(_("Violation"), f"{label(act.act_type)} ({qualifier(act.allegation_status)})"
             if qualifier(act.allegation_status) else label(act.act_type))
    when.add(_("Date"), _date_text(act.start_value, act.start_precision, act.start_as_given))
    when.add(_("Last seen"), " ".join(filter(None, [
        _date_text(details.last_seen_value, details.last_seen_precision),
        details.last_seen_time])) or None)
    when.add(_("District"), f"{district.name}, {district.province} ({district.code})"
             if district else None)
    when.add(_("Place as reported"), act.place_as_reported)
    when.add(_("Place last seen"), details.place_last_seen)
    when.add(_("Type of place"), label(act.location_type) if act.location_type else None)
    when.add(_("Circumstances"), details.circumstances)
    when.add(_("Who took the person and how"), details.taken_by)
    when.add(_("Deprived of liberty"), _yes_no(details.deprived_of_liberty))

    responsible = Section(_("3. Parties presumed responsible"))
    for number, involvement in enumerate(act.perpetrators, start=1):
        who = involvement.unit or (_("a person recorded in the case")
                                   if involvement.perpetrator_person_id else None)
        parts = [who or _("unnamed"), label(involvement.perpetrator_type),
                 _("involvement: %(d)s", d=label(involvement.degree).lower())]
        if involvement.attribution != "none":
            parts.append(_("their response: %(a)s", a=label(involvement.attribution).lower()))
        responsible.add(_("Alleged perpetrator %(n)d", n=number), " · ".join(parts))
    responsible.add(_("State involvement (at least by support or acquiescence)"),
                    _yes_no(details.state_involvement))
    responsible.add(_("Refusal to acknowledge, or concealment of fate or whereabouts"),
                    _yes_no(details.concealment))

    steps = Section(_("4. Steps taken by the family"))
    for step in details.family_steps:
        text = " · ".join(filter(None, [
            step.taken_on.isoformat() if step.taken_on else _("date not recorded"),
            step.court_or_office, _("no. %(n)s", n=step.reference_number) if step.reference_number
            else None, _("outcome: %(o)s", o=step.outcome) if step.outcome else
            _("outcome not recorded")]))
        steps.add(label(step.step), text)
    if not details.family_steps:
        steps.add(_("Steps"), None)

    whereabouts = Section(_("5. Whereabouts and present status"))
    whereabouts.add(_("Whereabouts"), label(details.whereabouts))
    whereabouts.add(_("Status of the person"), label(details.current_status or act.status_of_victim))
    whereabouts.add(_("Status as of"), details.current_status_on.isoformat()
                    if details.current_status_on else None)

    sources = Section(_("6. Information this rests on (sources by pseudonym)"))
    for link in links_of(act):
        if link.testimony is not None:
            source = link.testimony.source
            sources.add(source.pseudonym, " · ".join([
                label(link.relation), label(link.testimony.material),
                _("reliability %(r)s, credibility %(c)s", r=source.reliability,
                  c=link.testimony.credibility),
                link.testimony.given_value or _("date not recorded")]))
        elif link.evidence is not None:
            sources.add(_("Evidence item"), f"{label(link.relation)} · {link.evidence.media_type}")
    if not sources.rows:
        sources.add(_("Sources"), None)

    organisation = current_app.config["ORGANISATION_NAME"]
    submitter = Section(_("7. Submitted by, consent and contact"))
    submitter.add(_("Organisation"), organisation)
    submitter.add(_("Prepared by"), actor.name)
    submitter.add(_("Relationship to the disappeared person"),
                  _("Human-rights organisation documenting the case at the family's request"))
    submitter.add(_("Relatives consent to this submission"), _yes_no(details.relatives_consent_wgeid))
    submitter.add(_("Consent of the disappeared person's record for WGEID/UN sharing"),
                  _("yes") if has_consent(victim, "share_wgeid_un") else _("no"))
    submitter.add(_("The source can keep in contact with the Working Group"),
                  _yes_no(details.source_keeps_contact))

    draft = WgeidDraft(
        case_reference=case.reference, act_id=str(act.id),
        title=_("Draft submission to the UN Working Group on Enforced or Involuntary "
                "Disappearances"),
        prepared_on=date.today(), organisation=organisation, prepared_by=actor.name,
        missing=missing, sections=[person, when, responsible, steps, whereabouts, sources,
                                   submitter],
        urgent=_urgent(act))
    record("export.wgeid", actor_id=actor.id, object_type="act", object_id=act.id,
           case_id=case.id, details={"output": output, "missing": len(missing),
                                     "person": str(victim.id)})
    return draft


def _urgent(act: Act) -> bool:
    """Taken within the last three months: the Working Group's urgent-action procedure."""
    if act.start_latest is None or act.status_of_victim not in ("still_missing", "unknown"):
        return False
    return (date.today() - act.start_latest).days <= 92


def _yes_no(value: bool | None) -> str | None:
    return None if value is None else (_("yes") if value else _("no"))


def record_refusal(actor: User, case: Case, act: Act, error: ServiceError, output: str) -> None:
    """A refused attempt is audited too (in its own transaction, after the caller's rollback)."""
    record("export.wgeid", actor_id=actor.id, object_type="act", object_id=act.id,
           case_id=case.id, details={"output": output, "refused": getattr(error, "reasons", None)
                                     or ["not_allowed"]})
