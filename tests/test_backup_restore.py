"""`amanat backup` and `amanat restore`: a whole installation goes into one archive and comes back
equal -- decrypted titles, names and evidence files, every table's rows, a passing audit
verification -- into an empty installation only, on SQLite and PostgreSQL in both directions;
a failed or killed backup leaves nothing that looks complete, a failed or killed restore leaves
the installation empty."""

from __future__ import annotations

import hashlib
import io
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import func, select

from app import create_app
from app.audit.checkpoints import make_checkpoint
from app.audit.verify import verify_log
from app.backup import archive
from app.backup import restore as restore_module
from app.backup.archive import BackupError, ForeignArchiveError
from app.backup.backup import EXCLUDED_TABLES, create_backup
from app.backup.restore import RESTORE_ACTION, restore_backup, verify_backup
from app.cli import main
from app.crypto.keyring import master_key_id
from app.crypto.providers import FileKeyProvider, generate_master_key
from app.extensions import db
from app.models.audit import AuditEntry
from app.models.cases import Case
from app.models.evidence import EvidenceItem
from app.models.people import Person
from app.models.users import User
from app.services import evidence as evidence_service
from app.services import people as people_service
from tests.conftest import BASE_CONFIG, ON_POSTGRES, _upgrade
from tests.factories import actor, make_case
from tests.matrix_support import build_world
from tests.support import make_user

PASSPHRASE = "correct horse battery staple"
ROOT = Path(__file__).resolve().parent.parent


def no_passphrase() -> str:
    raise AssertionError("no passphrase should be needed")


def give(passphrase: str = PASSPHRASE):  # type: ignore[no-untyped-def]
    return lambda: passphrase


# -- installations --------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def sqlite_template(migrated_template: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file (the run's own template on SQLite; built once on PostgreSQL)."""
    if not ON_POSTGRES:
        return Path(migrated_template)
    path = tmp_path_factory.mktemp("sqlite-template") / "amanat.db"
    _upgrade(f"sqlite:///{path}", tmp_path_factory.mktemp("sqlite-template-instance"))
    return path


def new_installation(url: str, instance: Path, **config) -> Flask:  # type: ignore[no-untyped-def]
    instance.mkdir(mode=0o700, parents=True, exist_ok=True)
    return create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": url,
                       "INSTANCE_PATH": str(instance), **config})


def sqlite_installation(template: Path, where: Path) -> Flask:
    where.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, where / "amanat.db")
    return new_installation(f"sqlite:///{where / 'amanat.db'}", where / "instance")


def close(app: Flask) -> None:
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def copy_keys(source: Flask, target: Flask) -> None:
    """What an operator does with `amanat keys restore` and the audit key's copy."""
    for src, dst in ((_master_key_file(source), _master_key_file(target)),
                     (Path(source.config["AUDIT_SIGNING_KEY_FILE"]),
                      Path(target.config["AUDIT_SIGNING_KEY_FILE"]))):
        shutil.copy2(src, dst)
        os.chmod(dst, 0o600)


def _master_key_file(app: Flask) -> Path:
    return Path(app.instance_path) / "master.key"


# -- data -----------------------------------------------------------------------------------------
@dataclass
class Seeded:
    canaries: list[str] = field(default_factory=list)
    control: str = ""
    cases: dict[uuid.UUID, str] = field(default_factory=dict)
    evidence: dict[uuid.UUID, bytes] = field(default_factory=dict)


def _canary(label: str) -> str:
    return f"CANARY-{label}-{secrets.token_hex(5)}"


def seed(app: Flask, *, world: bool = True) -> Seeded:
    """Accounts, cases with people, acts, sources, testimony, evidence (one derived from
    another), the matrix world touching every table, and a signed audit checkpoint."""
    seeded = Seeded()
    if world:
        build_world(app, sign_in_users=False)
    seeded.control = _canary("control")
    owner = make_user(app, "caseworker", name=seeded.control, teams=["Quetta"])
    for number in range(2):
        title = _canary(f"title{number}")
        case_id = make_case(app, owner, title=title)
        seeded.cases[case_id] = title
        seeded.canaries.append(title)
    with app.app_context():
        user = actor(owner)
        case = db.session.get(Case, next(iter(seeded.cases)))
        name = _canary("name")
        people_service.add_person(user, case, {"full_name": name, "sex": "female"})
        seeded.canaries.append(name)
        content_canary = _canary("file")
        original = evidence_service.add_evidence(
            user, case, io.BytesIO(f"Witness statement\n{content_canary}\n".encode() * 50),
            filename=f"{_canary('filename')}.txt", declared_type="text/plain",
            description=_canary("description"), collected_by=None, collected_at=None,
            collected_from=None)
        copy = evidence_service.add_evidence(
            user, case, io.BytesIO(f"Redacted copy\n{content_canary}\n".encode()),
            filename="copy.txt", declared_type="text/plain", description=None,
            collected_by=None, collected_at=None, collected_from=None, derived_from=original)
        seeded.canaries += [content_canary, original.original_name, original.description]
        db.session.commit()
        for item in (original, copy):
            seeded.evidence[item.id] = b"".join(
                evidence_service.store().open_verified(item.storage_name, item.sha256))
        make_checkpoint()
        db.session.commit()
    return seeded


def table_counts(app: Flask) -> dict[str, int]:
    with app.app_context():
        counts = {table.name: db.session.execute(
            select(func.count()).select_from(table)).scalar_one()
            for table in db.metadata.sorted_tables if table.name not in EXCLUDED_TABLES}
        db.session.rollback()
    return counts


def assert_equal_records(source: Flask, target: Flask, seeded: Seeded,
                         before: dict[str, int]) -> None:
    after = table_counts(target)
    entries = after.pop("audit_entries")
    assert entries == before.pop("audit_entries") + 1  # the restore's own entry
    assert after == before
    with target.app_context():
        for case_id, title in seeded.cases.items():
            assert db.session.get(Case, case_id).title == title
        names = {p.full_name for p in db.session.execute(select(Person)).scalars()}
        assert all(c in names for c in seeded.canaries if c.startswith("CANARY-name-"))
        for item_id, content in seeded.evidence.items():
            item = db.session.get(EvidenceItem, item_id)
            assert b"".join(evidence_service.store().open_verified(
                item.storage_name, item.sha256)) == content
        copies = db.session.execute(select(EvidenceItem).where(
            EvidenceItem.derived_from_id.is_not(None))).scalars().all()
        assert copies and all(c.derived_from_id in seeded.evidence for c in copies
                              if c.id in seeded.evidence)
        with source.app_context():
            seeds = {u.id: u.totp_secret for u in db.session.execute(select(User)).scalars()}
            db.session.rollback()
        assert {u.id: u.totp_secret for u in db.session.execute(select(User)).scalars()} == seeds
        entry = db.session.execute(select(AuditEntry).where(
            AuditEntry.action == RESTORE_ACTION)).scalar_one()
        assert entry.seq == entries
        report = verify_log()
        assert report.ok, [p.message for p in report.problems]
        assert report.checkpoints_checked >= 1
        db.session.rollback()


def backup_of(app: Flask, path: Path, **options) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        create_backup(path, **options)


def cli_env(app: Flask) -> dict[str, str]:
    return {"AMANAT_SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "AMANAT_SECRET_KEY": app.config["SECRET_KEY"],
            "AMANAT_MASTER_KEY_PROVIDER": f"file:{_master_key_file(app)}",
            "AMANAT_EVIDENCE_DIR": app.config["EVIDENCE_DIR"],
            "AMANAT_AUDIT_SIGNING_KEY_FILE": app.config["AUDIT_SIGNING_KEY_FILE"],
            "AMANAT_LOG_LEVEL": "WARNING"}


def is_empty(app: Flask) -> bool:
    counts = table_counts(app)
    return all(count == 0 for name, count in counts.items()
               if name not in restore_module.REPLACEABLE_TABLES)


def evidence_files(app: Flask) -> list[str]:
    directory = Path(app.config["EVIDENCE_DIR"])
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


# -- round trips ----------------------------------------------------------------------------------
def test_backup_then_restore_into_a_new_installation_reads_back_equal(
        app, sqlite_template, tmp_path):
    seeded = seed(app)
    before = table_counts(app)
    path = tmp_path / "nightly.amanat-backup"
    backup_of(app, path)
    assert path.exists() and not path.with_name(path.name + ".partial").exists()
    assert path.stat().st_mode & 0o777 == 0o600

    target = sqlite_installation(sqlite_template, tmp_path / "new-server")
    copy_keys(app, target)  # `amanat keys restore` + the audit key, as docs/backup.md says
    with target.app_context():
        result = restore_backup(path, no_passphrase)
    assert result.evidence_files == before["evidence_items"]
    assert_equal_records(app, target, seeded, before)
    close(target)


def test_include_keys_restores_into_an_installation_without_any_key(
        app, sqlite_template, tmp_path):
    seeded = seed(app, world=False)
    before = table_counts(app)
    path = tmp_path / "with-keys.amanat-backup"
    backup_of(app, path, include_keys=True, passphrase=PASSPHRASE)

    target = sqlite_installation(sqlite_template, tmp_path / "bare")
    assert not _master_key_file(target).exists()
    with target.app_context(), pytest.raises(BackupError, match="passphrase is wrong"):
        restore_backup(path, give("a wrong passphrase entirely"))
    assert not _master_key_file(target).exists() and is_empty(target)
    with target.app_context():
        result = restore_backup(path, give())
    assert result.key_installed
    assert _master_key_file(target).read_bytes() == _master_key_file(app).read_bytes()
    assert _master_key_file(target).stat().st_mode & 0o777 == 0o600
    assert Path(target.config["AUDIT_SIGNING_KEY_FILE"]).read_bytes() == \
        Path(app.config["AUDIT_SIGNING_KEY_FILE"]).read_bytes()
    assert_equal_records(app, target, seeded, before)
    close(target)
    # A new process on the restored installation starts (the start-up key check passes).
    close(new_installation(target.config["SQLALCHEMY_DATABASE_URI"],
                           Path(target.instance_path)))


@pytest.mark.skipif(not ON_POSTGRES, reason="needs PostgreSQL (AMANAT_TEST_DATABASE_URL)")
def test_postgresql_to_sqlite(app, sqlite_template, tmp_path):
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql")
    seeded = seed(app)
    before = table_counts(app)
    path = tmp_path / "pg.amanat-backup"
    backup_of(app, path)
    target = sqlite_installation(sqlite_template, tmp_path / "sqlite-server")
    copy_keys(app, target)
    with target.app_context():
        restore_backup(path, no_passphrase)
    assert_equal_records(app, target, seeded, before)
    close(target)


@pytest.mark.skipif(not ON_POSTGRES, reason="needs PostgreSQL (AMANAT_TEST_DATABASE_URL)")
def test_sqlite_to_postgresql(app, sqlite_template, tmp_path):
    source = sqlite_installation(sqlite_template, tmp_path / "sqlite-server")
    seeded = seed(source)
    before = table_counts(source)
    path = tmp_path / "sqlite.amanat-backup"
    backup_of(source, path, include_keys=True, passphrase=PASSPHRASE)
    with app.app_context():  # the PostgreSQL test database, emptied for this test
        result = restore_backup(path, give())
        assert result.key_installed
    assert_equal_records(source, app, seeded, before)
    close(source)


def test_the_cli_backs_up_verifies_and_restores(app, sqlite_template, tmp_path):
    seeded = seed(app, world=False)
    before = table_counts(app)
    runner = CliRunner()
    made = runner.invoke(main, ["backup", str(tmp_path)], env=cli_env(app))
    assert made.exit_code == 0, made.output
    [path] = list(tmp_path.glob("amanat-*.amanat-backup"))
    assert "Backup written" in made.output and "amanat keys backup" in made.output
    checked = runner.invoke(main, ["backup", "verify", str(path)], env=cli_env(app))
    assert checked.exit_code == 0, checked.output
    assert f"Backup {path}: OK" in checked.output

    target = sqlite_installation(sqlite_template, tmp_path / "cli-target")
    copy_keys(app, target)
    restored = runner.invoke(main, ["restore", str(path)], env=cli_env(target))
    assert restored.exit_code == 0, restored.output
    assert "Restored" in restored.output
    assert_equal_records(app, target, seeded, before)
    again = runner.invoke(main, ["restore", str(path)], env=cli_env(target))
    assert again.exit_code == 1 and "not empty" in again.output
    close(target)


def test_restore_without_any_master_key_says_what_to_do(app, sqlite_template, tmp_path):
    seed(app, world=False)
    path = tmp_path / "b.amanat-backup"
    backup_of(app, path)
    target = sqlite_installation(sqlite_template, tmp_path / "keyless")
    result = CliRunner().invoke(main, ["restore", str(path)], env=cli_env(target))
    assert result.exit_code == 1
    assert "no master key" in result.output and "amanat keys restore" in result.output
    assert "Traceback" not in result.output
    assert not _master_key_file(target).exists() and is_empty(target)
    close(target)


def test_an_archive_of_another_installation_is_refused(app, sqlite_template, tmp_path):
    seed(app, world=False)
    path = tmp_path / "b.amanat-backup"
    backup_of(app, path)
    target = sqlite_installation(sqlite_template, tmp_path / "other")
    FileKeyProvider(_master_key_file(target)).store(generate_master_key())
    result = CliRunner().invoke(main, ["restore", str(path)], env=cli_env(target))
    assert result.exit_code == 1
    assert ("this backup was made by another installation or is damaged; restore its master "
            "key first with amanat keys restore") in result.output
    assert is_empty(target)
    close(target)


# -- refusals -------------------------------------------------------------------------------------
def test_restore_refuses_a_database_with_users_or_cases(app, tmp_path):
    seeded = seed(app, world=False)
    path = tmp_path / "b.amanat-backup"
    backup_of(app, path)
    before = table_counts(app)
    with app.app_context(), pytest.raises(BackupError, match="not empty .*users: "):
        restore_backup(path, no_passphrase)
    assert table_counts(app) == before
    assert seeded.cases


def test_restore_refuses_a_database_that_is_not_upgraded(app, tmp_path):
    seed(app, world=False)
    path = tmp_path / "b.amanat-backup"
    backup_of(app, path)
    old = tmp_path / "old.db"
    _upgrade_to(f"sqlite:///{old}", tmp_path / "old-instance", "0004")
    target = new_installation(f"sqlite:///{old}", tmp_path / "old-instance")
    copy_keys(app, target)
    with target.app_context(), pytest.raises(BackupError, match="run 'amanat db upgrade' first"):
        restore_backup(path, no_passphrase)
    close(target)


def _upgrade_to(url: str, instance: Path, revision: str) -> None:
    from flask_migrate import upgrade

    application = new_installation(url, instance)
    with application.app_context():
        upgrade(revision=revision)
    close(application)


def test_restore_refuses_an_archive_from_a_newer_version(app, sqlite_template, tmp_path,
                                                         monkeypatch):
    seed(app, world=False)
    path = tmp_path / "future.amanat-backup"
    from app.backup import backup as backup_module

    monkeypatch.setattr(backup_module, "database_revision", lambda conn: "0099_future")
    monkeypatch.setattr(backup_module, "known_revisions",
                        lambda: ({"0099_future"}, "0099_future"))
    backup_of(app, path)
    monkeypatch.undo()
    target = sqlite_installation(sqlite_template, tmp_path / "t")
    copy_keys(app, target)
    with target.app_context(), pytest.raises(BackupError, match="newer version of Amanat"):
        restore_backup(path, no_passphrase)
    assert is_empty(target)
    close(target)


def test_an_existing_target_is_never_overwritten(app, tmp_path):
    path = tmp_path / "exists.amanat-backup"
    path.write_bytes(b"precious")
    with app.app_context(), pytest.raises(BackupError, match="already exists"):
        create_backup(path)
    assert path.read_bytes() == b"precious"


# -- failures and kills ---------------------------------------------------------------------------
def test_a_backup_failing_partway_leaves_nothing(app, tmp_path, monkeypatch):
    seed(app, world=False)
    (tmp_path / "out").mkdir()
    path = tmp_path / "out" / "b.amanat-backup"
    written = {"bytes": 0}
    real_write = archive._MacWriter.write

    def failing(self, data):  # type: ignore[no-untyped-def]
        written["bytes"] += len(data)
        if written["bytes"] > 2000:
            raise OSError(28, "No space left on device")
        return real_write(self, data)

    monkeypatch.setattr(archive._MacWriter, "write", failing)
    with app.app_context(), pytest.raises(OSError):
        create_backup(path)
    assert list(path.parent.iterdir()) == []


def test_a_missing_evidence_file_stops_the_backup(app, tmp_path):
    seed(app, world=False)
    victim = sorted(Path(app.config["EVIDENCE_DIR"]).iterdir())[0]
    victim.unlink()
    (tmp_path / "out").mkdir()
    path = tmp_path / "out" / "b.amanat-backup"
    with app.app_context(), pytest.raises(BackupError, match=f"{victim.name} is missing"):
        create_backup(path)
    assert list(path.parent.iterdir()) == []


def _helper(mode: str, env: dict[str, str], path: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "backup_slow_helper.py"), mode, str(path)],
        cwd=ROOT, env={**os.environ, **env, "AMANAT_TEST_SLOW_SECONDS": "0.05"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _wait_for(condition, proc, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(f"helper exited early: {proc.stdout.read().decode()}")
        assert time.monotonic() < deadline, "helper never got going"
        time.sleep(0.02)


def test_a_backup_killed_with_sigkill_leaves_no_complete_looking_archive(app, tmp_path):
    seed(app, world=False)
    path = tmp_path / "killed.amanat-backup"
    partial = path.with_name(path.name + ".partial")
    proc = _helper("backup", cli_env(app), path)
    _wait_for(lambda: partial.exists() and partial.stat().st_size > 2000, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert not path.exists()
    with app.app_context(), pytest.raises(BackupError, match="incomplete or truncated"):
        verify_backup(partial, no_passphrase)
    # The next run overwrites the stale partial file and completes.
    backup_of(app, path)
    assert not partial.exists()
    with app.app_context():
        assert verify_backup(path, no_passphrase).evidence_files == 2


def test_a_restore_failing_partway_leaves_the_installation_empty(app, sqlite_template, tmp_path,
                                                                 monkeypatch):
    seed(app)
    path = tmp_path / "b.amanat-backup"
    backup_of(app, path, include_keys=True, passphrase=PASSPHRASE)
    target = sqlite_installation(sqlite_template, tmp_path / "t")
    real_finish = restore_module._TableLoader.finish

    def failing(self):  # type: ignore[no-untyped-def]
        if self.table.name == "allegation_links":  # late: cases, people and files are in
            raise RuntimeError("simulated crash")
        return real_finish(self)

    monkeypatch.setattr(restore_module._TableLoader, "finish", failing)
    with target.app_context(), pytest.raises(RuntimeError, match="simulated crash"):
        restore_backup(path, give())
    assert is_empty(target)
    assert evidence_files(target) == []
    assert not _master_key_file(target).exists()
    assert not Path(target.config["AUDIT_SIGNING_KEY_FILE"]).exists()
    monkeypatch.undo()
    with target.app_context():
        restore_backup(path, give())
    assert not is_empty(target) and evidence_files(target) == evidence_files(app)
    close(target)


def test_a_restore_killed_with_sigkill_leaves_the_installation_empty(app, sqlite_template,
                                                                     tmp_path):
    seed(app)
    before = table_counts(app)
    path = tmp_path / "b.amanat-backup"
    backup_of(app, path)
    target = sqlite_installation(sqlite_template, tmp_path / "t")
    copy_keys(app, target)
    staging_root = Path(target.config["EVIDENCE_DIR"])
    proc = _helper("restore", cli_env(target), path)
    _wait_for(lambda: any(staging_root.glob(".restore-*/*")), proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert is_empty(target)
    assert [name for name in evidence_files(target) if not name.startswith(".")] == []
    # Running it again clears the dead run's staging directory and restores everything.
    with target.app_context():
        restore_backup(path, no_passphrase)
    assert evidence_files(target) == sorted(p.name for p in Path(app.config["EVIDENCE_DIR"])
                                            .iterdir())
    after = table_counts(target)
    assert after["cases"] == before["cases"]
    close(target)


def test_a_restore_interrupted_after_its_commit_is_finished_by_running_it_again(
        app, sqlite_template, tmp_path, monkeypatch):
    seed(app, world=False)
    path = tmp_path / "b.amanat-backup"
    backup_of(app, path)
    target = sqlite_installation(sqlite_template, tmp_path / "t")
    copy_keys(app, target)

    def killed(staging, evidence_dir):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt  # the power fails right after the commit

    monkeypatch.setattr(restore_module, "_move_staged", killed)
    with target.app_context(), pytest.raises(KeyboardInterrupt):
        restore_backup(path, no_passphrase)
    monkeypatch.undo()
    assert evidence_files(target)[0].startswith(".restore-")
    with target.app_context():
        result = restore_backup(path, no_passphrase)
    assert result.finished_interrupted and result.evidence_files == 2
    with target.app_context():
        for item in db.session.execute(select(EvidenceItem)).scalars():
            evidence_service.store().verify(item.storage_name, item.sha256)
        db.session.rollback()
    close(target)


def test_master_key_ids_name_the_installation(app, tmp_path):
    seed(app, world=False)
    path = tmp_path / "b.amanat-backup"
    backup_of(app, path)
    header = archive.read_header(path)
    key = FileKeyProvider(_master_key_file(app)).load()
    assert header.installation == master_key_id(key)
    assert hashlib.sha256(key).hexdigest() not in path.read_bytes().decode("latin-1")
    with pytest.raises(ForeignArchiveError):
        list(archive.read_events(path, header, generate_master_key()))


def test_the_documented_new_server_procedure(app, sqlite_template, tmp_path):
    """keys backup -> (new server) keys restore -> restore -> audit verify, all through the CLI."""
    seeded = seed(app, world=False)
    runner = CliRunner()
    secret = tmp_path / "passphrase"
    secret.write_text(PASSPHRASE + "\n")
    key_backup = tmp_path / "offline" / "master.key-backup"
    key_backup.parent.mkdir()
    assert runner.invoke(main, ["keys", "backup", "-o", str(key_backup), "--passphrase-file",
                                str(secret)], env=cli_env(app)).exit_code == 0
    before = table_counts(app)  # with the keys.backup entry
    path = tmp_path / "nightly.amanat-backup"
    backup_of(app, path)

    target = sqlite_installation(sqlite_template, tmp_path / "new-server")
    shutil.copy2(app.config["AUDIT_SIGNING_KEY_FILE"], target.config["AUDIT_SIGNING_KEY_FILE"])
    restored_key = runner.invoke(main, ["keys", "restore", str(key_backup), "--passphrase-file",
                                        str(secret)], env=cli_env(target))
    assert restored_key.exit_code == 0, restored_key.output
    restored = runner.invoke(main, ["restore", str(path)], env=cli_env(target))
    assert restored.exit_code == 0, restored.output
    assert "1 audit entries of the empty installation were replaced" in restored.output
    assert_equal_records(app, target, seeded, before)
    verified = runner.invoke(main, ["audit", "verify"], env=cli_env(target))
    assert verified.exit_code == 0, verified.output
    assert "Verification PASSED" in verified.output
    close(target)
