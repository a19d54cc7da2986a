"""Sources, the testimonies they give, and the links that say which material supports which act."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.crypto.fields import encrypted
from app.domain.vocab import LINK_RELATION, RELIABILITY
from app.extensions import db
from app.models.base import Timestamps, UUIDPrimaryKey, Versioned
from app.models.cases import AuthoredMixin


class Source(UUIDPrimaryKey, Timestamps, Versioned, AuthoredMixin, db.Model):
    """A person or an organisation giving information; every output names it by pseudonym."""

    __tablename__ = "sources"
    __table_args__ = (CheckConstraint(f"reliability IN {RELIABILITY!r}", name="reliability_known"),)

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"),
                                               index=True)
    person_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("people.id"))
    organisation = encrypted()  # when the source is an organisation, not a person
    reliability: Mapped[str] = mapped_column(String(1), default="F")
    pseudonym: Mapped[str] = mapped_column(String(40))

    person = relationship("Person")


class Testimony(UUIDPrimaryKey, Timestamps, Versioned, AuthoredMixin, db.Model):
    """One statement or item of source material."""

    __test__ = False  # not a pytest test class, whatever its name
    __tablename__ = "testimonies"
    __table_args__ = (CheckConstraint("credibility BETWEEN 1 AND 6", name="credibility_range"),)

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"),
                                               index=True)
    source_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sources.id"), index=True)
    given_value: Mapped[str | None] = mapped_column(String(10))
    given_precision: Mapped[str] = mapped_column(String(12), default="unknown")
    interviewer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    interview_place = encrypted()
    language: Mapped[str | None] = mapped_column(String(8))
    material: Mapped[str] = mapped_column(String(40))
    connection: Mapped[str | None] = mapped_column(String(30))
    transcript = encrypted()
    notes = encrypted()
    credibility: Mapped[int] = mapped_column(Integer, default=6)

    source: Mapped[Source] = relationship()


class AllegationLink(UUIDPrimaryKey, Timestamps, AuthoredMixin, db.Model):
    """Act ← testimony or evidence item: supports, contradicts or mentions, with a note."""

    __tablename__ = "allegation_links"
    __table_args__ = (
        CheckConstraint(f"relation IN {LINK_RELATION!r}", name="relation_known"),
        CheckConstraint("(testimony_id IS NULL) <> (evidence_id IS NULL)", name="one_material"),
    )

    act_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("acts.id", ondelete="CASCADE"),
                                              index=True)
    testimony_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("testimonies.id", ondelete="CASCADE"), index=True)
    evidence_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("evidence_items.id", ondelete="CASCADE"), index=True)
    relation: Mapped[str] = mapped_column(String(12))
    note = encrypted()
    checked_on: Mapped[date | None] = mapped_column(Date)  # source, item and content checked

    testimony: Mapped[Testimony | None] = relationship()
    evidence = relationship("EvidenceItem")
