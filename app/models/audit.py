"""The append-only audit log: one row per recorded action, each a leaf of a Merkle tree."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db


class AuditEntry(db.Model):
    __tablename__ = "audit_entries"

    # Contiguous from 1, assigned under a lock, in commit order: the Merkle leaf index is seq - 1.
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(db.Integer, "sqlite"),
                                     primary_key=True, autoincrement=False)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    action: Mapped[str] = mapped_column(String(60), index=True)
    object_type: Mapped[str | None] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(64))
    case_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    request_id: Mapped[str | None] = mapped_column(String(40))
    address: Mapped[str | None] = mapped_column(String(64))
    # JSON of ids and field names only; never the cleartext of an encrypted field.
    details: Mapped[str] = mapped_column(Text, default="{}")
    leaf_hash: Mapped[str] = mapped_column(String(64))
