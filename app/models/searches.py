"""Saved searches: a user's named filter sets for the search page (never identity values)."""

from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import Timestamps, UUIDPrimaryKey


class SavedSearch(UUIDPrimaryKey, Timestamps, db.Model):
    """One named filter set of one user. `filters` is JSON of codes and ISO dates only: the
    service refuses to save names, CNICs or phone numbers (they would sit here in clear)."""

    __tablename__ = "saved_searches"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_saved_searches_user_name"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                               index=True)
    name: Mapped[str] = mapped_column(String(120))
    filters: Mapped[str] = mapped_column(Text, default="{}")
