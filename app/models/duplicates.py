"""Possible duplicates: pairs of person records that may be one person, and the decision on each.

A row holds two person ids, a score and the names of the features that agreed or conflicted,
never a name or any other value. Deciding "same" links the two records (neither is merged or
destroyed); deciding "different" keeps the pair out of later scans.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import Timestamps, UUIDPrimaryKey, Versioned

DUPLICATE_STATUS = ("open", "same", "different")


class DuplicateCandidate(UUIDPrimaryKey, Timestamps, Versioned, db.Model):
    __tablename__ = "duplicate_candidates"
    __table_args__ = (
        UniqueConstraint("person_a_id", "person_b_id", name="uq_duplicate_candidates_pair"),
        CheckConstraint(f"status IN {DUPLICATE_STATUS!r}", name="status_known"),
        CheckConstraint("score BETWEEN 0 AND 100", name="score_range"),
    )

    # The pair in a fixed order (a's id sorts before b's as text), so a pair has one row.
    person_a_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), index=True)
    person_b_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), index=True)
    score: Mapped[int] = mapped_column(Integer)
    matched: Mapped[str] = mapped_column(String(300), default="")  # feature names, comma-separated
    conflicting: Mapped[str] = mapped_column(String(300), default="")
    status: Mapped[str] = mapped_column(String(12), default="open", index=True)
    found_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    person_a = relationship("Person", foreign_keys=[person_a_id])
    person_b = relationship("Person", foreign_keys=[person_b_id])

    @property
    def matched_features(self) -> list[str]:
        return [f for f in self.matched.split(",") if f]

    @property
    def conflicting_features(self) -> list[str]:
        return [f for f in self.conflicting.split(",") if f]
