"""The dashboard's counts, kept per process until anything changes.

Counting every alleged act in scope takes a few hundred milliseconds at 100,000 cases (one pass
over the acts per chart set; bench/RESULTS.md), and the same counts are asked for again and again:
the dashboard, then one CSV per chart. Every change Amanat makes to cases, people, consent,
accounts or teams writes an audit entry in the same transaction, so the audit log's last entry
that is not a mere read (seq and leaf hash) says whether anything may have changed; the date is
part of the key too, because a consent withdrawal dated in the future takes effect at midnight.
The tail is read before the counts, so counts are never stored under a newer tail than the data
they saw.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import date
from typing import Any

from flask import current_app
from sqlalchemy import select

from app.analysis.facts import ActCounts, act_counts
from app.analysis.scope import AnalysisFilters
from app.extensions import db
from app.models.audit import AuditEntry
from app.models.users import User

MAX_ENTRIES = 256

# Audit actions that only read, sign in or send something out: they never change a count, so they
# do not end the cache (a sign-in, a reveal or a chart's CSV download would otherwise recount).
# Any other action, including one added later, does.
READ_ONLY_PREFIXES = ("auth.", "export.", "search.", "token.")
READ_ONLY_ACTIONS = ("bundle.export", "evidence.download", "evidence.recheck", "person.reveal",
                     "person.search")


def _may_change_counts() -> list:
    return [*(AuditEntry.action.not_like(f"{prefix}%") for prefix in READ_ONLY_PREFIXES),
            AuditEntry.action.not_in(READ_ONLY_ACTIONS)]


_lock = threading.Lock()
_entries: OrderedDict[tuple[Any, ...], ActCounts] = OrderedDict()


def counts_for(user: User, filters: AnalysisFilters) -> ActCounts:
    """`act_counts(user, filters)`, from the cache when nothing has changed since."""
    if not current_app.config.get("DASHBOARD_CACHE", True):
        return act_counts(user, filters)
    # The last entry that may change a count, with its leaf hash (a database restored from an
    # older backup that has grown back to the same seq still has another entry there).
    tail = db.session.execute(select(AuditEntry.seq, AuditEntry.leaf_hash)
                              .where(*_may_change_counts())
                              .order_by(AuditEntry.seq.desc()).limit(1)).first()
    tail = tuple(tail) if tail is not None else None
    key = (current_app.import_name, str(db.engine.url), user.id, user.role, filters,
           date.today(), tail)
    with _lock:
        found = _entries.get(key)
        if found is not None:
            _entries.move_to_end(key)
            return found
    counts = act_counts(user, filters)
    with _lock:
        _entries[key] = counts
        while len(_entries) > MAX_ENTRIES:
            _entries.popitem(last=False)
    return counts


def clear() -> None:
    with _lock:
        _entries.clear()
