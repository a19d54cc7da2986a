"""Key operations behind `amanat keys`: status, data-key rotation, master-key rotation, backup.

Every function here runs inside an app context, takes its inputs explicitly, raises CryptoError
with a message an operator can act on, and never prints: app/cli_keys.py does the talking.
Audit entries carry ids and counts only, never a key or a value.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import Column, Table, and_, bindparam, case, func, or_, select, update
from sqlalchemy import inspect as sa_inspect

from app.audit.recorder import record
from app.crypto import runtime
from app.crypto.backup import export_master_key, import_master_key
from app.crypto.cipher import FORMAT_VERSION
from app.crypto.errors import CryptoError, KeyMissingError, WrongKeyError
from app.crypto.fields import RegisteredField, registered_fields
from app.crypto.keyring import PURPOSE_GENERAL, PURPOSE_PERSON, KeyRing, master_key_id
from app.crypto.private_files import write_new_private
from app.crypto.providers import (
    ExternalKeyProvider,
    FileKeyProvider,
    KeyProvider,
    generate_master_key,
    provider_from_config,
)
from app.crypto.store import SqlKeyStore
from app.extensions import db
from app.models.audit import AuditEntry
from app.models.keys import DataKey

ROTATE_ACTION = "keys.rotate"
ROTATE_MASTER_ACTION = "keys.rotate_master"
BACKUP_ACTION = "keys.backup"
RESTORE_ACTION = "keys.restore"
NEXT_SUFFIX = ".next"

Progress = Callable[[int], None]


# -- small helpers --------------------------------------------------------------------------------
def _prefix(key_id: int) -> bytes:
    """The first five bytes of every field ciphertext made with ``key_id`` (version, key id)."""
    return struct.pack(">BI", FORMAT_VERSION, key_id)


def _head(column: Column[Any]) -> Any:
    # substr on a blob/bytea counts bytes on both SQLite and PostgreSQL
    return func.substr(column, 1, 5)


def _table(model: type) -> Table:
    return model.__table__  # type: ignore[attr-defined, no-any-return]


def _fields_by_model(fields: Iterable[RegisteredField]) -> dict[type, list[RegisteredField]]:
    grouped: dict[type, list[RegisteredField]] = {}
    for entry in fields:
        grouped.setdefault(entry.model, []).append(entry)
    return grouped


def _untouched_columns(table: Table) -> dict[str, Any]:
    """SET col = col for columns with an on-update default: re-encryption is not an edit."""
    return {column.name: column for column in table.c if column.onupdate is not None}


def _version_bump(model: type) -> dict[str, Any]:
    """Bump an optimistic-lock column, so a request holding the row from before fails safely."""
    version = sa_inspect(model).version_id_col
    return {version.name: version + 1} if version is not None else {}


def _general_keys() -> tuple[int | None, list[int], list[int]]:
    """(active general key, retired live general keys, destroyed general keys)."""
    active: int | None = None
    retired: list[int] = []
    destroyed: list[int] = []
    rows = db.session.execute(
        select(DataKey.id, DataKey.active, DataKey.destroyed).where(
            DataKey.purpose == PURPOSE_GENERAL)
    ).all()
    for key_id, is_active, is_destroyed in rows:
        if is_destroyed:
            destroyed.append(key_id)
        elif is_active:
            active = key_id
        else:
            retired.append(key_id)
    return active, sorted(retired), sorted(destroyed)


def write_private_file(path: Path, text: str) -> None:
    """Create ``path`` with mode 0600 and write ``text``; refuse to overwrite or follow a link."""
    try:
        write_new_private(path, text.encode("utf-8"))
    except FileExistsError:
        raise CryptoError(f"{path} already exists; choose a new file name.") from None


def configured_provider() -> KeyProvider:
    """The configured master-key provider, never creating a key file (unlike the runtime's)."""
    return provider_from_config(current_app.config["MASTER_KEY_PROVIDER"],
                                current_app.instance_path, create=False)


def provider_can_store(provider: KeyProvider) -> bool:
    if isinstance(provider, FileKeyProvider):
        return True
    if isinstance(provider, ExternalKeyProvider):
        return provider._store is not None
    return type(provider).store is not KeyProvider.store


def _cannot_store_message(provider: KeyProvider, doing: str) -> str:
    return (
        f"The master key comes from {provider.describe()}, which Amanat cannot write, so it "
        f"cannot {doing} by itself. Do it through a key file instead: write the current key "
        "to a file (first line 'amanat-master-key v1', second line the base64 key, chmod 600), "
        "run this command again with AMANAT_MASTER_KEY_PROVIDER=file:/path/to/that/file, then "
        "put the base64 line of the resulting file into your secret store, restart every "
        "Amanat process, and delete the file."
    )


# -- status ---------------------------------------------------------------------------------------
@dataclass
class KeyCounts:
    purpose: str
    active: int = 0
    retired: int = 0
    destroyed: int = 0


@dataclass
class FieldCounts:
    label: str
    per_row_keys: bool
    total: int = 0
    active_general: int = 0
    retired_general: int = 0
    under_destroyed_key: int = 0

    @property
    def other(self) -> int:
        """Values under per-row (person) keys, or under a key that is not general."""
        return self.total - self.active_general - self.retired_general - self.under_destroyed_key


@dataclass
class RotationState:
    """An unfinished `keys rotate` run, read back from its audit entry."""

    seq: int
    started_at: datetime
    general_key_id: int | None
    person_keys: bool
    person_keys_before: datetime | None


@dataclass
class KeyStatus:
    provider: str
    master_key_id: str | None
    master_problem: str | None
    keys: list[KeyCounts]
    fields: list[FieldCounts]
    active_general_key: int | None
    unfinished: RotationState | None

    @property
    def pending(self) -> int:
        return sum(entry.retired_general for entry in self.fields)

    @property
    def tables(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for entry in self.fields:
            table = entry.label.split(".", 1)[0]
            totals[table] = totals.get(table, 0) + entry.total
        return totals


def key_counts() -> list[KeyCounts]:
    counts: dict[str, KeyCounts] = {}
    rows = db.session.execute(
        select(DataKey.purpose, DataKey.active, DataKey.destroyed, func.count())
        .group_by(DataKey.purpose, DataKey.active, DataKey.destroyed)
    ).all()
    for purpose, is_active, is_destroyed, number in rows:
        entry = counts.setdefault(purpose, KeyCounts(purpose))
        if is_destroyed:
            entry.destroyed += number
        elif is_active:
            entry.active += number
        else:
            entry.retired += number
    return [counts[name] for name in sorted(counts)]


def field_counts() -> list[FieldCounts]:
    """Per encrypted column: how many values sit under which kind of key (reads no plaintext)."""
    active, retired, destroyed = _general_keys()
    active_prefix = [_prefix(active)] if active is not None else []
    retired_prefixes = [_prefix(key_id) for key_id in retired]
    destroyed_prefixes = [_prefix(key_id) for key_id in destroyed]
    results = []
    for entry in registered_fields():
        table = _table(entry.model)
        column = table.c[entry.storage]
        head = _head(column)

        def tally(condition: Any) -> Any:
            return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

        total, in_active, in_retired, in_destroyed = db.session.execute(
            select(
                func.count(column),
                tally(and_(column.is_not(None), head.in_(active_prefix))),
                tally(and_(column.is_not(None), head.in_(retired_prefixes))),
                tally(and_(column.is_not(None), head.in_(destroyed_prefixes))),
            ).select_from(table)
        ).one()
        counts = FieldCounts(entry.label, entry.key_attr is not None, int(total),
                             int(in_active), int(in_retired), int(in_destroyed))
        if entry.key_attr is not None:
            key_column = sa_inspect(entry.model).columns[entry.key_attr]
            counts.under_destroyed_key += int(db.session.execute(
                select(func.count()).select_from(table)
                .join(DataKey, DataKey.id == key_column)
                .where(column.is_not(None), DataKey.destroyed.is_(True))
            ).scalar_one())
        results.append(counts)
    return results


def key_status() -> KeyStatus:
    """What `amanat keys status` shows. Works even when the master key is missing or wrong."""
    provider = configured_provider()
    master_id: str | None = None
    problem: str | None = None
    try:
        master_id = master_key_id(provider.load())
        KeyRing(provider, SqlKeyStore()).check_master()
    except CryptoError as error:
        problem = str(error)
    active, _retired, _destroyed = _general_keys()
    return KeyStatus(provider.describe(), master_id, problem, key_counts(), field_counts(),
                     active, unfinished_rotation())


# -- data-key rotation ----------------------------------------------------------------------------
def unfinished_rotation() -> RotationState | None:
    """The last `keys rotate` run if it recorded a start but no completion (it was killed)."""
    entry = db.session.execute(
        select(AuditEntry).where(AuditEntry.action == ROTATE_ACTION)
        .order_by(AuditEntry.seq.desc()).limit(1)
    ).scalar_one_or_none()
    if entry is None:
        return None
    details = json.loads(entry.details)
    if details.get("stage") not in ("start", "resume"):
        return None
    before = details.get("person_keys_before")
    started = entry.occurred_at if entry.occurred_at.tzinfo else entry.occurred_at.replace(
        tzinfo=UTC)
    return RotationState(entry.seq, started, details.get("general_key_id"),
                         bool(details.get("person_keys")),
                         datetime.fromisoformat(before) if before else None)


def count_pending_values() -> int:
    """Values under a live general key other than the active one: the rotation work left."""
    _active, retired, _destroyed = _general_keys()
    if not retired:
        return 0
    prefixes = [_prefix(key_id) for key_id in retired]
    total = 0
    for entry in registered_fields():
        column = _table(entry.model).c[entry.storage]
        total += int(db.session.execute(
            select(func.count()).select_from(_table(entry.model))
            .where(column.is_not(None), _head(column).in_(prefixes))
        ).scalar_one())
    return total


def _person_key_filter(before: datetime) -> Any:
    return and_(DataKey.purpose == PURPOSE_PERSON, DataKey.destroyed.is_(False),
                DataKey.created_at < before)


def count_person_keys(before: datetime) -> int:
    return int(db.session.execute(
        select(func.count()).select_from(DataKey).where(_person_key_filter(before))
    ).scalar_one())


@dataclass
class RotationPlan:
    """What a `keys rotate` run will do; `begin_rotation` has committed its start entry."""

    general_key_id: int
    created_key: bool
    resumed: bool
    person_keys_before: datetime | None
    pending_values: int
    pending_person_keys: int


@dataclass
class RotationResult:
    general_key_id: int
    reencrypted: int = 0
    changed_meanwhile: int = 0
    person_keys_replaced: int = 0
    person_rows: int = 0
    person_keys_unused: int = 0
    batches: int = 0
    unreadable: list[str] = field(default_factory=list)

    def audit_details(self) -> dict[str, Any]:
        return {
            "stage": "complete",
            "general_key_id": self.general_key_id,
            "reencrypted": self.reencrypted,
            "changed_meanwhile": self.changed_meanwhile,
            "person_keys_replaced": self.person_keys_replaced,
            "person_rows": self.person_rows,
            "unreadable": len(self.unreadable),
            "batches": self.batches,
        }


def begin_rotation(*, person_keys: bool = False, new_key: bool = False,
                   actor_id: Any = None) -> RotationPlan:
    """Start or resume a rotation, committing the new key (if any) and the start entry together.

    A new general key is made only when no rotation is pending: not when the last run was
    killed before recording its completion, nor while values remain under retired general
    keys. So re-running after a crash continues the same rotation. ``new_key`` forces a new
    key anyway (values under every retired general key are included either way).
    """
    ring = runtime.keyring()
    ring.check_master()
    unfinished = unfinished_rotation()
    pending = count_pending_values()
    active, _retired, _destroyed = _general_keys()
    before: datetime | None = None
    if not new_key and active is not None and (unfinished is not None or pending):
        key_id, created, resumed = active, False, True
        if unfinished is not None and unfinished.person_keys:
            person_keys = True
            before = unfinished.person_keys_before
    else:
        key_id, created, resumed = ring.new_key(PURPOSE_GENERAL, make_active=True), True, False
    if person_keys and before is None:
        before = datetime.now(UTC)
    record(ROTATE_ACTION, actor_id=actor_id, object_type="data_key", object_id=key_id,
           details={"stage": "resume" if resumed else "start", "general_key_id": key_id,
                    "new_key": created, "pending_values": count_pending_values(),
                    "person_keys": person_keys,
                    "person_keys_before": before.isoformat() if before else None})
    db.session.commit()
    return RotationPlan(key_id, created, resumed, before, count_pending_values(),
                        count_person_keys(before) if before else 0)


def _write_batch(table: Table, pending: list[tuple[Any, dict[str, tuple[bytes, bytes]]]]
                 ) -> tuple[int, int]:
    """Write one batch's re-encrypted values; return (values written, values changed meanwhile).

    Every UPDATE is compare-and-swap (the row's id *and* each old ciphertext in the WHERE): a
    value edited meanwhile is already under the active key and must not be overwritten. Rows
    changing the same columns share one statement, sent as one executemany (psycopg 3 pipelines
    it: one round trip instead of one per row). Its rowcount is the sum over the parameter sets,
    so a shortfall means some row was edited meanwhile without saying which: the batch's
    updates are then undone (savepoint) and written row by row, as before, to find it.
    """
    if not pending:
        return 0, 0
    id_column = table.c.id
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row_id, changes in pending:
        params: dict[str, Any] = {"rot_id": row_id}
        for name, (old, new) in changes.items():
            params[f"rot_old_{name}"] = old
            params[f"rot_new_{name}"] = new
        groups.setdefault(tuple(sorted(changes)), []).append(params)
    # Statements are built before the savepoint: nothing but this batch's UPDATEs is undone.
    statements = [
        (update(table)
         .where(id_column == bindparam("rot_id"),
                *[table.c[name] == bindparam(f"rot_old_{name}") for name in names])
         .values({**_untouched_columns(table),
                  **{name: bindparam(f"rot_new_{name}") for name in names}}), params)
        for names, params in groups.items()
    ]
    savepoint = db.session.begin_nested()
    try:
        complete = all(db.session.execute(statement, params).rowcount == len(params)
                       for statement, params in statements)
    except BaseException:
        savepoint.rollback()
        raise
    if complete:
        savepoint.commit()
        return sum(len(changes) for _row_id, changes in pending), 0
    savepoint.rollback()
    done = meanwhile = 0
    for row_id, changes in pending:
        statement = (
            update(table)
            .where(id_column == row_id,
                   *[table.c[name] == old for name, (old, _new) in changes.items()])
            .values({**_untouched_columns(table),
                     **{name: new for name, (_old, new) in changes.items()}})
        )
        if db.session.execute(statement).rowcount:
            done += len(changes)
        else:
            meanwhile += len(changes)
    return done, meanwhile


def _reencrypt_general(result: RotationResult, batch_size: int, progress: Progress) -> None:
    ring = runtime.keyring()
    cipher = runtime.cipher()
    active = ring.active_key_id(PURPOSE_GENERAL)
    _active, retired, _destroyed = _general_keys()
    prefixes = {_prefix(key_id) for key_id in retired}
    if not prefixes:
        return
    for model, entries in _fields_by_model(registered_fields()).items():
        table = _table(model)
        id_column = table.c.id
        columns = [table.c[entry.storage] for entry in entries]
        needs_work = or_(*[_head(column).in_(sorted(prefixes)) for column in columns])
        last_id: Any = None
        while True:
            query = select(id_column, *columns).where(needs_work)
            if last_id is not None:
                query = query.where(id_column > last_id)
            rows = db.session.execute(query.order_by(id_column).limit(batch_size)).all()
            if not rows:
                break
            pending: list[tuple[Any, dict[str, tuple[bytes, bytes]]]] = []
            for row in rows:
                row_id = row[0]
                changes: dict[str, tuple[bytes, bytes]] = {}
                for entry, stored in zip(entries, row[1:], strict=True):
                    if stored is None or bytes(stored[:5]) not in prefixes:
                        continue
                    old = bytes(stored)
                    location = {"table": entry.table, "column": entry.name, "row_id": str(row_id)}
                    try:
                        plain = cipher.decrypt_bytes(old, **location)
                    except CryptoError:
                        result.unreadable.append(f"{entry.label} row {row_id}")
                        continue
                    changes[entry.storage] = (old, cipher.encrypt_bytes(plain, key_id=active,
                                                                         **location))
                if changes:
                    pending.append((row_id, changes))
            done, meanwhile = _write_batch(table, pending)
            result.changed_meanwhile += meanwhile
            db.session.commit()  # each batch is its own transaction: a kill loses one batch
            result.reencrypted += done
            result.batches += 1
            last_id = rows[-1][0]
            progress(len(rows))


def _rotate_person_keys(result: RotationResult, before: datetime, batch_size: int,
                        progress: Progress) -> None:
    """Give every person (every row set sharing a person key) a new key; destroy the old one.

    Rows are found through every registered field's ``key_attr``, so one key shared by several
    tables moves everywhere at once. A key no registered row refers to is left alone.
    """
    ring = runtime.keyring()
    cipher = runtime.cipher()
    groups: dict[tuple[type, str], list[RegisteredField]] = {}
    for entry in registered_fields():
        if entry.key_attr is not None:
            groups.setdefault((entry.model, entry.key_attr), []).append(entry)
    if not groups:
        return
    last_key = 0
    while True:
        old_keys = db.session.execute(
            select(DataKey.id).where(_person_key_filter(before), DataKey.id > last_key)
            .order_by(DataKey.id).limit(batch_size)
        ).scalars().all()
        if not old_keys:
            break
        for old_key in old_keys:
            savepoint = db.session.begin_nested()
            new_key: int | None = None
            moved = 0
            conflict = False
            for (model, key_attr), entries in groups.items():
                table = _table(model)
                key_column = sa_inspect(model).columns[key_attr]
                columns = [table.c[entry.storage] for entry in entries]
                rows = db.session.execute(
                    select(table.c.id, *columns).where(key_column == old_key)
                ).all()
                for row in rows:
                    if new_key is None:
                        new_key = ring.new_key(PURPOSE_PERSON, make_active=False)
                    values: dict[str, Any] = {key_column.name: new_key}
                    guards = [table.c.id == row[0], key_column == old_key]
                    for entry, stored in zip(entries, row[1:], strict=True):
                        if stored is None:
                            guards.append(table.c[entry.storage].is_(None))
                            continue
                        old = bytes(stored)
                        location = {"table": entry.table, "column": entry.name,
                                    "row_id": str(row[0])}
                        try:
                            plain = cipher.decrypt_bytes(old, **location)
                        except CryptoError:
                            result.unreadable.append(f"{entry.label} row {row[0]}")
                            conflict = True
                            break
                        guards.append(table.c[entry.storage] == old)
                        values[entry.storage] = cipher.encrypt_bytes(plain, key_id=new_key,
                                                                     **location)
                    if conflict:
                        break
                    statement = (update(table).where(*guards).values(
                        {**_untouched_columns(table), **_version_bump(model), **values}))
                    if not db.session.execute(statement).rowcount:
                        conflict = True
                        break
                    moved += 1
                if conflict:
                    break
            if conflict:
                # Edited meanwhile or unreadable: keep this person on the old key, untouched.
                savepoint.rollback()
                result.changed_meanwhile += 1
                continue
            if new_key is None:
                savepoint.commit()
                result.person_keys_unused += 1
                continue
            ring.destroy(old_key)  # every row now uses new_key; the old key is shredded
            savepoint.commit()
            result.person_keys_replaced += 1
            result.person_rows += moved
        db.session.commit()
        result.batches += 1
        last_key = old_keys[-1]
        progress(len(old_keys))


def run_rotation(plan: RotationPlan, *, batch_size: int = 500,
                 progress: Progress | None = None, actor_id: Any = None) -> RotationResult:
    """Re-encrypt in committed batches, then record completion. Safe to kill at any point:
    every value stays readable (old keys are only retired), and the next run resumes."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1.")
    report = progress or (lambda _count: None)
    result = RotationResult(plan.general_key_id)
    _reencrypt_general(result, batch_size, report)
    if plan.person_keys_before is not None:
        _rotate_person_keys(result, plan.person_keys_before, batch_size, report)
    record(ROTATE_ACTION, actor_id=actor_id, object_type="data_key",
           object_id=plan.general_key_id, details=result.audit_details())
    db.session.commit()
    return result


def rotate(*, batch_size: int = 500, person_keys: bool = False, new_key: bool = False,
           progress: Progress | None = None, actor_id: Any = None) -> RotationResult:
    """`begin_rotation` then `run_rotation`, for callers that need no plan in between."""
    plan = begin_rotation(person_keys=person_keys, new_key=new_key, actor_id=actor_id)
    return run_rotation(plan, batch_size=batch_size, progress=progress, actor_id=actor_id)


# -- master key -----------------------------------------------------------------------------------
def next_key_path(provider: KeyProvider) -> Path:
    """Where a master-key rotation keeps the new key until the provider has stored it."""
    if isinstance(provider, FileKeyProvider):
        return provider.path.with_name(provider.path.name + NEXT_SUFFIX)
    return Path(current_app.instance_path) / f"master.key{NEXT_SUFFIX}"


@dataclass
class MasterRotation:
    old_master_key_id: str
    new_master_key_id: str
    rewrapped: int
    resumed: bool
    backup_path: Path


def rotate_master(backup_to: Path, passphrase: str, *, actor_id: Any = None) -> MasterRotation:
    """Rotate the master key in docs/crypto-format.md's crash-safe order; resumable.

    1. new key -> `<key file>.next` (0600); 2. passphrase backup of it -> ``backup_to``;
    3. re-wrap every data key and commit; 4. the provider stores the new key; `.next` removed.
    A `.next` file left by a killed run is picked up again instead of generating another key.
    """
    provider = configured_provider()
    if not provider_can_store(provider):
        raise CryptoError(_cannot_store_message(provider, "rotate the master key"))
    next_path = next_key_path(provider)
    pending = FileKeyProvider(next_path)
    resumed = next_path.exists()
    ring = KeyRing(provider, SqlKeyStore())
    if resumed:
        new = pending.load()
    else:
        ring.check_master()  # never rotate away from a key that does not open this database
        new = generate_master_key()
        pending.store(new)
    new_id = master_key_id(new)
    write_private_file(backup_to, export_master_key(new, passphrase))
    old_id = master_key_id(provider.load())
    rewrapped = 0
    if old_id != new_id:
        rewrapped = ring.rewrap_all(new)
        record(ROTATE_MASTER_ACTION, actor_id=actor_id, object_type="master_key",
               object_id=new_id, details={"old_master_key_id": old_id,
                                          "new_master_key_id": new_id, "rewrapped": rewrapped,
                                          "resumed": resumed})
        db.session.commit()
        provider.store(new)
    next_path.unlink(missing_ok=True)
    runtime.state().reset()
    KeyRing(configured_provider(), SqlKeyStore()).check_master()
    return MasterRotation(old_id, new_id, rewrapped, resumed, backup_to)


def export_backup(path: Path, passphrase: str, *, actor_id: Any = None) -> str:
    """Write the master key, sealed under ``passphrase``, to a new 0600 file; return its id."""
    provider = configured_provider()
    KeyRing(provider, SqlKeyStore()).check_master()
    key = provider.load()
    text = export_master_key(key, passphrase)  # ValueError for a short passphrase
    write_private_file(path, text)
    key_id = master_key_id(key)
    record(BACKUP_ACTION, actor_id=actor_id, object_type="master_key", object_id=key_id,
           details={"master_key_id": key_id})
    db.session.commit()
    return key_id


@dataclass
class RestoreResult:
    master_key_id: str
    matches: bool | None  # None: the database holds no data keys yet, nothing to compare
    detail: str
    already_in_place: bool = False
    replaced_file: Path | None = None


def restore_backup(blob: str, passphrase: str, *, force: bool = False,
                   actor_id: Any = None) -> RestoreResult:
    """Recover the master key from a backup and install it through the configured provider.

    Checked against the database before anything is written. Refuses to replace an existing,
    different key (or a key that does not open this database) unless ``force``; a replaced key
    file is kept beside it as `<name>.replaced-<time>`, never deleted.
    """
    key = import_master_key(blob, passphrase)
    key_id = master_key_id(key)
    provider = configured_provider()
    if not provider_can_store(provider):
        raise CryptoError(_cannot_store_message(provider, "restore the master key"))
    store = SqlKeyStore()
    matches: bool | None
    if store.is_empty():
        matches, detail = None, "The database holds no data keys yet, so there is nothing to check."
    else:
        check = KeyRing(ExternalKeyProvider(lambda: key, description="the key backup"), store)
        try:
            check.check_master()
        except WrongKeyError as error:
            matches, detail = False, str(error)
        else:
            matches, detail = True, "It opens this database's data keys."
    if matches is False and not force:
        raise CryptoError(
            f"The key in this backup (id {key_id}) does not open this database: {detail} "
            "Nothing was written. Use --force to install it anyway."
        )
    existing: bytes | None = None
    existing_problem: str | None = None
    try:
        existing = provider.load()
    except KeyMissingError:
        pass
    except CryptoError as error:
        existing_problem = str(error)
    if existing == key:
        return RestoreResult(key_id, matches, detail, already_in_place=True)
    if (existing is not None or existing_problem) and not force:
        what = (f"a different master key (id {master_key_id(existing)})" if existing is not None
                else f"an unusable key ({existing_problem})")
        raise CryptoError(
            f"{provider.describe()} already holds {what}. Restoring would replace it and "
            "whatever it protects. If you are sure, run again with --force (the old key file "
            "is kept beside it, renamed)."
        )
    replaced: Path | None = None
    if isinstance(provider, FileKeyProvider) and (existing is not None or existing_problem):
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        replaced = provider.path.with_name(f"{provider.path.name}.replaced-{stamp}")
        os.replace(provider.path, replaced)
    provider.store(key)
    runtime.state().reset()
    record(RESTORE_ACTION, actor_id=actor_id, object_type="master_key", object_id=key_id,
           details={"master_key_id": key_id, "matches": matches, "forced": force})
    db.session.commit()
    return RestoreResult(key_id, matches, detail, replaced_file=replaced)
