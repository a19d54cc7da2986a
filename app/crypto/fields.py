"""Declarative encrypted fields: `title = encrypted()` adds the ciphertext column and the attribute."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import LargeBinary
from sqlalchemy.orm import mapped_column

from app.crypto import runtime
from app.crypto.errors import ShreddedError
from app.crypto.keyring import PURPOSE_PERSON


class Shredded(str):
    """What a crypto-shredded field reads as: displays as "[shredded]", and is testable by type."""

    __slots__ = ()

    def __new__(cls) -> Shredded:
        return super().__new__(cls, "[shredded]")


SHREDDED = Shredded()


class EncryptedField:
    """A model attribute whose value is stored AES-256-GCM encrypted in `<name>_enc`.

    The associated data binds each value to its table, field and row id, so a value copied to
    another row or field does not decrypt. `key_attr` names a column holding a per-row data key id
    (e.g. one key per person, destroyed to crypto-shred that identity); otherwise the active
    general key is used. With `blind_index`, `<name>_bidx` holds an HMAC for exact-match search.
    """

    def __init__(self, *, key_attr: str | None = None, blind_index: str | None = None) -> None:
        self.key_attr = key_attr
        self.blind_index = blind_index
        self.name = ""
        self.storage = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self.storage = f"{name}_enc"
        # Runs before the declarative scan, so these become ordinary mapped columns.
        setattr(owner, self.storage, mapped_column(self.storage, LargeBinary, nullable=True))
        if self.blind_index:
            setattr(owner, f"{name}_bidx",
                    mapped_column(f"{name}_bidx", LargeBinary(32), nullable=True, index=True))

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


def blind_index_of(index_name: str, value: str) -> bytes | None:
    """The blind index of a value, or None when it normalises to nothing."""
    try:
        return runtime.indexer().compute(index_name, value)
    except ValueError:
        return None


def encrypted(*, key_attr: str | None = None, blind_index: str | None = None) -> Any:
    return EncryptedField(key_attr=key_attr, blind_index=blind_index)
