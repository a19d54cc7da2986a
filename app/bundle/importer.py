"""Importing a bundle: validate everything first, then write it all in one transaction with the
services' rules, encryption and audit entries (app.bundle.bulk), or nothing at all."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from app.audit.recorder import record
from app.bundle.bulk import BulkWriter, bulk_session
from app.bundle.validate import BundleInvalid, Issue, path_of, validate_bundle
from app.extensions import db
from app.models.users import User
from app.services import ServiceError


@dataclass
class ImportSummary:
    """What an import created (or, in a dry run, would have created)."""

    counts: Counter = field(default_factory=Counter)
    # (bundle id, the reference this installation gave the case, its database id)
    cases: list[tuple[str, str, uuid.UUID]] = field(default_factory=list)
    dry_run: bool = False

    def as_dict(self) -> dict[str, int]:
        keys = ("cases", "people", "acts", "sources", "testimonies", "links", "follow_ups",
                "consents", "notes")
        return {k: self.counts.get(k, 0) for k in keys}


def import_bundle(actor: User, bundle: Any, *, dry_run: bool = False,
                  source: str = "bundle") -> ImportSummary:
    """Validate, then write every case in one transaction; commit, or roll back on a dry run.

    Raises BundleInvalid with every issue (nothing written). `source` names the channel in the
    audit entry ("bundle", "csv", "demo").
    """
    issues = validate_bundle(bundle, actor)
    if issues:
        raise BundleInvalid(issues)
    summary = ImportSummary(dry_run=dry_run)
    writer: BulkWriter | None = None
    try:
        with bulk_session() as batch:
            writer = BulkWriter(actor, summary, batch)
            writer.write(bundle["cases"])
            record("bundle.import", actor_id=actor.id, object_type="bundle",
                   details={"counts": summary.as_dict(), "source": source,
                            "case_ids": [str(c[2]) for c in summary.cases]})
        db.session.flush()
    except ServiceError as error:
        db.session.rollback()
        where = writer.where if writer is not None else []
        raise BundleInvalid([Issue(path_of(where), error.message)]) from None
    except BaseException:
        db.session.rollback()
        raise
    if dry_run:
        db.session.rollback()
    else:
        db.session.commit()
    return summary
