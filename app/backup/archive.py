"""The backup archive container: one file, authenticated-encrypted, with a final MAC.

Layout (docs/backup.md, "Archive format"):

    magic  "AMANATBK" (8) || format version 0x01 (1) || header length H (4, big-endian)
    header JSON, H bytes (clear; authenticated by every chunk's AAD and by the final MAC)
    body: an encrypted stream exactly as app.crypto.files.encrypt_stream writes it
          (36-byte header, 1 MiB chunks, AES-256-GCM, STREAM nonces, last-chunk flag)
    trailer: "AMBKMAC1" (8) || HMAC-SHA256(mac key, every byte before these 32) (32)

Keys: ``HKDF-SHA256(master key, salt=None, info="amanat-backup|v1", length=64)``, the first 32
bytes encrypt the body (encrypt_stream derives a per-archive key from them with its own random
salt), the last 32 key the final MAC. Only the installation whose master key made the archive
(or whoever restored that master key from its passphrase backup) can read or verify it.

The body's plaintext is a sequence of records ``tag (1) || length (4, big-endian) || payload``:

    M  member start     JSON {"name": ..., "kind": "table" | "evidence" | "key"}
    D  member data      up to 1 MiB of the current member's bytes
    E  member end       JSON {"name", "kind", "size", "sha256"[, "rows"]}: this member's
                        manifest entry (bytes, SHA-256 of the bytes, rows for a table)
    Z  manifest         JSON summary; the last record: ids, revision, rows per table,
                        evidence files and bytes, member count, and "members_sha256", the
                        SHA-256 over every E entry's canonical JSON line in order

The per-member entries stream (constant memory however many evidence files there are); the
final manifest binds them all through ``members_sha256``.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from app.crypto.errors import IntegrityError
from app.crypto.files import encrypt_stream, iter_decrypted
from app.crypto.keyring import master_key_id

MAGIC = b"AMANATBK"
FORMAT_NAME = "amanat-backup"
FORMAT_VERSION = 1
TRAILER_MAGIC = b"AMBKMAC1"
MAC_BYTES = 32
TRAILER_BYTES = len(TRAILER_MAGIC) + MAC_BYTES
_PREFIX = struct.Struct(">8sBI")
KEY_INFO = b"amanat-backup|v1"
FILE_ID_PREFIX = "amanat-backup|v1|"
# encrypt_stream's header carries a data key id; the backup key is not a data key, so the field
# holds this fixed placeholder (it is authenticated like the rest of the header).
BODY_KEY_ID = 1
BLOCK = 1024 * 1024
MAX_HEADER_BYTES = 64 * 1024
MAX_RECORD_BYTES = 4 * 1024 * 1024
SUFFIX = ".amanat-backup"

TAG_MEMBER, TAG_DATA, TAG_END, TAG_MANIFEST = b"M", b"D", b"E", b"Z"
_RECORD = struct.Struct(">cI")


class BackupError(Exception):
    """A backup or restore refused or failed; the message names the first problem."""


class ForeignArchiveError(BackupError):
    """The archive was made under another master key, or it is damaged."""


FOREIGN = ("this backup was made by another installation or is damaged; restore its master key "
           "first with amanat keys restore")


def derive_keys(master_key: bytes) -> tuple[bytes, bytes]:
    """(body encryption key, MAC key) for backups of the installation holding ``master_key``."""
    okm = HKDF(algorithm=hashes.SHA256(), length=64, salt=None, info=KEY_INFO).derive(master_key)
    return okm[:32], okm[32:]


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False
                      ).encode("utf-8")


def record(tag: bytes, payload: bytes) -> bytes:
    return _RECORD.pack(tag, len(payload)) + payload


def _file_id(archive_id: str, prefix: bytes) -> str:
    # Binds the clear header into every chunk's associated data.
    return FILE_ID_PREFIX + archive_id + "|" + hashlib.sha256(prefix).hexdigest()


# -- writing ----------------------------------------------------------------------------------------
class _IterReader:
    """A read()-able view of an iterator of byte strings (what encrypt_stream pulls from)."""

    def __init__(self, parts: Iterable[bytes]) -> None:
        self._parts = iter(parts)
        self._buffer = b""

    def read(self, size: int = -1) -> bytes:
        while len(self._buffer) < size or size < 0:
            try:
                self._buffer += next(self._parts)
            except StopIteration:
                break
        if size < 0:
            data, self._buffer = self._buffer, b""
        else:
            data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data


class _MacWriter:
    """Writes through to the file while feeding the final MAC and counting bytes."""

    def __init__(self, handle: BinaryIO, mac: hmac.HMAC) -> None:
        self.handle = handle
        self.mac = mac
        self.written = 0

    def write(self, data: bytes) -> int:
        self.mac.update(data)
        self.handle.write(data)
        self.written += len(data)
        return len(data)


class MemberHasher:
    """Frames one member's bytes into records and produces its manifest entry."""

    def __init__(self, name: str, kind: str) -> None:
        self.name, self.kind = name, kind
        self.size = 0
        self.digest = hashlib.sha256()
        self.rows: int | None = None

    def start(self) -> bytes:
        return record(TAG_MEMBER, canonical({"name": self.name, "kind": self.kind}))

    def data(self, payload: bytes) -> Iterator[bytes]:
        for offset in range(0, len(payload), BLOCK):
            piece = payload[offset:offset + BLOCK]
            self.digest.update(piece)
            self.size += len(piece)
            yield record(TAG_DATA, piece)

    def entry(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"name": self.name, "kind": self.kind, "size": self.size,
                                 "sha256": self.digest.hexdigest()}
        if self.rows is not None:
            entry["rows"] = self.rows
        return entry


def write_archive(path: Path, header: dict[str, Any], master_key: bytes,
                  records: Iterable[bytes]) -> int:
    """Write the archive to ``path`` + ".partial", fsync, then move it to ``path``.

    ``records`` yields the body's framed records (the last one the manifest). A failure or a
    kill at any point leaves no file at ``path``; the ".partial" file is removed on failure and
    overwritten by the next run after a kill (it has no final MAC, so it never verifies).
    Returns the archive's size in bytes.
    """
    enc_key, mac_key = derive_keys(master_key)
    header_bytes = canonical(header)
    prefix = _PREFIX.pack(MAGIC, FORMAT_VERSION, len(header_bytes)) + header_bytes
    partial = path.with_name(path.name + ".partial")
    if path.exists():
        raise BackupError(f"{path} already exists; choose a new name (backups are never "
                          "overwritten).")
    flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(partial, flags, 0o600)
    except OSError as error:
        raise BackupError(f"Cannot write {partial}: {error.strerror or error}") from None
    with os.fdopen(fd, "wb") as handle:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BackupError(f"Another backup is writing {partial} right now.") from None
        try:
            os.ftruncate(fd, 0)  # a file left by a killed run
            os.fchmod(fd, 0o600)
            out = _MacWriter(handle, hmac.new(mac_key, digestmod="sha256"))
            out.write(prefix)
            encrypt_stream(_IterReader(records), out, key=enc_key,  # type: ignore[arg-type]
                           key_id=BODY_KEY_ID, file_id=_file_id(header["archive_id"], prefix))
            out.write(TRAILER_MAGIC)
            handle.write(out.mac.digest())
            handle.flush()
            os.fsync(fd)
            size = out.written + MAC_BYTES
            _publish(partial, path)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    return size


def _publish(partial: Path, path: Path) -> None:
    try:
        os.link(partial, path)  # never replaces a file that appeared meanwhile
    except FileExistsError:
        raise BackupError(f"{path} appeared while the backup was written; nothing replaced.") \
            from None
    except OSError:
        if path.exists():
            raise BackupError(f"{path} already exists.") from None
        os.rename(partial, path)  # file systems without hard links
    else:
        partial.unlink()
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


# -- reading ----------------------------------------------------------------------------------------
@dataclass
class Header:
    raw: dict[str, Any]
    prefix: bytes
    body_start: int
    body_end: int

    @property
    def archive_id(self) -> str:
        return str(self.raw["archive_id"])

    @property
    def installation(self) -> str:
        return str(self.raw["installation"])

    @property
    def key_backup(self) -> str | None:
        return self.raw.get("key_backup")

    @property
    def revision(self) -> str | None:
        return self.raw.get("alembic_revision")


def read_header(path: Path) -> Header:
    """Read and sanity-check the clear header (not yet authenticated: that needs the key)."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            fixed = handle.read(_PREFIX.size)
            if len(fixed) < _PREFIX.size or fixed[:8] != MAGIC:
                raise BackupError(f"{path} is not an Amanat backup (bad magic).")
            _magic, version, length = _PREFIX.unpack(fixed)
            if version != FORMAT_VERSION:
                raise BackupError(f"{path} has backup format version {version}; this Amanat "
                                  f"reads version {FORMAT_VERSION}.")
            if length > MAX_HEADER_BYTES:
                raise BackupError(f"{path}: the header is damaged (impossible length).")
            header_bytes = handle.read(length)
            handle.seek(max(size - TRAILER_BYTES, 0))
            trailer = handle.read(TRAILER_BYTES)
    except OSError as error:
        raise BackupError(f"Cannot read {path}: {error.strerror or error}") from None
    if len(header_bytes) < length:
        raise BackupError(f"{path} is truncated (it ends inside its header).")
    try:
        raw = json.loads(header_bytes)
    except ValueError:
        raise BackupError(f"{path}: the header is damaged (not JSON).") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT_NAME or \
            raw.get("version") != FORMAT_VERSION or "archive_id" not in raw or \
            "installation" not in raw:
        raise BackupError(f"{path}: the header is damaged or not an Amanat backup header.")
    body_start = _PREFIX.size + length
    body_end = size - TRAILER_BYTES
    if body_end <= body_start or trailer[:len(TRAILER_MAGIC)] != TRAILER_MAGIC:
        raise BackupError(f"{path} is incomplete or truncated: it has no final MAC (a backup "
                          "that was interrupted, or a damaged copy).")
    return Header(raw, fixed + header_bytes, body_start, body_end)


class _BodyReader:
    """Reads the body range only, feeding the final MAC as it goes."""

    def __init__(self, handle: BinaryIO, header: Header, mac: hmac.HMAC) -> None:
        self.handle = handle
        self.remaining = header.body_end - header.body_start
        self.mac = mac
        handle.seek(header.body_start)

    def read(self, size: int = -1) -> bytes:
        if size < 0 or size > self.remaining:
            size = self.remaining
        data = self.handle.read(size)
        self.remaining -= len(data)
        self.mac.update(data)
        return data

    def tell(self) -> int:
        return self.handle.tell()

    def seekable(self) -> bool:
        return False


@dataclass
class Member:
    name: str
    kind: str
    size: int = 0
    digest: Any = field(default_factory=hashlib.sha256)
    newlines: int = 0


@dataclass
class Event:
    """One thing read from the body: a member starting, a piece of its data, its end, the end."""

    kind: str  # "start" | "data" | "end" | "manifest"
    member: Member | None = None
    data: bytes = b""
    entry: dict[str, Any] | None = None
    manifest: dict[str, Any] | None = None


def read_events(path: Path, header: Header, master_key: bytes) -> Iterator[Event]:
    """Decrypt and yield the body's events, checking everything on the way.

    Raises ForeignArchiveError when the first chunk does not authenticate (another
    installation's archive, or damaged from the start) and BackupError naming the first
    problem otherwise: a damaged chunk, a member whose bytes differ from its entry, a bad
    manifest, a wrong final MAC. Everything has been checked once the generator finishes.
    """
    enc_key, mac_key = derive_keys(master_key)
    mine = master_key_id(master_key)
    if header.installation != mine:
        raise ForeignArchiveError(
            f"{FOREIGN} (the backup names master key {header.installation}; this installation's "
            f"is {mine}).")
    mac = hmac.new(mac_key, digestmod="sha256")
    mac.update(header.prefix)
    parser = _Parser(header)
    with open(path, "rb") as handle:
        body = _BodyReader(handle, header, mac)
        chunks = iter_decrypted(body, key=enc_key,  # type: ignore[arg-type]
                                file_id=_file_id(header.archive_id, header.prefix),
                                expected_sha256=None)
        first = True
        try:
            for chunk in chunks:
                first = False
                yield from parser.feed(chunk)
        except IntegrityError as error:
            if first:
                raise ForeignArchiveError(f"{FOREIGN} ({error})") from None
            raise BackupError(f"The backup is damaged: {error}") from None
        if body.remaining:
            raise BackupError("The backup is damaged: data follows the end of its encrypted "
                              "body.")
        handle.seek(header.body_end)
        trailer = handle.read(TRAILER_BYTES)
    mac.update(trailer[:len(TRAILER_MAGIC)])
    if not hmac.compare_digest(mac.digest(), trailer[len(TRAILER_MAGIC):]):
        raise BackupError("The backup's final MAC does not match: the file was altered.")
    yield from parser.finish()


class _Parser:
    def __init__(self, header: Header) -> None:
        self.header = header
        self.buffer = bytearray()
        self.member: Member | None = None
        self.entries = hashlib.sha256()
        self.count = 0
        self.manifest: dict[str, Any] | None = None
        self.table_rows: dict[str, int] = {}
        self.evidence_files = 0
        self.evidence_bytes = 0
        self.names: set[str] = set()

    def feed(self, chunk: bytes) -> Iterator[Event]:
        self.buffer += chunk
        while len(self.buffer) >= _RECORD.size:
            tag, length = _RECORD.unpack_from(self.buffer)
            if length > MAX_RECORD_BYTES:
                raise BackupError("The backup is damaged: a record has an impossible length.")
            if len(self.buffer) < _RECORD.size + length:
                return
            payload = bytes(self.buffer[_RECORD.size:_RECORD.size + length])
            del self.buffer[:_RECORD.size + length]
            event = self._record(tag, payload)
            if event is not None:
                yield event

    def _json(self, payload: bytes, what: str) -> dict[str, Any]:
        try:
            value = json.loads(payload)
        except ValueError:
            raise BackupError(f"The backup is damaged: its {what} is not JSON.") from None
        if not isinstance(value, dict):
            raise BackupError(f"The backup is damaged: its {what} is not an object.")
        return value

    def _record(self, tag: bytes, payload: bytes) -> Event | None:
        if self.manifest is not None:
            raise BackupError("The backup is damaged: records follow its manifest.")
        if tag == TAG_MEMBER:
            if self.member is not None:
                raise BackupError(f"The backup is damaged: member {self.member.name} never ends.")
            start = self._json(payload, "member header")
            name, kind = str(start.get("name")), str(start.get("kind"))
            if name in self.names:
                raise BackupError(f"The backup is damaged: member {name} appears twice.")
            self.names.add(name)
            self.member = Member(name, kind)
            return Event("start", self.member)
        if tag == TAG_DATA:
            if self.member is None:
                raise BackupError("The backup is damaged: data outside any member.")
            self.member.size += len(payload)
            self.member.digest.update(payload)
            if self.member.kind == "table":
                self.member.newlines += payload.count(b"\n")
            return Event("data", self.member, payload)
        if tag == TAG_END:
            member = self.member
            if member is None:
                raise BackupError("The backup is damaged: a member ends that never started.")
            entry = self._json(payload, f"entry for {member.name}")
            expected = {"name": member.name, "kind": member.kind, "size": member.size,
                        "sha256": member.digest.hexdigest()}
            if member.kind == "table":
                expected["rows"] = max(member.newlines - 1, 0)
                self.table_rows[member.name.removeprefix("table/")] = expected["rows"]
            if member.kind == "evidence":
                self.evidence_files += 1
                self.evidence_bytes += member.size
            if entry != expected:
                raise BackupError(
                    f"The backup is damaged: member {member.name} does not match its manifest "
                    f"entry (recorded {entry.get('size')} bytes, SHA-256 "
                    f"{str(entry.get('sha256'))[:16]}...; read {member.size} bytes, "
                    f"{expected['sha256'][:16]}...).")
            self.entries.update(canonical(entry) + b"\n")
            self.count += 1
            self.member = None
            return Event("end", member, entry=entry)
        if tag == TAG_MANIFEST:
            if self.member is not None:
                raise BackupError(f"The backup is damaged: member {self.member.name} never ends.")
            self.manifest = self._json(payload, "manifest")
            return None
        raise BackupError("The backup is damaged: unknown record type.")

    def finish(self) -> Iterator[Event]:
        if self.buffer or self.member is not None or self.manifest is None:
            raise BackupError("The backup is damaged or truncated: its manifest is missing.")
        manifest = self.manifest
        checks = (
            ("format", FORMAT_NAME),
            ("archive_id", self.header.archive_id),
            ("installation", self.header.installation),
            ("alembic_revision", self.header.revision),
            ("members", self.count),
            ("members_sha256", self.entries.hexdigest()),
            ("tables", self.table_rows),
            ("evidence", {"files": self.evidence_files, "bytes": self.evidence_bytes}),
        )
        for key, value in checks:
            if manifest.get(key) != value:
                raise BackupError(f"The backup is damaged: its manifest's {key} does not match "
                                  f"what the archive holds.")
        yield Event("manifest", manifest=manifest)
