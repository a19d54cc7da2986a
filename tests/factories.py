"""Factories for case data, built through the services so every rule and audit entry applies."""

from __future__ import annotations

import uuid

from flask import Flask

from app.domain import dates
from app.extensions import db
from app.models.cases import Case
from app.models.users import User
from app.services import acts, allegations, cases, people, sources
from tests.support import Person as Account


def actor(app_user: Account) -> User:
    return db.session.get(User, app_user.id)


def make_case(app: Flask, owner: Account, *, title: str = "Abduction of a student in Turbat",
              status: str = "open") -> uuid.UUID:
    """A case with a victim, an enforced disappearance and one supporting witness testimony."""
    with app.app_context():
        user = actor(owner)
        case = cases.open_case(user, {"title": title, "summary": "Taken from the main bazaar."})
        victim = people.add_person(user, case, {"full_name": "Bashir Ahmed",
                                                "father_name": "Ghulam Nabi", "sex": "male",
                                                "age": 22, "cnic": "52203-1234567-1"},
                                   other_names=["Basheer Ahmad"])
        witness = people.add_person(user, case, {"full_name": "Fictional Witness",
                                                 "sex": "female"})
        act = acts.add_act(user, case, {"act_type": "enforced_disappearance",
                                        "victim_id": victim.id, "district_code": "PK211",
                                        "place_as_reported": "Main bazaar, Turbat",
                                        "status_of_victim": "still_missing"},
                           dates.parse("2025-03-11"))
        source = sources.add_source(user, case, {"person_id": witness.id, "reliability": "B",
                                                 "pseudonym": "W-17"})
        testimony = sources.add_testimony(user, case, {
            "source_id": source.id, "material": "witness_testimony", "connection": "witness",
            "language": "bal", "credibility": 2, "transcript": "I saw them take him."},
            dates.parse("2025-03-14"))
        allegations.link(user, case, act, relation="supports", testimony=testimony)
        if status != "draft":
            cases.change_status(user, case, "open")
        db.session.commit()
        return case.id


def get_case(case_id: uuid.UUID) -> Case:
    return db.session.get(Case, case_id)
