"""The canonical byte form of one audit entry: the exact bytes its Merkle leaf hash covers.

`canonical_entry` must give the same bytes for an entry when it is written and when a verifier
later reads the row back (from SQLite or PostgreSQL, or from an exported file), so it accepts only
types with one obvious spelling and rejects the rest instead of guessing.

Every stored column of an audit row is covered; a column outside the hash could be edited without
detection, so the set of top-level keys is fixed (`ENTRY_FIELDS`) and both missing and unexpected
keys are refused:

    seq          int       position in the log, gap-free; the n-th entry by seq is Merkle leaf n-1
    occurred_at  datetime  when it happened, UTC; naive datetimes are taken as UTC
    actor_id     int | str | UUID | None   the acting user (None for the system / anonymous)
    action       str       e.g. "case.update", "auth.login_failed"
    object_type  str | None
    object_id    int | str | UUID | None
    case_id      int | str | UUID | None
    request_id   str | UUID | None
    address      str | None   client address as the app saw it
    details      mapping | None   field names, ids, counts, old/new status values; NEVER the
                                  cleartext of an encrypted field, a name, a testimony or a secret

Encoding: UTF-8 JSON, keys sorted at every level, separators (",", ":"), non-ASCII kept as UTF-8
(not \\u-escaped), None as null. Datetimes become "YYYY-MM-DDTHH:MM:SS.ffffffZ" (always six
fractional digits), UUIDs their lowercase hyphenated string. Floats are refused (NaN and infinity
are not JSON, and float spelling differs between languages); store numbers as ints or strings.
Strings are hashed exactly as given, without Unicode normalisation.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime

__all__ = ["ENTRY_FIELDS", "canonical_entry", "format_time"]

ENTRY_FIELDS: tuple[str, ...] = (
    "seq",
    "occurred_at",
    "actor_id",
    "action",
    "object_type",
    "object_id",
    "case_id",
    "request_id",
    "address",
    "details",
)
_ENTRY_FIELD_SET = frozenset(ENTRY_FIELDS)
_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


def format_time(value: datetime) -> str:
    """Return `value` in UTC as "YYYY-MM-DDTHH:MM:SS.ffffffZ"; a naive datetime is taken as UTC."""
    tz = value.tzinfo
    if tz is not None and tz is not UTC and value.utcoffset() is not None:
        value = value.astimezone(UTC)
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d}T"
        f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}.{value.microsecond:06d}Z"
    )


class _NoCanonicalForm(TypeError):
    """A value with no single spelling; `where` collects its path on the way out."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.where: list[str] = []

    def __str__(self) -> str:
        return "entry" + "".join(reversed(self.where)) + ": " + self.reason


def _plain(value: object) -> object:
    """Convert `value` to JSON-ready types with exactly one spelling, or raise TypeError."""
    kind = type(value)
    if kind is str or kind is int or value is None:  # the common case, without ABC checks
        return value
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)  # IntEnum and friends spell as their number
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, float):
        raise _NoCanonicalForm("floats are not allowed in audit entries")
    if isinstance(value, Mapping):
        out: dict[str, object] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise _NoCanonicalForm(f"keys must be strings, not {type(key).__name__}")
            try:
                out[key] = _plain(item)
            except _NoCanonicalForm as err:
                err.where.append(f".{key}")
                raise
        return out
    if isinstance(value, list | tuple):
        items = []
        for i, item in enumerate(value):
            try:
                items.append(_plain(item))
            except _NoCanonicalForm as err:
                err.where.append(f"[{i}]")
                raise
        return items
    raise _NoCanonicalForm(f"{type(value).__name__} has no canonical form")


def canonical_entry(fields: Mapping[str, object]) -> bytes:
    """Return the canonical UTF-8 JSON bytes of one audit entry (see the module docstring)."""
    keys = set(fields)
    if keys != _ENTRY_FIELD_SET:
        problems = []
        if missing := _ENTRY_FIELD_SET - keys:
            problems.append("missing " + ", ".join(sorted(missing)))
        if unknown := keys - _ENTRY_FIELD_SET:
            problems.append("unknown " + ", ".join(sorted(map(str, unknown))))
        raise ValueError("audit entry fields: " + "; ".join(problems))
    seq = fields["seq"]
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise ValueError("seq must be a non-negative int")
    if not isinstance(fields["occurred_at"], datetime):
        raise ValueError("occurred_at must be a datetime")
    if not isinstance(fields["action"], str) or not fields["action"]:
        raise ValueError("action must be a non-empty str")
    details = fields["details"]
    if details is not None and not isinstance(details, Mapping):
        raise ValueError("details must be a mapping or None")
    plain = _plain(fields)
    return _ENCODER.encode(plain).encode("utf-8")
