"""The published JSON Schema: valid draft 2020-12, in step with the vocabularies and the docs."""

from __future__ import annotations

from pathlib import Path

from jsonschema import Draft202012Validator

from app.bundle.validate import SCHEMA_PATH, schema
from app.domain import vocab

ROOT = Path(__file__).resolve().parent.parent


def test_the_schema_is_valid_draft_2020_12():
    Draft202012Validator.check_schema(schema())
    assert schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_the_docs_publish_the_same_schema():
    assert (ROOT / "docs" / "bundle-schema.json").read_bytes() == SCHEMA_PATH.read_bytes()
    assert "docs/bundle-schema.json" in (ROOT / "docs" / "bundle-format.md").read_text()


def test_fixed_vocabularies_match_the_code():
    defs = schema()["$defs"]
    expected = {
        ("case", "status"): vocab.CASE_STATUS, ("case", "confidentiality"): vocab.CONFIDENTIALITY,
        ("person", "sex"): vocab.SEX, ("person", "age_group"): vocab.AGE_GROUP,
        ("person", "counting_unit"): vocab.COUNTING_UNIT,
        ("partial_date", "precision"): vocab.DATE_PRECISION,
        ("act", "status_of_victim"): vocab.VICTIM_STATUS,
        ("act", "allegation_status"): vocab.ALLEGATION_STATUS,
        ("disappearance", "whereabouts"): vocab.WHEREABOUTS,
        ("disappearance", "current_status"): vocab.VICTIM_STATUS,
        ("family_step", "step"): vocab.FAMILY_STEP,
        ("perpetrator", "involvement"): vocab.INVOLVEMENT,
        ("perpetrator", "attribution"): vocab.ATTRIBUTION,
        ("source", "reliability"): vocab.RELIABILITY,
        ("testimony", "language"): vocab.LANGUAGE, ("testimony", "connection"): vocab.CONNECTION,
        ("testimony", "precision"): vocab.DATE_PRECISION,
        ("link", "relation"): vocab.LINK_RELATION,
        ("follow_up", "status"): vocab.FOLLOW_UP_STATUS,
        ("consent", "purpose"): vocab.CONSENT_PURPOSE,
        ("consent", "legal_basis"): vocab.LEGAL_BASIS,
    }
    for (definition, field), codes in expected.items():
        assert defs[definition]["properties"][field]["enum"] == list(codes), (definition, field)
