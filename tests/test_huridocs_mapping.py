"""The HURIDOCS mapping of the built-in vocabularies (pure: reads the CSV files, no database)."""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

import pytest

from app.services.reference_data import BUILT_IN, _mapping

DATA = Path(__file__).resolve().parent.parent / "app" / "data"
MAPPING = DATA / "huridocs_mapping.csv"
THESAURUS = DATA / "huridocs-microthesauri.csv"

# ESF exports need a term for every code of these vocabularies.
REQUIRED = ("act_type", "perpetrator_type", "material", "involvement", "attribution")
# Codes that are deliberately left unmapped: the HURIDOCS list has no fitting term, and a wrong
# term is worse than none. Each exemption is re-checked below, so it cannot hide a real gap.
UNMAPPABLE = {("material", "other")}
# The micro-thesaurus each vocabulary maps into.
EXPECTED_LIST = {
    "act_type": "4", "perpetrator_type": "24", "location_type": "17", "victim_status": "25",
    "whereabouts": "30", "involvement": "18", "attribution": "28", "material": "16",
    "connection": "19", "follow_up_type": "20",
}


def _rows() -> list[dict[str, str]]:
    with open(MAPPING, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _thesaurus() -> dict[tuple[str, str], str]:
    with open(THESAURUS, encoding="utf-8", newline="") as handle:
        return {(r["list_code"], r["huri_code"]): r["term_en"] for r in csv.DictReader(handle)}


def test_header_is_what_the_seeder_reads():
    with open(MAPPING, encoding="utf-8", newline="") as handle:
        assert next(csv.reader(handle)) == ["vocabulary", "code", "list_code", "term_code"]


def test_every_term_exists_in_the_micro_thesauri():
    terms = _thesaurus()
    rows = _rows()
    assert rows
    missing = [(r["vocabulary"], r["code"], r["list_code"], r["term_code"]) for r in rows
               if (r["list_code"], r["term_code"]) not in terms]
    assert missing == []
    assert all(re.fullmatch(r"\d{12}", r["term_code"]) for r in rows)


def test_every_mapped_code_is_a_built_in_code():
    unknown = [(r["vocabulary"], r["code"]) for r in _rows()
               if r["vocabulary"] not in BUILT_IN or r["code"] not in BUILT_IN[r["vocabulary"]]]
    assert unknown == []


def test_vocabularies_map_into_their_own_list():
    wrong = [(r["vocabulary"], r["code"], r["list_code"]) for r in _rows()
             if r["list_code"] != EXPECTED_LIST.get(r["vocabulary"], r["list_code"])]
    assert wrong == []


@pytest.mark.parametrize("vocabulary", REQUIRED)
def test_required_vocabularies_are_fully_mapped(vocabulary):
    mapped = {r["code"] for r in _rows() if r["vocabulary"] == vocabulary}
    expected = {code for code in BUILT_IN[vocabulary] if (vocabulary, code) not in UNMAPPABLE}
    assert sorted(expected - mapped) == []


def test_exemptions_are_real():
    terms = _thesaurus()
    for vocabulary, code in UNMAPPABLE:
        assert code in BUILT_IN[vocabulary]
        assert (vocabulary, code) not in _mapping()
        # Still unmappable only while the target list has no catch-all "Other" term.
        labels = {label.lower() for (lst, _), label in terms.items()
                  if lst == EXPECTED_LIST[vocabulary]}
        assert labels and not labels & {"other", "others"}


def test_no_duplicate_rows_or_codes():
    rows = _rows()
    keys = Counter((r["vocabulary"], r["code"]) for r in rows)
    assert [key for key, count in keys.items() if count > 1] == []
    assert len(_mapping()) == len(rows)
