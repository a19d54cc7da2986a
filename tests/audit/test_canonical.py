"""Canonical audit entry bytes: one spelling per entry, every stored field covered."""

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.audit.canonical import ENTRY_FIELDS, canonical_entry, format_time


def entry(**overrides):
    fields = {
        "seq": 41,
        "occurred_at": datetime(2024, 5, 1, 12, 30, 5, 123456, tzinfo=UTC),
        "actor_id": 7,
        "action": "case.update",
        "object_type": "case",
        "object_id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "case_id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "request_id": "req-9f2c",
        "address": "203.0.113.5",
        "details": {"fields": ["status", "summary"], "status": {"old": "open", "new": "closed"}},
    }
    fields.update(overrides)
    return fields


def test_canonical_entry_is_sorted_compact_utf8_json():
    assert canonical_entry(entry()) == (
        b'{"action":"case.update","actor_id":7,"address":"203.0.113.5",'
        b'"case_id":"12345678-1234-5678-1234-567812345678",'
        b'"details":{"fields":["status","summary"],"status":{"new":"closed","old":"open"}},'
        b'"object_id":"12345678-1234-5678-1234-567812345678","object_type":"case",'
        b'"occurred_at":"2024-05-01T12:30:05.123456Z","request_id":"req-9f2c","seq":41}'
    )


def test_every_stored_field_is_covered_by_the_hash():
    base = canonical_entry(entry())
    changed = {
        "seq": 42,
        "occurred_at": datetime(2024, 5, 1, 12, 30, 5, 123457, tzinfo=UTC),
        "actor_id": 8,
        "action": "case.delete",
        "object_type": "person",
        "object_id": 99,
        "case_id": None,
        "request_id": "req-other",
        "address": "198.51.100.1",
        "details": {"fields": ["status"]},
    }
    assert set(changed) == set(ENTRY_FIELDS)
    for name, value in changed.items():
        assert canonical_entry(entry(**{name: value})) != base, name


def test_missing_or_unknown_fields_are_refused():
    fields = entry()
    del fields["address"]
    with pytest.raises(ValueError, match="missing address"):
        canonical_entry(fields)
    with pytest.raises(ValueError, match="unknown note"):
        canonical_entry(entry(note="x"))


def test_key_order_of_the_input_does_not_matter():
    fields = entry()
    assert canonical_entry(dict(reversed(list(fields.items())))) == canonical_entry(fields)


def test_time_is_utc_with_z_and_microseconds_whatever_the_input_zone():
    aware = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    plus_three = aware.astimezone(timezone(timedelta(hours=3)))
    naive_utc = datetime(2024, 5, 1, 12, 0)  # what SQLite hands back
    assert format_time(aware) == format_time(plus_three) == format_time(naive_utc)
    assert format_time(aware) == "2024-05-01T12:00:00.000000Z"
    assert canonical_entry(entry(occurred_at=plus_three)) == canonical_entry(
        entry(occurred_at=naive_utc)
    )


def test_non_ascii_is_kept_as_utf8_and_none_as_null():
    data = canonical_entry(entry(action="case.تحديث", address=None))
    assert "case.تحديث".encode() in data
    assert b'"address":null' in data


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 1.5])
def test_floats_are_refused(bad):
    with pytest.raises(TypeError, match="float"):
        canonical_entry(entry(details={"size": bad}))


@pytest.mark.parametrize("bad", [b"raw", {1, 2}, object()])
def test_values_without_a_canonical_form_are_refused(bad):
    with pytest.raises(TypeError):
        canonical_entry(entry(details={"x": bad}))


def test_malformed_core_fields_are_refused():
    with pytest.raises(ValueError):
        canonical_entry(entry(seq=-1))
    with pytest.raises(ValueError):
        canonical_entry(entry(seq=True))
    with pytest.raises(ValueError):
        canonical_entry(entry(occurred_at="2024-05-01"))
    with pytest.raises(ValueError):
        canonical_entry(entry(details=["not", "a", "mapping"]))
    with pytest.raises(TypeError):
        canonical_entry(entry(details={1: "non-string key"}))


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(
    details=st.dictionaries(st.text(), _json, max_size=5),
    time=st.datetimes(timezones=st.just(UTC)),
    actor=st.none() | st.integers(0, 2**63 - 1) | st.uuids(),
)
def test_canonical_form_survives_a_storage_round_trip(details, time, actor):
    # A verifier rebuilds the entry from stored columns: the bytes must not change.
    fields = entry(details=details, occurred_at=time, actor_id=actor)
    data = canonical_entry(fields)
    stored = json.loads(data)
    reread = dict(stored, occurred_at=time.replace(tzinfo=None))
    if isinstance(actor, uuid.UUID):
        reread["actor_id"] = uuid.UUID(stored["actor_id"])
    assert canonical_entry(reread) == data
