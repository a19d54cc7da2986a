"""`amanat backup`: one consistent, encrypted archive of the database and the evidence store.

The database is exported logically, table by table in foreign-key order, through SQLAlchemy
Core (so a SQLite backup restores into PostgreSQL and back), inside ONE read transaction:
REPEATABLE READ, READ ONLY on PostgreSQL; a deferred BEGIN on SQLite, whose WAL snapshot
neither blocks nor waits for the application's writers. Encrypted columns are copied as the
ciphertext they are. Evidence files are copied byte for byte as stored (already encrypted),
for exactly the evidence_items rows of that snapshot: the store never deletes and writes a
file before its row commits, so every row seen has its file.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from alembic.runtime.migration import MigrationContext
from flask import current_app
from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    Uuid,
    create_engine,
    event,
    inspect,
    select,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

from app.audit.recorder import record as audit_record
from app.backup import archive
from app.backup.archive import BackupError, MemberHasher, canonical
from app.crypto import runtime
from app.crypto.backup import export_master_key
from app.crypto.keyring import master_key_id
from app.extensions import db

BACKUP_ACTION = "backup.create"
# Sign-in sessions are live credentials, not records: never backed up (everyone signs in again).
EXCLUDED_TABLES = frozenset({"web_sessions"})
ROWS_PER_BLOCK = 1024 * 1024
_STORAGE_NAME = re.compile(r"[0-9a-f]{32}")  # bytes of JSON lines gathered before a data record is cut

Progress = Callable[[str], None]


# -- values -----------------------------------------------------------------------------------------
def column_kind(column: Column[Any]) -> str:
    """How a column's values travel in the archive; an unknown type stops the backup."""
    kind = column.type
    for cls, name in ((LargeBinary, "bytes"), (Uuid, "uuid"), (DateTime, "datetime"),
                      (Date, "date"), (Boolean, "bool"), (Integer, "int"), (Text, "str"),
                      (String, "str")):
        if isinstance(kind, cls):
            return name
    raise BackupError(f"Column {column.table.name}.{column.name} has type {kind!r}, which the "
                      "backup does not know how to carry; add it to app/backup/backup.py.")


def encode_value(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "bytes":
        return base64.b64encode(bytes(value)).decode("ascii")
    if kind == "uuid":
        return str(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))
    if kind == "datetime":
        if value.tzinfo is None:  # SQLite hands back naive values; the app stores UTC
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat()
    if kind == "date":
        return value.isoformat()
    return value


def decode_value(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "bytes":
        return base64.b64decode(value, validate=True)
    if kind == "uuid":
        return uuid.UUID(value)
    if kind == "datetime":
        return datetime.fromisoformat(value).astimezone(UTC)
    if kind == "date":
        return date.fromisoformat(value)
    if kind == "bool":
        return bool(value)
    return value


# -- the consistent read --------------------------------------------------------------------------
def _snapshot_engine(url: Any) -> Engine:
    """A private engine (no app listeners): deferred BEGIN on SQLite, so reading never blocks."""
    engine = create_engine(url, poolclass=NullPool)
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves

        @event.listens_for(engine, "begin")
        def _begin(connection: Connection) -> None:
            connection.exec_driver_sql("BEGIN")
    return engine


@contextmanager
def snapshot(url: Any) -> Iterator[Connection]:
    """One read transaction giving a consistent picture of the whole database."""
    engine = _snapshot_engine(url)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                conn = conn.execution_options(isolation_level="REPEATABLE READ",
                                              postgresql_readonly=True)
            with conn.begin():
                yield conn
    finally:
        engine.dispose()


def database_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def known_revisions() -> tuple[set[str], str | None]:
    """(every revision the code's migrations know, the head revision)."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(current_app.extensions["migrate"].directory)
    return {rev.revision for rev in script.walk_revisions()}, script.get_current_head()


@dataclass
class TablePlan:
    table: Table
    columns: list[tuple[str, str]]  # (name, kind) present both in the code and the database


def plan_tables(conn: Connection) -> list[TablePlan]:
    """Every table of the code's metadata present in the database, in foreign-key order."""
    inspector = inspect(conn)
    present = set(inspector.get_table_names())
    unknown = present - set(db.metadata.tables) - {"alembic_version"}
    if unknown:
        raise BackupError(f"The database has tables this version of Amanat does not know "
                          f"({', '.join(sorted(unknown))}): back up with the version that "
                          "created them.")
    plans = []
    for table in db.metadata.sorted_tables:
        if table.name not in present or table.name in EXCLUDED_TABLES:
            continue
        in_db = {col["name"] for col in inspector.get_columns(table.name)}
        extra = in_db - set(table.c.keys())
        if extra:
            raise BackupError(f"Table {table.name} has columns this version of Amanat does not "
                              f"know ({', '.join(sorted(extra))}).")
        plans.append(TablePlan(table, [(c.name, column_kind(c)) for c in table.c
                                       if c.name in in_db]))
    return plans


def _order(table: Table) -> list[Any]:
    keys = list(table.primary_key.columns) or list(table.c)
    return keys


# -- writing the body -------------------------------------------------------------------------------
@dataclass
class BackupResult:
    path: Path
    archive_id: str
    installation: str
    revision: str | None
    size: int
    tables: dict[str, int] = field(default_factory=dict)
    evidence_files: int = 0
    evidence_bytes: int = 0
    keys_included: bool = False
    seconds: float = 0.0


def _table_member(conn: Connection, plan: TablePlan, result: BackupResult,
                  progress: Progress | None) -> Iterator[bytes]:
    table = plan.table
    member = MemberHasher(f"table/{table.name}", "table")
    yield member.start()
    head = {"table": table.name, "columns": [list(pair) for pair in plan.columns]}
    buffer = bytearray(canonical(head) + b"\n")
    columns = [table.c[name] for name, _kind in plan.columns]
    kinds = [kind for _name, kind in plan.columns]
    rows = 0
    query = select(*columns).order_by(*_order(table))
    for row in conn.execution_options(stream_results=True, yield_per=2000).execute(query):
        buffer += canonical([encode_value(k, v) for k, v in zip(kinds, row, strict=True)])
        buffer += b"\n"
        rows += 1
        if len(buffer) >= ROWS_PER_BLOCK:
            yield from member.data(bytes(buffer))
            buffer.clear()
    if buffer:
        yield from member.data(bytes(buffer))
    member.rows = rows
    result.tables[table.name] = rows
    if progress:
        progress(f"{table.name}: {rows} rows")
    yield archive.record(archive.TAG_END, canonical(member.entry()))


def _file_member(name: str, kind: str, path: Path,
                 sizes: list[int] | None = None) -> Iterator[bytes]:
    member = MemberHasher(name, kind)
    yield member.start()
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        raise BackupError(f"Evidence file {path.name} is missing from the evidence store "
                          f"({path.parent}); the backup was not written. Restore the file from "
                          "an earlier backup, then run the backup again.") from None
    with os.fdopen(fd, "rb") as handle:
        while block := handle.read(archive.BLOCK):
            yield from member.data(block)
    yield archive.record(archive.TAG_END, canonical(member.entry()))
    if sizes is not None:
        sizes.append(member.size)


def _evidence_members(conn: Connection, directory: Path, result: BackupResult,
                      progress: Progress | None) -> Iterator[bytes]:
    items = db.metadata.tables["evidence_items"]
    query = select(items.c.storage_name).order_by(items.c.storage_name)
    for (name,) in conn.execution_options(stream_results=True, yield_per=2000).execute(query):
        if not _STORAGE_NAME.fullmatch(name or ""):
            raise BackupError(f"An evidence item names the stored file {str(name)[:40]!r}, which "
                              "is not a storage name: the evidence_items table was altered.")
        sizes: list[int] = []
        yield from _file_member(f"evidence/{name}", "evidence", directory / name, sizes)
        result.evidence_files += 1
        result.evidence_bytes += sizes[0]
    if progress:
        progress(f"evidence: {result.evidence_files} files, {result.evidence_bytes} bytes")


def _body(conn: Connection, plans: list[TablePlan], header: dict[str, Any],
          result: BackupResult, evidence_dir: Path, audit_key: Path | None,
          verifier_key: str | None, progress: Progress | None) -> Iterator[bytes]:
    entries = _EntryTap()
    for plan in plans:
        yield from entries.tap(_table_member(conn, plan, result, progress))
    if "evidence_items" in {p.table.name for p in plans}:
        yield from entries.tap(_evidence_members(conn, evidence_dir, result, progress))
    if audit_key is not None:
        yield from entries.tap(_file_member("key/audit-signing.key", "key", audit_key))
    manifest = {
        "format": archive.FORMAT_NAME,
        "version": archive.FORMAT_VERSION,
        "archive_id": header["archive_id"],
        "installation": header["installation"],
        "alembic_revision": header["alembic_revision"],
        "created_at": header["created_at"],
        "source_dialect": header["source_dialect"],
        "tables": result.tables,
        "evidence": {"files": result.evidence_files, "bytes": result.evidence_bytes},
        "members": entries.count,
        "members_sha256": entries.digest.hexdigest(),
        "keys_included": result.keys_included,
        "audit": {"entries": result.tables.get("audit_entries", 0),
                  "checkpoints": result.tables.get("audit_checkpoints", 0),
                  "verifier_key": verifier_key},
    }
    yield archive.record(archive.TAG_MANIFEST, canonical(manifest))


class _EntryTap:
    """Watches the records going by and folds every member's end entry into the digest."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.count = 0

    def tap(self, records: Iterator[bytes]) -> Iterator[bytes]:
        for framed in records:
            if framed[:1] == archive.TAG_END:
                self.digest.update(framed[5:] + b"\n")
                self.count += 1
            yield framed


# -- the command ------------------------------------------------------------------------------------
def target_path(path: Path) -> Path:
    """A directory gets a new file named after the time; a file name is used as given."""
    if path.is_dir():
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        return path / f"amanat-{stamp}{archive.SUFFIX}"
    return path


def _verifier_key() -> tuple[Path | None, str | None]:
    from app.audit.checkpoints import AuditKeyError, key_path, signing_key

    path = key_path()
    if not path.exists():
        return None, None
    try:
        return path, signing_key(create=False).verifier_key
    except AuditKeyError as error:
        raise BackupError(str(error)) from None


def create_backup(path: Path, *, include_keys: bool = False, passphrase: str | None = None,
                  progress: Progress | None = None, actor_id: Any = None) -> BackupResult:
    """Write one archive of this installation to ``path`` (or a new file in directory ``path``)."""
    started = time.monotonic()
    ring = runtime.keyring()
    ring.check_master()  # never back up under a key that does not open this database
    master = ring.provider.load()
    db.session.rollback()
    key_block = None
    if include_keys:
        if not passphrase:
            raise BackupError("--include-keys needs a passphrase to seal the master key under.")
        key_block = export_master_key(master, passphrase)  # ValueError when too short
    audit_key, verifier_key = _verifier_key()
    target = target_path(path)
    evidence_dir = Path(current_app.config["EVIDENCE_DIR"])
    with snapshot(db.engine.url) as conn:
        revision = database_revision(conn)
        known, _head = known_revisions()
        if revision is not None and revision not in known:
            raise BackupError(f"The database is at schema revision {revision}, which this "
                              "version of Amanat does not know: back up with the newer version.")
        plans = plan_tables(conn)
        header = {
            "format": archive.FORMAT_NAME,
            "version": archive.FORMAT_VERSION,
            "archive_id": uuid.uuid4().hex,
            "installation": master_key_id(master),
            "created_at": datetime.now(UTC).isoformat(),
            "alembic_revision": revision,
            "source_dialect": conn.dialect.name,
            "key_backup": key_block,
        }
        result = BackupResult(target, header["archive_id"], header["installation"], revision,
                              0, keys_included=include_keys)
        body = _body(conn, plans, header, result, evidence_dir,
                     audit_key if include_keys else None, verifier_key, progress)
        result.size = archive.write_archive(target, header, master, body)
    result.seconds = time.monotonic() - started
    audit_record(BACKUP_ACTION, actor_id=actor_id, object_type="backup",
                 object_id=result.archive_id,
                 details={"rows": sum(result.tables.values()), "tables": len(result.tables),
                          "evidence_files": result.evidence_files,
                          "keys_included": include_keys})
    db.session.commit()
    return result
