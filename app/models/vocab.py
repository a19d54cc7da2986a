"""Vocabulary terms (built-in and local, never deleted or reused) and the district code list."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import utcnow


class VocabularyTerm(db.Model):
    __tablename__ = "vocabulary_terms"
    __table_args__ = (UniqueConstraint("vocabulary", "code", name="uq_vocabulary_terms_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    vocabulary: Mapped[str] = mapped_column(String(40), index=True)
    code: Mapped[str] = mapped_column(String(60))
    label: Mapped[str] = mapped_column(String(200))
    huridocs_list: Mapped[str | None] = mapped_column(String(10))
    huridocs_term: Mapped[str | None] = mapped_column(String(20))
    is_local: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class District(db.Model):
    """A district in a named code-list version; the version is stored with every place."""

    __tablename__ = "districts"

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    province_code: Mapped[str] = mapped_column(String(8))
    province: Mapped[str] = mapped_column(String(80))
    list_version: Mapped[str] = mapped_column(String(40))
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
