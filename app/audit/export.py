"""Exports of the (filtered) audit log that a recipient can check without trusting the server.

Both formats carry the signed checkpoint and the verifier key. The JSON export gives every entry
exactly as hashed (the canonical fields), its leaf hash and leaf index, and -- when the export is
not the whole log -- an RFC 6962 inclusion proof against that checkpoint, so each entry can be
shown to be in the signed log on its own (docs/audit.md, "Checking an export"). The CSV export is
for reading in a spreadsheet; cells that a spreadsheet would run as a formula are prefixed with an
apostrophe, so recompute hashes from the JSON export, not from the CSV.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import current_app

from app.audit import queries
from app.audit.canonical import format_time
from app.audit.checkpoints import (
    AuditKeyError,
    LogIntegrityError,
    latest_checkpoint,
    make_checkpoint,
    signing_key,
)
from app.audit.proofs import NodeCollector, inclusion_nodes
from app.audit.recorder import record
from app.audit.scan import stored_leaves
from app.extensions import db
from app.models.checkpoints import AuditCheckpoint

EXPORT_ACTION = "audit.export"
JSON_FORMAT = "amanat-audit-export/1"
MAX_PROOFS = 20_000  # larger partial exports omit proofs (check them against the full log)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class ExportFile:
    body: bytes
    filename: str
    mimetype: str


def record_export(actor: Any, log_filter: queries.LogFilter, fmt: str) -> int:
    """Audit the export itself (in the caller's transaction); return how many entries it has."""
    count = queries.count_entries(actor, log_filter)
    record(EXPORT_ACTION, actor_id=actor.id, object_type="audit_log",
           details={"format": fmt, "entries": count, "filter": log_filter.as_args()})
    return count


def checkpoint_for_export() -> tuple[AuditCheckpoint | None, str | None]:
    """A checkpoint covering the log now (made if needed), or the latest one and a warning."""
    try:
        row = make_checkpoint()
        db.session.commit()
        return row, None
    except (LogIntegrityError, AuditKeyError) as error:
        db.session.rollback()
        current_app.logger.error("Export without a fresh checkpoint: %s", error)
        return latest_checkpoint(), ("No new checkpoint could be signed: the audit log failed "
                                     "a check. Run a verification.")


def _entry(row: queries.ReviewRow) -> dict[str, Any]:
    entry = row.entry
    return {
        "seq": entry.seq,
        "occurred_at": format_time(entry.occurred_at),
        "actor_id": str(entry.actor_id) if entry.actor_id else None,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": row.object_id,
        "case_id": str(entry.case_id) if entry.case_id else None,
        "request_id": entry.request_id,
        "address": entry.address,
        "details": json.loads(row.details),
    }


def _proofs(seqs: list[int], size: int) -> dict[int, list[str]]:
    """Inclusion proofs for the entries `seqs` in the tree of `size`, from one pass."""
    import base64

    wanted = {seq: inclusion_nodes(seq - 1, size) for seq in seqs}
    collector = NodeCollector(size, {node for nodes in wanted.values() for node in nodes})
    for leaf in stored_leaves(db.engine, 1, size):
        collector.append(leaf)
    return {seq: [base64.b64encode(h).decode("ascii") for h in collector.hashes(nodes)]
            for seq, nodes in wanted.items()}


def build_json(actor: Any, log_filter: queries.LogFilter, checkpoint: AuditCheckpoint | None,
               warning: str | None) -> ExportFile:
    # Without any checkpoint (a log that never verified) the entries go out unproven.
    size = checkpoint.size if checkpoint else 0
    rows = list(queries.export_rows(actor, log_filter,
                                    up_to_seq=checkpoint.size if checkpoint else None))
    seqs = [row.entry.seq for row in rows]
    complete = checkpoint is not None and seqs == list(range(1, size + 1))
    proofs: dict[int, list[str]] = {}
    if checkpoint is not None and warning is None and not complete and len(seqs) <= MAX_PROOFS:
        proofs = _proofs(seqs, size)
    elif not complete and len(seqs) > MAX_PROOFS:
        warning = warning or (f"More than {MAX_PROOFS} entries: inclusion proofs are omitted; "
                              "verify against a complete export.")
    entries = []
    for row in rows:
        item = _entry(row)
        item["actor_name"] = row.actor_name
        # A redacted entry no longer hashes to its leaf; its proof still places the leaf.
        item["redacted"] = row.redacted
        item["leaf_index"] = row.entry.seq - 1
        item["leaf_hash"] = row.entry.leaf_hash
        item["inclusion_proof"] = proofs.get(row.entry.seq)
        entries.append(item)
    document = {
        "format": JSON_FORMAT,
        "exported_at": format_time(datetime.now(UTC)),
        "verifier_key": signing_key().verifier_key,
        "checkpoint": checkpoint.signed_text if checkpoint else None,
        "tree_size": size,
        "complete": complete,
        "filter": log_filter.as_args(),
        "warning": warning,
        "entries": entries,
    }
    body = json.dumps(document, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8")
    return ExportFile(body, _filename("json"), "application/json")


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


CSV_COLUMNS = ("seq", "occurred_at", "actor_id", "actor_name", "action", "object_type",
               "object_id", "case_id", "request_id", "address", "details", "leaf_hash",
               "redacted")


def build_csv(actor: Any, log_filter: queries.LogFilter, checkpoint: AuditCheckpoint | None,
              warning: str | None) -> ExportFile:
    out = io.StringIO()
    out.write("# Amanat audit log export. Lines starting with # are not data.\n")
    out.write(f"# Verifier key: {signing_key().verifier_key}\n")
    if warning:
        out.write(f"# Warning: {warning}\n")
    if checkpoint is not None:
        out.write("# Signed checkpoint (remove the leading '# ' from each line to check it):\n")
        for line in checkpoint.signed_text.split("\n")[:-1]:
            out.write(f"# {line}\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in queries.export_rows(actor, log_filter,
                                   up_to_seq=checkpoint.size if checkpoint else None):
        item = _entry(row)
        item["actor_name"] = row.actor_name
        item["leaf_hash"] = row.entry.leaf_hash
        item["redacted"] = "yes" if row.redacted else ""
        item["details"] = json.dumps(item["details"], sort_keys=True, ensure_ascii=False)
        writer.writerow([_cell(item[column]) for column in CSV_COLUMNS])
    return ExportFile(out.getvalue().encode("utf-8"), _filename("csv"), "text/csv")


def _filename(extension: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"amanat-audit-{stamp}-{uuid.uuid4().hex[:6]}.{extension}"
