"""Seeding for the search, dashboard and de-identified export tests: everything through services."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from app.domain import dates
from app.extensions import db
from app.models.acts import Act
from app.models.cases import Case
from app.models.users import User
from app.services import acts, allegations, cases, people, sources

DEFAULT_VICTIM = {"full_name": "Fictional Victim", "sex": "male", "age": 24}


def new_case(user: User, title: str = "A fictional case", *, status: str = "open",
             summary: str = "Fictional summary.", tags: str | None = None) -> Case:
    case = cases.open_case(user, {"title": title, "summary": summary, "tags": tags})
    if status != "draft":
        cases.change_status(user, case, "open")
    return case


def seed_act(user: User, case: Case, *, act_type: str = "enforced_disappearance",
             district: str | None = "PK211", start: str | None = "2025-03-11",
             status_of_victim: str = "still_missing",
             perpetrator_types: Iterable[str] = (), victim: dict[str, Any] | None = None,
             other_names: Iterable[str] = (), reliability: str | None = None,
             act_text: dict[str, Any] | None = None) -> Act:
    """One act with its own victim; optional alleged perpetrators and one supporting testimony
    from a source of the given reliability."""
    person = people.add_person(user, case, {**DEFAULT_VICTIM, **(victim or {})},
                               other_names=other_names)
    data = {"act_type": act_type, "victim_id": person.id, "status_of_victim": status_of_victim}
    if district:
        data["district_code"] = district
    act = acts.add_act(user, case, {**data, **(act_text or {})}, dates.parse(start))
    for kind in perpetrator_types:
        acts.add_perpetrator(user, case, act, {"unit": "Fictional unit", "perpetrator_type": kind})
    if reliability:
        witness = people.add_person(user, case, {"full_name": f"Witness {uuid.uuid4().hex[:6]}"})
        source = sources.add_source(user, case, {"person_id": witness.id,
                                                 "reliability": reliability})
        testimony = sources.add_testimony(user, case, {
            "source_id": source.id, "material": "witness_testimony", "credibility": 2},
            dates.parse("2025-04-01"))
        allegations.link(user, case, act, relation="supports", testimony=testimony)
    db.session.flush()
    return act


def corroborate(user: User, case: Case, act: Act) -> None:
    """Two independent supporting sources, then the status "corroborated"."""
    for grade in ("B", "C"):
        witness = people.add_person(user, case, {"full_name": f"Witness {uuid.uuid4().hex[:6]}"})
        source = sources.add_source(user, case, {"person_id": witness.id, "reliability": grade})
        testimony = sources.add_testimony(user, case, {
            "source_id": source.id, "material": "witness_testimony", "credibility": 2},
            dates.parse("2025-04-01"))
        allegations.link(user, case, act, relation="supports", testimony=testimony)
    allegations.set_status(user, case, act, "corroborated")
