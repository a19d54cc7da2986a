"""Signed checkpoints of the audit log (tree size, root hash, signed note) and the tree state after each."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import utcnow


class AuditCheckpoint(db.Model):
    """One signed checkpoint; append-only like the log itself (see deploy/postgres-roles.sql)."""

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # One checkpoint per size: two makers racing for the same size cannot both store it.
    size: Mapped[int] = mapped_column(BigInteger().with_variant(db.Integer, "sqlite"),
                                      unique=True)
    root_hash: Mapped[str] = mapped_column(String(64))  # hex, the same root as in signed_text
    signed_text: Mapped[str] = mapped_column(Text)  # C2SP signed note, exactly as signed
    # TreeBuilder.state() at `size` (base64 subtree roots, one a line), so the next checkpoint
    # hashes only the entries added since; verify recomputes everything and never trusts it.
    tree_state: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
