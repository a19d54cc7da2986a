"""Acts (one violation against one victim), disappearance details, family steps, perpetrators."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import Boolean, Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.crypto.fields import encrypted
from app.extensions import db
from app.models.base import Timestamps, UUIDPrimaryKey, Versioned
from app.models.cases import AuthoredMixin


class Act(UUIDPrimaryKey, Timestamps, Versioned, AuthoredMixin, db.Model):
    __tablename__ = "acts"
    # Covering indexes for the case list's and the search's filters: each filter becomes a read
    # of one index, never of the acts table (bench/RESULTS.md, "Pages at scale").
    __table_args__ = (
        Index("ix_acts_type_dates_case", "act_type", "start_earliest", "start_latest", "case_id"),
        Index("ix_acts_district_case", "district_code", "case_id"),
        Index("ix_acts_id_case", "id", "case_id"),
    )

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"),
                                               index=True)
    act_type: Mapped[str] = mapped_column(String(60), index=True)
    victim_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("people.id"), index=True)
    # Dates as given: ISO value cut to its precision, the precision, the words used, and the
    # earliest/latest day it can mean (for precision-aware search).
    start_value: Mapped[str | None] = mapped_column(String(10))
    start_precision: Mapped[str] = mapped_column(String(12), default="unknown")
    start_as_given: Mapped[str | None] = mapped_column(String(80))
    start_earliest: Mapped[date | None] = mapped_column(Date, index=True)
    start_latest: Mapped[date | None] = mapped_column(Date, index=True)
    end_value: Mapped[str | None] = mapped_column(String(10))
    end_precision: Mapped[str] = mapped_column(String(12), default="unknown")
    end_as_given: Mapped[str | None] = mapped_column(String(80))
    district_code: Mapped[str | None] = mapped_column(String(12), index=True)
    district_list_version: Mapped[str | None] = mapped_column(String(40))
    place_as_reported = encrypted()
    coordinates = encrypted()
    location_type: Mapped[str | None] = mapped_column(String(40))
    description = encrypted()
    status_of_victim: Mapped[str] = mapped_column(String(30), default="unknown", index=True)
    allegation_status: Mapped[str] = mapped_column(String(20), default="alleged", index=True)

    victim = relationship("Person", foreign_keys=[victim_id])
    disappearance: Mapped[DisappearanceDetails | None] = relationship(
        back_populates="act", cascade="all, delete-orphan", uselist=False)
    perpetrators: Mapped[list[Involvement]] = relationship(
        back_populates="act", cascade="all, delete-orphan", order_by="Involvement.created_at")


class DisappearanceDetails(UUIDPrimaryKey, Timestamps, Versioned, db.Model):
    """The WGEID profile of one disappearance or abduction act."""

    __tablename__ = "disappearances"

    act_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("acts.id", ondelete="CASCADE"),
                                              unique=True)
    last_seen_value: Mapped[str | None] = mapped_column(String(10))
    last_seen_precision: Mapped[str] = mapped_column(String(12), default="unknown")
    last_seen_time: Mapped[str | None] = mapped_column(String(5))
    place_last_seen = encrypted()
    circumstances = encrypted()
    taken_by = encrypted()  # uniforms, vehicles, number of men
    whereabouts: Mapped[str] = mapped_column(String(50), default="unknown")
    deprived_of_liberty: Mapped[bool | None] = mapped_column(Boolean)
    state_involvement: Mapped[bool | None] = mapped_column(Boolean)
    concealment: Mapped[bool | None] = mapped_column(Boolean)
    relatives_consent_wgeid: Mapped[bool | None] = mapped_column(Boolean)
    source_keeps_contact: Mapped[bool | None] = mapped_column(Boolean)
    current_status: Mapped[str | None] = mapped_column(String(30))
    current_status_on: Mapped[date | None] = mapped_column(Date)

    act: Mapped[Act] = relationship(back_populates="disappearance")
    family_steps: Mapped[list[FamilyStep]] = relationship(
        back_populates="disappearance", cascade="all, delete-orphan", order_by="FamilyStep.taken_on")


class FamilyStep(UUIDPrimaryKey, Timestamps, AuthoredMixin, db.Model):
    """What the family did: FIR filed or refused, habeas corpus, commission, WGEID..."""

    __tablename__ = "family_steps"

    disappearance_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("disappearances.id", ondelete="CASCADE"), index=True)
    step: Mapped[str] = mapped_column(String(40))
    taken_on: Mapped[date | None] = mapped_column(Date)
    court_or_office: Mapped[str | None] = mapped_column(String(200))
    reference_number: Mapped[str | None] = mapped_column(String(80))
    outcome = encrypted()
    disappearance: Mapped[DisappearanceDetails] = relationship(back_populates="family_steps")


class Involvement(UUIDPrimaryKey, Timestamps, AuthoredMixin, db.Model):
    """An alleged perpetrator (a person in the case, or a unit) linked to an act."""

    __tablename__ = "involvements"
    __table_args__ = (Index("ix_involvements_type_act", "perpetrator_type", "act_id"),)

    act_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("acts.id", ondelete="CASCADE"),
                                              index=True)
    perpetrator_person_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("people.id"))
    unit: Mapped[str | None] = mapped_column(String(200))  # a named force, agency or group
    perpetrator_type: Mapped[str] = mapped_column(String(40), default="unknown", index=True)
    degree: Mapped[str] = mapped_column(String(30), default="unknown")
    attribution: Mapped[str] = mapped_column(String(40), default="none")

    act: Mapped[Act] = relationship(back_populates="perpetrators")
    perpetrator_person = relationship("Person", foreign_keys=[perpetrator_person_id])
