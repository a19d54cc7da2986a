"""The backup archive: no canary appears in it, `amanat backup verify` passes a whole archive and
names the first problem of a damaged, truncated, altered or foreign one, and the backup reads one
consistent snapshot while the application keeps writing."""

from __future__ import annotations

import base64
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from app.backup import archive
from app.backup import backup as backup_module
from app.backup.archive import BackupError, ForeignArchiveError, MemberHasher, canonical
from app.backup.backup import create_backup
from app.backup.restore import verify_backup
from app.cli import main
from app.crypto.providers import FileKeyProvider, generate_master_key
from app.extensions import db
from app.models.audit import AuditEntry
from app.models.cases import Case
from tests.conftest import ON_POSTGRES
from tests.factories import make_case
from tests.support import make_user
from tests.test_backup_restore import (
    PASSPHRASE,
    _master_key_file,
    backup_of,
    cli_env,
    close,
    give,
    no_passphrase,
    seed,
    sqlite_installation,
    sqlite_template,  # noqa: F401 - fixture
)


@pytest.fixture
def made(app, tmp_path):  # type: ignore[no-untyped-def]
    seeded = seed(app, world=False)
    path = tmp_path / "out" / "b.amanat-backup"
    path.parent.mkdir()
    backup_of(app, path)
    return seeded, path


def _verify(app, path: Path):  # type: ignore[no-untyped-def]
    with app.app_context():
        return verify_backup(path, no_passphrase)


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


# -- canaries -------------------------------------------------------------------------------------
@pytest.mark.parametrize("include_keys", [False, True])
def test_no_canary_appears_in_a_backup_file(app, tmp_path, include_keys):
    seeded = seed(app)
    path = tmp_path / "out.amanat-backup"
    backup_of(app, path, include_keys=include_keys, passphrase=PASSPHRASE)
    raw = path.read_bytes()
    assert len(seeded.canaries) >= 6
    for canary in [*seeded.canaries, seeded.control]:
        for form in (canary.encode(), base64.b64encode(canary.encode()),
                     canary.encode("utf-16-le")):
            assert form not in raw, canary
    assert b"Witness statement" not in raw
    assert PASSPHRASE.encode() not in raw
    if not ON_POSTGRES:  # control: the same search finds a clear column in the database file
        database = Path(app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"))
        with app.app_context():
            db.session.remove()
            db.engine.dispose()  # checkpoint the WAL into the file
        clear = database.read_bytes() + (database.with_name(database.name + "-wal").read_bytes()
                                         if database.with_name(database.name + "-wal").exists()
                                         else b"")
        assert seeded.control.encode() in clear


# -- verify ---------------------------------------------------------------------------------------
def test_verify_passes_a_whole_archive(app, made):
    seeded, path = made
    result = _verify(app, path)
    assert result.evidence_files == len(seeded.evidence)
    assert result.tables["cases"] == 2 and result.tables["evidence_items"] == 2
    with app.app_context():
        assert result.tables["audit_entries"] == db.session.execute(
            select(func.count()).select_from(AuditEntry)).scalar_one() - 1  # minus backup.create
        db.session.rollback()


def test_a_flipped_byte_in_the_body_is_found(app, made):
    _seeded, path = made
    header = archive.read_header(path)
    _flip(path, header.body_start + (header.body_end - header.body_start) // 2)
    with pytest.raises(BackupError, match="damaged|failed authentication"):
        _verify(app, path)


def test_an_edited_header_is_found(app, made):
    _seeded, path = made
    raw = path.read_bytes()
    at = raw.index(b'"created_at":"') + len(b'"created_at":"') + 3
    _flip(path, at)
    with pytest.raises(ForeignArchiveError, match="another installation or is damaged"):
        _verify(app, path)


@pytest.mark.parametrize("cut", [1, 40, 41, 5000])
def test_a_truncated_archive_is_found(app, made, cut):
    _seeded, path = made
    data = path.read_bytes()
    path.write_bytes(data[:-cut])
    with pytest.raises(BackupError, match="incomplete or truncated|damaged"):
        _verify(app, path)


def test_a_wrong_final_mac_is_found(app, made):
    _seeded, path = made
    _flip(path, path.stat().st_size - 1)
    with pytest.raises(BackupError, match="final MAC does not match"):
        _verify(app, path)


def test_appended_bytes_are_found(app, made):
    _seeded, path = made
    with open(path, "ab") as handle:
        handle.write(b"x")
    with pytest.raises(BackupError, match="incomplete or truncated"):
        _verify(app, path)


def test_not_a_backup(app, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(BackupError, match="not an Amanat backup"):
        _verify(app, path)


def _crafted(app, path: Path, records) -> None:  # type: ignore[no-untyped-def]
    """An archive sealed with the right key but with a body the writer would never produce."""
    key = FileKeyProvider(_master_key_file(app)).load()
    from app.crypto.keyring import master_key_id

    header = {"format": archive.FORMAT_NAME, "version": archive.FORMAT_VERSION,
              "archive_id": uuid.uuid4().hex, "installation": master_key_id(key),
              "created_at": "2025-01-01T00:00:00+00:00", "alembic_revision": "0005",
              "source_dialect": "sqlite", "key_backup": None}
    archive.write_archive(path, header, key, records(header))


def test_a_member_that_differs_from_its_entry_is_named(app, tmp_path):
    seed(app, world=False)

    def records(header):  # type: ignore[no-untyped-def]
        member = MemberHasher("evidence/" + "a" * 32, "evidence")
        yield member.start()
        yield from member.data(b"stored bytes")
        entry = {**member.entry(), "sha256": "0" * 64}
        yield archive.record(archive.TAG_END, canonical(entry))

    path = tmp_path / "crafted.amanat-backup"
    _crafted(app, path, records)
    with pytest.raises(BackupError, match=f"member evidence/{'a' * 32} does not match"):
        _verify(app, path)


def test_a_missing_manifest_and_wrong_counts_are_found(app, tmp_path):
    seed(app, world=False)

    def no_manifest(header):  # type: ignore[no-untyped-def]
        member = MemberHasher("key/audit-signing.key", "key")
        yield member.start()
        yield from member.data(b"k")
        yield archive.record(archive.TAG_END, canonical(member.entry()))

    path = tmp_path / "a.amanat-backup"
    _crafted(app, path, no_manifest)
    with pytest.raises(BackupError, match="manifest is missing"):
        _verify(app, path)

    def wrong_counts(header):  # type: ignore[no-untyped-def]
        yield archive.record(archive.TAG_MANIFEST, canonical({
            "format": archive.FORMAT_NAME, "archive_id": header["archive_id"],
            "installation": header["installation"], "alembic_revision": "0005",
            "members": 3, "members_sha256": "", "tables": {}, "evidence": {}}))

    other = tmp_path / "b.amanat-backup"
    _crafted(app, other, wrong_counts)
    with pytest.raises(BackupError, match="manifest's members does not match"):
        _verify(app, other)


def test_the_verify_command_exits_0_only_for_a_whole_archive(app, made):
    _seeded, path = made
    ok = CliRunner().invoke(main, ["backup", "verify", str(path)], env=cli_env(app))
    assert ok.exit_code == 0, ok.output
    assert "OK" in ok.output and "2 evidence files" in ok.output
    _flip(path, path.stat().st_size - 5)
    bad = CliRunner().invoke(main, ["backup", "verify", str(path)], env=cli_env(app))
    assert bad.exit_code == 1
    assert "FAILED verification" in bad.output and "final MAC" in bad.output
    assert "Traceback" not in bad.output


def test_verify_with_another_installations_key_names_the_cause(app, made):
    _seeded, path = made
    FileKeyProvider(_master_key_file(app)).store(generate_master_key())
    result = CliRunner().invoke(main, ["backup", "verify", str(path)], env=cli_env(app))
    assert result.exit_code == 1
    assert "this backup was made by another installation or is damaged; restore its master key " \
           "first with amanat keys restore" in result.output


def test_an_archive_with_keys_verifies_on_a_bare_machine_with_the_passphrase(
        app, sqlite_template, tmp_path):  # noqa: F811
    seed(app, world=False)
    path = tmp_path / "k.amanat-backup"
    backup_of(app, path, include_keys=True, passphrase=PASSPHRASE)
    bare = sqlite_installation(sqlite_template, tmp_path / "bare")
    secret = tmp_path / "passphrase"
    secret.write_text(PASSPHRASE + "\n")
    result = CliRunner().invoke(main, ["backup", "verify", str(path), "--passphrase-file",
                                       str(secret)], env=cli_env(bare))
    assert result.exit_code == 0, result.output
    assert "keys included" in result.output
    assert not _master_key_file(bare).exists()  # verify installs nothing
    with bare.app_context(), pytest.raises(BackupError, match="passphrase is wrong"):
        verify_backup(path, give("not the passphrase at all"))
    close(bare)


def test_include_keys_asks_for_the_passphrase_twice(app, tmp_path):
    seed(app, world=False)
    runner = CliRunner()
    mismatch = runner.invoke(main, ["backup", str(tmp_path / "x.amanat-backup"),
                                    "--include-keys"],
                             input=f"{PASSPHRASE}\nsomething else entirely\n"
                                   f"{PASSPHRASE}\n{PASSPHRASE}\n", env=cli_env(app))
    assert mismatch.exit_code == 0, mismatch.output
    assert "do not match" in mismatch.output
    short = runner.invoke(main, ["backup", str(tmp_path / "y.amanat-backup"), "--include-keys"],
                          input="short\nshort\n", env=cli_env(app))
    assert short.exit_code == 1 and "at least 12 characters" in short.output
    assert not (tmp_path / "y.amanat-backup").exists()


# -- consistency while the application writes ----------------------------------------------------
def test_the_backup_is_one_snapshot_while_the_app_keeps_writing(app, tmp_path, monkeypatch):
    seed(app, world=False)
    owner = make_user(app, "caseworker", teams=["Quetta"])
    with app.app_context():
        cases_before = db.session.execute(select(func.count()).select_from(Case)).scalar_one()
        db.session.rollback()
    real = backup_module._table_member
    wrote: list[uuid.UUID] = []

    def table_member(conn, plan, result, progress):  # type: ignore[no-untyped-def]
        yield from real(conn, plan, result, progress)
        if plan.table.name == "cases":
            # The application commits a new case (and its audit entries) mid-backup; with the
            # snapshot it neither waits for the backup nor appears in it.
            wrote.append(make_case(app, owner, title="Written during the backup"))

    monkeypatch.setattr(backup_module, "_table_member", table_member)
    path = tmp_path / "snap.amanat-backup"
    with app.app_context():
        result = create_backup(path)
    assert wrote
    assert result.tables["cases"] == cases_before
    with app.app_context():
        people_now = db.session.execute(select(func.count()).select_from(
            db.metadata.tables["people"])).scalar_one()
        db.session.rollback()
    # Tables dumped after "cases" (people, acts, testimonies...) still show the picture from
    # before the write.
    assert result.tables["people"] == people_now - 2
    assert _verify(app, path).tables == result.tables
