"""`amanat audit checkpoint|verify|vkey`: exported checkpoints, exit codes and plain messages."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import select, text

from app.audit.checkpoint import decode_verifier_key, parse_checkpoint, verify_checkpoint
from app.audit.recorder import record
from app.audit.verify import VERIFY_ACTION
from app.extensions import db
from app.models.audit import AuditEntry

VKEY = re.compile(r"amanat\.amanat/audit\+[0-9a-f]{8}\+\S+")


def _entries(app, n: int = 8) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        for i in range(n):
            record("test.event", actor_id=None, object_type="test", object_id=i)
        db.session.commit()


def _sql(app, statement: str) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        db.session.execute(text(statement))
        db.session.commit()


def test_vkey_prints_the_verifier_key(runner):
    result = runner.invoke(args=["audit", "vkey"])
    assert result.exit_code == 0, result.output
    name, _key = decode_verifier_key(result.output.strip())
    assert VKEY.fullmatch(result.output.strip()) and name == "amanat.amanat/audit"


def test_checkpoint_prints_and_exports_a_signed_checkpoint(app, runner, tmp_path):
    _entries(app)
    target = tmp_path / "usb" / "audit.checkpoint"
    target.parent.mkdir()
    result = runner.invoke(args=["audit", "checkpoint", "--export", str(target)])
    assert result.exit_code == 0, result.output
    vkey = VKEY.search(result.output).group(0)
    name, public_key = decode_verifier_key(vkey)
    exported = target.read_text()
    assert exported in result.output
    assert verify_checkpoint(exported, name, public_key, origin=name).size == 8


def test_checkpoint_export_to_a_directory_keeps_every_copy(app, runner, tmp_path):
    _entries(app, 3)
    assert runner.invoke(args=["audit", "checkpoint", "--export", str(tmp_path)]).exit_code == 0
    _entries(app, 2)
    assert runner.invoke(args=["audit", "checkpoint", "--export", str(tmp_path)]).exit_code == 0
    sizes = sorted(parse_checkpoint(p.read_text()).size for p in tmp_path.glob("*.checkpoint"))
    assert sizes == [3, 5]


def test_verify_passes_on_a_clean_log_and_records_it(app, runner):
    _entries(app)
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "Verification PASSED" in result.output and "FAIL" not in result.output
    with app.app_context():
        assert db.session.execute(select(AuditEntry.details)
                                  .where(AuditEntry.action == VERIFY_ACTION)).scalar_one()


def test_verify_with_no_record_writes_nothing(app, runner):
    _entries(app)
    assert runner.invoke(args=["audit", "verify", "--no-record"]).exit_code == 0
    with app.app_context():
        assert db.session.execute(select(AuditEntry.seq)
                                  .where(AuditEntry.action == VERIFY_ACTION)).first() is None


def test_verify_fails_with_exit_1_naming_the_edited_entry(app, runner):
    _entries(app)
    _sql(app, "UPDATE audit_entries SET details = '{\"x\": 1}' WHERE seq = 3")
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert "FAIL  entries" in result.output and "Entry 3 does not match" in result.output
    assert "Verification FAILED" in result.output


def test_verify_against_an_exported_checkpoint_catches_deleted_last_rows(app, runner, tmp_path):
    _entries(app)
    exported = tmp_path / "kept.checkpoint"
    assert runner.invoke(args=["audit", "checkpoint", "--export", str(exported)]).exit_code == 0
    _sql(app, "DELETE FROM audit_entries WHERE seq > 6")
    _sql(app, "DELETE FROM audit_checkpoints")
    assert runner.invoke(args=["audit", "verify", "--no-record"]).exit_code == 0
    result = runner.invoke(args=["audit", "verify", "--no-record", "--against", str(exported)])
    assert result.exit_code == 1
    assert "FAIL  exported checkpoints" in result.output
    assert "has 6 entries" in result.output and "deleted" in result.output


def test_verify_against_a_directory_proves_consistency(app, runner, tmp_path):
    _entries(app, 5)
    assert runner.invoke(args=["audit", "checkpoint", "--export", str(tmp_path)]).exit_code == 0
    _entries(app, 4)
    result = runner.invoke(args=["audit", "verify", "--against", str(tmp_path), "--show-proof"])
    assert result.exit_code == 0, result.output
    assert "size 5 is a prefix of the log (consistency proof to size 9" in result.output


def test_verify_rejects_a_checkpoint_from_another_key(app, runner, tmp_path):
    from app.audit.checkpoint import generate_signing_key, sign_checkpoint

    _entries(app)
    runner.invoke(args=["audit", "checkpoint"])
    with app.app_context():
        text_ = db.session.execute(text("SELECT signed_text FROM audit_checkpoints")).scalar()
    cp = parse_checkpoint(text_)
    forged = tmp_path / "forged.checkpoint"
    forged.write_text(sign_checkpoint(cp, cp.origin, generate_signing_key()))
    result = runner.invoke(args=["audit", "verify", "--against", str(forged)])
    assert result.exit_code == 1 and "not a checkpoint signed by this log's key" in result.output


def test_checkpoint_refuses_a_loose_key_file(app, runner):
    runner.invoke(args=["audit", "vkey"])
    Path(app.config["AUDIT_SIGNING_KEY_FILE"]).chmod(0o640)
    result = runner.invoke(args=["audit", "checkpoint"])
    assert result.exit_code == 1 and "chmod 600" in result.output
