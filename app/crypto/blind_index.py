"""Blind indexes: truncated keyed hashes of normalised values, for exact-match search.

Each index has its own HMAC-SHA256 key, derived by HKDF-SHA256 from a 32-byte root
(``info = b"amanat-blind-index|" + index name``). The root itself is derived from the
"blind-index" data key in the key ring (``BlindIndexer.from_keyring``), so a master-key
rotation only re-wraps that data key and leaves every stored index valid.

Truncation follows CipherSweet's planning rule. With R rows and an index of L bits, each
value is expected to share its index with C = R / 2^L other rows ("coincidences"). Aim for
2 <= C < sqrt(R): below 2, a match all but proves two rows hold the same value (an attacker
with the database links duplicates and counts frequencies); above sqrt(R) the index no
longer narrows a search. Amanat is planned for R = 300,000 people:

* L = 32 bits: C = 300,000 / 2^32 ~ 0.00007 -> matches are fingerprints. Too long.
* L = 8 bits:  C ~ 1,172 > sqrt(R) ~ 548 -> useless for search.
* L = 16 bits: C ~ 4.6, inside [2, 548) -> the default for every index below. It stays
  inside the bounds from R = 131,072 (C = 2) up to R = 2^32.

A search therefore returns the true matches plus about C false positives: callers must
decrypt the candidates and compare the normalised plaintexts. Smaller deployments can pick
``recommended_bits(expected_rows)`` at installation; changing L later means recomputing the
index column from the decrypted values. Indexes of the same row combine: name and father's
name together give 32 bits, so two rows with both indexes equal are very likely one person
recorded twice. That is the unavoidable price of exact-match search; it shows duplicates,
not identities. Never index a low-cardinality field (sex, district, status).
"""

import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

if TYPE_CHECKING:
    from .keyring import KeyRing

INDEX_ROOT_INFO = b"amanat-blind-index-root|v1"
INDEX_KEY_INFO_PREFIX = b"amanat-blind-index|"
ROOT_KEY_BYTES = 32
DEFAULT_BITS = 16
_INDEX_NAME_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")
_WHITESPACE_RE = re.compile(r"\s+")


# Letters that Arabic and Urdu/Persian keyboards type differently for the same name.
_ARABIC_SCRIPT_FOLD = str.maketrans(
    {
        "\u064a": "\u06cc",  # Arabic yeh -> Farsi/Urdu yeh
        "\u0649": "\u06cc",  # alef maksura -> Farsi/Urdu yeh
        "\u0643": "\u06a9",  # Arabic kaf -> keheh
        "\u0640": None,  # tatweel (kashida): stretching only
    }
)


def normalise(value: str) -> str:
    """Text form for name-like indexes: NFKC, case-folded, whitespace runs to one space.

    Also drops invisible format characters (Unicode Cf: bidi marks, ZWJ/ZWNJ that RTL
    copy-paste brings along) and folds the Arabic/Urdu keyboard variants of yeh and kaf.
    """
    text = unicodedata.normalize("NFKC", value).casefold()
    text = "".join(char for char in text if unicodedata.category(char) != "Cf")
    text = unicodedata.normalize("NFKC", text.translate(_ARABIC_SCRIPT_FOLD))
    return _WHITESPACE_RE.sub(" ", text).strip()


def normalise_digits(value: str) -> str:
    """Digits-only form for CNIC and phone indexes; Arabic-Indic and other digits become 0-9.

    Only decimal digits (Unicode category Nd) count: ``unicodedata.decimal`` maps Urdu
    ``۳``, Arabic ``٣`` and Devanagari ``३`` to 3. Separators, spaces, ``+`` and letters go.
    """
    digits = []
    for char in unicodedata.normalize("NFKC", value):
        number = unicodedata.decimal(char, None)
        if number is not None:
            digits.append(str(number))
    return "".join(digits)


@dataclass(frozen=True)
class IndexSpec:
    """How one blind index is computed: what it indexes, its normaliser and its length."""

    name: str
    source: str
    normaliser: Callable[[str], str]
    bits: int = DEFAULT_BITS
    planned_rows: int = 300_000


INDEXES: dict[str, IndexSpec] = {
    spec.name: spec
    for spec in (
        IndexSpec("person_name", "person.full_name", normalise),
        IndexSpec("person_father_name", "person.father_name", normalise),
        # one row per alternative spelling or alias; expect at least as many as people
        IndexSpec("person_other_name", "person other_names (each)", normalise),
        IndexSpec("person_cnic", "person.cnic", normalise_digits),
        IndexSpec("person_phone", "person.phone", normalise_digits),
    )
}


def coincidence_count(rows: int, bits: int) -> float:
    """Expected number of other rows sharing one value's index (CipherSweet's C = R / 2^L)."""
    return max(rows, 1) / 2**bits


def recommended_bits(rows: int) -> int:
    """Longest index length keeping at least two coincidences for ``rows`` rows."""
    return max(1, math.floor(math.log2(max(rows, 2) / 2)))


def derive_index_root(source_key: bytes) -> bytes:
    """Derive the blind-index root key from a 32-byte secret (the ring's "blind-index" key).

    Any 32-byte secret works, including the master key itself; but deriving from the master
    key would tie every index to it and force a full recomputation on master-key rotation.
    """
    if len(source_key) != ROOT_KEY_BYTES:
        raise ValueError("The source key for blind indexes must be 32 bytes.")
    return HKDF(
        algorithm=hashes.SHA256(), length=ROOT_KEY_BYTES, salt=None, info=INDEX_ROOT_INFO
    ).derive(source_key)


class BlindIndexer:
    """Computes blind index values with one HMAC key per index name."""

    def __init__(self, root_key: bytes) -> None:
        if len(root_key) != ROOT_KEY_BYTES:
            raise ValueError("The blind-index root key must be 32 bytes.")
        self._root = root_key
        self._keys: dict[str, bytes] = {}

    @classmethod
    def from_keyring(cls, keyring: "KeyRing") -> "BlindIndexer":
        """Build the indexer from the ring's "blind-index" data key (created on first use)."""
        from .keyring import PURPOSE_BLIND_INDEX

        source = keyring.data_key(keyring.active_key_id(PURPOSE_BLIND_INDEX))
        return cls(derive_index_root(source))

    def _key(self, index_name: str) -> bytes:
        key = self._keys.get(index_name)
        if key is None:
            if not _INDEX_NAME_RE.fullmatch(index_name):
                raise ValueError(f"Index name {index_name!r} must match {_INDEX_NAME_RE.pattern}.")
            key = HKDF(
                algorithm=hashes.SHA256(),
                length=32,
                salt=None,
                info=INDEX_KEY_INFO_PREFIX + index_name.encode("ascii"),
            ).derive(self._root)
            self._keys[index_name] = key
        return key

    def compute(
        self,
        index_name: str,
        value: str,
        bits: int | None = None,
        *,
        normaliser: Callable[[str], str] | None = None,
    ) -> bytes:
        """HMAC-SHA256 of the normalised value, truncated to ``bits`` bits.

        The result is ceil(bits / 8) bytes; when ``bits`` is not a multiple of 8 the unused
        low bits of the last byte are zero (as CipherSweet does). For an index listed in
        ``INDEXES`` the defaults come from its spec; other names need ``bits`` and use
        ``normalise`` unless told otherwise. A value that normalises to nothing raises
        ValueError: store NULL instead, never the index of an empty string.
        """
        spec = INDEXES.get(index_name)
        if bits is None:
            if spec is None:
                raise ValueError(f"Index {index_name!r} is not in INDEXES: pass bits.")
            bits = spec.bits
        if not 1 <= bits <= 256:
            raise ValueError("bits must be between 1 and 256.")
        if normaliser is None:
            normaliser = spec.normaliser if spec is not None else normalise
        text = normaliser(value)
        if not text:
            raise ValueError(f"Nothing to index for {index_name}: the value is empty.")
        mac = hmac.HMAC(self._key(index_name), hashes.SHA256())
        mac.update(text.encode("utf-8"))
        digest = mac.finalize()[: (bits + 7) // 8]
        spare = -bits % 8
        if spare:
            digest = digest[:-1] + bytes([digest[-1] & (0xFF << spare) & 0xFF])
        return digest
