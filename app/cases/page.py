"""Everything the case page shows, gathered once: each act with its victim, alleged perpetrators,
the material behind it and whether it is unsupported; people with the roles links give them."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from flask_login import current_user
from sqlalchemy import select

from app.access import Action, can
from app.cases.forms import AssignForm, TransitionForm
from app.crypto import runtime
from app.duplicates.job import linked_records
from app.extensions import db
from app.models.acts import Act
from app.models.audit import AuditEntry
from app.models.cases import CaseNote
from app.models.evidence import EvidenceItem
from app.models.followups import FollowUp
from app.models.sources import AllegationLink, Source, Testimony
from app.models.users import User, team_members
from app.services import allegations
from app.services.cases import TRANSITIONS
from app.services.people import people_of
from app.services.vocabularies import districts


def case_page_context(case: Any) -> dict[str, Any]:
    people = people_of(case)
    # One key-store read for every person's own key, instead of one per name shown.
    runtime.keyring().preload(p.data_key_id for p in people)
    by_id = {p.id: p for p in people}
    acts = list(db.session.execute(select(Act).where(Act.case_id == case.id)
                                   .order_by(Act.start_earliest, Act.created_at)).scalars())
    links = list(db.session.execute(
        select(AllegationLink).join(Act, Act.id == AllegationLink.act_id)
        .where(Act.case_id == case.id).order_by(AllegationLink.created_at)).scalars())
    links_by_act: dict = defaultdict(list)
    for link in links:
        links_by_act[link.act_id].append(link)
    sources = list(db.session.execute(select(Source).where(Source.case_id == case.id)
                                      .order_by(Source.pseudonym)).scalars())
    testimonies = list(db.session.execute(select(Testimony).where(Testimony.case_id == case.id)
                                          .order_by(Testimony.created_at)).scalars())
    evidence = list(db.session.execute(select(EvidenceItem).where(EvidenceItem.case_id == case.id)
                                       .order_by(EvidenceItem.created_at)).scalars())
    follow_ups = list(db.session.execute(
        select(FollowUp).where(FollowUp.case_id == case.id)
        .order_by(FollowUp.next_step_on.is_(None), FollowUp.next_step_on)).scalars())
    notes = list(db.session.execute(select(CaseNote).where(CaseNote.case_id == case.id)
                                    .order_by(CaseNote.created_at.desc())).scalars())

    roles: dict = defaultdict(list)
    act_rows = []
    for act in acts:
        act_links = links_by_act[act.id]
        support = allegations.support_of(act, act_links)
        if act.victim_id in by_id:
            roles[act.victim_id].append(("victim", act))
        for involvement in act.perpetrators:
            if involvement.perpetrator_person_id in by_id:
                roles[involvement.perpetrator_person_id].append(("perpetrator", act))
        act_rows.append({"act": act, "victim": by_id.get(act.victim_id), "links": act_links,
                         "support": support})
    for source in sources:
        if source.person_id in by_id:
            roles[source.person_id].append(("source", source))

    editable = can(current_user, Action.EDIT, case)
    reviewer = can(current_user, Action.REVIEW, case)
    transitions = [name for name, (sources_, _, who) in TRANSITIONS.items()
                   if case.status in sources_ and (reviewer if who == "supervisor" else editable)]
    team_users: list[User] = []
    if reviewer and case.team_id:
        team_users = list(db.session.execute(
            select(User).join(team_members, team_members.c.user_id == User.id)
            .where(team_members.c.team_id == case.team_id, User.active.is_(True),
                   User.role.in_(("caseworker", "supervisor"))).order_by(User.name)).scalars())
    return {
        "case": case, "people": people, "roles": roles, "acts": act_rows, "sources": sources,
        "testimonies": testimonies, "evidence": evidence, "follow_ups": follow_ups,
        "notes": notes, "editable": editable, "reviewer": reviewer, "transitions": transitions,
        "transition_form": TransitionForm(), "assign_form": AssignForm(),
        "team_users": team_users, "member_ids": {u.id for u in case.members},
        "district_names": {d.code: d.name for d in districts()},
        "unsupported": sum(1 for row in act_rows if row["support"].unsupported),
        "linked": linked_records(current_user, [p.id for p in people]),
        "history": case_history(case),
    }


HISTORY_LENGTH = 25


def case_history(case: Any) -> list[dict[str, Any]]:
    """The latest audit entries about this case: who did what, and which fields (never values)."""
    entries = list(db.session.execute(
        select(AuditEntry).where(AuditEntry.case_id == case.id)
        .order_by(AuditEntry.seq.desc()).limit(HISTORY_LENGTH)).scalars())
    names = dict(db.session.execute(select(User.id, User.name).where(
        User.id.in_({e.actor_id for e in entries if e.actor_id}))).all())
    rows = []
    for entry in entries:
        details = json.loads(entry.details or "{}")
        rows.append({"at": entry.occurred_at, "who": names.get(entry.actor_id, "—"),
                     "action": entry.action, "fields": details.get("fields") or [],
                     "change": (details.get("from"), details.get("to"))
                     if "to" in details else None})
    return rows
