"""Verify the audit log: recompute every leaf, check seqs, stored and exported checkpoints.

`verify_log` reads every row once, in seq order (see app/audit/scan.py for how it stays fast), and:

  (a) recomputes each entry's leaf hash from its columns and compares it with the stored one,
      naming the first entry that differs (an edited row; two rows whose seqs were swapped);
  (b) checks seqs run 1, 2, 3, ... without gaps (a deleted row);
  (c) checks each stored checkpoint's signature and that the tree recomputed at its size has its
      root; a stored checkpoint larger than the log means its last rows were deleted;
  (d) for each checkpoint given from outside (`against`: ones exported earlier), checks its
      signature, that the log still has its root at its size, and builds and checks a consistency
      proof from it to the current log -- a log rebuilt and re-signed on the server fails here.

The result is a `VerifyReport`; `ok` only when every check held. `run_verification` adds what
the CLI and the web page do around it: a checkpoint when the log has grown enough, and an
"audit.verify" entry whose details drive the warning banner on the audit pages.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from sqlalchemy.engine import Engine

from app.audit.checkpoint import (
    Checkpoint,
    CheckpointError,
    decode_verifier_key,
    parse_checkpoint,
    verify_checkpoint,
)
from app.audit.checkpoints import (
    AuditKeyError,
    checkpoint_every,
    latest_checkpoint,
    signing_key,
    store_checkpoint,
)
from app.audit.merkle import EMPTY_ROOT, ProofError, TreeBuilder, verify_consistency
from app.audit.proofs import NodeCollector, consistency_nodes
from app.audit.recorder import record
from app.audit.scan import scan
from app.extensions import db

VERIFY_ACTION = "audit.verify"
MAX_PROBLEMS_RECORDED = 10


@dataclass
class Problem:
    """One thing that failed. `kind` is a stable code (shown in the UI, stored in the audit entry)."""

    kind: str
    message: str
    seq: int | None = None


@dataclass
class AgainstResult:
    """The outcome for one checkpoint given from outside the server."""

    label: str
    checkpoint: Checkpoint | None = None
    consistent: bool = False
    proof: list[bytes] = field(default_factory=list)
    proof_size: int = 0  # the size of the tree the proof leads to


@dataclass
class VerifyReport:
    entries: int = 0
    root: bytes = EMPTY_ROOT
    checkpoints_checked: int = 0
    against: list[AgainstResult] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    seconds: float = 0.0
    builder: TreeBuilder | None = None
    verifier_key: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def first(self, kind: str) -> Problem | None:
        return next((p for p in self.problems if p.kind == kind), None)

    def audit_details(self, source: str) -> dict[str, Any]:
        """What the audit.verify entry stores: counts and problem codes with seqs, no text."""
        return {
            "ok": self.ok,
            "source": source,
            "entries": self.entries,
            "checkpoints_checked": self.checkpoints_checked,
            "against": len(self.against),
            "problem_count": len(self.problems),
            "problems": [{"kind": p.kind, "seq": p.seq}
                         for p in self.problems[:MAX_PROBLEMS_RECORDED]],
        }


@dataclass
class _Check:
    """A root the recomputed tree must have at `size`."""

    size: int
    root: bytes
    label: str
    stored: bool  # a stored checkpoint (c) or one given from outside (d)
    result: AgainstResult | None = None
    matched: bool | None = None


def _read(engine: Engine, sql: str) -> list[tuple[Any, ...]]:
    # A DB-API connection: on SQLite it reads without BEGIN IMMEDIATE, so it neither blocks
    # writers nor waits for the caller's own open transaction.
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute(sql)
        rows = [tuple(row) for row in cursor.fetchall()]
        cursor.close()
        return rows
    finally:
        connection.rollback()
        connection.close()


def _trusted_key(vkey: str | None, report: VerifyReport) -> tuple[str, Any] | str:
    """(key name, public key) to check checkpoints with, or why there is none."""
    if vkey:
        try:
            name, public_key = decode_verifier_key(vkey)
        except CheckpointError as error:
            report.problems.append(Problem("bad_verifier_key",
                                           f"The verifier key is invalid: {error}"))
            return "the verifier key given is invalid"
        report.verifier_key = vkey.strip()
        return name, public_key
    try:
        key = signing_key(create=False)
    except AuditKeyError as error:
        return str(error)
    report.verifier_key = key.verifier_key
    return key.name, key.public_key


def _stored_checks(engine: Engine, trusted: tuple[str, Any] | str,
                   report: VerifyReport) -> list[_Check]:
    rows = _read(engine, "SELECT id, size, root_hash, signed_text, created_at "
                         "FROM audit_checkpoints ORDER BY size")
    checks = []
    for _id, size, root_hex, text, created_at in rows:
        label = f"stored checkpoint at size {size} ({str(created_at)[:19]})"
        if isinstance(trusted, str):
            report.problems.append(Problem("checkpoint_unverified",
                                           f"The {label} could not be checked: {trusted}"))
            continue
        try:
            cp = verify_checkpoint(text, trusted[0], trusted[1], origin=trusted[0])
        except CheckpointError as error:
            report.problems.append(Problem("checkpoint_signature",
                                           f"The {label} has no valid signature: {error}"))
            continue
        if cp.size != size or cp.root_hash.hex() != root_hex:
            report.problems.append(Problem(
                "checkpoint_columns",
                f"The {label}: its size or root columns differ from its signed text."))
        checks.append(_Check(cp.size, cp.root_hash, label, stored=True))
    return checks


def _against_checks(against: Sequence[tuple[str, str]], trusted: tuple[str, Any] | str,
                    report: VerifyReport) -> list[_Check]:
    checks = []
    for label, text in against:
        result = AgainstResult(label)
        report.against.append(result)
        if isinstance(trusted, str):
            report.problems.append(Problem("against_unverified",
                                           f"{label}: cannot be checked: {trusted}"))
            continue
        try:
            cp = verify_checkpoint(text, trusted[0], trusted[1], origin=trusted[0])
        except CheckpointError as error:
            detail = str(error)
            try:
                claimed = parse_checkpoint(text)
                detail += f" (it claims size {claimed.size}, origin {claimed.origin})"
            except CheckpointError:
                pass
            report.problems.append(Problem(
                "against_signature", f"{label}: not a checkpoint signed by this log's key: "
                                     f"{detail}"))
            continue
        result.checkpoint = cp
        checks.append(_Check(cp.size, cp.root_hash, label, stored=False, result=result))
    return checks


def verify_log(*, against: Sequence[tuple[str, str]] = (), vkey: str | None = None,
               workers: int = 0, engine: Engine | None = None) -> VerifyReport:
    """Check the whole log; `against` holds (label, signed checkpoint text) pairs."""
    started = time.monotonic()
    engine = engine or db.engine
    report = VerifyReport()
    trusted = _trusted_key(vkey, report)
    # Checkpoints first, then the rows: a checkpoint made meanwhile is simply not checked.
    checks = _stored_checks(engine, trusted, report) + _against_checks(against, trusted, report)
    report.checkpoints_checked = sum(1 for c in checks if c.stored)
    count, min_seq, max_seq = _read(
        engine, "SELECT count(*), min(seq), max(seq) FROM audit_entries")[0]
    count = int(count or 0)
    lo = min(1, min_seq) if min_seq is not None else 1
    hi = max_seq if max_seq is not None else 0
    if min_seq is not None and min_seq < 1:
        report.problems.append(Problem("bad_seq", f"Entry {min_seq} has a seq below 1.",
                                       seq=min_seq))

    by_size: dict[int, list[_Check]] = {}
    for check in checks:
        if check.size > count:
            kind = "checkpoint_beyond_log" if check.stored else "against_beyond_log"
            report.problems.append(Problem(
                kind, f"The log has {count} entries but the {check.label} covers {check.size}: "
                      f"entries were deleted (at least the last {check.size - count}).",
                seq=count + 1))
            check.matched = False
        else:
            by_size.setdefault(check.size, []).append(check)
    wanted = [node for c in checks if not c.stored and c.size <= count
              for node in consistency_nodes(c.size, count)]
    collector = NodeCollector(count, wanted) if wanted else None

    builder = TreeBuilder()
    _check_at(builder, by_size, report)
    missing = mismatched = unreadable = 0
    for chunk in scan(engine, lo, hi, workers=workers):
        for first, last in chunk.missing:
            span = f"Entry {first} is" if first == last else f"Entries {first}-{last} are"
            report.problems.append(Problem("gap", f"{span} missing: deleted from the log.",
                                           seq=first))
        for seq in chunk.mismatched:
            report.problems.append(Problem(
                "hash_mismatch", f"Entry {seq} does not match its stored leaf hash: it was "
                                 "edited, or moved to another seq.", seq=seq))
        for seq, reason in chunk.unreadable:
            report.problems.append(Problem("unreadable", f"Entry {seq} cannot be read: {reason}",
                                           seq=seq))
        missing += chunk.missing_count - len(chunk.missing)
        mismatched += chunk.mismatched_count - len(chunk.mismatched)
        unreadable += chunk.unreadable_count - len(chunk.unreadable)
        leaves = chunk.leaves
        if collector is not None and collector.count + chunk.count <= count:
            for i in range(0, len(leaves), 32):
                collector.append(leaves[i:i + 32])
        # Feed the builder in runs that end exactly at the next checkpoint size.
        position = 0
        while position < len(leaves):
            next_sizes = [s for s in by_size if s > builder.size]
            stop = min(next_sizes) if next_sizes else None
            take = len(leaves) - position
            if stop is not None:
                take = min(take, (stop - builder.size) * 32)
            builder.extend(leaves[i:i + 32] for i in range(position, position + take, 32))
            position += take
            _check_at(builder, by_size, report)
    for kind, extra, what in (("gap", missing, "missing ranges"),
                              ("hash_mismatch", mismatched, "changed entries"),
                              ("unreadable", unreadable, "unreadable entries")):
        if extra:
            report.problems.append(Problem(kind, f"... and {extra} more {what}."))

    report.entries = builder.size
    report.root = builder.root()
    report.builder = builder
    _prove_consistency(checks, collector, report)
    _explain_checkpoint_failures(checks, report)
    report.problems.sort(key=_problem_order)
    report.seconds = time.monotonic() - started
    return report


def _check_at(builder: TreeBuilder, by_size: dict[int, list[_Check]],
              report: VerifyReport) -> None:
    for check in by_size.pop(builder.size, ()):
        check.matched = builder.root() == check.root


def _prove_consistency(checks: list[_Check], collector: NodeCollector | None,
                       report: VerifyReport) -> None:
    for check in checks:
        if check.stored or not check.matched or check.result is None:
            continue
        result = check.result
        size = report.entries
        try:
            proof = collector.hashes(consistency_nodes(check.size, size)) if collector else []
            verify_consistency(check.size, size, check.root, report.root, proof)
        except (KeyError, ValueError, ProofError) as error:
            report.problems.append(Problem(
                "against_proof", f"{check.label}: no consistency proof from size {check.size} "
                                 f"to {size}: {error}"))
            continue
        result.consistent = True
        result.proof = proof
        result.proof_size = size


def _explain_checkpoint_failures(checks: list[_Check], report: VerifyReport) -> None:
    good = [c.size for c in checks if c.matched]
    for check in checks:
        if check.matched is not False or check.size > report.entries:
            continue
        since = max((s for s in good if s < check.size), default=0)
        where = (f"between entries {since + 1} and {check.size}" if since
                 else f"at or before entry {check.size}")
        kind = "checkpoint_mismatch" if check.stored else "against_mismatch"
        report.problems.append(Problem(
            kind, f"The log no longer matches the {check.label}: something {where} was changed, "
                  "removed, inserted or reordered, or the log was rebuilt.", seq=check.size))


_ORDER = ("bad_verifier_key", "hash_mismatch", "unreadable", "gap", "bad_seq",
          "checkpoint_signature", "checkpoint_columns", "checkpoint_unverified",
          "checkpoint_mismatch", "checkpoint_beyond_log", "against_signature",
          "against_unverified", "against_mismatch", "against_beyond_log", "against_proof")


def _problem_order(problem: Problem) -> tuple[int, int]:
    rank = _ORDER.index(problem.kind) if problem.kind in _ORDER else len(_ORDER)
    return rank, problem.seq if problem.seq is not None else 1 << 62


def run_verification(actor_id: uuid.UUID | None, source: str, *,
                     against: Sequence[tuple[str, str]] = (), vkey: str | None = None,
                     workers: int = 0, write: bool = True) -> VerifyReport:
    """Verify, checkpoint a verified log that grew enough, and record the outcome (not committed).

    The checkpoint comes from the same pass, so it costs no extra read; it is signed only when
    every check held. With `write` False nothing is written. The caller commits.
    """
    report = verify_log(against=against, vkey=vkey, workers=workers)
    if not write:
        return report
    if report.ok and report.builder is not None and report.builder.size > 0:
        last = latest_checkpoint()
        grown = report.builder.size - (last.size if last else 0)
        if grown >= checkpoint_every() and (last is None or last.size < report.builder.size):
            try:
                store_checkpoint(report.builder, signing_key())
            except AuditKeyError as error:
                current_app.logger.error("Audit checkpoint not made: %s", error)
    record(VERIFY_ACTION, actor_id=actor_id, object_type="audit_log",
           details=report.audit_details(source))
    return report


def last_verification() -> dict[str, Any] | None:
    """The details and time of the latest audit.verify entry, or None if never verified."""
    import json

    from sqlalchemy import select

    from app.models.audit import AuditEntry

    row = db.session.execute(
        select(AuditEntry.seq, AuditEntry.occurred_at, AuditEntry.details)
        .where(AuditEntry.action == VERIFY_ACTION).order_by(AuditEntry.seq.desc()).limit(1)
    ).first()
    if row is None:
        return None
    details = json.loads(row.details)
    return {"seq": row.seq, "occurred_at": row.occurred_at, **details}
