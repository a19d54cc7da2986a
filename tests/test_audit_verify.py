"""The audit log is tamper-evident: verification catches edited, deleted, reordered and rebuilt
history, checkpoints are signed and checked, entries share their change's transaction, and the
log stays a valid chain under concurrent writers."""

from __future__ import annotations

import os
import random
import stat
import threading
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from app.audit import checkpoints as cps
from app.audit import scan
from app.audit.checkpoint import (
    Checkpoint,
    encode_verifier_key,
    generate_signing_key,
    parse_checkpoint,
    sign_checkpoint,
)
from app.audit.merkle import consistency_proof, inclusion_proof, leaf_hash
from app.audit.proofs import NodeCollector, consistency_nodes, inclusion_nodes
from app.audit.recorder import record
from app.audit.verify import VERIFY_ACTION, run_verification, verify_log
from app.extensions import db
from app.models.audit import AuditEntry
from app.models.checkpoints import AuditCheckpoint
from app.models.users import User
from app.services import accounts
from tests.support import sign_in

# --- helpers ------------------------------------------------------------------------------------


def _sql(app, statement: str, **params) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        db.session.execute(text(statement), params)
        db.session.commit()


def _verify(app, **kwargs):  # type: ignore[no-untyped-def]
    with app.app_context():
        return verify_log(**kwargs)


def _kinds(report) -> list[str]:  # type: ignore[no-untyped-def]
    return [p.kind for p in report.problems]


def _checkpoint_text(app) -> str:  # type: ignore[no-untyped-def]
    with app.app_context():
        row = cps.make_checkpoint()
        db.session.commit()
        return row.signed_text


def _size(app) -> int:  # type: ignore[no-untyped-def]
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(AuditEntry)).scalar_one()


def _record_many(app, n: int, action: str = "test.event") -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        for i in range(n):
            record(action, actor_id=None, object_type="test", object_id=i,
                   details={"i": i, "name_free": ["field_a"]})
        db.session.commit()


@pytest.fixture
def busy_log(app, client, supervisor, caseworker):  # type: ignore[no-untyped-def]
    """A log written the way the application writes it: accounts made, people signing in."""
    assert sign_in(client, app, caseworker).status_code == 302
    other = app.test_client()
    assert sign_in(other, app, supervisor).status_code == 302
    _record_many(app, 6)
    assert _size(app) >= 10
    return app


# --- a clean log ------------------------------------------------------------------------------


def test_a_log_written_by_signed_in_use_verifies(busy_log):
    report = _verify(busy_log)
    assert report.ok, report.problems
    assert report.entries == _size(busy_log)


def test_stored_checkpoints_are_checked_and_verification_is_recorded(busy_log):
    _checkpoint_text(busy_log)
    _record_many(busy_log, 3)
    with busy_log.app_context():
        report = run_verification(None, "test")
        db.session.commit()
        assert report.ok and report.checkpoints_checked == 1
        last = db.session.execute(select(AuditEntry).where(AuditEntry.action == VERIFY_ACTION)
                                  ).scalar_one()
        assert '"ok": true' in last.details
    assert _verify(busy_log).ok  # the verify entry itself is a valid entry


# --- tampering ----------------------------------------------------------------------------------


def test_edited_details_are_caught_and_the_entry_named(busy_log):
    _sql(busy_log, "UPDATE audit_entries SET details = :d WHERE seq = 4", d='{"fields": []}')
    report = _verify(busy_log)
    assert not report.ok
    assert report.problems[0].kind == "hash_mismatch" and report.problems[0].seq == 4
    assert "Entry 4" in report.problems[0].message


def test_edited_action_is_caught(busy_log):
    _sql(busy_log, "UPDATE audit_entries SET action = 'auth.sign_in' WHERE seq = 2")
    report = _verify(busy_log)
    assert _kinds(report) == ["hash_mismatch"] and report.problems[0].seq == 2


def test_edited_row_with_recomputed_hash_is_caught_by_the_checkpoint(busy_log):
    _checkpoint_text(busy_log)
    with busy_log.app_context():
        entry = db.session.get(AuditEntry, 3)
        entry.action = "nothing.to_see"
        from app.audit.recorder import compute_leaf_hash

        entry.leaf_hash = compute_leaf_hash(entry)
        db.session.commit()
    report = _verify(busy_log)
    assert _kinds(report) == ["checkpoint_mismatch"]
    assert "at or before entry" in report.problems[0].message


def test_deleted_middle_row_shows_as_a_gap(busy_log):
    _sql(busy_log, "DELETE FROM audit_entries WHERE seq = 5")
    report = _verify(busy_log)
    assert _kinds(report) == ["gap"] and report.problems[0].seq == 5
    assert "Entry 5 is missing" in report.problems[0].message


def test_deleted_last_rows_are_caught_against_an_exported_checkpoint(busy_log):
    exported = _checkpoint_text(busy_log)
    size = parse_checkpoint(exported).size
    # The intruder removes the last two entries and every stored checkpoint with them.
    _sql(busy_log, "DELETE FROM audit_entries WHERE seq > :n", n=size - 2)
    _sql(busy_log, "DELETE FROM audit_checkpoints")
    assert _verify(busy_log).ok  # on its own the shortened log looks fine...
    report = _verify(busy_log, against=[("usb.checkpoint", exported)])
    assert _kinds(report) == ["against_beyond_log"]  # ...but not next to the exported copy
    assert "deleted" in report.problems[0].message and "usb.checkpoint" in report.problems[0].message


def test_deleted_last_rows_are_caught_by_the_stored_checkpoint(busy_log):
    size = parse_checkpoint(_checkpoint_text(busy_log)).size
    _sql(busy_log, "DELETE FROM audit_entries WHERE seq = :n", n=size)
    assert _kinds(_verify(busy_log)) == ["checkpoint_beyond_log"]


def test_reordered_rows_are_caught(busy_log):
    _sql(busy_log, "UPDATE audit_entries SET seq = -1 WHERE seq = 3")
    _sql(busy_log, "UPDATE audit_entries SET seq = 3 WHERE seq = 4")
    _sql(busy_log, "UPDATE audit_entries SET seq = 4 WHERE seq = -1")
    report = _verify(busy_log)
    assert [(p.kind, p.seq) for p in report.problems] == [("hash_mismatch", 3),
                                                           ("hash_mismatch", 4)]


def test_a_checkpoint_signed_by_another_key_is_refused(busy_log):
    genuine = _checkpoint_text(busy_log)
    cp = parse_checkpoint(genuine)
    forged = sign_checkpoint(cp, cp.origin, generate_signing_key())
    report = _verify(busy_log, against=[("forged", forged)])
    assert _kinds(report) == ["against_signature"]
    _sql(busy_log, "UPDATE audit_checkpoints SET signed_text = :t", t=forged)
    assert "checkpoint_signature" in _kinds(_verify(busy_log))


def test_a_checkpoint_with_an_edited_root_is_refused(busy_log):
    genuine = _checkpoint_text(busy_log)
    lines = genuine.split("\n")
    lines[2] = Checkpoint("x", 1, leaf_hash(b"other")).body().split("\n")[2]
    edited = "\n".join(lines)
    assert _kinds(_verify(busy_log, against=[("edited", edited)])) == ["against_signature"]
    _sql(busy_log, "UPDATE audit_checkpoints SET signed_text = :t", t=edited)
    assert "checkpoint_signature" in _kinds(_verify(busy_log))


def test_a_rebuilt_log_with_a_fresh_checkpoint_is_caught_against_an_exported_one(busy_log):
    exported = _checkpoint_text(busy_log)
    # The intruder holds the server and its key: rewrites entry 2, recomputes its hash, drops
    # the stored checkpoints and signs a fresh one. The server alone cannot tell.
    with busy_log.app_context():
        from app.audit.recorder import compute_leaf_hash

        entry = db.session.get(AuditEntry, 2)
        entry.details = '{"rewritten": true}'
        entry.leaf_hash = compute_leaf_hash(entry)
        db.session.execute(text("DELETE FROM audit_checkpoints"))
        db.session.commit()
    _record_many(busy_log, 2)
    _checkpoint_text(busy_log)
    assert _verify(busy_log).ok
    report = _verify(busy_log, against=[("usb/old.checkpoint", exported)])
    assert _kinds(report) == ["against_mismatch"]
    assert "usb/old.checkpoint" in report.problems[0].message


def test_an_exported_checkpoint_gets_a_consistency_proof_to_the_current_log(busy_log):
    exported = _checkpoint_text(busy_log)
    _record_many(busy_log, 5)
    report = _verify(busy_log, against=[("old", exported)])
    assert report.ok, report.problems
    result = report.against[0]
    assert result.consistent and result.proof_size == _size(busy_log)
    with busy_log.app_context():
        leaves = [bytes.fromhex(h) for h in db.session.execute(
            select(AuditEntry.leaf_hash).order_by(AuditEntry.seq)).scalars()]
    assert result.proof == consistency_proof(parse_checkpoint(exported).size, leaves)


def test_a_trusted_verifier_key_from_elsewhere_is_used_when_given(busy_log):
    exported = _checkpoint_text(busy_log)
    other = encode_verifier_key(cps.log_origin(busy_log.config), generate_signing_key()
                                .public_key())
    report = _verify(busy_log, against=[("old", exported)], vkey=other)
    assert set(_kinds(report)) == {"checkpoint_signature", "against_signature"}


# --- checkpoints and the signing key ----------------------------------------------------------------


def test_signing_key_is_created_owner_only_and_loose_permissions_are_refused(app):
    with app.app_context():
        key = cps.signing_key()
        path = Path(app.config["AUDIT_SIGNING_KEY_FILE"])
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert path.read_text().startswith("-----BEGIN PRIVATE KEY-----")
        assert cps.signing_key().verifier_key == key.verifier_key  # read back, not recreated
        assert key.name == "amanat.amanat/audit"
        os.chmod(path, 0o644)
        with pytest.raises(cps.AuditKeyError, match="chmod 600"):
            cps.signing_key()


def test_origin_comes_from_the_organisation_name_or_setting():
    assert cps.log_origin({"ORGANISATION_NAME": "Defence of Human Rights (Pakistan)"}) == \
        "amanat.defence-of-human-rights-pakistan/audit"
    assert cps.log_origin({"ORGANISATION_NAME": "امانت"}) == "amanat.log/audit"
    assert cps.log_origin({"AUDIT_LOG_ORIGIN": "example.org/audit"}) == "example.org/audit"


@pytest.mark.parametrize("config_overrides", [{"AUDIT_CHECKPOINT_EVERY": 5}])
def test_checkpoints_are_made_automatically_every_n_entries(app):
    for _ in range(12):
        _record_many(app, 1)  # one commit each, as requests do
    with app.app_context():
        sizes = db.session.execute(select(AuditCheckpoint.size).order_by(AuditCheckpoint.size)
                                   ).scalars().all()
    assert sizes == [5, 10]
    assert _verify(app).ok


def test_a_checkpoint_extends_the_last_one_and_refuses_an_edited_tail(busy_log):
    first = parse_checkpoint(_checkpoint_text(busy_log))
    _record_many(busy_log, 3)
    second = parse_checkpoint(_checkpoint_text(busy_log))
    assert second.size == first.size + 3
    _record_many(busy_log, 2)
    _sql(busy_log, "UPDATE audit_entries SET action = 'x.y' WHERE seq = :n", n=second.size + 1)
    with busy_log.app_context(), pytest.raises(cps.LogIntegrityError, match=str(second.size + 1)):
        cps.make_checkpoint()


# --- transactions and concurrency ---------------------------------------------------------------


def test_entries_share_the_transaction_of_the_change(app, admin):
    def count() -> int:
        return db.session.execute(select(func.count()).select_from(AuditEntry)).scalar_one()

    with app.app_context():
        actor = db.session.get(User, admin.id)
        before = count()
        accounts.create_team(actor, "Turbat")
        assert count() == before + 1  # written in the change's own transaction...
        db.session.rollback()
        assert count() == before  # ...so it rolls back with it
        accounts.create_team(actor, "Gwadar")
        db.session.commit()
        entry = db.session.execute(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)
                                   ).scalar_one()
        assert entry.action == "team.create" and entry.seq == before + 1
        db.session.rollback()
    assert _verify(app).ok


@pytest.mark.parametrize("config_overrides", [{"AUDIT_CHECKPOINT_EVERY": 7}])
def test_the_chain_stays_valid_with_eight_concurrent_writers(app):
    per_thread = 15
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def writer(n: int) -> None:
        try:
            with app.app_context():
                start.wait()
                for i in range(per_thread):
                    record("test.concurrent", actor_id=None, object_type="thread",
                           object_id=n, details={"i": i})
                    db.session.commit()
                db.session.remove()
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    with app.app_context():
        seqs = db.session.execute(select(AuditEntry.seq).order_by(AuditEntry.seq)).scalars().all()
        stored = db.session.execute(select(AuditCheckpoint.size)).scalars().all()
    assert seqs == list(range(1, 8 * per_thread + 1))
    assert stored  # checkpoints were made along the way, between the writers
    report = _verify(app)
    assert report.ok, report.problems
    assert report.checkpoints_checked == len(stored)


# --- the streaming machinery --------------------------------------------------------------------


def test_streamed_proofs_equal_the_in_memory_ones():
    rng = random.Random(6962)
    for size in [*range(0, 34), *(rng.randrange(34, 1500) for _ in range(6))]:
        leaves = [leaf_hash(rng.randbytes(8)) for _ in range(size)]
        olds = range(size + 1) if size < 34 else rng.sample(range(size + 1), 12)
        indexes = range(size) if size < 34 else rng.sample(range(size), 12)
        collector = NodeCollector(size, [n for m in olds for n in consistency_nodes(m, size)]
                                  + [n for i in indexes for n in inclusion_nodes(i, size)])
        for leaf in leaves:
            collector.append(leaf)
        for m in olds:
            assert collector.hashes(consistency_nodes(m, size)) == consistency_proof(m, leaves)
        for i in indexes:
            assert collector.hashes(inclusion_nodes(i, size)) == inclusion_proof(i, leaves)


def test_parallel_scan_finds_the_same_as_the_serial_one(busy_log, monkeypatch):
    _record_many(busy_log, 30)
    _sql(busy_log, "UPDATE audit_entries SET details = '{}' WHERE seq = 17")
    _sql(busy_log, "DELETE FROM audit_entries WHERE seq = 23")
    serial = _verify(busy_log, workers=1)
    monkeypatch.setattr(scan, "PARALLEL_MIN_ROWS", 1)
    monkeypatch.setattr(scan, "CHUNK_SEQS", 8)
    parallel = _verify(busy_log, workers=2)
    assert [(p.kind, p.seq) for p in parallel.problems] == [("hash_mismatch", 17), ("gap", 23)]
    assert parallel.root == serial.root and parallel.entries == serial.entries


def test_an_unreadable_row_is_reported_not_crashed_on(busy_log):
    _sql(busy_log, "UPDATE audit_entries SET details = 'not json' WHERE seq = 2")
    report = _verify(busy_log)
    assert _kinds(report) == ["unreadable"] and report.problems[0].seq == 2


def test_verification_reads_do_not_wait_for_an_open_write_transaction(busy_log):
    # A request holds SQLite's write lock from its first query; Verify now must still run.
    with busy_log.app_context():
        db.session.execute(select(User.id).limit(1)).all()
        record("test.open", actor_id=uuid.uuid4())
        assert verify_log().ok
        db.session.rollback()
