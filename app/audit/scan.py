"""Read audit rows fast and recompute their leaf hashes, in this process or in worker processes.

Verifying a million entries is dominated by rebuilding each entry's canonical bytes, so this
module reads only the columns (raw DB-API rows, no ORM objects), splits the seq range into chunks
and, for large logs, hashes the chunks in a process pool (one worker per core). Each chunk comes
back as the packed recomputed leaf hashes plus what was wrong in it; the caller feeds the hashes,
in order, into one Merkle tree.

Reads never take SQLite's write lock: the application engine begins every transaction IMMEDIATE
(app/database.py), so rows are read through a DB-API connection in autocommit mode instead, and a
long verification does not block writers. Only rows with seq <= the maximum seen when the scan
started are read; later appends cannot change them.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from app.audit.canonical import canonical_entry
from app.audit.merkle import leaf_hash

CHUNK_SEQS = 100_000  # rows per chunk: bounded memory, enough chunks to share between workers
PARALLEL_MIN_ROWS = 150_000  # below this a process pool costs more than it saves
MAX_REPORTED = 20  # problems of one kind listed by seq; the rest are only counted
# Appended to the tree in place of a row that cannot be decoded: it matches no checkpoint.
UNREADABLE_LEAF = leaf_hash(b"amanat: unreadable audit row")

# UUIDs are read as text (PostgreSQL: the canonical hyphenated form; SQLite stores 32 hex digits).
_SELECT = {
    "sqlite": "SELECT seq, occurred_at, actor_id, action, object_type, object_id, case_id, "
              "request_id, address, details, leaf_hash FROM audit_entries "
              "WHERE seq >= ? AND seq <= ? ORDER BY seq",
    "postgresql": "SELECT seq, occurred_at, CAST(actor_id AS TEXT), action, object_type, "
                  "object_id, CAST(case_id AS TEXT), request_id, address, details, leaf_hash "
                  "FROM audit_entries WHERE seq >= %s AND seq <= %s ORDER BY seq",
}
_SELECT_LEAVES = {
    "sqlite": "SELECT seq, leaf_hash FROM audit_entries WHERE seq >= ? AND seq <= ? ORDER BY seq",
    "postgresql": "SELECT seq, leaf_hash FROM audit_entries WHERE seq >= %s AND seq <= %s "
                  "ORDER BY seq",
}


@dataclass
class Chunk:
    """What one scan of seqs lo..hi found: recomputed leaves in seq order and the faults."""

    lo: int
    hi: int
    count: int = 0
    leaves: bytes = b""  # 32 bytes per row read, in seq order
    missing: list[tuple[int, int]] = field(default_factory=list)  # (first, last) absent seqs
    missing_count: int = 0
    mismatched: list[int] = field(default_factory=list)  # seqs whose content != stored hash
    mismatched_count: int = 0
    unreadable: list[tuple[int, str]] = field(default_factory=list)
    unreadable_count: int = 0


def _uuid_text(value: Any) -> Any:
    # The canonical form of a UUID is its lowercase hyphenated string, which is what the
    # recorder hashed (it held uuid.UUID objects); SQLite stores the 32 hex digits.
    if isinstance(value, str) and len(value) == 32:
        return f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"
    return value


def _fields(row: tuple[Any, ...]) -> dict[str, Any]:
    occurred_at = row[1]
    if isinstance(occurred_at, str):  # SQLite: "YYYY-MM-DD HH:MM:SS.ffffff", UTC
        occurred_at = datetime.fromisoformat(occurred_at)
    return {
        "seq": row[0],
        "occurred_at": occurred_at,
        "actor_id": _uuid_text(row[2]),
        "action": row[3],
        "object_type": row[4],
        "object_id": row[5],
        "case_id": _uuid_text(row[6]),
        "request_id": row[7],
        "address": row[8],
        "details": json.loads(row[9]),
    }


def recompute_leaf(row: tuple[Any, ...]) -> bytes:
    """The leaf hash of a raw row (columns as in _SELECT); raises ValueError/TypeError if unreadable."""
    return leaf_hash(canonical_entry(_fields(row)))


def _rows(connection: Any, dialect: str, sql: dict[str, str], lo: int, hi: int) -> Iterator[Any]:
    if dialect == "postgresql":
        # A server-side cursor streams the rows instead of loading the whole chunk.
        cursor = connection.cursor(name="amanat_audit_scan")
        cursor.itersize = 5000
    else:
        cursor = connection.cursor()
    try:
        cursor.execute(sql[dialect], (lo, hi))
        yield from cursor
    finally:
        cursor.close()


def scan_chunk_on(connection: Any, dialect: str, lo: int, hi: int) -> Chunk:
    """Recompute the leaf hashes of seqs lo..hi read through a DB-API connection."""
    chunk = Chunk(lo, hi)
    leaves = bytearray()
    expected = lo
    for row in _rows(connection, dialect, _SELECT, lo, hi):
        seq = row[0]
        if seq != expected:
            chunk.missing_count += seq - expected
            if len(chunk.missing) < MAX_REPORTED:
                chunk.missing.append((expected, seq - 1))
        expected = seq + 1
        try:
            leaf = recompute_leaf(row)
        except (ValueError, TypeError) as error:
            leaf = UNREADABLE_LEAF
            chunk.unreadable_count += 1
            if len(chunk.unreadable) < MAX_REPORTED:
                chunk.unreadable.append((seq, str(error)[:200]))
        else:
            if leaf.hex() != row[10]:
                chunk.mismatched_count += 1
                if len(chunk.mismatched) < MAX_REPORTED:
                    chunk.mismatched.append(seq)
        leaves += leaf
        chunk.count += 1
    if expected <= hi:
        chunk.missing_count += hi - expected + 1
        if len(chunk.missing) < MAX_REPORTED:
            chunk.missing.append((expected, hi))
    chunk.leaves = bytes(leaves)
    return chunk


def stored_leaves_on(connection: Any, dialect: str, lo: int, hi: int) -> Iterator[bytes]:
    """The stored leaf hashes of seqs lo..hi in order (for proofs over an already verified log)."""
    for _seq, stored in _rows(connection, dialect, _SELECT_LEAVES, lo, hi):
        yield bytes.fromhex(stored)


def _worker_scan(task: tuple[str, str, int, int]) -> Chunk:
    url, dialect, lo, hi = task
    engine = create_engine(url, poolclass=NullPool)
    try:
        connection = engine.raw_connection()
        try:
            return scan_chunk_on(connection.driver_connection, dialect, lo, hi)
        finally:
            connection.close()
    finally:
        engine.dispose()


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 4))


def chunk_bounds(lo: int, hi: int, size: int = CHUNK_SEQS) -> list[tuple[int, int]]:
    return [(start, min(start + size - 1, hi)) for start in range(lo, hi + 1, size)]


def scan(engine: Engine, lo: int, hi: int, *, workers: int = 0) -> Iterator[Chunk]:
    """Yield the chunks of seqs lo..hi in order; with workers > 1 and a large range, in parallel."""
    if hi < lo:
        return
    bounds = chunk_bounds(lo, hi)
    workers = workers or default_workers()
    parallel = (workers > 1 and hi - lo + 1 >= PARALLEL_MIN_ROWS
                and not _in_memory_sqlite(engine))
    if parallel:
        url = engine.url.render_as_string(hide_password=False)
        dialect = engine.dialect.name
        # spawn, not fork: the web server may have threads, and a forked lock can deadlock.
        context = multiprocessing.get_context("spawn")
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=min(workers, len(bounds)),
                                 mp_context=context) as pool:
            yield from pool.map(_worker_scan, [(url, dialect, a, b) for a, b in bounds])
        return
    connection = engine.raw_connection()
    try:
        for a, b in bounds:
            yield scan_chunk_on(connection.driver_connection, engine.dialect.name, a, b)
    finally:
        connection.rollback()
        connection.close()


def stored_leaves(engine: Engine, lo: int, hi: int) -> Iterator[bytes]:
    """Stream stored leaf hashes of seqs lo..hi through one read connection."""
    if hi < lo:
        return
    connection = engine.raw_connection()
    try:
        for a, b in chunk_bounds(lo, hi, 500_000):
            yield from stored_leaves_on(connection.driver_connection, engine.dialect.name, a, b)
    finally:
        connection.rollback()
        connection.close()


def _in_memory_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite" and engine.url.database in (None, "", ":memory:")
