"""`amanat keys` and the start-up key check: a wrong, missing or exposed master key is refused
with a message saying what to do; backup, restore and master-key rotation keep every value."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from app import create_app
from app.cli import main
from app.crypto import runtime
from app.crypto.backup import import_master_key
from app.crypto.errors import KeyMissingError, KeyPermissionError, WrongKeyError
from app.crypto.keyring import KeyRing, master_key_id
from app.crypto.providers import ExternalKeyProvider, FileKeyProvider, generate_master_key
from app.crypto.store import SqlKeyStore
from app.extensions import db
from app.models.keys import DataKey
from app.models.users import User
from tests.support import make_user

PASSPHRASE = "correct horse battery staple"
TWICE = f"{PASSPHRASE}\n{PASSPHRASE}\n"


def _config(app) -> dict:  # type: ignore[no-untyped-def]
    keep = ("SECRET_KEY", "SQLALCHEMY_DATABASE_URI", "ARGON2_MEMORY_KIB", "ARGON2_TIME_COST",
            "RATELIMIT_STORAGE_URI")
    return {"TESTING": True, "INSTANCE_PATH": app.instance_path,
            **{name: app.config[name] for name in keep}}


def _key_file(app) -> Path:  # type: ignore[no-untyped-def]
    return Path(app.instance_path) / "master.key"


def _snapshot(app) -> list[tuple]:  # type: ignore[no-untyped-def]
    with app.app_context():
        keys = db.session.execute(select(DataKey.id, DataKey.wrapped, DataKey.master_key_id,
                                         DataKey.active).order_by(DataKey.id)).all()
        seeds = db.session.execute(select(User.id, User.totp_secret_enc).order_by(User.id)).all()
        db.session.rollback()
    return [tuple(row) for row in keys + seeds]


def _seeds_read(app, people) -> None:  # type: ignore[no-untyped-def]
    fresh = create_app(_config(app))  # a new process's view: key file read from disk
    with fresh.app_context():
        for person in people:
            assert db.session.get(User, person.id).totp_secret == person.totp_secret
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def people(app):
    return [make_user(app) for _ in range(3)]


# -- the start-up check ---------------------------------------------------------------------------
def test_a_different_key_file_is_refused_at_start_and_nothing_changes(app, people):
    before = _snapshot(app)
    FileKeyProvider(_key_file(app)).store(generate_master_key())
    with pytest.raises(WrongKeyError, match="not the one that wrapped") as refused:
        create_app(_config(app))
    assert "Restore the right key file or import the key backup" in str(refused.value)
    assert _snapshot(app) == before


def test_a_missing_key_file_is_refused_at_start(app, people):
    before = _snapshot(app)
    _key_file(app).unlink()
    with pytest.raises(KeyMissingError, match="does not exist. Restore it from the key backup"):
        create_app(_config(app))
    assert not _key_file(app).exists()  # never silently replaced by a fresh key
    assert _snapshot(app) == before


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644])
def test_a_key_file_readable_by_others_is_refused_at_start(app, people, mode):
    os.chmod(_key_file(app), mode)
    with pytest.raises(KeyPermissionError, match="chmod 600"):
        create_app(_config(app))


def _cli_env(app) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"AMANAT_SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "AMANAT_SECRET_KEY": app.config["SECRET_KEY"],
            "AMANAT_MASTER_KEY_PROVIDER": f"file:{_key_file(app)}"}


def test_the_cli_prints_the_refusal_without_a_traceback(app, people):
    FileKeyProvider(_key_file(app)).store(generate_master_key())
    result = CliRunner().invoke(main, ["setup-link"], env=_cli_env(app))
    assert result.exit_code == 1
    assert "Amanat cannot start" in result.output
    assert "not the one that wrapped" in result.output
    assert "amanat keys restore" in result.output
    assert "Traceback" not in result.output and result.exc_info[0] is SystemExit


def test_keys_status_still_runs_with_a_wrong_key_and_names_the_problem(app, people):
    FileKeyProvider(_key_file(app)).store(generate_master_key())
    result = CliRunner().invoke(main, ["keys", "status"], env=_cli_env(app))
    assert result.exit_code == 0, result.output
    assert "PROBLEM:" in result.output and "not the one that wrapped" in result.output
    assert "users: 3" in result.output


# -- backup and restore ---------------------------------------------------------------------------
def test_backup_and_restore_round_trip(app, people, runner, tmp_path):
    original = _key_file(app).read_bytes()
    backup_file = tmp_path / "offline" / "amanat-key.backup"
    backup_file.parent.mkdir()
    result = runner.invoke(main, ["keys", "backup", "-o", str(backup_file)], input=TWICE)
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(backup_file.stat().st_mode) == 0o600
    text = backup_file.read_text()
    assert base64.b64encode(FileKeyProvider(_key_file(app)).load()).decode() not in text

    _key_file(app).unlink()  # the server's disk is lost; the database backup survives
    result = runner.invoke(main, ["keys", "restore", str(backup_file)], input=f"{PASSPHRASE}\n")
    assert result.exit_code == 0, result.output
    assert "restored" in result.output and "It matches this database" in result.output
    assert _key_file(app).read_bytes().strip() == original.strip()
    assert stat.S_IMODE(_key_file(app).stat().st_mode) == 0o600
    _seeds_read(app, people)

    again = runner.invoke(main, ["keys", "restore", str(backup_file)], input=f"{PASSPHRASE}\n")
    assert again.exit_code == 0 and "already installed" in again.output


def test_backup_refuses_a_short_passphrase_and_an_existing_file(app, people, runner, tmp_path):
    short = runner.invoke(main, ["keys", "backup", "-o", str(tmp_path / "b")],
                          input="too short\ntoo short\n")
    assert short.exit_code == 1 and "at least 12 characters" in short.output
    assert not (tmp_path / "b").exists()
    (tmp_path / "exists").write_text("keep me")
    result = runner.invoke(main, ["keys", "backup", "-o", str(tmp_path / "exists")], input=TWICE)
    assert result.exit_code == 1 and "already exists" in result.output
    assert (tmp_path / "exists").read_text() == "keep me"


def test_restore_will_not_replace_a_different_key_without_force(app, people, runner, tmp_path):
    backup_file = tmp_path / "key.backup"
    passphrase_file = tmp_path / "passphrase"
    passphrase_file.write_text(PASSPHRASE + "\n")
    assert runner.invoke(main, ["keys", "backup", "-o", str(backup_file), "--passphrase-file",
                                str(passphrase_file)]).exit_code == 0
    stranger = generate_master_key()
    FileKeyProvider(_key_file(app)).store(stranger)
    refused = runner.invoke(main, ["keys", "restore", str(backup_file), "--passphrase-file",
                                   str(passphrase_file)])
    assert refused.exit_code == 1
    assert "already holds a different master key" in refused.output and "--force" in refused.output
    assert FileKeyProvider(_key_file(app)).load() == stranger

    forced = runner.invoke(main, ["keys", "restore", str(backup_file), "--passphrase-file",
                                  str(passphrase_file), "--force"])
    assert forced.exit_code == 0, forced.output
    assert "It matches this database" in forced.output
    kept = list(Path(app.instance_path).glob("master.key.replaced-*"))
    assert len(kept) == 1 and FileKeyProvider(kept[0]).load() == stranger
    _seeds_read(app, people)


def test_restore_refuses_a_backup_of_another_database_key(app, people, runner, tmp_path):
    from app.crypto.backup import export_master_key

    other = tmp_path / "other.backup"
    other.write_text(export_master_key(generate_master_key(), PASSPHRASE, scrypt_n=2**14))
    _key_file(app).unlink()
    result = runner.invoke(main, ["keys", "restore", str(other)], input=f"{PASSPHRASE}\n")
    assert result.exit_code == 1
    assert "does not open this database" in result.output and "Nothing was written" in result.output
    assert not _key_file(app).exists()


def test_restore_with_a_wrong_passphrase_says_so(app, people, runner, tmp_path):
    backup_file = tmp_path / "key.backup"
    assert runner.invoke(main, ["keys", "backup", "-o", str(backup_file)],
                         input=TWICE).exit_code == 0
    result = runner.invoke(main, ["keys", "restore", str(backup_file)],
                           input="not the passphrase at all\n")
    assert result.exit_code == 1 and "passphrase is wrong" in result.output


# -- master-key rotation --------------------------------------------------------------------------
def test_rotate_master_rewraps_and_the_old_key_no_longer_opens(app, people, runner, tmp_path):
    old_key = FileKeyProvider(_key_file(app)).load()
    with app.app_context():
        before = {row.id: row.wrapped for row in db.session.execute(select(DataKey)).scalars()}
        seeds_before = db.session.execute(select(User.id, User.totp_secret_enc)).all()
    backup_file = tmp_path / "new-key.backup"
    result = runner.invoke(main, ["keys", "rotate-master", "--backup-to", str(backup_file),
                                  "--yes"], input=TWICE)
    assert result.exit_code == 0, result.output
    new_key = FileKeyProvider(_key_file(app)).load()
    assert new_key != old_key
    assert f"replaced by {master_key_id(new_key)}" in result.output
    assert not Path(f"{_key_file(app)}.next").exists()
    assert import_master_key(backup_file.read_text(), PASSPHRASE) == new_key
    with app.app_context():
        rows = db.session.execute(select(DataKey)).scalars().all()
        assert all(row.master_key_id == master_key_id(new_key) for row in rows)
        assert all(row.wrapped != before[row.id] for row in rows)
        # only the wrapping changed: no field was rewritten
        assert db.session.execute(select(User.id, User.totp_secret_enc)).all() == seeds_before
        old_ring = KeyRing(ExternalKeyProvider(lambda: old_key), SqlKeyStore())
        with pytest.raises(WrongKeyError):
            old_ring.check_master()
    _seeds_read(app, people)


def test_rotate_master_killed_before_the_key_file_is_replaced_finishes_on_rerun(
        app, people, runner, tmp_path, monkeypatch):
    main_path = _key_file(app)
    real_store = FileKeyProvider.store

    def lose_power(self, key):  # type: ignore[no-untyped-def]
        if self.path == main_path:
            raise KeyboardInterrupt  # the process dies after the re-wrap committed
        real_store(self, key)

    monkeypatch.setattr(FileKeyProvider, "store", lose_power)
    runner.invoke(main, ["keys", "rotate-master", "--backup-to", str(tmp_path / "one"), "--yes"],
                  input=TWICE)
    monkeypatch.setattr(FileKeyProvider, "store", real_store)
    next_path = Path(f"{main_path}.next")
    assert next_path.exists()
    with pytest.raises(WrongKeyError, match="not the one that wrapped"):
        create_app(_config(app))  # refused until the rotation is finished
    with app.app_context():
        runtime.state().reset()
    result = runner.invoke(main, ["keys", "rotate-master", "--backup-to", str(tmp_path / "two"),
                                  "--yes"], input=TWICE)
    assert result.exit_code == 0, result.output
    assert "Finished an interrupted master-key rotation" in result.output
    assert not next_path.exists()
    _seeds_read(app, people)


def test_rotate_master_refuses_a_key_from_the_environment(app, people, runner, monkeypatch):
    key = FileKeyProvider(_key_file(app)).load()
    monkeypatch.setenv("AMANAT_TEST_MASTER_KEY", base64.b64encode(key).decode())
    app.config["MASTER_KEY_PROVIDER"] = "env:AMANAT_TEST_MASTER_KEY"
    result = runner.invoke(main, ["keys", "rotate-master", "--backup-to", "/nonexistent/x",
                                  "--yes"], input=TWICE)
    assert result.exit_code == 1
    assert "environment variable AMANAT_TEST_MASTER_KEY" in result.output
    assert "AMANAT_MASTER_KEY_PROVIDER=file:" in result.output
    assert "Traceback" not in result.output


def test_rotate_refuses_to_run_with_the_wrong_master_key(app, people, runner):
    before = _snapshot(app)
    FileKeyProvider(_key_file(app)).store(generate_master_key())
    with app.app_context():
        runtime.state().reset()
    result = runner.invoke(main, ["keys", "rotate"])
    assert result.exit_code == 1 and "not the one that wrapped" in result.output
    assert _snapshot(app) == before  # no new key, nothing re-encrypted
