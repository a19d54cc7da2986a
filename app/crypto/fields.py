"""Declarative encrypted fields: `title = encrypted()` adds the ciphertext column and the attribute.

Every field declared this way is recorded in a registry (`registered_fields()`), so key rotation,
`amanat keys status`, backups and the canary tests can enumerate all encrypted columns without a
hand-kept list.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import LargeBinary
from sqlalchemy.orm import mapped_column

from app.crypto import runtime
from app.crypto.blind_index import INDEXES
from app.crypto.errors import ShreddedError
from app.crypto.keyring import PURPOSE_PERSON


class Shredded(str):
    """What a crypto-shredded field reads as: displays as "[shredded]", and is testable by type."""

    __slots__ = ()

    def __new__(cls) -> Shredded:
        return super().__new__(cls, "[shredded]")


SHREDDED = Shredded()

# Every EncryptedField in declaration order, appended by __set_name__ when its class is created.
_DECLARED: list[EncryptedField] = []


@dataclass(frozen=True)
class RegisteredField:
    """One encrypted column of one mapped table, as rotation and reports see it."""

    model: type
    name: str  # the attribute, also the column name bound into the associated data
    key_attr: str | None  # attribute holding a per-row (person) key id, or None: general key
    blind_index: str | None

    @property
    def table(self) -> str:
        return str(self.model.__tablename__)  # type: ignore[attr-defined]

    @property
    def storage(self) -> str:
        return f"{self.name}_enc"

    @property
    def index_column(self) -> str | None:
        return f"{self.name}_bidx" if self.blind_index else None

    @property
    def label(self) -> str:
        return f"{self.table}.{self.name}"


class EncryptedField:
    """A model attribute whose value is stored AES-256-GCM encrypted in `<name>_enc`.

    The associated data binds each value to its table, field and row id, so a value copied to
    another row or field does not decrypt. `key_attr` names a column holding a per-row data key id
    (e.g. one key per person, destroyed to crypto-shred that identity); otherwise the active
    general key is used. With `blind_index`, `<name>_bidx` holds an HMAC for exact-match search.
    """

    def __init__(self, *, key_attr: str | None = None, blind_index: str | None = None) -> None:
        if blind_index is not None and blind_index not in INDEXES:
            # a misspelt index name must fail when the model is defined, not silently index nothing
            raise ValueError(f"Unknown blind index {blind_index!r}; declare it in "
                             "app.crypto.blind_index.INDEXES.")
        self.key_attr = key_attr
        self.blind_index = blind_index
        self.name = ""
        self.storage = ""
        self.owner: type | None = None

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self.storage = f"{name}_enc"
        self.owner = owner
        # Runs before the declarative scan, so these become ordinary mapped columns.
        setattr(owner, self.storage, mapped_column(self.storage, LargeBinary, nullable=True))
        if self.blind_index:
            setattr(owner, f"{name}_bidx",
                    mapped_column(f"{name}_bidx", LargeBinary(32), nullable=True, index=True))
        _DECLARED.append(self)

    def _location(self, obj: Any) -> dict[str, str]:
        return {"table": obj.__tablename__, "column": self.name, "row_id": str(obj.id)}

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        blob = getattr(obj, self.storage)
        if blob is None:
            return None
        blob = bytes(blob)
        cached = obj.__dict__.get(f"_plain_{self.name}")
        if cached is not None and cached[0] == blob:
            return cached[1]
        try:
            value: str = runtime.cipher().decrypt(blob, **self._location(obj))
        except ShreddedError:
            return SHREDDED
        obj.__dict__[f"_plain_{self.name}"] = (blob, value)
        return value

    def __set__(self, obj: Any, value: str | None) -> None:
        if isinstance(value, Shredded):
            return  # a shredded value is never written back as text
        if obj.id is None:
            obj.id = uuid.uuid4()  # the row id is part of the associated data
        if value is None:
            setattr(obj, self.storage, None)
            if self.blind_index:
                setattr(obj, f"{self.name}_bidx", None)
            return
        blob = runtime.cipher().encrypt(value, key_id=self._key_id(obj), **self._location(obj))
        setattr(obj, self.storage, blob)
        obj.__dict__[f"_plain_{self.name}"] = (blob, value)
        if self.blind_index:
            setattr(obj, f"{self.name}_bidx", blind_index_of(self.blind_index, value))

    def _key_id(self, obj: Any) -> int:
        if self.key_attr is None:
            return runtime.general_key_id()
        key_id = getattr(obj, self.key_attr)
        if key_id is None:
            key_id = runtime.keyring().new_key(PURPOSE_PERSON, make_active=False)
            setattr(obj, self.key_attr, key_id)
        return key_id


def _mapped_tables_of(owner: type) -> list[type]:
    """The mapped classes that own a table and carry this declaration (a mixin may have several)."""
    if "__table__" in owner.__dict__:
        return [owner]
    found: list[type] = []
    for sub in owner.__subclasses__():
        found.extend(_mapped_tables_of(sub))
    return found


def registered_fields() -> list[RegisteredField]:
    """Every encrypted column of every mapped table, one entry per (table, field).

    Complete once `app.models` has been imported (create_app does so).
    """
    seen: set[tuple[str, str]] = set()
    fields: list[RegisteredField] = []
    for declared in _DECLARED:
        if declared.owner is None:
            continue
        for model in _mapped_tables_of(declared.owner):
            entry = RegisteredField(model, declared.name, declared.key_attr, declared.blind_index)
            if (entry.table, entry.name) not in seen:
                seen.add((entry.table, entry.name))
                fields.append(entry)
    return fields


def blind_index_of(index_name: str, value: str) -> bytes | None:
    """The blind index of a value, or None when it normalises to nothing (store NULL then).

    An index name missing from INDEXES raises ValueError: a typo must never index nothing.
    """
    spec = INDEXES.get(index_name)
    if spec is None:
        raise ValueError(
            f"Unknown blind index {index_name!r}; declare it in app.crypto.blind_index.INDEXES."
        )
    if not spec.normaliser(value):
        return None
    return runtime.indexer().compute(index_name, value)


def encrypted(*, key_attr: str | None = None, blind_index: str | None = None) -> Any:
    return EncryptedField(key_attr=key_attr, blind_index=blind_index)
