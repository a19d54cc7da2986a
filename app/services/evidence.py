"""Evidence items (Berkeley Protocol): intake, custody log, checked reads.

Intake decides the media type from the file's first bytes, never from its name or from what the
browser declared; the name is kept only encrypted (``original_name``) and never reaches the
filesystem (the store writes under random names). Decisions on types:

* recognised images, audio, video, PDF and UTF-8 plain text are stored with their media type;
* archives (ZIP and the Office/OpenDocument formats built on it, RAR, 7z, tar, gzip, bzip2, xz)
  and legacy Office documents (OLE2) are stored as ``application/octet-stream``, flagged in the
  "received" custody event as kept as received and never unpacked or opened: a source's bundle
  of files is evidence as delivered, and its hash must cover exactly what was delivered;
* executables, and any content that is not recognised, are refused (nothing is stored).

Every read goes through ``open_checked``: the whole file is verified against the SHA-256 taken at
intake before a byte is served, and the custody log and the audit trail both record it. A
failed check is recorded too (custody "hash_rechecked" with the failure, audit
"evidence.tampered"), then refused with ``EvidenceIntegrityFailure``; the caller commits that
record, since it must survive the refusal.
"""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, BinaryIO

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from app.access import Action, can
from app.audit.recorder import record
from app.evidence import (
    EvidenceError,
    EvidenceMissing,
    EvidenceStorageFull,
    EvidenceStore,
    EvidenceTampered,
    EvidenceTooLarge,
)
from app.extensions import db
from app.models.acts import Act
from app.models.cases import Case
from app.models.evidence import CustodyEvent, EvidenceItem
from app.models.sources import AllegationLink
from app.models.users import User
from app.services import ServiceError

HEAD_BYTES = 4096
OCTET_STREAM = "application/octet-stream"
# Served with their own type (still as an attachment); anything else goes out as octet-stream.
SERVED_AS_IS = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp",
                          "application/pdf"})
INLINE_VIEWABLE = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
EXTENSIONS = {
    "image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp",
    "image/heic": "heic", "application/pdf": "pdf", "audio/mpeg": "mp3", "audio/aac": "aac",
    "audio/mp4": "m4a", "audio/ogg": "ogg", "audio/wav": "wav", "audio/amr": "amr",
    "audio/flac": "flac", "video/mp4": "mp4", "video/quicktime": "mov", "video/3gpp": "3gp",
    "video/webm": "webm", "video/x-matroska": "mkv", "video/ogg": "ogv",
    "text/plain; charset=utf-8": "txt",
}
MAX_NAME = 500


class EvidenceIntegrityFailure(ServiceError):
    """The stored file is missing or no longer matches its intake hash; nothing was served.

    The failure has been recorded (custody log and audit) in the session: commit it."""


@dataclass(frozen=True)
class Sniffed:
    media_type: str
    note: str | None = None  # e.g. "archive (zip), kept as received, not unpacked"


_ARCHIVES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"PK\x03\x04", "zip"), (0, b"PK\x05\x06", "zip"), (0, b"PK\x07\x08", "zip"),
    (0, b"Rar!\x1a\x07", "rar"), (0, b"7z\xbc\xaf\x27\x1c", "7z"), (0, b"\x1f\x8b", "gzip"),
    (0, b"BZh", "bzip2"), (0, b"\xfd7zXZ\x00", "xz"), (257, b"ustar", "tar"),
)
_EXECUTABLES: tuple[bytes, ...] = (
    b"MZ", b"\x7fELF", b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe",
    b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe", b"\x00asm", b"dex\n",
)


def _text(head: bytes) -> bool:
    """UTF-8 text without NULs or other binary control bytes (a cut multibyte tail is allowed)."""
    if not head or b"\x00" in head:
        return False
    sample = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(sample) - 3 or error.reason != "unexpected end of data":
            return False
        text = sample[:error.start].decode("utf-8")
    return not any(ord(ch) < 32 and ch not in "\t\n\r\f" for ch in text)


def sniff(head: bytes) -> Sniffed | None:
    """The media type of a file from its first bytes; None when it is not accepted."""
    if head.startswith(b"\xff\xd8\xff"):
        return Sniffed("image/jpeg")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return Sniffed("image/png")
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return Sniffed("image/gif")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return Sniffed("image/webp")
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return Sniffed("audio/wav")
    if head.startswith(b"%PDF-"):
        return Sniffed("application/pdf")
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"M4A ", b"M4B "):
            return Sniffed("audio/mp4")
        if brand == b"qt  ":
            return Sniffed("video/quicktime")
        if brand.startswith(b"3g"):
            return Sniffed("video/3gpp")
        if brand in (b"heic", b"heix", b"mif1", b"msf1", b"heif"):
            return Sniffed("image/heic")
        return Sniffed("video/mp4")
    if head.startswith(b"OggS"):
        return Sniffed("video/ogg" if b"theora" in head[:256] else "audio/ogg")
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return Sniffed("video/webm" if b"webm" in head[:64] else "video/x-matroska")
    if head.startswith(b"fLaC"):
        return Sniffed("audio/flac")
    if head.startswith(b"#!AMR"):
        return Sniffed("audio/amr")
    if head.startswith(b"ID3"):
        return Sniffed("audio/mpeg")
    if len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xF6) == 0xF0:
        return Sniffed("audio/aac")  # ADTS
    if len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0:
        return Sniffed("audio/mpeg")  # MPEG audio frame sync
    for offset, magic, kind in _ARCHIVES:
        if head[offset:offset + len(magic)] == magic:
            return Sniffed(OCTET_STREAM, f"archive ({kind}), kept as received, not unpacked")
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return Sniffed(OCTET_STREAM, "document (OLE2), kept as received, not opened")
    if any(head.startswith(magic) for magic in _EXECUTABLES):
        return None
    if _text(head):
        return Sniffed("text/plain; charset=utf-8")
    return None


class _Prefixed(io.RawIOBase):
    """The bytes already read for sniffing, then the rest of the stream."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def,override]
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


_PENDING_FILES = "amanat.pending_evidence_files"


@event.listens_for(Session, "after_commit")
def _files_kept(session: Session) -> None:
    session.info.pop(_PENDING_FILES, None)


@event.listens_for(Session, "after_soft_rollback")
def _files_discarded(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.nested:
        return
    for evidence_store, name in session.info.pop(_PENDING_FILES, []):
        evidence_store.discard_uncommitted(name)


def store() -> EvidenceStore:
    return EvidenceStore(current_app.config["EVIDENCE_DIR"])


def _editable(actor: User, case: Case) -> None:
    if not can(actor, Action.EDIT, case):
        raise ServiceError(_("This case cannot be edited in its current state."))


def _custody(item: EvidenceItem, actor: User, action: str, detail: str | None = None) -> None:
    db.session.add(CustodyEvent(id=uuid.uuid4(), item_id=item.id, action=action,
                                actor_id=actor.id, detail=detail[:200] if detail else None))


def _clean(value: str | None, limit: int, field: str) -> str | None:
    value = (value or "").strip() or None
    if value is not None and len(value) > limit:
        raise ServiceError(_("This is too long (%(n)d characters at most).", n=limit), field=field)
    return value


def add_evidence(actor: User, case: Case, stream: BinaryIO, *, filename: str | None,
                 declared_type: str | None, description: str | None, collected_by: str | None,
                 collected_at: datetime | None, collected_from: str | None,
                 derived_from: EvidenceItem | None = None) -> EvidenceItem:
    """Check, encrypt and store an uploaded file; record the item, its "received" custody event
    and an "evidence.upload" audit entry. On any refusal nothing is written to the database."""
    _editable(actor, case)
    description = _clean(description, 5000, "description")
    collected_by = _clean(collected_by, 120, "collected_by")
    collected_from = _clean(collected_from, 2000, "collected_from")
    if derived_from is not None and derived_from.case_id != case.id:
        raise ServiceError(_("The original must be an item of this case."), field="derived_from")
    if collected_at is not None and collected_at.tzinfo is None:
        collected_at = collected_at.replace(tzinfo=UTC)  # the form asks for UTC
    if collected_at is not None and collected_at > datetime.now(UTC):
        raise ServiceError(_("The collection date cannot be in the future."),
                           field="collected_at")
    head = stream.read(HEAD_BYTES)
    if not head:
        raise ServiceError(_("Choose a file to upload; an empty file cannot be evidence."),
                           field="file")
    sniffed = sniff(head)
    if sniffed is None:
        raise ServiceError(_("This file's content is not a recognised image, audio, video, PDF, "
                             "plain text or archive format (executable programs are never "
                             "accepted), so it was not stored. If it must be kept, put it in a "
                             "ZIP archive: archives are stored as received and never "
                             "unpacked."), field="file")
    max_size = current_app.config["MAX_EVIDENCE_BYTES"]
    try:
        evidence_store = store()
        stored = evidence_store.save(_Prefixed(head, stream), max_size=max_size)  # type: ignore[arg-type]
        # Until the record commits, the file is an orphan to discard if the transaction fails.
        db.session.info.setdefault(_PENDING_FILES, []).append(
            (evidence_store, stored.storage_name))
    except EvidenceTooLarge:
        raise ServiceError(_("The file is larger than the evidence limit of %(mb)s MB; nothing "
                             "was stored.", mb=_megabytes(max_size)), field="file") from None
    except EvidenceStorageFull:
        raise ServiceError(_("The evidence store is out of disk space, so nothing was stored. "
                             "Ask the administrator to free or add space, then upload the file "
                             "again.")) from None
    except EvidenceError:
        raise ServiceError(_("The file could not be written to the evidence store; nothing was "
                             "stored. Try again or tell the administrator.")) from None
    item = EvidenceItem(id=uuid.uuid4(), case_id=case.id, storage_name=stored.storage_name,
                        media_type=sniffed.media_type, size=stored.size, sha256=stored.sha256,
                        collected_by=collected_by, collected_at=collected_at,
                        derived_from_id=derived_from.id if derived_from else None,
                        created_by_id=actor.id, updated_by_id=actor.id)
    name = (filename or "").strip()[:MAX_NAME] or None
    item.original_name = name  # encrypted; never used as a path
    item.description = description
    item.collected_from = collected_from
    db.session.add(item)
    db.session.flush()
    notes = ["sha256 recorded at intake"]
    if sniffed.note:
        notes.append(sniffed.note)
    declared = (declared_type or "").split(";")[0].strip().lower()
    if declared and declared != OCTET_STREAM and declared != sniffed.media_type.split(";")[0]:
        notes.append(f"declared {declared[:40]}, content is {sniffed.media_type.split(';')[0]}")
    _custody(item, actor, "received", "; ".join(notes))
    db.session.flush()
    fields = [f for f, v in (("original_name", name), ("description", description),
                             ("collected_by", collected_by), ("collected_at", collected_at),
                             ("collected_from", collected_from),
                             ("derived_from", derived_from)) if v is not None]
    record("evidence.upload", actor_id=actor.id, object_type="evidence", object_id=item.id,
           case_id=case.id, details={"fields": fields, "media_type": item.media_type,
                                     "size": item.size, "sha256": item.sha256,
                                     "archive": bool(sniffed.note)})
    return item


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f}".removesuffix(".0")


def _integrity_failure(actor: User, case: Case, item: EvidenceItem, problem: str,
                       purpose: str) -> EvidenceIntegrityFailure:
    _custody(item, actor, "hash_rechecked", f"FAILED: {problem}; not served")
    db.session.flush()
    record("evidence.tampered", actor_id=actor.id, object_type="evidence", object_id=item.id,
           case_id=case.id, details={"problem": problem, "during": purpose})
    if problem == "missing":
        message = _("The stored file of this evidence item is missing from the evidence store, "
                    "so nothing was served. This has been recorded. Tell the administrator: it "
                    "must be restored from a backup.")
    else:
        message = _("The stored file of this evidence item no longer matches the SHA-256 "
                    "recorded when it was received, so nothing was served. It may have been "
                    "damaged or tampered with. This has been recorded. Tell the administrator: "
                    "it must be restored from a backup and the incident reported.")
    return EvidenceIntegrityFailure(message)


def _check(item: EvidenceItem, actor: User, case: Case, purpose: str) -> Iterator[bytes]:
    if item.case_id != case.id:
        raise ServiceError(_("This evidence item belongs to another case."))
    try:
        return store().open_verified(item.storage_name, item.sha256)
    except EvidenceMissing:
        raise _integrity_failure(actor, case, item, "missing", purpose) from None
    except EvidenceTampered:
        raise _integrity_failure(actor, case, item, "hash_mismatch", purpose) from None


def open_checked(actor: User, case: Case, item: EvidenceItem, *,
                 purpose: str = "downloaded") -> Iterator[bytes]:
    """Verify the whole file, record the check and the read, and return its plaintext chunks.

    ``purpose`` is the custody action: "downloaded" (an attachment) or "viewed" (shown inline).
    """
    if purpose not in ("downloaded", "viewed"):
        raise ValueError(purpose)
    chunks = _check(item, actor, case, purpose)
    _custody(item, actor, "hash_rechecked", "sha256 matched")
    _custody(item, actor, purpose)
    db.session.flush()
    record("evidence.download" if purpose == "downloaded" else "evidence.view",
           actor_id=actor.id, object_type="evidence", object_id=item.id, case_id=case.id,
           details={"media_type": item.media_type, "size": item.size})
    return chunks


def recheck(actor: User, case: Case, item: EvidenceItem) -> None:
    """Re-check the stored file against its intake hash and record it in the custody log."""
    chunks = _check(item, actor, case, "recheck")
    close = getattr(chunks, "close", None)
    if close is not None:
        close()  # verified already; nothing is read out
    _custody(item, actor, "hash_rechecked", "sha256 matched")
    db.session.flush()
    record("evidence.recheck", actor_id=actor.id, object_type="evidence", object_id=item.id,
           case_id=case.id, details={"result": "matched"})


def custody_of(item: EvidenceItem) -> list[CustodyEvent]:
    return list(db.session.execute(select(CustodyEvent).where(CustodyEvent.item_id == item.id)
                                   .order_by(CustodyEvent.at, CustodyEvent.id)).scalars())


def links_of(item: EvidenceItem) -> list[tuple[AllegationLink, Act]]:
    return list(db.session.execute(
        select(AllegationLink, Act).join(Act, Act.id == AllegationLink.act_id)
        .where(AllegationLink.evidence_id == item.id).order_by(AllegationLink.created_at)).all())


def copies_of(item: EvidenceItem) -> list[EvidenceItem]:
    return list(db.session.execute(select(EvidenceItem).where(
        EvidenceItem.derived_from_id == item.id).order_by(EvidenceItem.created_at)).scalars())


_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]")


def download_names(item: EvidenceItem) -> tuple[str, str | None]:
    """(ASCII fallback, the original's base name made harmless) for Content-Disposition."""
    ext = EXTENSIONS.get(item.media_type, "bin")
    fallback = f"evidence-{str(item.id)[:8]}.{ext}"
    raw = item.original_name or ""
    base = re.split(r"[/\\]", raw)[-1] if raw else ""
    base = _UNSAFE.sub("_", base).strip(" .")[:200]
    return fallback, base or None
