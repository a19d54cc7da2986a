"""Case builders for the export and duplicate tests, through the services like tests/factories.py."""

from __future__ import annotations

import uuid
from datetime import date

from flask import Flask
from sqlalchemy import select

from app.domain import dates
from app.extensions import db
from app.models.acts import Act
from app.models.cases import Case
from app.models.people import Person
from app.services import acts, people
from tests.factories import actor, make_case
from tests.support import Person as Account


def victim_and_act(case_id: uuid.UUID) -> tuple[Person, Act]:
    act = db.session.execute(select(Act).where(Act.case_id == case_id)).scalar_one()
    return act.victim, act


def consent(user, case_id: uuid.UUID, person: Person, *purposes: str) -> None:  # type: ignore[no-untyped-def]
    case = db.session.get(Case, case_id)
    for purpose in purposes:
        people.record_consent(user, case, person, {"purpose": purpose,
                                                   "given_on": date(2025, 3, 20)})


def make_complete_disappearance(app: Flask, owner: Account, *,
                                purposes: tuple[str, ...] = ("store", "share_wgeid_un"),
                                relatives_consent: bool | None = True) -> uuid.UUID:
    """make_case plus everything the WGEID asks for: perpetrators, family steps, consent, contact."""
    case_id = make_case(app, owner)
    with app.app_context():
        user = actor(owner)
        case = db.session.get(Case, case_id)
        victim, act = victim_and_act(case_id)
        people.update_person(user, case, victim, {"date_of_birth": "2003", "occupation": "Student",
                                                  "affiliation": "student"}, victim.version)
        consent(user, case_id, victim, *purposes)
        acts.add_perpetrator(user, case, act, {"unit": "Frontier Corps patrol",
                                               "perpetrator_type": "state_paramilitary",
                                               "degree": "directly_carried_out",
                                               "attribution": "denied"})
        acts.update_disappearance(user, case, act, {
            "place_last_seen": "Main bazaar, Turbat", "circumstances": "Taken from a shop at noon.",
            "taken_by": "Eight men in uniform, two double-cabin vehicles",
            "whereabouts": "capture_denied", "deprived_of_liberty": True,
            "state_involvement": True, "concealment": True,
            "relatives_consent_wgeid": relatives_consent, "source_keeps_contact": True,
            "current_status": "still_missing"}, dates.parse("2025-03-11"), act.disappearance.version)
        acts.add_family_step(user, case, act, {"step": "police_report_filed",
                                               "taken_on": date(2025, 3, 12),
                                               "court_or_office": "Police station Turbat",
                                               "reference_number": "FIR 41/2025",
                                               "outcome": "Registered after three days"})
        acts.add_family_step(user, case, act, {"step": "habeas_corpus",
                                               "taken_on": date(2025, 4, 2),
                                               "court_or_office": "Balochistan High Court",
                                               "reference_number": "CP 512/2025",
                                               "outcome": "Pending"})
        db.session.commit()
    return case_id
