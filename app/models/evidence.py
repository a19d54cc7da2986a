"""Evidence items (Berkeley Protocol): the encrypted file's record and its custody log."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.crypto.fields import encrypted
from app.extensions import db
from app.models.base import Timestamps, UUIDPrimaryKey, utcnow
from app.models.cases import AuthoredMixin


class EvidenceItem(UUIDPrimaryKey, Timestamps, AuthoredMixin, db.Model):
    """Never altered: a redacted or converted copy is a new item pointing to its original."""

    __tablename__ = "evidence_items"

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"),
                                               index=True)
    storage_name: Mapped[str] = mapped_column(String(64), unique=True)  # random, never user input
    original_name = encrypted()
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    description = encrypted()
    collected_by: Mapped[str | None] = mapped_column(String(120))
    collected_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    collected_from = encrypted()  # device, URL
    original_metadata = encrypted()  # e.g. EXIF, as text
    derived_from_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("evidence_items.id"))

    custody: Mapped[list[CustodyEvent]] = relationship(
        back_populates="item", order_by="CustodyEvent.at")
    derived_from = relationship("EvidenceItem", remote_side="EvidenceItem.id")


class CustodyEvent(UUIDPrimaryKey, db.Model):
    """One step in an item's chain of custody; rows are only ever added."""

    __tablename__ = "custody_events"

    item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("evidence_items.id"), index=True)
    action: Mapped[str] = mapped_column(String(30))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    detail: Mapped[str | None] = mapped_column(String(200))  # e.g. "sha256 matched"

    item: Mapped[EvidenceItem] = relationship(back_populates="custody")
