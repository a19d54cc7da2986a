"""Vocabulary look-ups and administration: local terms can be added and retired, never deleted."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

from flask_babel import gettext as _
from sqlalchemy import select

from app.audit.recorder import record
from app.extensions import db
from app.models.users import User
from app.models.vocab import District, VocabularyTerm
from app.services import ServiceError

_CODE = re.compile(r"^[a-z][a-z0-9_]{1,58}$")
# Set by lookups_cached(): (current (vocabulary, code) pairs, current districts by code).
_CACHED: ContextVar[tuple[set[tuple[str, str]], dict[str, District]] | None] = ContextVar(
    "amanat_vocabulary_lookups", default=None)


@contextmanager
def lookups_cached() -> Iterator[None]:
    """Within this block require_term and require_district answer from one read of the current
    terms and districts, taken at its start (a bulk import checks thousands of codes in one
    transaction; outside such a block every check reads the database)."""
    terms_now = {(vocabulary, code) for vocabulary, code in db.session.execute(
        select(VocabularyTerm.vocabulary, VocabularyTerm.code)
        .where(VocabularyTerm.retired_at.is_(None)))}
    districts_now = {d.code: d for d in districts()}
    token = _CACHED.set((terms_now, districts_now))
    try:
        yield
    finally:
        _CACHED.reset(token)


def terms(vocabulary: str, *, include_retired: bool = False) -> list[VocabularyTerm]:
    query = select(VocabularyTerm).where(VocabularyTerm.vocabulary == vocabulary)
    if not include_retired:
        query = query.where(VocabularyTerm.retired_at.is_(None))
    return list(db.session.execute(
        query.order_by(VocabularyTerm.is_local, VocabularyTerm.position, VocabularyTerm.label)
    ).scalars())


def choices(vocabulary: str) -> list[tuple[str, str]]:
    from app.domain.vocab import label

    return [(t.code, label(t.code) if not t.is_local else t.label) for t in terms(vocabulary)]


def require_term(vocabulary: str, code: str, *, field: str | None = None) -> None:
    """Refuse a code that is unknown or retired in this vocabulary."""
    cached = _CACHED.get()
    if cached is not None:
        found = (vocabulary, code) in cached[0]
    else:
        found = db.session.execute(select(VocabularyTerm).where(
            VocabularyTerm.vocabulary == vocabulary, VocabularyTerm.code == code,
            VocabularyTerm.retired_at.is_(None))).scalar_one_or_none() is not None
    if not found:
        raise ServiceError(_("%(code)s is not a current term of %(vocab)s.", code=code,
                             vocab=vocabulary.replace("_", " ")), field=field)


def districts() -> list[District]:
    return list(db.session.execute(
        select(District).where(District.retired_at.is_(None)).order_by(District.name)).scalars())


def require_district(code: str, *, field: str = "district_code") -> District:
    cached = _CACHED.get()
    district = cached[1].get(code) if cached is not None else db.session.get(District, code)
    if district is None or district.retired_at is not None:
        raise ServiceError(_("Unknown district code %(code)s.", code=code), field=field)
    return district


def add_local_term(actor: User, vocabulary: str, code: str, label: str) -> VocabularyTerm:
    from app.domain.vocab import EXTENSIBLE

    if vocabulary not in EXTENSIBLE:
        raise ServiceError(_("This vocabulary cannot be extended."), field="vocabulary")
    if not _CODE.match(code):
        raise ServiceError(_("A code is lowercase letters, digits and underscores."), field="code")
    exists = db.session.execute(select(VocabularyTerm).where(
        VocabularyTerm.vocabulary == vocabulary, VocabularyTerm.code == code)).first()
    if exists:
        raise ServiceError(_("This code is taken (codes are never reused, even when retired)."),
                           field="code")
    label = label.strip()
    if not label or len(label) > 200:
        raise ServiceError(_("Give a label of 1 to 200 characters."), field="label")
    term = VocabularyTerm(vocabulary=vocabulary, code=code, label=label, is_local=True,
                          position=1000)
    db.session.add(term)
    db.session.flush()
    record("vocabulary.add", actor_id=actor.id, object_type="vocabulary_term",
           object_id=term.id, details={"vocabulary": vocabulary, "code": code})
    return term


def retire_term(actor: User, term: VocabularyTerm) -> None:
    if not term.is_local:
        raise ServiceError(_("Built-in terms stay; only local terms can be retired."))
    if term.retired_at is None:
        term.retired_at = datetime.now(UTC)
        record("vocabulary.retire", actor_id=actor.id, object_type="vocabulary_term",
               object_id=term.id, details={"vocabulary": term.vocabulary, "code": term.code})
