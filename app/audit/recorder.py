"""Append audit entries in the caller's transaction, so a rolled-back change leaves no entry."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from flask import g, has_request_context, request
from sqlalchemy import func, select, text

from app.audit.canonical import canonical_entry
from app.audit.merkle import leaf_hash
from app.extensions import db
from app.models.audit import AuditEntry

# Any constant works; it names the one advisory lock that serialises audit appends on PostgreSQL.
_PG_AUDIT_LOCK = 0x616D616E


def _next_seq() -> int:
    """Lock the log's tail for this transaction and return the next sequence number.

    PostgreSQL: a transaction-scoped advisory lock, held until commit, so sequence order is commit
    order and numbers have no gaps. SQLite: every transaction begins IMMEDIATE (see app.database),
    which already serialises writers.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_AUDIT_LOCK})
    current = db.session.execute(select(func.max(AuditEntry.seq))).scalar()
    return (current or 0) + 1


def entry_fields(entry: AuditEntry) -> dict[str, Any]:
    """Every stored field of an entry except its hash: what the leaf hash covers."""
    return {
        "seq": entry.seq,
        "occurred_at": entry.occurred_at,
        "actor_id": entry.actor_id,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "case_id": entry.case_id,
        "request_id": entry.request_id,
        "address": entry.address,
        "details": json.loads(entry.details),
    }


def compute_leaf_hash(entry: AuditEntry) -> str:
    return leaf_hash(canonical_entry(entry_fields(entry))).hex()


def record(
    action: str,
    *,
    actor_id: uuid.UUID | None,
    object_type: str | None = None,
    object_id: object | None = None,
    case_id: uuid.UUID | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry | None:
    """Add one entry to the current transaction. `details` holds ids and field names, never content.

    Returns the entry; inside `batched()` the entry is only collected (it is numbered and
    written by the batch) and None is returned.
    """
    fields = {
        "occurred_at": datetime.now(UTC),
        "actor_id": actor_id,
        "action": action,
        "object_type": object_type,
        "object_id": str(object_id) if object_id is not None else None,
        "case_id": case_id,
        "request_id": g.get("request_id") if has_request_context() else None,
        "address": request.remote_addr if has_request_context() else None,
        "details": json.dumps(details or {}, sort_keys=True, ensure_ascii=False),
    }
    batch = _BATCH.get()
    if batch is not None:
        batch.rows.append(fields)
        return None
    entry = AuditEntry(seq=_next_seq(), **fields)
    entry.leaf_hash = compute_leaf_hash(entry)
    db.session.add(entry)
    db.session.flush()
    return entry


class AuditBatch:
    """Entries recorded inside `batched()`, in the order they were recorded, not yet written
    (each as the column values record() gives an AuditEntry, without seq and leaf hash)."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def write(self) -> None:
        """Number the entries after the log's tail (under the same lock as record()), hash them
        and insert them in one statement: contiguous seq, each leaf as record() computes it
        (over the same fields entry_fields() reads back from a stored entry)."""
        if not self.rows:
            return
        first = _next_seq()
        for offset, row in enumerate(self.rows):
            row["seq"] = first + offset
            row["leaf_hash"] = leaf_hash(canonical_entry(
                {**row, "details": json.loads(row["details"])})).hex()
        db.session.execute(AuditEntry.__table__.insert(), self.rows)
        self.rows = []


_BATCH: ContextVar[AuditBatch | None] = ContextVar("amanat_audit_batch", default=None)


@contextmanager
def batched() -> Iterator[AuditBatch]:
    """Inside this block, record() collects entries instead of writing each with its own
    `max(seq)` query and flush; the caller writes them with `batch.write()` (as often as it
    likes, e.g. once per chunk of imported cases) and what is left is written on leaving the
    block. Entries still pending when an exception leaves the block are dropped with the
    caller's transaction."""
    batch = AuditBatch()
    token = _BATCH.set(batch)
    try:
        yield batch
        batch.write()
    finally:
        _BATCH.reset(token)
