"""People (victims, witnesses, relatives, sources, alleged perpetrators), their names and consent.

Every identity field is encrypted under the person's own data key, so destroying that key
crypto-shreds one identity while the rest of the case stays readable.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.crypto.fields import encrypted
from app.extensions import db
from app.models.base import Timestamps, UUIDPrimaryKey, Versioned
from app.models.cases import AuthoredMixin


class Person(UUIDPrimaryKey, Timestamps, Versioned, AuthoredMixin, db.Model):
    __tablename__ = "people"

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"),
                                               index=True)
    data_key_id: Mapped[int | None] = mapped_column(Integer)  # this person's own data key
    counting_unit: Mapped[str] = mapped_column(String(20), default="individual")
    full_name = encrypted(key_attr="data_key_id", blind_index="person_name")
    father_name = encrypted(key_attr="data_key_id", blind_index="person_father_name")
    tribe = encrypted(key_attr="data_key_id")
    sex: Mapped[str | None] = mapped_column(String(10))
    date_of_birth = encrypted(key_attr="data_key_id")
    age: Mapped[int | None] = mapped_column(Integer)
    age_group: Mapped[str | None] = mapped_column(String(20))
    cnic = encrypted(key_attr="data_key_id", blind_index="person_cnic")
    phone = encrypted(key_attr="data_key_id", blind_index="person_phone")
    address = encrypted(key_attr="data_key_id")
    occupation: Mapped[str | None] = mapped_column(String(120))
    affiliation: Mapped[str | None] = mapped_column(String(120))
    physical_description = encrypted(key_attr="data_key_id")
    confidentiality: Mapped[str] = mapped_column(String(12), default="normal")
    shredded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    other_names: Mapped[list[PersonName]] = relationship(
        back_populates="person", cascade="all, delete-orphan", order_by="PersonName.created_at")
    consents: Mapped[list[ConsentRecord]] = relationship(
        back_populates="person", cascade="all, delete-orphan", order_by="ConsentRecord.given_on")


class PersonName(UUIDPrimaryKey, Timestamps, Versioned, db.Model):
    """Another name or spelling (Muhammad/Mohammad/Mohd, Baloch/Baluch), each blind-indexed."""

    __tablename__ = "person_names"

    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"),
                                                 index=True)
    data_key_id: Mapped[int | None] = mapped_column(Integer)  # the person's key
    name = encrypted(key_attr="data_key_id", blind_index="person_other_name")
    person: Mapped[Person] = relationship(back_populates="other_names")


class ConsentRecord(UUIDPrimaryKey, Timestamps, AuthoredMixin, db.Model):
    """What a person agreed to, for which purpose, on what legal basis; withdrawal is recorded."""

    __tablename__ = "consent_records"

    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"),
                                                 index=True)
    purpose: Mapped[str] = mapped_column(String(30))
    legal_basis: Mapped[str] = mapped_column(String(30), default="consent")
    given_on: Mapped[date | None] = mapped_column(Date)
    obtained_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    recording_allowed: Mapped[bool] = mapped_column(Boolean, default=False)
    withdrawn_on: Mapped[date | None] = mapped_column(Date)
    person: Mapped[Person] = relationship(back_populates="consents")
