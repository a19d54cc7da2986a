"""Writing a validated bundle in bulk (import rule 3): the rows, ciphertext, rules and audit
entries the services produce one call at a time, reached through a few batched statements.

The rules stay with the services: each record goes through the same functions the case pages
use (`cases._validate`, `people._validate`, `acts._validate` and `_apply_dates`,
`acts.validate_disappearance` / `validate_family_step` / `validate_perpetrator`,
`sources.validate_source` / `_validate_testimony`, `allegations.validate_link` and
`allowed_statuses`, `people.validate_consent` / `validate_withdrawal`, `followups._validate`,
`cases.note_text`, `cases.transition_target`, `cases.make_restricted`,
`people.shred_identity`), `populate` applies only declared fields and refuses NUL, and the
models' encrypted fields encrypt every value (per-person keys, associated data, blind indexes)
exactly as on the case pages. What differs is how the rows reach the database:

- cases are written in chunks of CHUNK; per chunk, rows are added to the session and flushed
  four times (cases; people; acts with their details, perpetrators and sources; the rest),
  each flush one multi-row INSERT per table, instead of a flush per service call;
- the chunk's person keys are generated, wrapped and stored in one go (`KeyRing.new_keys`);
- vocabulary and district look-ups and the active general key are read once per import
  (`vocabularies.lookups_cached`, `KeyRing.active_keys_pinned`);
- `can(actor, action, case)` is asked once per kind of case (status, confidentiality...) and
  visibility checked for all the chunk's cases in one query with the policy's own clause;
- audit entries are recorded in the order the services record them, and inserted once per
  chunk with contiguous `seq` (`app.audit.recorder.batched`);
- reference numbers for all the cases are taken from the counter in one locked update.

Records are new, so the services' "already linked" query and optimistic-lock version checks
have nothing to compare against and are not repeated; the validator has refused duplicate
links within a bundle.
"""

from __future__ import annotations

import gc
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from flask_babel import gettext as _
from sqlalchemy import select

from app.access import Action, can, visibility_clause
from app.audit.recorder import AuditBatch, batched, record
from app.bundle.validate import STATUS_PATH, iso_date, partial_date_of, testimony_date_of
from app.crypto import runtime
from app.crypto.keyring import PURPOSE_PERSON, KeyRing
from app.domain import dates
from app.domain.vocab import ALLEGATION_STATUS, DISAPPEARANCE_ACTS, SEXUAL_VIOLENCE_ACTS
from app.extensions import db
from app.models.acts import Act, DisappearanceDetails, FamilyStep, Involvement
from app.models.cases import Case, CaseNote
from app.models.followups import FollowUp
from app.models.people import ConsentRecord, Person, PersonName
from app.models.sources import AllegationLink, Source, Testimony
from app.models.users import User
from app.services import ServiceError, acts, allegations, followups, people, sources, vocabularies
from app.services import cases as case_service
from app.services.changes import audit_fields, populate

if TYPE_CHECKING:
    from app.bundle.importer import ImportSummary

CHUNK = 200  # cases per chunk: a few thousand rows per flush, few objects held at once

PERSON_KEYS = ("counting_unit", "full_name", "father_name", "tribe", "sex", "date_of_birth",
               "age", "age_group", "cnic", "phone", "address", "occupation", "affiliation",
               "physical_description")
DISAPPEARANCE_KEYS = ("last_seen_time", "place_last_seen", "circumstances", "taken_by",
                      "whereabouts", "deprived_of_liberty", "state_involvement", "concealment",
                      "relatives_consent_wgeid", "source_keeps_contact", "current_status")
FAMILY_STEP_FIELDS = ("step", "taken_on", "court_or_office", "reference_number", "outcome")
INVOLVEMENT_FIELDS = ("perpetrator_person_id", "unit", "perpetrator_type", "degree",
                      "attribution")
SOURCE_FIELDS = ("person_id", "organisation", "reliability", "pseudonym")
CONSENT_FIELDS = ("purpose", "legal_basis", "given_on", "recording_allowed")


def _opt_date(value: str | None) -> date | None:
    return iso_date(value) if value else None


@dataclass
class _CaseState:
    """One bundle case while it is written: its row and its records by bundle id."""

    index: int
    data: dict[str, Any]
    case: Case
    persons: dict[str, Person] = field(default_factory=dict)
    acts: dict[str, Act] = field(default_factory=dict)
    sources: dict[str, Source] = field(default_factory=dict)
    testimonies: dict[str, Testimony] = field(default_factory=dict)
    links: dict[str, list[AllegationLink]] = field(default_factory=dict)  # by act bundle id

    def base(self) -> list[Any]:
        return ["cases", self.index]


@contextmanager
def bulk_session() -> Iterator[AuditBatch]:
    """Look-ups read once, the active general key pinned, audit entries batched, and the cycle
    collector told to leave alone what already exists."""
    with _frozen_heap(), vocabularies.lookups_cached(), KeyRing.active_keys_pinned(), \
            batched() as batch:
        yield batch


@contextmanager
def _frozen_heap() -> Iterator[None]:
    """A parsed bundle of 10,000 cases is millions of small dicts, lists and strings; each full
    collection of the cycle collector would walk them all again while the import allocates its
    rows (a fifth of the import's time). Frozen, they are skipped until the import is over;
    nothing is lost (they are only collected later, like anything else)."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


class BulkWriter:
    """Writes validated bundle cases; `where` is the JSON path of what is being written, so a
    refusal names the record at fault."""

    def __init__(self, actor: User, summary: ImportSummary, batch: AuditBatch) -> None:
        self.actor = actor
        self.summary = summary
        self.batch = batch
        self.where: list[Any] = []
        self._answers: dict[tuple, bool] = {}
        self._visible: set[uuid.UUID] = set()
        self._last_created: datetime | None = None

    def at(self, *parts: Any) -> None:
        self.where = list(parts)

    def check_visible(self, new_cases: list[Case]) -> None:
        """Which of these just-flushed cases the actor may see, by the access policy's own
        clause, in one query (they all should: the actor owns them)."""
        ids = [case.id for case in new_cases]
        self._visible.update(db.session.execute(select(Case.id).where(
            Case.id.in_(ids), visibility_clause(self.actor))).scalars())

    def may(self, case: Case, action: Action) -> bool:
        """`can(actor, action, case)`, asked once per kind of case rather than once per case.

        Everything `can` reads of a case the importer has just created is the same for all of
        them but its id: owner (the actor), team, confidentiality, status, no named members.
        Whether each one is visible is checked per case by `check_visible`; `can` is asked for
        the first case of each kind and its answer reused for the others of that kind.
        """
        key = (action, case.status, case.confidentiality, case.owner_id, case.team_id,
               case.id in self._visible)
        if key not in self._answers:
            edit_key = (Action.EDIT, *key[1:])
            if action == Action.VIEW and self._answers.get(edit_key):
                self._answers[key] = True  # whoever may edit a case may view it (app.access)
            else:
                self._answers[key] = can(self.actor, action, case)
        return self._answers[key]

    def _editable(self, case: Case) -> None:
        if not self.may(case, Action.EDIT):
            raise ServiceError(_("This case cannot be edited in its current state."))

    def _created_now(self) -> datetime:
        """Now, but always after the previous row's time: pages and exports list records in
        creation order (created_at), and rows flushed together must keep the order they were
        made in, as they do when each service call flushes on its own."""
        now = datetime.now(UTC)
        if self._last_created is not None and now <= self._last_created:
            now = self._last_created + timedelta(microseconds=1)
        self._last_created = now
        return now

    def _add(self, row: Any, count: str | None = None) -> None:
        row.created_at = row.updated_at = self._created_now()
        db.session.add(row)
        if count:
            self.summary.counts[count] += 1

    # -- the whole bundle ----------------------------------------------------------------------
    def write(self, bundle_cases: list[dict[str, Any]]) -> None:
        references = case_service.reserve_references(len(bundle_cases))
        for start in range(0, len(bundle_cases), CHUNK):
            chunk = bundle_cases[start:start + CHUNK]
            states = [self.open_case(start + i, data, references[start + i])
                      for i, data in enumerate(chunk)]
            db.session.flush()
            self.check_visible([state.case for state in states])
            keys = iter(runtime.keyring().new_keys(PURPOSE_PERSON, sum(
                len(state.data.get("people", [])) for state in states)))
            self._phase(states, partial(self.add_people, keys=keys))
            self._phase(states, self.add_acts_and_sources)
            self._phase(states, self.add_the_rest)
            self.batch.write()
            for state in states:
                self.summary.cases.append((state.data["id"], state.case.reference, state.case.id))

    def _phase(self, states: list[_CaseState], step: Callable[[_CaseState], None]) -> None:
        for state in states:
            step(state)
        db.session.flush()

    # -- phase 0: the case ---------------------------------------------------------------------
    def open_case(self, index: int, data: dict[str, Any], reference: str) -> _CaseState:
        actor = self.actor
        self.at("cases", index)
        if actor.role not in ("caseworker", "supervisor"):
            raise ServiceError(_("Only caseworkers and supervisors document cases."))
        values = {"title": data["title"], "summary": data.get("summary"),
                  "date_received": _opt_date(data.get("date_received")),
                  "intake_channel": data.get("intake_channel"),
                  "tags": ", ".join(t.strip() for t in data.get("tags", [])) or None,
                  "confidentiality": data.get("confidentiality", "normal")}
        case_service._validate(values)
        values["team_id"] = actor.teams[0].id if actor.teams else None
        case_service._check_team(actor, values["team_id"])
        case = Case(id=uuid.uuid4(), reference=reference, status="draft", owner_id=actor.id,
                    created_by_id=actor.id, updated_by_id=actor.id, confidentiality="normal")
        changes = populate(case, values, case_service.CASE_FIELDS)
        self._add(case, "cases")
        record("case.create", actor_id=actor.id, object_type="case", object_id=case.id,
               case_id=case.id, details={"fields": audit_fields(changes)})
        return _CaseState(index, data, case)

    # -- phase 1: people -----------------------------------------------------------------------
    def add_people(self, state: _CaseState, keys: Iterator[int]) -> None:
        actor, case = self.actor, state.case
        for i, item in enumerate(state.data.get("people", [])):
            key_id = next(keys)  # made and wrapped for the whole chunk at once
            self.at(*state.base(), "people", i)
            if not self.may(case, Action.EDIT):
                raise ServiceError(_("This case cannot be edited."))
            values = {k: item[k] for k in PERSON_KEYS if item.get(k) is not None}
            people._validate(values)
            person = Person(id=uuid.uuid4(), case_id=case.id, created_by_id=actor.id,
                            updated_by_id=actor.id, counting_unit="individual",
                            data_key_id=key_id)
            changes = populate(person, values, people.PERSON_FIELDS)
            self._add(person, "people")
            names = people.wanted_names(item.get("other_names", []))
            for name in names:
                other = PersonName(id=uuid.uuid4(), person_id=person.id, data_key_id=key_id)
                other.name = name  # encrypted under the person's own key
                self._add(other)
            fields = audit_fields(changes) + (["other_names"] if names else [])
            record("person.create", actor_id=actor.id, object_type="person", object_id=person.id,
                   case_id=case.id, details={"fields": fields})
            state.persons[item["id"]] = person

    # -- phase 2: acts (with disappearance details, family steps, perpetrators), sources -------
    def add_acts_and_sources(self, state: _CaseState) -> None:
        for i, item in enumerate(state.data.get("acts", [])):
            state.acts[item["id"]] = self.add_act(state, state.base() + ["acts", i], item)
        actor, case = self.actor, state.case
        for i, item in enumerate(state.data.get("sources", [])):
            self.at(*state.base(), "sources", i)
            self._editable(case)
            values = {"person_id": state.persons[item["person"]].id if item.get("person") else None,
                      "organisation": item.get("organisation"),
                      "reliability": item.get("reliability", "F"),
                      "pseudonym": item.get("pseudonym")}
            pseudonym = sources.validate_source(case, values, existing=len(state.sources))
            source = Source(id=uuid.uuid4(), case_id=case.id, created_by_id=actor.id,
                            updated_by_id=actor.id)
            changes = populate(source, {**values, "pseudonym": pseudonym}, SOURCE_FIELDS)
            self._add(source, "sources")
            record("source.create", actor_id=actor.id, object_type="source", object_id=source.id,
                   case_id=case.id, details={"fields": audit_fields(changes)})
            state.sources[item["id"]] = source

    def add_act(self, state: _CaseState, base: list[Any], item: dict[str, Any]) -> Act:
        actor, case = self.actor, state.case
        self.at(*base)
        values: dict[str, Any] = {"act_type": item["type"],
                                  "status_of_victim": item.get("status_of_victim", "unknown")}
        if item.get("victim"):
            values["victim_id"] = state.persons[item["victim"]].id
        if item.get("district"):
            values["district_code"] = item["district"]
        for key in ("place_as_reported", "coordinates", "location_type", "description"):
            if item.get(key) is not None:
                values[key] = item[key]
        start = partial_date_of(item.get("start"))
        end = partial_date_of(item.get("end")) if item.get("end") else None
        self._editable(case)
        acts._validate(case, values)
        act = Act(id=uuid.uuid4(), case_id=case.id, created_by_id=actor.id,
                  updated_by_id=actor.id, allegation_status="alleged", status_of_victim="unknown")
        changes = populate(act, values, acts.ACT_FIELDS)
        acts._apply_dates(act, start, end or dates.PartialDate(None, "unknown"))
        if act.district_code:
            act.district_list_version = vocabularies.require_district(
                act.district_code).list_version
        self._add(act, "acts")
        details = None
        if act.act_type in DISAPPEARANCE_ACTS:
            # As the row add_act creates reads once stored: its defaults set.
            details = DisappearanceDetails(id=uuid.uuid4(), act_id=act.id, whereabouts="unknown",
                                           last_seen_precision="unknown")
            self._add(details)
        record("act.create", actor_id=actor.id, object_type="act", object_id=act.id,
               case_id=case.id, details={"fields": audit_fields(changes) + ["start"],
                                         "act_type": act.act_type})
        if act.act_type in SEXUAL_VIOLENCE_ACTS:
            case_service.make_restricted(actor, case, reason="sexual_violence_act")
        if item.get("disappearance") is not None:
            self.at(*base, "disappearance")
            if details is None:
                raise ServiceError(_("This act is not a disappearance."))
            self.disappearance(state, base, act, details, item["disappearance"])
        for j, perpetrator in enumerate(item.get("perpetrators", [])):
            self.at(*base, "perpetrators", j)
            self._editable(case)
            values = {"perpetrator_person_id": (state.persons[perpetrator["person"]].id
                                                if perpetrator.get("person") else None),
                      "unit": perpetrator.get("unit"),
                      "perpetrator_type": perpetrator.get("type", "unknown"),
                      "degree": perpetrator.get("involvement", "unknown"),
                      "attribution": perpetrator.get("attribution", "none")}
            acts.validate_perpetrator(case, values)
            involvement = Involvement(id=uuid.uuid4(), act_id=act.id, created_by_id=actor.id,
                                      updated_by_id=actor.id)
            changes = populate(involvement, values, INVOLVEMENT_FIELDS)
            self._add(involvement)
            record("involvement.create", actor_id=actor.id, object_type="involvement",
                   object_id=involvement.id, case_id=case.id,
                   details={"fields": audit_fields(changes), "act": str(act.id)})
        return act

    def disappearance(self, state: _CaseState, base: list[Any], act: Act,
                      row: DisappearanceDetails, details: dict[str, Any]) -> None:
        actor, case = self.actor, state.case
        self._editable(case)
        data = {k: details[k] for k in DISAPPEARANCE_KEYS if details.get(k) is not None}
        if details.get("current_status_on"):
            data["current_status_on"] = iso_date(details["current_status_on"])
        last_seen = (partial_date_of(details["last_seen"]) if details.get("last_seen")
                     else dates.PartialDate(None, "unknown"))
        acts.validate_disappearance(data)
        changes = populate(row, data, acts.DISAPPEARANCE_FIELDS)
        if (row.last_seen_value, row.last_seen_precision) != (last_seen.value,
                                                               last_seen.precision):
            row.last_seen_value, row.last_seen_precision = last_seen.value, last_seen.precision
            changes["last_seen"] = (None, None)
        if changes:
            record("disappearance.update", actor_id=actor.id, object_type="act",
                   object_id=act.id, case_id=case.id, details={"fields": audit_fields(changes)})
        for j, step in enumerate(details.get("family_steps", [])):
            self.at(*base, "disappearance", "family_steps", j)
            self._editable(case)
            values = {"step": step["step"], "taken_on": _opt_date(step.get("taken_on")),
                      "court_or_office": step.get("court_or_office"),
                      "reference_number": step.get("reference_number"),
                      "outcome": step.get("outcome")}
            acts.validate_family_step(values)
            family_step = FamilyStep(id=uuid.uuid4(), disappearance_id=row.id,
                                     created_by_id=actor.id, updated_by_id=actor.id)
            changes = populate(family_step, values, FAMILY_STEP_FIELDS)
            self._add(family_step)
            record("family_step.create", actor_id=actor.id, object_type="family_step",
                   object_id=family_step.id, case_id=case.id,
                   details={"fields": audit_fields(changes)})

    # -- phase 3: testimonies, links, statuses, consents, follow-ups, notes, erasures, status --
    def add_the_rest(self, state: _CaseState) -> None:
        self.add_testimonies_and_links(state)
        self.set_allegation_statuses(state)
        self.add_consents(state)
        self.add_follow_ups_and_notes(state)
        actor, case, base = self.actor, state.case, state.base()
        for i, item in enumerate(state.data.get("people", [])):
            if item.get("identity_erased"):
                self.at(*base, "people", i, "identity_erased")
                people.shred_identity(actor, case, state.persons[item["id"]], "imported_erased")
        # Status last: content can only be added while the case is editable.
        for transition in STATUS_PATH[state.data.get("status", "draft")]:
            self.at(*base, "status")
            target = case_service.transition_target(case, transition,
                                                    lambda action: self.may(case, action))
            old, case.status, case.updated_by_id = case.status, target, actor.id
            record("case.status", actor_id=actor.id, object_type="case", object_id=case.id,
                   case_id=case.id, details={"from": old, "to": target, "comment": False})

    def add_testimonies_and_links(self, state: _CaseState) -> None:
        actor, case, base = self.actor, state.case, state.base()
        for i, item in enumerate(state.data.get("testimonies", [])):
            self.at(*base, "testimonies", i)
            self._editable(case)
            values = {"source_id": state.sources[item["source"]].id, "material": item["material"],
                      "credibility": item.get("credibility", 6)}
            for key in ("language", "connection", "transcript", "notes", "interview_place"):
                if item.get(key) is not None:
                    values[key] = item[key]
            given = testimony_date_of(item)
            sources._validate_testimony(case, values)
            testimony = Testimony(id=uuid.uuid4(), case_id=case.id, created_by_id=actor.id,
                                  updated_by_id=actor.id, interviewer_id=actor.id, credibility=6)
            changes = populate(testimony, values, sources.TESTIMONY_FIELDS)
            testimony.given_value, testimony.given_precision = given.value, given.precision
            self._add(testimony, "testimonies")
            record("testimony.create", actor_id=actor.id, object_type="testimony",
                   object_id=testimony.id, case_id=case.id,
                   details={"fields": audit_fields(changes)})
            state.testimonies[item["id"]] = testimony
        for i, item in enumerate(state.data.get("links", [])):
            self.at(*base, "links", i)
            self._editable(case)
            act, testimony = state.acts[item["act"]], state.testimonies[item["testimony"]]
            allegations.validate_link(case, act, item["relation"], testimony, None)
            link = AllegationLink(id=uuid.uuid4(), act_id=act.id, relation=item["relation"],
                                  testimony_id=testimony.id, evidence_id=None,
                                  checked_on=_opt_date(item.get("checked_on")),
                                  created_by_id=actor.id, updated_by_id=actor.id)
            link.testimony = testimony  # what support_of() reads
            link.note = (item.get("note") or "").strip() or None
            self._add(link, "links")
            record("link.create", actor_id=actor.id, object_type="allegation_link",
                   object_id=link.id, case_id=case.id,
                   details={"act": str(act.id), "relation": item["relation"],
                            "material": "testimony"})
            state.links.setdefault(item["act"], []).append(link)

    def set_allegation_statuses(self, state: _CaseState) -> None:
        actor, case = self.actor, state.case
        for i, item in enumerate(state.data.get("acts", [])):
            status = item.get("allegation_status", "alleged")
            if status == "alleged":
                continue
            self.at(*state.base(), "acts", i, "allegation_status")
            act = state.acts[item["id"]]
            if not self.may(case, Action.EDIT) and not self.may(case, Action.REVIEW):
                raise ServiceError(_("This case cannot be edited in its current state."))
            if status not in ALLEGATION_STATUS:
                raise ServiceError(_("Unknown allegation status."), field="status")
            support = allegations.support_of(act, state.links.get(item["id"], []))
            # Only finding and unsubstantiated depend on being a supervisor of the case; for the
            # other statuses the answer is the same either way, so the question is not asked.
            supervisor = (self.may(case, Action.REVIEW)
                          if status in ("finding", "unsubstantiated") else False)
            if status not in allegations.allowed_statuses(actor, case, act, support=support,
                                                          supervisor=supervisor):
                raise allegations.status_refusal(status, support)
            if act.allegation_status != status:
                old, act.allegation_status = act.allegation_status, status
                record("act.allegation_status", actor_id=actor.id, object_type="act",
                       object_id=act.id, case_id=case.id, details={"from": old, "to": status})

    def add_consents(self, state: _CaseState) -> None:
        actor, case = self.actor, state.case
        for i, item in enumerate(state.data.get("consents", [])):
            self.at(*state.base(), "consents", i)
            person = state.persons[item["person"]]
            if not self.may(case, Action.EDIT) or person.case_id != case.id:
                raise ServiceError(_("This case cannot be edited."))
            values = {"purpose": item["purpose"], "legal_basis": item.get("legal_basis", "consent"),
                      "given_on": _opt_date(item.get("given_on")),
                      "recording_allowed": bool(item.get("recording_allowed", False))}
            people.validate_consent(values)
            consent = ConsentRecord(id=uuid.uuid4(), person_id=person.id, created_by_id=actor.id,
                                    updated_by_id=actor.id, obtained_by_id=actor.id)
            populate(consent, values, CONSENT_FIELDS)
            self._add(consent, "consents")
            record("consent.record", actor_id=actor.id, object_type="consent",
                   object_id=consent.id, case_id=case.id,
                   details={"purpose": consent.purpose, "person": str(person.id)})
            if item.get("withdrawn_on"):
                withdrawn = iso_date(item["withdrawn_on"])
                people.validate_withdrawal(consent, withdrawn)
                consent.withdrawn_on = withdrawn
                record("consent.withdraw", actor_id=actor.id, object_type="consent",
                       object_id=consent.id, case_id=case.id,
                       details={"purpose": consent.purpose})

    def add_follow_ups_and_notes(self, state: _CaseState) -> None:
        actor, case, base = self.actor, state.case, state.base()
        for i, item in enumerate(state.data.get("follow_ups", [])):
            self.at(*base, "follow_ups", i)
            self._editable(case)
            values = {"action_type": item["type"], "taken_on": _opt_date(item.get("taken_on")),
                      "by_whom": item.get("by_whom"), "to_whom": item.get("to_whom"),
                      "response": item.get("response"), "status": item.get("status") or "planned",
                      "next_step": item.get("next_step"),
                      "next_step_on": _opt_date(item.get("next_step_on"))}
            followups._validate(values)
            follow_up = FollowUp(id=uuid.uuid4(), case_id=case.id, created_by_id=actor.id,
                                 updated_by_id=actor.id)
            changes = populate(follow_up, values, followups.FOLLOW_UP_FIELDS)
            self._add(follow_up, "follow_ups")
            record("follow_up.create", actor_id=actor.id, object_type="follow_up",
                   object_id=follow_up.id, case_id=case.id,
                   details={"fields": audit_fields(changes), "type": follow_up.action_type})
        for i, item in enumerate(state.data.get("notes", [])):
            self.at(*base, "notes", i)
            if not self.may(case, Action.VIEW) or actor.role not in ("caseworker", "supervisor"):
                raise ServiceError(_("You may not add notes to this case."))
            note = CaseNote(id=uuid.uuid4(), case_id=case.id, created_by_id=actor.id,
                            updated_by_id=actor.id)
            note.text = case_service.note_text(item["text"])
            self._add(note, "notes")
            record("case.note", actor_id=actor.id, object_type="case_note", object_id=note.id,
                   case_id=case.id)
