"""Small pieces shared by the case views: choices, date fields, running a service for a form."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from flask_babel import gettext as _
from flask_wtf import FlaskForm
from sqlalchemy.orm.exc import StaleDataError
from wtforms import Field

from app.domain import dates
from app.domain.vocab import label
from app.extensions import db
from app.models.cases import Case
from app.services import ServiceError
from app.services.changes import ConflictError
from app.services.people import mask, people_of
from app.services.vocabularies import choices as vocab_choices
from app.services.vocabularies import districts

T = TypeVar("T")
NONE = [("", "—")]


def code_choices(codes: tuple[str, ...], *, blank: bool = False) -> list[tuple[str, str]]:
    return (NONE if blank else []) + [(c, label(c)) for c in codes]


def term_choices(vocabulary: str, *, blank: bool = False) -> list[tuple[str, str]]:
    return (NONE if blank else []) + vocab_choices(vocabulary)


def district_choices(*, blank: bool = True) -> list[tuple[str, str]]:
    return (NONE if blank else []) + [(d.code, d.name) for d in districts()]


def people_choices(case: Case, *, blank: bool = True) -> list[tuple[str, str]]:
    """People are listed masked: a form must not reveal identities either."""
    rows = [(str(p.id), person_label(p)) for p in people_of(case)]
    return (NONE if blank else []) + rows


def person_label(person: Any) -> str:
    if person.shredded_at is not None:
        return _("[identity erased]")
    name = mask(person.full_name) if person.full_name else _("unnamed person")
    return f"{name} ({person.sex or '?'}, {person.age if person.age is not None else '?'})"


def as_uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


def parse_date(field: Field) -> dates.PartialDate | None:
    """Read a partial date from a text field; on error, put the message on the field."""
    try:
        return dates.parse(field.data)
    except dates.DateError as error:
        field.errors = [*field.errors, str(error)]
        return None


def yes_no(value: str | None) -> bool | None:
    return {"yes": True, "no": False}.get(value or "")


def yes_no_text(value: bool | None) -> str:
    return "" if value is None else ("yes" if value else "no")


def run(form: FlaskForm, action: Callable[[], T]) -> T | None:
    """Run a service; on refusal roll back and show the message on the form, keeping its input."""
    try:
        result = action()
        db.session.commit()
        return result
    except ConflictError as error:
        db.session.rollback()
        form.form_errors.append(error.message)
        form.conflict = error.changed  # type: ignore[attr-defined]
        if hasattr(form, "version") and error.current_version is not None:
            form.version.data = error.current_version  # the next save is based on what they saw
    except StaleDataError:
        db.session.rollback()
        form.form_errors.append(_("Someone else saved this record at the same moment. Your "
                                  "text is still below; reload the record and save again."))
    except ServiceError as error:
        db.session.rollback()
        field = getattr(form, error.field, None) if error.field else None
        if field is not None:
            field.errors = [*field.errors, error.message]
        else:
            form.form_errors.append(error.message)
    return None
