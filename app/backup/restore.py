"""`amanat backup verify` and `amanat restore`: check an archive; restore it into an EMPTY installation.

Restore is all-or-nothing. Every row goes in through one database transaction; evidence files
are written to a private directory inside the evidence store (`.restore-<archive id>/`) and
moved to their real names only after that transaction commits. The archive is checked while it
is read (every chunk, every member's SHA-256 and size, the manifest, the final MAC) and the
commit happens only after the last check, so a damaged archive, an error or a kill leaves the
installation as empty as it was. The one window is between the commit and the last file move;
running `amanat restore` again finishes those moves (the restore's own audit entry proves the
commit happened).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import Integer, Table, func, select, text

from app.audit.recorder import record as audit_record
from app.backup import archive
from app.backup.archive import BackupError, Event, ForeignArchiveError, Header
from app.backup.backup import database_revision, decode_value, known_revisions
from app.crypto import runtime
from app.crypto.backup import import_master_key
from app.crypto.errors import CryptoError, KeyMissingError
from app.crypto.keyring import master_key_id
from app.crypto.operations import configured_provider, provider_can_store
from app.crypto.providers import FileKeyProvider, KeyProvider
from app.extensions import db
from app.models.audit import AuditEntry

RESTORE_ACTION = "backup.restore"
CHECKPOINT_DUE = "amanat.audit_checkpoint_due"  # app/audit/checkpoints.py's session flag
# Rows a fresh installation may already hold: reference data the migrations seed, and audit
# entries of what was done to it before the restore (e.g. `amanat keys restore`). The
# archive's rows replace them, inside the restore's transaction.
REPLACEABLE_TABLES = ("audit_checkpoints", "audit_entries", "vocabulary_terms", "districts")
BATCH_ROWS = 1000
STAGING_PREFIX = ".restore-"
_EVIDENCE_NAME = re.compile(r"[0-9a-f]{32}")

AskPassphrase = Callable[[], str]


@dataclass
class KeyChoice:
    master: bytes
    install: bool = False  # the key came from the archive's passphrase block
    provider: KeyProvider | None = None
    replaces: bool = False  # an unusable or different key file is in the way (moved aside)


def resolve_key(header: Header, ask_passphrase: AskPassphrase) -> KeyChoice:
    """The master key that opens this archive: the installed one, or the archive's own block."""
    provider = configured_provider()
    local: bytes | None = None
    problem: str | None = None
    try:
        local = provider.load()
    except KeyMissingError:
        pass
    except CryptoError as error:
        problem = str(error)
    if local is not None and master_key_id(local) == header.installation:
        return KeyChoice(local)
    if header.key_backup:
        try:
            key = import_master_key(header.key_backup, ask_passphrase())
        except ValueError as error:
            raise BackupError(str(error)) from None
        except CryptoError as error:
            raise BackupError(f"The master key sealed in the backup could not be opened: "
                              f"{error}") from None
        if master_key_id(key) != header.installation:
            raise ForeignArchiveError(f"{archive.FOREIGN} (its sealed key does not match it).")
        return KeyChoice(key, install=True, provider=provider,
                         replaces=local is not None or problem is not None)
    if problem is not None:
        raise BackupError(f"The master key cannot be used: {problem}")
    if local is None:
        raise BackupError(
            f"This installation has no master key ({provider.describe()} is missing) and the "
            "backup does not include one. Restore the original installation's master key first "
            "with amanat keys restore KEY_BACKUP_FILE, or use a backup made with --include-keys.")
    raise ForeignArchiveError(
        f"{archive.FOREIGN} (the backup names master key {header.installation}; this "
        f"installation's is {master_key_id(local)}).")


# -- verify -----------------------------------------------------------------------------------------
@dataclass
class VerifyResult:
    path: Path
    archive_id: str
    installation: str
    revision: str | None
    created_at: str
    size: int
    tables: dict[str, int]
    evidence_files: int
    evidence_bytes: int
    members: int
    keys_included: bool


def verify_backup(path: Path, ask_passphrase: AskPassphrase) -> VerifyResult:
    """Read and check the whole archive without writing anything; raise on the first problem."""
    header = archive.read_header(path)
    choice = resolve_key(header, ask_passphrase)
    manifest: dict[str, Any] = {}
    for event in archive.read_events(path, header, choice.master):
        if event.kind == "start" and event.member is not None:
            _check_member_name(event.member.name, event.member.kind)
        if event.kind == "manifest" and event.manifest is not None:
            manifest = event.manifest
    return VerifyResult(path, header.archive_id, header.installation, header.revision,
                        str(header.raw.get("created_at")), path.stat().st_size,
                        dict(manifest["tables"]), manifest["evidence"]["files"],
                        manifest["evidence"]["bytes"], manifest["members"],
                        bool(manifest.get("keys_included")))


def _check_member_name(name: str, kind: str) -> None:
    kind_prefix, _, rest = name.partition("/")
    ok = (kind == kind_prefix == "table" and rest in db.metadata.tables) or \
        (kind == kind_prefix == "evidence" and _EVIDENCE_NAME.fullmatch(rest)) or \
        (kind == kind_prefix == "key" and rest == "audit-signing.key")
    if not ok:
        raise BackupError(f"The backup holds a member this version does not know: {name[:80]!r}.")


# -- restore ----------------------------------------------------------------------------------------
@dataclass
class RestoreResult:
    archive_id: str
    installation: str
    revision: str | None
    tables: dict[str, int] = field(default_factory=dict)
    evidence_files: int = 0
    evidence_bytes: int = 0
    key_installed: bool = False
    replaced_key_file: Path | None = None
    discarded_audit_entries: int = 0
    finished_interrupted: bool = False
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _staging_dirs(evidence_dir: Path) -> list[Path]:
    if not evidence_dir.is_dir():
        return []
    return sorted(p for p in evidence_dir.iterdir()
                  if p.is_dir() and p.name.startswith(STAGING_PREFIX))


def _row_counts(tables: list[Table]) -> dict[str, int]:
    counts = {}
    for table in tables:
        count = db.session.execute(select(func.count()).select_from(table)).scalar_one()
        if count:
            counts[table.name] = int(count)
    return counts


def _existing_tables() -> list[Table]:
    from sqlalchemy import inspect

    present = set(inspect(db.session.connection()).get_table_names())
    return [t for t in db.metadata.sorted_tables if t.name in present]


def _restored_archive(archive_id: str) -> bool:
    return db.session.execute(
        select(AuditEntry.seq).where(AuditEntry.action == RESTORE_ACTION,
                                     AuditEntry.object_id == archive_id).limit(1)
    ).first() is not None


def _move_staged(staging: Path, evidence_dir: Path) -> int:
    moved = 0
    for item in sorted(staging.iterdir()):
        if not _EVIDENCE_NAME.fullmatch(item.name):
            item.unlink()
            continue
        target = evidence_dir / item.name
        if target.exists():
            item.unlink()  # checked identical before the commit
        else:
            os.rename(item, target)
        moved += 1
    _fsync_dir(evidence_dir)
    staging.rmdir()
    return moved


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _check_schema(header: Header, result: RestoreResult) -> None:
    current = database_revision(db.session.connection())
    known, head = known_revisions()
    if current is None:
        raise BackupError("The database has no Amanat schema yet: run 'amanat db upgrade' "
                          "first, then restore.")
    if current != head:
        raise BackupError(f"The database is at schema revision {current}, but this version of "
                          f"Amanat expects {head}: run 'amanat db upgrade' first, then restore.")
    if header.revision not in known:
        raise BackupError(
            f"The backup was made by a newer version of Amanat (schema revision "
            f"{header.revision}, unknown to this version, whose newest is {head}). Install "
            "that version or a later one, run 'amanat db upgrade', then restore.")
    if header.revision != head:
        result.notes.append(
            f"The backup has the older schema revision {header.revision}; its rows were "
            f"restored by column name into revision {head} (columns added since take their "
            "defaults).")


def _check_empty() -> None:
    occupied = _row_counts([t for t in _existing_tables() if t.name not in REPLACEABLE_TABLES])
    if occupied:
        listed = ", ".join(f"{name}: {count} row{'s' if count != 1 else ''}"
                           for name, count in sorted(occupied.items()))
        raise BackupError(
            f"The database is not empty ({listed}). A backup is restored only into a new, empty "
            "installation: create a new database, run 'amanat db upgrade', then restore. "
            "Nothing was changed.")


class _TableLoader:
    """Turns a table member's JSON lines into batched INSERTs on the restore's connection."""

    def __init__(self, table_name: str, conn: Any) -> None:
        if table_name not in db.metadata.tables:
            raise BackupError(f"The backup holds table {table_name}, unknown to this version.")
        self.table: Table = db.metadata.tables[table_name]
        self.conn = conn
        self.columns: list[tuple[str, str]] | None = None
        self.pending = bytearray()
        self.batch: list[dict[str, Any]] = []
        self.rows = 0
        # Columns pointing at this same table (an evidence item derived from another): set after
        # every row of the table is in, so row order never matters.
        self.self_refs = {fk.parent.name for fk in self.table.foreign_keys
                          if fk.column.table is self.table}
        self.deferred: list[tuple[dict[str, Any], str, Any]] = []

    def feed(self, data: bytes) -> None:
        self.pending += data
        *lines, rest = self.pending.split(b"\n")
        self.pending = bytearray(rest)
        for line in lines:
            self._line(line)
        if len(self.batch) >= BATCH_ROWS:
            self._flush()

    def _line(self, line: bytes) -> None:
        try:
            value = json.loads(line)
        except ValueError:
            raise BackupError(f"The backup is damaged: a row of {self.table.name} is not "
                              "JSON.") from None
        if self.columns is None:
            columns = [tuple(pair) for pair in value.get("columns", [])]
            unknown = [name for name, _kind in columns if name not in self.table.c]
            if value.get("table") != self.table.name or unknown:
                raise BackupError(
                    f"The backup's table {self.table.name} has columns this version does not "
                    f"have ({', '.join(unknown) or 'bad header'}): restore with the version that "
                    "made it.")
            self.columns = columns  # type: ignore[assignment]
            return
        if len(value) != len(self.columns):
            raise BackupError(f"The backup is damaged: a row of {self.table.name} has "
                              f"{len(value)} values for {len(self.columns)} columns.")
        row = {name: decode_value(kind, item)
               for (name, kind), item in zip(self.columns, value, strict=True)}
        for name in self.self_refs:
            if row.get(name) is not None:
                keys = {c.name: row[c.name] for c in self.table.primary_key.columns}
                self.deferred.append((keys, name, row[name]))
                row[name] = None
        self.batch.append(row)
        self.rows += 1

    def _flush(self) -> None:
        if self.batch:
            self.conn.execute(self.table.insert(), self.batch)
            self.batch = []

    def finish(self) -> int:
        if self.pending:
            raise BackupError(f"The backup is damaged: table {self.table.name} ends mid-row.")
        self._flush()
        return self.rows

    def apply_deferred(self) -> None:
        untouched = {c.name: c for c in self.table.c if c.onupdate is not None}
        for keys, name, value in self.deferred:
            condition = [self.table.c[k] == v for k, v in keys.items()]
            self.conn.execute(self.table.update().where(*condition)
                              .values({name: value, **untouched}))


def _reset_sequences(conn: Any) -> None:
    """PostgreSQL: move each serial/identity sequence past the ids just inserted."""
    if conn.dialect.name != "postgresql":
        return
    for table in db.metadata.sorted_tables:
        keys = list(table.primary_key.columns)
        if len(keys) != 1 or not isinstance(keys[0].type, Integer):
            continue
        column = keys[0]
        sequence = conn.execute(text("SELECT pg_get_serial_sequence(:t, :c)"),
                                {"t": table.name, "c": column.name}).scalar()
        if sequence:
            top = conn.execute(select(func.max(column))).scalar() or 0
            conn.execute(text("SELECT setval(:s, :v, false)"), {"s": sequence, "v": top + 1})


def _install_key(choice: KeyChoice, result: RestoreResult) -> Callable[[], None]:
    """Install the archive's master key through the provider; return how to undo it."""
    provider = choice.provider
    assert provider is not None
    moved: Path | None = None
    if isinstance(provider, FileKeyProvider) and choice.replaces and provider.path.exists():
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        moved = provider.path.with_name(f"{provider.path.name}.replaced-{stamp}")
        os.replace(provider.path, moved)
    provider.store(choice.master)
    result.key_installed = True
    result.replaced_key_file = moved

    def undo() -> None:
        if isinstance(provider, FileKeyProvider):
            if moved is not None:
                os.replace(moved, provider.path)
            else:
                provider.path.unlink(missing_ok=True)
        result.key_installed = False
        result.replaced_key_file = None

    return undo


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _install_audit_key(audit_key: bytes | None,
                       result: RestoreResult) -> Callable[[], None] | None:
    """Put the archive's audit signing key in place if this installation has none."""
    from app.audit.checkpoints import key_path

    path = key_path()
    if audit_key is None or path.exists():
        return None
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    _write_private(path, audit_key)
    result.notes.append(f"The audit signing key was restored to {path}.")

    def undo() -> None:
        path.unlink(missing_ok=True)

    return undo


def _audit_key_notes(manifest: dict[str, Any], result: RestoreResult) -> None:
    from app.audit.checkpoints import AuditKeyError, key_path, signing_key

    path = key_path()
    wanted = (manifest.get("audit") or {}).get("verifier_key")
    if not wanted:
        return
    if not path.exists():
        result.notes.append(
            f"This installation has no audit signing key ({path}). The stored checkpoints were "
            f"signed with {wanted}: copy audit-signing.key from the original server (keep it "
            "with the master key backup) before the next checkpoint is made, or 'amanat audit "
            "verify' cannot check them.")
        return
    try:
        here = signing_key(create=False).verifier_key
    except AuditKeyError as error:
        result.notes.append(f"The audit signing key cannot be read: {error}")
        return
    if here != wanted:
        result.notes.append(
            f"The audit signing key here ({here}) is not the one that signed the restored "
            f"checkpoints ({wanted}); it was left as it is. Install the original key, or "
            "'amanat audit verify' will report the stored checkpoints as unsigned.")


def _finish_interrupted(evidence_dir: Path, result: RestoreResult) -> bool:
    for staging in _staging_dirs(evidence_dir):
        archive_id = staging.name.removeprefix(STAGING_PREFIX)
        if _restored_archive(archive_id):
            result.evidence_files += _move_staged(staging, evidence_dir)
            result.finished_interrupted = True
    return result.finished_interrupted


def restore_backup(path: Path, ask_passphrase: AskPassphrase) -> RestoreResult:
    """Restore ``path`` into this (empty) installation; all or nothing."""
    started = time.monotonic()
    header = archive.read_header(path)
    result = RestoreResult(header.archive_id, header.installation, header.revision)
    evidence_dir = Path(current_app.config["EVIDENCE_DIR"])
    if _finish_interrupted(evidence_dir, result):
        db.session.rollback()
        result.notes.append("An interrupted restore had committed; its evidence files are now "
                            "in place.")
        return result
    choice = resolve_key(header, ask_passphrase)
    if choice.install and choice.provider is not None and not provider_can_store(choice.provider):
        raise BackupError(f"{choice.provider.describe()} cannot be written by Amanat: install the "
                          "master key there from its backup yourself, then restore.")
    _check_schema(header, result)
    _check_empty()
    db.session.rollback()
    for stale in _staging_dirs(evidence_dir):  # left by a restore killed before its commit
        shutil.rmtree(stale, ignore_errors=True)
    evidence_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    staging = evidence_dir / f"{STAGING_PREFIX}{header.archive_id}"
    staging.mkdir(mode=0o700)
    undo_key: Callable[[], None] | None = None
    undo_audit_key: Callable[[], None] | None = None
    committed = False
    try:
        conn = db.session.connection()
        _check_empty()  # again, now inside the writing transaction
        discarded = conn.execute(select(func.count()).select_from(AuditEntry.__table__)).scalar()
        result.discarded_audit_entries = int(discarded or 0)
        for name in REPLACEABLE_TABLES:
            table = db.metadata.tables[name]
            # Only when there is something to replace: on PostgreSQL the application role may
            # not DELETE from the audit tables at all (deploy/postgres-roles.sql).
            if conn.execute(select(func.count()).select_from(table)).scalar():
                conn.execute(table.delete())
        manifest, audit_key, loaders = _load(path, header, choice.master, conn, staging, result)
        for loader in loaders:
            loader.apply_deferred()
        _reset_sequences(conn)
        _check_collisions(staging, evidence_dir)
        audit_record(RESTORE_ACTION, actor_id=None, object_type="backup", object_id=header.archive_id,
                     details={"rows": sum(result.tables.values()),
                              "evidence_files": result.evidence_files,
                              "source_dialect": header.raw.get("source_dialect"),
                              "revision": header.revision,
                              "discarded_entries": result.discarded_audit_entries})
        if choice.install:
            undo_key = _install_key(choice, result)
        undo_audit_key = _install_audit_key(audit_key, result)
        # No checkpoint is signed by this commit: the next verification or checkpoint covers it,
        # once the operator has the right signing key in place.
        db.session.info.pop(CHECKPOINT_DUE, None)
        db.session.commit()
        committed = True
    except BaseException:
        if not committed:
            db.session.rollback()
            shutil.rmtree(staging, ignore_errors=True)
            if undo_key is not None:
                undo_key()
            if undo_audit_key is not None:
                undo_audit_key()
        raise
    _move_staged(staging, evidence_dir)
    _audit_key_notes(manifest, result)
    runtime.state().reset()
    result.seconds = time.monotonic() - started
    return result


def _check_collisions(staging: Path, evidence_dir: Path) -> None:
    import filecmp

    for item in staging.iterdir():
        target = evidence_dir / item.name
        if target.exists() and not filecmp.cmp(item, target, shallow=False):
            raise BackupError(f"The evidence store already holds a different file named "
                              f"{item.name}; nothing was restored. Use an empty evidence "
                              "directory.")


def _load(path: Path, header: Header, master: bytes, conn: Any, staging: Path,
          result: RestoreResult) -> tuple[dict[str, Any], bytes | None, list[_TableLoader]]:
    loaders: list[_TableLoader] = []
    loader: _TableLoader | None = None
    handle: Any = None
    key_bytes = bytearray()
    audit_key: bytes | None = None
    manifest: dict[str, Any] = {}
    try:
        for event in archive.read_events(path, header, master):
            member = event.member
            if event.kind == "start" and member is not None:
                _check_member_name(member.name, member.kind)
                name = member.name.partition("/")[2]
                if member.kind == "table":
                    loader = _TableLoader(name, conn)
                    loaders.append(loader)
                elif member.kind == "evidence":
                    fd = os.open(staging / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL
                                 | getattr(os, "O_NOFOLLOW", 0), 0o600)
                    handle = os.fdopen(fd, "wb")
                else:
                    key_bytes.clear()
            elif event.kind == "data" and member is not None:
                if member.kind == "table" and loader is not None:
                    loader.feed(event.data)
                elif member.kind == "evidence" and handle is not None:
                    handle.write(event.data)
                else:
                    key_bytes += event.data
            elif event.kind == "end" and member is not None:
                _end_member(event, loader, handle, key_bytes, result)
                if member.kind == "key":
                    audit_key = bytes(key_bytes)
                loader, handle = None, None
            elif event.kind == "manifest" and event.manifest is not None:
                manifest = event.manifest
    finally:
        if handle is not None:
            handle.close()
    return manifest, audit_key, loaders


def _end_member(event: Event, loader: _TableLoader | None, handle: Any, key_bytes: bytearray,
                result: RestoreResult) -> None:
    member = event.member
    assert member is not None
    if member.kind == "table" and loader is not None:
        rows = loader.finish()
        if event.entry is not None and rows != event.entry.get("rows"):
            raise BackupError(f"The backup is damaged: table {loader.table.name} has {rows} rows, "
                              f"its entry says {event.entry.get('rows')}.")
        result.tables[loader.table.name] = rows
    elif member.kind == "evidence" and handle is not None:
        handle.flush()
        os.fsync(handle.fileno())
        handle.close()
        result.evidence_files += 1
        result.evidence_bytes += member.size
