"""Evidence file encryption: chunked AES-256-GCM in constant memory, with SHA-256 of the original.

Layout (docs/crypto-format.md): a 36-byte header, then chunks of ``chunk_size`` plaintext
bytes, each sealed with a 16-byte tag; the last chunk may be shorter (even empty). It follows
the STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár 2015) as used by Tink's
AES-GCM-HKDF streaming AEAD:

* a per-file key = HKDF-SHA256(data key, salt = 16 random bytes from the header,
  info = b"amanat-file|v1|" + file_id), so files never share a GCM key and a random
  nonce collision across files is irrelevant;
* nonce = 7-byte random prefix || 4-byte big-endian chunk counter || 1-byte last-chunk flag,
  so reordering, dropping or appending chunks, or cutting the file at a chunk boundary,
  fails authentication;
* associated data = the whole header || file_id, so the header (key id, chunk size) cannot
  be edited and a file copied under another file id fails.
"""

import hashlib
import hmac
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .errors import FileTooLargeError, IntegrityError
from .keyring import MAX_KEY_ID

MAGIC = b"AMNF"
FILE_FORMAT_VERSION = 1
DEFAULT_CHUNK_SIZE = 1024 * 1024
MIN_CHUNK_SIZE = 64
MAX_CHUNK_SIZE = 16 * 1024 * 1024
TAG_BYTES = 16
SALT_BYTES = 16
NONCE_PREFIX_BYTES = 7
FILE_KEY_INFO_PREFIX = b"amanat-file|v1|"
_HEADER = struct.Struct(f">4sBII{SALT_BYTES}s{NONCE_PREFIX_BYTES}s")
HEADER_BYTES = _HEADER.size  # 36
_MAX_CHUNKS = 2**32


class _Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...

    def hexdigest(self) -> str: ...


@dataclass(frozen=True)
class _Header:
    raw: bytes
    key_id: int
    chunk_size: int
    salt: bytes
    nonce_prefix: bytes


def _check_chunk_size(chunk_size: int) -> None:
    if not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
        raise ValueError(f"chunk_size must be between {MIN_CHUNK_SIZE} and {MAX_CHUNK_SIZE}.")


def _read_full(src: BinaryIO, size: int) -> bytes:
    """Read exactly ``size`` bytes unless the stream ends first (pipes return short reads)."""
    data = src.read(size)
    if len(data) == size or not data:
        return data
    parts = [data]
    got = len(data)
    while got < size:
        more = src.read(size - got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


def _file_aead(key: bytes, salt: bytes, file_id: str) -> AESGCM:
    if len(key) != 32:
        raise ValueError("The file data key must be 32 bytes.")
    file_key = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=salt,
        info=FILE_KEY_INFO_PREFIX + file_id.encode("utf-8"),
    ).derive(key)
    return AESGCM(file_key)


def _nonce(prefix: bytes, counter: int, last: bool) -> bytes:
    return prefix + counter.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


def _check_file_id(file_id: str) -> None:
    if not file_id:
        raise ValueError("file_id must not be empty.")


def encrypt_stream(
    src: BinaryIO,
    dst: BinaryIO,
    *,
    key: bytes,
    key_id: int,
    file_id: str,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    max_size: int | None = None,
) -> tuple[str, int]:
    """Encrypt ``src`` into ``dst``; return (SHA-256 hex of the plaintext, plaintext size).

    Raises FileTooLargeError as soon as more than ``max_size`` bytes have been read; ``dst``
    then holds a partial file, which the caller must delete.
    """
    _check_chunk_size(chunk_size)
    _check_file_id(file_id)
    if not 0 < key_id <= MAX_KEY_ID:
        raise ValueError(f"key_id {key_id} is outside 1..2**32-1.")
    salt, prefix = os.urandom(SALT_BYTES), os.urandom(NONCE_PREFIX_BYTES)
    header = _HEADER.pack(MAGIC, FILE_FORMAT_VERSION, key_id, chunk_size, salt, prefix)
    aead = _file_aead(key, salt, file_id)
    aad = header + file_id.encode("utf-8")
    digest = hashlib.sha256()
    total = 0
    dst.write(header)
    chunk = _read_full(src, chunk_size)
    counter = 0
    while True:
        total += len(chunk)
        if max_size is not None and total > max_size:
            raise FileTooLargeError(max_size=max_size)
        # read one chunk ahead: the last chunk is sealed with its own flag
        following = _read_full(src, chunk_size) if len(chunk) == chunk_size else b""
        last = not following
        if counter >= _MAX_CHUNKS:
            raise FileTooLargeError("The file has more chunks than the format can count.")
        digest.update(chunk)
        dst.write(aead.encrypt(_nonce(prefix, counter, last), chunk, aad))
        if last:
            return digest.hexdigest(), total
        chunk = following
        counter += 1


def _read_header(src: BinaryIO) -> _Header:
    raw = _read_full(src, HEADER_BYTES)
    if len(raw) < HEADER_BYTES or raw[:4] != MAGIC:
        raise IntegrityError("This is not an Amanat encrypted evidence file (bad header).")
    magic, version, key_id, chunk_size, salt, prefix = _HEADER.unpack(raw)
    if version != FILE_FORMAT_VERSION:
        raise IntegrityError(f"Unknown evidence file format version {version}.")
    if not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
        raise IntegrityError("The evidence file header is damaged (impossible chunk size).")
    return _Header(raw, key_id, chunk_size, salt, prefix)


def read_key_id(src: BinaryIO) -> int:
    """Return the data key id from a file's header; a seekable stream is left where it was."""
    position = src.tell() if src.seekable() else None
    header = _read_header(src)
    if position is not None:
        src.seek(position)
    return header.key_id


def _decrypted_chunks(
    src: BinaryIO,
    key: bytes,
    file_id: str,
    expected_sha256: str | None,
    digest: _Hasher,
) -> Iterator[bytes]:
    """Yield verified plaintext chunks; the final one only after the whole-file hash matches."""
    _check_file_id(file_id)
    header = _read_header(src)
    aead = _file_aead(key, header.salt, file_id)
    aad = header.raw + file_id.encode("utf-8")
    sealed_size = header.chunk_size + TAG_BYTES
    sealed = _read_full(src, sealed_size)
    counter = 0
    while True:
        if len(sealed) < TAG_BYTES:
            raise IntegrityError("The evidence file is truncated: its final chunk is missing.")
        following = _read_full(src, sealed_size) if len(sealed) == sealed_size else b""
        last = not following
        try:
            plaintext = aead.decrypt(_nonce(header.nonce_prefix, counter, last), sealed, aad)
        except InvalidTag:
            raise _chunk_failure(aead, header, counter, last, sealed, aad) from None
        digest.update(plaintext)
        if last:
            if expected_sha256 is not None and not hmac.compare_digest(
                digest.hexdigest(), expected_sha256.lower()
            ):
                raise IntegrityError(
                    "The evidence file decrypts, but its SHA-256 differs from the one recorded "
                    "at intake: it is not the original file."
                )
            yield plaintext
            return
        yield plaintext
        sealed = following
        counter += 1


def _chunk_failure(
    aead: AESGCM, header: _Header, counter: int, last: bool, sealed: bytes, aad: bytes
) -> IntegrityError:
    if last:
        try:
            aead.decrypt(_nonce(header.nonce_prefix, counter, False), sealed, aad)
        except InvalidTag:
            pass
        else:
            return IntegrityError("The evidence file is truncated: it ends before its final chunk.")
    return IntegrityError(
        f"Chunk {counter} of the evidence file failed authentication: the file is damaged, "
        "altered, reordered or belongs to another record."
    )


def iter_decrypted(
    src: BinaryIO, *, key: bytes, file_id: str, expected_sha256: str | None
) -> Iterator[bytes]:
    """Yield plaintext chunks for a streaming download.

    Every chunk is authenticated before it is yielded and the final chunk is held back until
    the whole-file SHA-256 matches ``expected_sha256``. Chunks already sent cannot be recalled,
    so call ``verify_file`` before starting a response.
    """
    yield from _decrypted_chunks(src, key, file_id, expected_sha256, hashlib.sha256())


def decrypt_stream(
    src: BinaryIO,
    dst: BinaryIO,
    *,
    key: bytes,
    file_id: str,
    expected_sha256: str | None = None,
) -> str:
    """Decrypt ``src`` into ``dst`` and return the plaintext's SHA-256 hex.

    On any IntegrityError ``dst`` holds unverified partial output, which the caller discards.
    """
    digest = hashlib.sha256()
    for chunk in _decrypted_chunks(src, key, file_id, expected_sha256, digest):
        dst.write(chunk)
    return digest.hexdigest()


def verify_file(src: BinaryIO, *, key: bytes, file_id: str, expected_sha256: str) -> str:
    """Decrypt to nowhere and check every chunk and the whole-file hash; return the hash."""
    digest = hashlib.sha256()
    for _chunk in _decrypted_chunks(src, key, file_id, expected_sha256, digest):
        pass
    return digest.hexdigest()
