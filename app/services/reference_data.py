"""Seed and refresh the built-in vocabularies and the district list (idempotent, never deletes)."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Connection, select

from app.domain import vocab
from app.models.vocab import District, VocabularyTerm

DATA = Path(__file__).resolve().parent.parent / "data"
DISTRICT_LIST_VERSION = "codeforpakistan-admin-codes-ad338cb"

BUILT_IN = {
    "act_type": vocab.ACT_TYPE,
    "perpetrator_type": vocab.PERPETRATOR_TYPE,
    "location_type": vocab.LOCATION_TYPE,
    "victim_status": vocab.VICTIM_STATUS,
    "whereabouts": vocab.WHEREABOUTS,
    "involvement": vocab.INVOLVEMENT,
    "attribution": vocab.ATTRIBUTION,
    "material": vocab.MATERIAL,
    "connection": vocab.CONNECTION,
    "intake_channel": vocab.INTAKE_CHANNEL,
    "family_step": vocab.FAMILY_STEP,
    "follow_up_type": vocab.FOLLOW_UP_TYPE,
    "consent_purpose": vocab.CONSENT_PURPOSE,
    "language": vocab.LANGUAGE,
}


def _english_label(code: str) -> str:
    # Runs inside the app context of `amanat db upgrade`, where the default locale is English.
    return str(vocab.LABELS[code]) if code in vocab.LABELS else code.replace("_", " ").capitalize()


def _mapping() -> dict[tuple[str, str], tuple[str, str]]:
    with open(DATA / "huridocs_mapping.csv", encoding="utf-8") as handle:
        return {(r["vocabulary"], r["code"]): (r["list_code"], r["term_code"])
                for r in csv.DictReader(handle)}


def seed_reference_data(conn: Connection) -> None:
    """Insert missing built-in terms and districts; refresh HURIDOCS mappings of built-in terms."""
    now = datetime.now(UTC)
    mapping = _mapping()
    terms = VocabularyTerm.__table__
    existing = {(r.vocabulary, r.code) for r in conn.execute(
        select(terms.c.vocabulary, terms.c.code))}
    for name, codes in BUILT_IN.items():
        for position, code in enumerate(codes):
            huri = mapping.get((name, code), (None, None))
            if (name, code) in existing:
                conn.execute(terms.update().where(terms.c.vocabulary == name,
                                                  terms.c.code == code, terms.c.is_local.is_(False))
                             .values(huridocs_list=huri[0], huridocs_term=huri[1]))
                continue
            conn.execute(terms.insert().values(
                vocabulary=name, code=code, label=_english_label(code), huridocs_list=huri[0],
                huridocs_term=huri[1], is_local=False, position=position, created_at=now))
    districts = District.__table__
    known = set(conn.execute(select(districts.c.code)).scalars())
    with open(DATA / "balochistan-districts.csv", encoding="utf-8") as handle:
        rows = [line for line in handle if not line.startswith("#")]
    for row in csv.DictReader(rows):
        if row["district_code"] not in known:
            conn.execute(districts.insert().values(
                code=row["district_code"], name=row["district"], province_code=row["province_code"],
                province=row["province"], list_version=DISTRICT_LIST_VERSION))
