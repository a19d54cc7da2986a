"""Follow-up actions (ESF interventions): appeals, petitions, submissions, meetings, media."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.crypto.fields import encrypted
from app.extensions import db
from app.models.base import Timestamps, UUIDPrimaryKey, Versioned
from app.models.cases import AuthoredMixin


class FollowUp(UUIDPrimaryKey, Timestamps, Versioned, AuthoredMixin, db.Model):
    __tablename__ = "follow_ups"

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"),
                                               index=True)
    action_type: Mapped[str] = mapped_column(String(40))
    taken_on: Mapped[date | None] = mapped_column(Date)
    by_whom: Mapped[str | None] = mapped_column(String(200))
    to_whom: Mapped[str | None] = mapped_column(String(200))
    response = encrypted()
    status: Mapped[str] = mapped_column(String(30), default="planned")
    next_step = encrypted()
    next_step_on: Mapped[date | None] = mapped_column(Date, index=True)
