"""Field encryption: AES-256-GCM values bound to their table, column and row by associated data."""

import os
import struct

from cryptography.exceptions import InvalidTag

from .errors import DecryptionError
from .keyring import MAX_KEY_ID, KeyRing

FORMAT_VERSION = 1
NONCE_BYTES = 12
TAG_BYTES = 16
_PREFIX = struct.Struct(">BI")  # format version, key id
_HEADER_BYTES = _PREFIX.size + NONCE_BYTES
_SEPARATOR = "\x1f"  # ASCII unit separator between table, column and row id in the AAD


def _location(table: str, column: str, row_id: str | int) -> bytes:
    row = str(row_id)
    for name, part in (("table", table), ("column", column), ("row_id", row)):
        if not part or _SEPARATOR in part:
            raise ValueError(f"{name} must be non-empty and free of the \\x1f separator.")
    return f"{table}{_SEPARATOR}{column}{_SEPARATOR}{row}".encode()


class FieldCipher:
    """Encrypts single column values; see docs/crypto-format.md for the byte layout.

    Data keys and their AESGCM objects come from the key ring's cache, so a key shredded
    through the ring stops working here at once.
    """

    def __init__(self, keyring: KeyRing) -> None:
        self.keyring = keyring

    def encrypt_bytes(
        self, plaintext: bytes, *, key_id: int, table: str, column: str, row_id: str | int
    ) -> bytes:
        """Encrypt ``plaintext`` under data key ``key_id`` for one table/column/row."""
        if not 0 < key_id <= MAX_KEY_ID:
            raise ValueError(f"key_id {key_id} is outside 1..2**32-1.")
        prefix = _PREFIX.pack(FORMAT_VERSION, key_id)
        nonce = os.urandom(NONCE_BYTES)
        aad = prefix + _location(table, column, row_id)
        return prefix + nonce + self.keyring.aead(key_id).encrypt(nonce, plaintext, aad)

    def decrypt_bytes(self, blob: bytes, *, table: str, column: str, row_id: str | int) -> bytes:
        """Decrypt a value written by ``encrypt_bytes`` for the same table/column/row."""
        blob = bytes(blob)  # some drivers hand back memoryview
        key_id = self.key_id_of(blob)
        nonce = blob[_PREFIX.size : _HEADER_BYTES]
        aad = blob[: _PREFIX.size] + _location(table, column, row_id)
        try:
            return self.keyring.aead(key_id).decrypt(nonce, blob[_HEADER_BYTES:], aad)
        except InvalidTag:
            raise DecryptionError(
                f"The value in {table}.{column} of row {row_id} failed to decrypt: it was "
                "altered, damaged, or copied from another record or field."
            ) from None

    def encrypt(
        self, plaintext: str, *, key_id: int, table: str, column: str, row_id: str | int
    ) -> bytes:
        """Encrypt a text value (stored as UTF-8)."""
        if not isinstance(plaintext, str):
            raise TypeError("FieldCipher.encrypt takes str; use encrypt_bytes for bytes.")
        return self.encrypt_bytes(
            plaintext.encode("utf-8"), key_id=key_id, table=table, column=column, row_id=row_id
        )

    def decrypt(self, blob: bytes, *, table: str, column: str, row_id: str | int) -> str:
        """Decrypt a text value written by ``encrypt``."""
        data = self.decrypt_bytes(blob, table=table, column=column, row_id=row_id)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise DecryptionError(f"{table}.{column} of row {row_id} is not text.") from None

    @staticmethod
    def key_id_of(blob: bytes) -> int:
        """Return the data key id a ciphertext was made with (to find values needing rotation)."""
        if len(blob) < _HEADER_BYTES + TAG_BYTES:
            raise DecryptionError("The stored value is too short to be an Amanat ciphertext.")
        version, key_id = _PREFIX.unpack_from(blob)
        if version != FORMAT_VERSION:
            raise DecryptionError(f"Unknown ciphertext format version {version}.")
        return key_id
