"""The key ring's store in the database: wrapped data keys in the data_keys table, same transaction."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime

from sqlalchemy import func, insert, select, update

from app.crypto.keyring import MAX_KEY_ID, WrappedKey
from app.extensions import db
from app.models.keys import DataKey


def _as_wrapped(row: DataKey) -> WrappedKey:
    return WrappedKey(key_id=row.id, purpose=row.purpose,
                      wrapped=bytes(row.wrapped) if row.wrapped is not None else None,
                      master_key_id=row.master_key_id, active=row.active, destroyed=row.destroyed)


class SqlKeyStore:
    """Key ids are random, never sequential: an id from a rolled-back transaction is never reused,
    so a key cached in memory can never be mistaken for a later, different key."""

    def get(self, key_id: int) -> WrappedKey | None:
        row = db.session.get(DataKey, key_id)
        return _as_wrapped(row) if row is not None else None

    def get_many(self, key_ids: list[int]) -> list[WrappedKey]:
        """Several keys in one query (KeyRing.preload)."""
        rows = db.session.execute(select(DataKey).where(DataKey.id.in_(key_ids))).scalars()
        return [_as_wrapped(row) for row in rows]

    def live_keys_by_master(self, current: str) -> tuple[dict[str, int], WrappedKey | None]:
        """Live (not destroyed) keys counted per wrapping master key, and one key wrapped by
        `current` to test it on — two small queries instead of loading every key."""
        live = (DataKey.destroyed.is_(False), DataKey.wrapped.is_not(None))
        counts = dict(db.session.execute(
            select(DataKey.master_key_id, func.count()).where(*live)
            .group_by(DataKey.master_key_id)).all())
        sample = db.session.execute(select(DataKey).where(
            *live, DataKey.master_key_id == current).limit(1)).scalar_one_or_none()
        return counts, _as_wrapped(sample) if sample is not None else None

    def add(self, purpose: str, wrapped: bytes, master_key_id: str) -> int:
        while True:
            key_id = secrets.randbelow(min(MAX_KEY_ID, 2**31 - 1)) + 1
            if db.session.get(DataKey, key_id) is None:
                break
        db.session.add(DataKey(id=key_id, purpose=purpose, wrapped=wrapped,
                               master_key_id=master_key_id, active=False, destroyed=False))
        db.session.flush()
        return key_id

    def free_ids(self, count: int) -> list[int]:
        """`count` distinct random key ids not in the table (one query per round of draws)."""
        chosen: set[int] = set()
        while len(chosen) < count:
            draw = {secrets.randbelow(min(MAX_KEY_ID, 2**31 - 1)) + 1
                    for _ in range(count - len(chosen))} - chosen
            ordered, taken = sorted(draw), set()
            for start in range(0, len(ordered), 500):  # within every database's parameter limit
                taken.update(db.session.execute(select(DataKey.id).where(
                    DataKey.id.in_(ordered[start:start + 500]))).scalars())
            chosen |= draw - taken
        return sorted(chosen)

    def add_many(self, records: list[WrappedKey]) -> None:
        """Insert new keys already wrapped (ids from free_ids), inactive, in one statement."""
        if records:
            db.session.execute(insert(DataKey), [
                {"id": r.key_id, "purpose": r.purpose, "wrapped": r.wrapped,
                 "master_key_id": r.master_key_id, "active": False, "destroyed": False,
                 "created_at": datetime.now(UTC)} for r in records])

    def active(self, purpose: str) -> WrappedKey | None:
        row = db.session.execute(
            select(DataKey).where(DataKey.purpose == purpose, DataKey.active.is_(True))
        ).scalar_one_or_none()
        return _as_wrapped(row) if row is not None else None

    def activate(self, key_id: int) -> None:
        row = db.session.get(DataKey, key_id)
        if row is None:
            raise KeyError(key_id)
        db.session.execute(update(DataKey).where(DataKey.purpose == row.purpose,
                                                 DataKey.id != key_id).values(active=False))
        row.active = True
        db.session.flush()

    def all(self) -> Iterator[WrappedKey]:
        for row in db.session.execute(select(DataKey).order_by(DataKey.id)).scalars():
            yield _as_wrapped(row)

    def replace_wrapping(self, key_id: int, wrapped: bytes, master_key_id: str) -> None:
        row = db.session.get(DataKey, key_id)
        if row is None:
            raise KeyError(key_id)
        row.wrapped = wrapped
        row.master_key_id = master_key_id
        db.session.flush()

    def destroy(self, key_id: int) -> None:
        row = db.session.get(DataKey, key_id)
        if row is None:
            raise KeyError(key_id)
        row.wrapped = None
        row.destroyed = True
        row.active = False
        row.destroyed_at = datetime.now(UTC)
        db.session.flush()

    def is_empty(self) -> bool:
        return db.session.execute(select(DataKey.id).limit(1)).first() is None
