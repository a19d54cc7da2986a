"""The heart of the record: which material supports which act, and what that allows us to say.

Rules (DOMAIN.md): an act with no supporting link is "unsupported" and stays `alleged`;
`corroborated` needs supporting testimony from two or more independent sources (two statements
by one source count once); `verified` needs a supporting link whose source, item and content were
checked; `finding` is a supervisor's conclusion. Every output says "alleged" below `finding`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _
from sqlalchemy import select

from app.access import Action, can
from app.audit.recorder import record
from app.domain.vocab import ALLEGATION_STATUS, LINK_RELATION
from app.extensions import db
from app.models.acts import Act
from app.models.cases import Case
from app.models.evidence import EvidenceItem
from app.models.sources import AllegationLink, Testimony
from app.models.users import User
from app.services import ServiceError


@dataclass(frozen=True)
class Support:
    supporting_links: int
    independent_sources: int
    checked_links: int
    contradicting_links: int

    @property
    def unsupported(self) -> bool:
        return self.supporting_links == 0


def links_of(act: Act) -> list[AllegationLink]:
    return list(db.session.execute(
        select(AllegationLink).where(AllegationLink.act_id == act.id)
        .order_by(AllegationLink.created_at)).scalars())


def support_of(act: Act, links: list[AllegationLink] | None = None) -> Support:
    links = links_of(act) if links is None else links
    supporting = [link for link in links if link.relation == "supports"]
    sources = {link.testimony.source_id for link in supporting if link.testimony is not None}
    # An evidence item with no testimony stands for itself as one source.
    items = {link.evidence_id for link in supporting if link.evidence_id is not None}
    return Support(
        supporting_links=len(supporting),
        independent_sources=len(sources) + len(items),
        checked_links=sum(1 for link in supporting if link.checked_on is not None),
        contradicting_links=sum(1 for link in links if link.relation == "contradicts"),
    )


def allowed_statuses(actor: User, case: Case, act: Act, *, support: Support | None = None,
                     supervisor: bool | None = None) -> list[str]:
    """The statuses this user may give this act now, given its support (the bulk importer passes
    the support of links it holds and the answer of `can(actor, REVIEW, case)`)."""
    support = support_of(act) if support is None else support
    supervisor = can(actor, Action.REVIEW, case) if supervisor is None else supervisor
    result = ["alleged"]
    if not support.unsupported:
        if support.independent_sources >= 2:
            result.append("corroborated")
        if support.checked_links >= 1 and support.independent_sources >= 2:
            result.append("verified")
        if supervisor:
            result.append("finding")
    result.append("disputed")
    if supervisor:
        result.append("unsubstantiated")
    return result


def set_status(actor: User, case: Case, act: Act, status: str) -> None:
    if not can(actor, Action.EDIT, case) and not can(actor, Action.REVIEW, case):
        raise ServiceError(_("This case cannot be edited in its current state."))
    if status not in ALLEGATION_STATUS:
        raise ServiceError(_("Unknown allegation status."), field="status")
    if status not in allowed_statuses(actor, case, act):
        raise status_refusal(status, support_of(act))
    if act.allegation_status != status:
        old = act.allegation_status
        act.allegation_status = status
        db.session.flush()
        record("act.allegation_status", actor_id=actor.id, object_type="act", object_id=act.id,
               case_id=case.id, details={"from": old, "to": status})


def status_refusal(status: str, support: Support) -> ServiceError:
    """Why a status that allowed_statuses() does not offer is refused (to raise)."""
    if support.unsupported:
        return ServiceError(_("This act has no supporting testimony or evidence yet, so it "
                              "stays alleged."), field="status")
    if status == "corroborated":
        return ServiceError(_("Corroboration needs supporting material from two independent "
                              "sources; this act has %(n)d.", n=support.independent_sources),
                            field="status")
    if status == "verified":
        return ServiceError(_("Verification needs corroboration and at least one supporting "
                              "link whose source, item and content were checked."),
                            field="status")
    return ServiceError(_("Only a supervisor can record this status."), field="status")


def reconcile(actor: User, case: Case, act: Act) -> None:
    """After links change, lower a status its support no longer carries (and audit it)."""
    if act.allegation_status in ("disputed", "unsubstantiated", "alleged"):
        return
    support = support_of(act)
    needed = {"corroborated": support.independent_sources >= 2,
              "verified": support.independent_sources >= 2 and support.checked_links >= 1,
              "finding": not support.unsupported}
    if not needed.get(act.allegation_status, True):
        old = act.allegation_status
        act.allegation_status = "alleged"
        record("act.allegation_status", actor_id=actor.id, object_type="act", object_id=act.id,
               case_id=case.id, details={"from": old, "to": "alleged", "automatic": True})


def reconcile_acts_citing(actor: User, testimony: Testimony) -> None:
    acts = db.session.execute(select(Act).join(AllegationLink, AllegationLink.act_id == Act.id)
                              .where(AllegationLink.testimony_id == testimony.id)).scalars()
    case = db.session.get(Case, testimony.case_id)
    for act in set(acts):
        reconcile(actor, case, act)


def validate_link(case: Case, act: Act, relation: str, testimony: Testimony | None,
                  evidence: EvidenceItem | None) -> None:
    """A new link's rules, except "not already linked" (which looks at the stored links)."""
    if relation not in LINK_RELATION:
        raise ServiceError(_("Say whether the material supports, contradicts or mentions the "
                             "act."), field="relation")
    if (testimony is None) == (evidence is None):
        raise ServiceError(_("Choose one testimony or one evidence item."), field="material")
    material = testimony or evidence
    assert material is not None
    if act.case_id != case.id or material.case_id != case.id:
        raise ServiceError(_("Both must belong to this case."), field="material")


def link(actor: User, case: Case, act: Act, *, relation: str,
         testimony: Testimony | None = None, evidence: EvidenceItem | None = None,
         note: str | None = None, checked_on: date | None = None) -> AllegationLink:
    if not can(actor, Action.EDIT, case):
        raise ServiceError(_("This case cannot be edited in its current state."))
    validate_link(case, act, relation, testimony, evidence)
    duplicate = db.session.execute(select(AllegationLink).where(
        AllegationLink.act_id == act.id,
        AllegationLink.testimony_id == (testimony.id if testimony else None),
        AllegationLink.evidence_id == (evidence.id if evidence else None))).first()
    if duplicate:
        raise ServiceError(_("This material is already linked to this act."), field="material")
    new = AllegationLink(id=uuid.uuid4(), act_id=act.id, relation=relation,
                         testimony_id=testimony.id if testimony else None,
                         evidence_id=evidence.id if evidence else None, checked_on=checked_on,
                         created_by_id=actor.id, updated_by_id=actor.id)
    new.note = (note or "").strip() or None
    db.session.add(new)
    db.session.flush()
    record("link.create", actor_id=actor.id, object_type="allegation_link", object_id=new.id,
           case_id=case.id, details={"act": str(act.id), "relation": relation,
                                     "material": "testimony" if testimony else "evidence"})
    return new


def unlink(actor: User, case: Case, link_row: AllegationLink) -> None:
    if not can(actor, Action.EDIT, case):
        raise ServiceError(_("This case cannot be edited in its current state."))
    act = db.session.get(Act, link_row.act_id)
    if act is None or act.case_id != case.id:
        raise ServiceError(_("This link belongs to another case."))
    db.session.delete(link_row)
    db.session.flush()
    record("link.delete", actor_id=actor.id, object_type="allegation_link",
           object_id=link_row.id, case_id=case.id, details={"act": str(act.id)})
    reconcile(actor, case, act)


def qualifier(status: str) -> str:
    """What every output must say of an act: "alleged" unless a supervisor recorded a finding."""
    return "" if status == "finding" else _("alleged")
