"""The bundle importer as it was before app/bundle/bulk.py: every record through the services, one
call (one flush, one audit entry with its own `max(seq)`) at a time.

Kept only as the reference the bulk path is compared with (tests/test_bundle_bulk.py): for the
same bundle both must give the same records, the same exports and, case by case, the same audit
entries.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from app.audit.recorder import record
from app.bundle.bulk import DISAPPEARANCE_KEYS, PERSON_KEYS
from app.bundle.importer import ImportSummary
from app.bundle.validate import (
    STATUS_PATH,
    BundleInvalid,
    iso_date,
    partial_date_of,
    testimony_date_of,
    validate_bundle,
)
from app.domain import dates
from app.extensions import db
from app.models.acts import Act
from app.models.cases import Case
from app.models.people import Person
from app.models.sources import Source, Testimony
from app.models.users import User
from app.services import acts, allegations, cases, followups, people, sources


def _opt_date(value: str | None) -> date | None:
    return iso_date(value) if value else None


class _Writer:
    def __init__(self, actor: User, summary: ImportSummary) -> None:
        self.actor = actor
        self.summary = summary
        self.where: list[Any] = []  # the JSON path of what is being written, for refusals

    def at(self, *parts: Any) -> _Writer:
        self.where = list(parts)
        return self

    def case(self, index: int, data: dict[str, Any]) -> None:
        base = ["cases", index]
        actor = self.actor
        self.at(*base)
        case = cases.open_case(actor, {
            "title": data["title"], "summary": data.get("summary"),
            "date_received": _opt_date(data.get("date_received")),
            "intake_channel": data.get("intake_channel"),
            "tags": ", ".join(t.strip() for t in data.get("tags", [])) or None,
            "confidentiality": data.get("confidentiality", "normal")})
        self.summary.counts["cases"] += 1

        persons: dict[str, Person] = {}
        for i, item in enumerate(data.get("people", [])):
            self.at(*base, "people", i)
            values = {k: item[k] for k in PERSON_KEYS if item.get(k) is not None}
            persons[item["id"]] = people.add_person(actor, case, values,
                                                    other_names=item.get("other_names", []))
            self.summary.counts["people"] += 1

        act_rows: dict[str, Act] = {}
        for i, item in enumerate(data.get("acts", [])):
            act_rows[item["id"]] = self.act(case, base + ["acts", i], item, persons)

        source_rows: dict[str, Source] = {}
        for i, item in enumerate(data.get("sources", [])):
            self.at(*base, "sources", i)
            source_rows[item["id"]] = sources.add_source(actor, case, {
                "person_id": persons[item["person"]].id if item.get("person") else None,
                "organisation": item.get("organisation"),
                "reliability": item.get("reliability", "F"),
                "pseudonym": item.get("pseudonym")})
            self.summary.counts["sources"] += 1

        testimony_rows: dict[str, Testimony] = {}
        for i, item in enumerate(data.get("testimonies", [])):
            self.at(*base, "testimonies", i)
            values = {"source_id": source_rows[item["source"]].id, "material": item["material"],
                      "credibility": item.get("credibility", 6)}
            for key in ("language", "connection", "transcript", "notes", "interview_place"):
                if item.get(key) is not None:
                    values[key] = item[key]
            testimony_rows[item["id"]] = sources.add_testimony(actor, case, values,
                                                               testimony_date_of(item))
            self.summary.counts["testimonies"] += 1

        for i, item in enumerate(data.get("links", [])):
            self.at(*base, "links", i)
            allegations.link(actor, case, act_rows[item["act"]], relation=item["relation"],
                             testimony=testimony_rows[item["testimony"]], note=item.get("note"),
                             checked_on=_opt_date(item.get("checked_on")))
            self.summary.counts["links"] += 1

        for i, item in enumerate(data.get("acts", [])):
            status = item.get("allegation_status", "alleged")
            if status != "alleged":
                self.at(*base, "acts", i, "allegation_status")
                allegations.set_status(actor, case, act_rows[item["id"]], status)

        for i, item in enumerate(data.get("consents", [])):
            self.at(*base, "consents", i)
            person = persons[item["person"]]
            consent = people.record_consent(actor, case, person, {
                "purpose": item["purpose"], "legal_basis": item.get("legal_basis", "consent"),
                "given_on": _opt_date(item.get("given_on")),
                "recording_allowed": bool(item.get("recording_allowed", False))})
            if item.get("withdrawn_on"):
                people.withdraw_consent(actor, case, consent, iso_date(item["withdrawn_on"]))
            self.summary.counts["consents"] += 1

        for i, item in enumerate(data.get("follow_ups", [])):
            self.at(*base, "follow_ups", i)
            followups.add_follow_up(actor, case, {
                "action_type": item["type"], "taken_on": _opt_date(item.get("taken_on")),
                "by_whom": item.get("by_whom"), "to_whom": item.get("to_whom"),
                "response": item.get("response"), "status": item.get("status", "planned"),
                "next_step": item.get("next_step"),
                "next_step_on": _opt_date(item.get("next_step_on"))})
            self.summary.counts["follow_ups"] += 1

        for i, item in enumerate(data.get("notes", [])):
            self.at(*base, "notes", i)
            cases.add_note(actor, case, item["text"])
            self.summary.counts["notes"] += 1

        for i, item in enumerate(data.get("people", [])):
            if item.get("identity_erased"):
                self.at(*base, "people", i, "identity_erased")
                people.shred_identity(actor, case, persons[item["id"]], "imported_erased")

        # Status last: content can only be added while the case is editable.
        for transition in STATUS_PATH[data.get("status", "draft")]:
            self.at(*base, "status")
            cases.change_status(actor, case, transition)
        self.summary.cases.append((data["id"], case.reference, case.id))

    def act(self, case: Case, base: list[Any], item: dict[str, Any],
            persons: dict[str, Person]) -> Act:
        actor = self.actor
        self.at(*base)
        values: dict[str, Any] = {"act_type": item["type"],
                                  "status_of_victim": item.get("status_of_victim", "unknown")}
        if item.get("victim"):
            values["victim_id"] = persons[item["victim"]].id
        if item.get("district"):
            values["district_code"] = item["district"]
        for key in ("place_as_reported", "coordinates", "location_type", "description"):
            if item.get(key) is not None:
                values[key] = item[key]
        start = partial_date_of(item.get("start"))
        end = partial_date_of(item.get("end")) if item.get("end") else None
        act = acts.add_act(actor, case, values, start, end)
        self.summary.counts["acts"] += 1
        details = item.get("disappearance")
        if details is not None:
            self.at(*base, "disappearance")
            row = act.disappearance
            assert row is not None  # add_act creates it for every disappearance act type
            data = {k: details[k] for k in DISAPPEARANCE_KEYS if details.get(k) is not None}
            if details.get("current_status_on"):
                data["current_status_on"] = iso_date(details["current_status_on"])
            last_seen = (partial_date_of(details["last_seen"]) if details.get("last_seen")
                         else dates.PartialDate(None, "unknown"))
            acts.update_disappearance(actor, case, act, data, last_seen, row.version)
            for j, step in enumerate(details.get("family_steps", [])):
                self.at(*base, "disappearance", "family_steps", j)
                acts.add_family_step(actor, case, act, {
                    "step": step["step"], "taken_on": _opt_date(step.get("taken_on")),
                    "court_or_office": step.get("court_or_office"),
                    "reference_number": step.get("reference_number"),
                    "outcome": step.get("outcome")})
        for j, perpetrator in enumerate(item.get("perpetrators", [])):
            self.at(*base, "perpetrators", j)
            acts.add_perpetrator(actor, case, act, {
                "perpetrator_person_id": (persons[perpetrator["person"]].id
                                          if perpetrator.get("person") else None),
                "unit": perpetrator.get("unit"),
                "perpetrator_type": perpetrator.get("type", "unknown"),
                "degree": perpetrator.get("involvement", "unknown"),
                "attribution": perpetrator.get("attribution", "none")})
        return act



def import_through_services(actor: User, bundle: Any) -> ImportSummary:
    """Validate, write every case through the services, record `bundle.import`, commit."""
    issues = validate_bundle(bundle, actor)
    if issues:
        raise BundleInvalid(issues)
    summary = ImportSummary()
    writer = _Writer(actor, summary)
    for index, case in enumerate(bundle["cases"]):
        writer.case(index, case)
    record("bundle.import", actor_id=actor.id, object_type="bundle",
           details={"counts": summary.as_dict(), "source": "reference",
                    "case_ids": [str(c[2]) for c in summary.cases]})
    db.session.commit()
    return summary
