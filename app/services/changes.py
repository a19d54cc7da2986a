"""Applying form data to a record: only declared fields, a diff for the audit, version checks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flask_babel import gettext as _

from app.extensions import db
from app.services import ServiceError


class ConflictError(ServiceError):
    """Someone else saved this record since the form was opened; `changed` names their edits."""

    def __init__(self, changed: dict[str, Any], current_version: int | None = None) -> None:
        names = ", ".join(sorted(changed)) or _("(no visible field)")
        super().__init__(_("Someone else saved this record while you were editing it. "
                           "Changed by them: %(fields)s. Your text is still in the form below: "
                           "check it against theirs and save again.", fields=names))
        self.changed = changed
        self.current_version = current_version  # so "save again" works after reconciling


def populate(obj: Any, data: Mapping[str, Any], allowed: Iterable[str]) -> dict[str, tuple]:
    """Set allowed fields from data; refuse anything else. Returns {field: (old, new)}."""
    allowed = set(allowed)
    unknown = set(data) - allowed
    if unknown:
        raise ServiceError(_("These fields cannot be set here: %(f)s", f=", ".join(sorted(unknown))))
    for field, new in data.items():
        if isinstance(new, str) and "\x00" in new:
            raise ServiceError(_("This text contains a NUL character, which cannot be stored. "
                                 "Remove it (it is often pasted in by accident)."), field=field)
    changes: dict[str, tuple] = {}
    # No autoflush while half the fields are set (encrypting a field may query the key ring),
    # so one save is one UPDATE and raises the version once.
    with db.session.no_autoflush:
        for field, new in data.items():
            old = getattr(obj, field)
            if isinstance(new, str):
                new = new.strip() or None
            if old != new:
                setattr(obj, field, new)
                changes[field] = (old, new)
    return changes


def check_version(obj: Any, submitted: int | str | None, data: Mapping[str, Any]) -> None:
    """Refuse a save made from an out-of-date form; name the fields where the stored record now
    differs from what this user submitted, so they can reconcile without losing their text."""
    try:
        version = int(submitted) if submitted not in (None, "") else None
    except (TypeError, ValueError):
        version = None
    if version != obj.version:
        changed = {}
        for field, mine in data.items():
            current = getattr(obj, field)
            if (mine.strip() or None if isinstance(mine, str) else mine) != current:
                changed[field] = current
        raise ConflictError(changed, obj.version)


def audit_fields(changes: Mapping[str, tuple]) -> list[str]:
    """What the audit log keeps of a change: field names only, never values."""
    return sorted(changes)
