"""Specification of blind indexes: normalised, keyed, truncated hashes for exact-match search."""

import math

import pytest

from app.crypto.blind_index import (
    INDEXES,
    BlindIndexer,
    coincidence_count,
    derive_index_root,
    normalise,
    normalise_digits,
    recommended_bits,
)
from app.crypto.keyring import KeyRing, MemoryKeyStore
from app.crypto.providers import ExternalKeyProvider, generate_master_key


@pytest.fixture
def indexer():
    return BlindIndexer(derive_index_root(generate_master_key()))


@pytest.mark.parametrize(
    "variant",
    [
        "bashir ahmed",
        "BASHIR AHMED",
        "  Bashir \t\n Ahmed  ",
        "Ｂａｓｈｉｒ　Ａｈｍｅｄ",  # full-width letters and ideographic space (NFKC)
        "Bashir\u00a0Ahmed",  # no-break space
    ],
)
def test_same_name_with_different_case_spaces_or_unicode_forms_matches(indexer, variant):
    assert indexer.compute("person_name", variant) == indexer.compute("person_name", "Bashir Ahmed")


def test_composed_and_decomposed_accents_match(indexer):
    composed, decomposed = "Zoë", "Zoe\u0308"
    assert indexer.compute("person_name", composed) == indexer.compute("person_name", decomposed)


def test_urdu_names_typed_on_arabic_or_urdu_keyboards_match(indexer):
    urdu = "بشیر احمد"  # Farsi/Urdu yeh
    arabic_keyboard = "بشير احمد"  # Arabic yeh
    with_marks = "\u200fبشیر\u200c احمد\u200f"  # RTL marks and a zero-width non-joiner
    with_kashida = "بشـیر احمد"
    expected = indexer.compute("person_name", urdu)
    for variant in (arabic_keyboard, with_marks, with_kashida):
        assert indexer.compute("person_name", variant) == expected


def test_different_values_do_not_match(indexer):
    assert indexer.compute("person_name", "Bashir Ahmed", 256) != indexer.compute(
        "person_name", "Bashir Ahmad", 256
    )


def test_different_index_names_give_different_outputs_for_the_same_value(indexer):
    outputs = {indexer.compute(name, "Ghulam Nabi 0300 1234567", 256) for name in INDEXES}
    assert len(outputs) == len(INDEXES)


def test_different_root_keys_give_different_outputs(indexer):
    other = BlindIndexer(derive_index_root(generate_master_key()))
    assert indexer.compute("person_name", "x", 256) != other.compute("person_name", "x", 256)


@pytest.mark.parametrize(
    ("typed", "digits"),
    [
        ("52203-1234567-1", "5220312345671"),
        ("۵۲۲۰۳-۱۲۳۴۵۶۷-۱", "5220312345671"),  # Extended Arabic-Indic (Urdu) digits
        ("٥٢٢٠٣-١٢٣٤٥٦٧-١", "5220312345671"),  # Arabic-Indic digits
        ("+92 (300) 123 4567", "923001234567"),
        ("０３００−１２３４５６７", "03001234567"),  # full-width
        ("५२२", "522"),  # Devanagari
    ],
)
def test_eastern_digits_normalise_to_ascii_digits(typed, digits):
    assert normalise_digits(typed) == digits


def test_cnic_written_with_eastern_digits_matches_the_same_cnic_in_ascii(indexer):
    assert indexer.compute("person_cnic", "۵۲۲۰۳-۱۲۳۴۵۶۷-۱") == indexer.compute(
        "person_cnic", "52203 1234567 1"
    )


def test_text_normalisation_collapses_whitespace_and_folds_case():
    assert normalise("  Straße \t MÜLLER\n") == "strasse müller"


def test_default_indexes_use_their_declared_length_and_normaliser(indexer):
    assert set(INDEXES) == {
        "person_name",
        "person_father_name",
        "person_other_name",
        "person_cnic",
        "person_phone",
    }
    assert INDEXES["person_phone"].normaliser is normalise_digits
    assert INDEXES["person_name"].normaliser is normalise
    for name, spec in INDEXES.items():
        assert len(indexer.compute(name, "0300 1234567 Ali")) == math.ceil(spec.bits / 8)


def test_default_lengths_keep_matches_ambiguous_for_300000_people():
    rows = 300_000
    for spec in INDEXES.values():
        assert 2 <= coincidence_count(rows, spec.bits) < math.sqrt(rows)


def test_output_is_truncated_to_the_requested_bits_with_zeroed_spare_bits(indexer):
    full = indexer.compute("person_name", "Bashir", 256)
    assert indexer.compute("person_name", "Bashir", 16) == full[:2]
    thirteen = indexer.compute("person_name", "Bashir", 13)
    assert len(thirteen) == 2
    assert thirteen[0] == full[0]
    assert thirteen[1] == full[1] & 0b1111_1000


def test_recommended_bits_follow_the_coincidence_rule():
    assert recommended_bits(300_000) == 17
    assert recommended_bits(20_000) == 13
    for rows in (1_000, 20_000, 300_000, 10_000_000):
        assert 2 <= coincidence_count(rows, recommended_bits(rows)) < math.sqrt(rows)


def test_value_with_nothing_to_index_is_refused(indexer):
    with pytest.raises(ValueError, match="empty"):
        indexer.compute("person_name", "  \t ")
    with pytest.raises(ValueError, match="empty"):
        indexer.compute("person_phone", "n/a")


def test_unknown_index_needs_an_explicit_length_and_a_valid_name(indexer):
    with pytest.raises(ValueError):
        indexer.compute("case_ref", "x")
    assert len(indexer.compute("case_ref", "x", 24)) == 3
    with pytest.raises(ValueError):
        indexer.compute("Bad|Name", "x", 16)
    with pytest.raises(ValueError):
        indexer.compute("case_ref", "x", 0)


def test_indexer_from_keyring_survives_a_master_key_rotation():
    master, store = generate_master_key(), MemoryKeyStore()
    ring = KeyRing(ExternalKeyProvider(lambda: master), store)
    before = BlindIndexer.from_keyring(ring).compute("person_name", "Bashir Ahmed")
    new_master = generate_master_key()
    ring.rewrap_all(new_master)
    after_ring = KeyRing(ExternalKeyProvider(lambda: new_master), store)
    assert BlindIndexer.from_keyring(after_ring).compute("person_name", "Bashir Ahmed") == before
