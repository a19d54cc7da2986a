"""Cases (the caseworker's dossier), their members, notes and reference numbers."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.crypto.fields import encrypted
from app.domain.vocab import CASE_STATUS, CONFIDENTIALITY
from app.extensions import db
from app.models.base import Timestamps, UUIDPrimaryKey, Versioned

# Named members of a case: the caseworkers assigned to it. For a restricted case they (with its
# owner) are the only people who may see it at all.
case_members = Table(
    "case_members",
    db.metadata,
    Column("case_id", Uuid, ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", Uuid, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
)


class AuthoredMixin:
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    updated_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))


class Case(UUIDPrimaryKey, Timestamps, Versioned, AuthoredMixin, db.Model):
    __tablename__ = "cases"
    __table_args__ = (
        CheckConstraint(f"status IN {CASE_STATUS!r}", name="status_known"),
        CheckConstraint(f"confidentiality IN {CONFIDENTIALITY!r}", name="confidentiality_known"),
        # The case list's order (newest change first): its first pages read 25 index entries
        # instead of sorting every visible case (bench/RESULTS.md, "Pages at scale").
        Index("ix_cases_updated_at_id", "updated_at", "id"),
    )

    reference: Mapped[str] = mapped_column(String(20), unique=True)
    title = encrypted()  # titles often carry names
    summary = encrypted()
    status: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    confidentiality: Mapped[str] = mapped_column(String(12), default="normal", index=True)
    team_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("teams.id"), index=True)
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    date_received: Mapped[date | None] = mapped_column(Date)
    intake_channel: Mapped[str | None] = mapped_column(String(40))
    tags: Mapped[str | None] = mapped_column(String(500))
    review_comment = encrypted()  # the supervisor's note when returning a case

    members = relationship("User", secondary=case_members, order_by="User.name")
    owner = relationship("User", foreign_keys=[owner_id])
    team = relationship("Team")


class CaseNote(UUIDPrimaryKey, Timestamps, AuthoredMixin, db.Model):
    __tablename__ = "case_notes"

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"),
                                               index=True)
    text = encrypted()


class CaseReferenceCounter(db.Model):
    """Next number of `AM-<year>-<n>` per year, taken under a row lock so numbers never repeat."""

    __tablename__ = "case_reference_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer, default=0)
