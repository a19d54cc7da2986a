"""Faults: the database going away mid-request, a full disk on evidence upload, and processes
killed with SIGKILL in the middle of `amanat import` and `amanat keys rotate`.

What must hold each time: a clear message (the 503 "try again" page, the disk-full message),
nothing half-written (row counts and the edited record unchanged; no stray evidence file), and
after a kill a database that is consistent (SQLite integrity_check, no orphan rows, the audit
log verifies) and holds all of an import or none of it, with every encrypted value readable.

The killed processes are real: `.venv/bin/amanat`, or tests/scripts/announce_cli.py (the same
entry point, with one function announced on stderr so the kill lands at a known point), run on
a migrated SQLite file of this test's own, with every path (master key, evidence, audit key)
inside the test's temporary directory.
"""

from __future__ import annotations

import errno
import io
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from app import create_app
from app.audit.verify import verify_log
from app.bundle.importer import import_bundle
from app.bundle.validate import parse
from app.crypto import operations
from app.crypto.fields import registered_fields
from app.extensions import db
from app.models.cases import Case
from app.services import evidence as evidence_service
from tests.conftest import BASE_CONFIG, _upgrade
from tests.factories import actor, make_case
from tests.support import csrf_from, make_user

ROOT = Path(__file__).resolve().parent.parent
AMANAT = ROOT / ".venv" / "bin" / "amanat"
ANNOUNCE = ROOT / "tests" / "scripts" / "announce_cli.py"


def table_counts() -> dict[str, int]:
    return {t.name: db.session.execute(select(func.count()).select_from(t)).scalar_one()
            for t in db.metadata.sorted_tables if t.name != "sessions"}


def counts(app) -> dict[str, int]:
    with app.app_context():
        return table_counts()


# --- The database going away mid-request ---------------------------------------------------------

def _gone(statement: str = "COMMIT") -> OperationalError:
    return OperationalError(statement, {}, Exception("server closed the connection unexpectedly"))


class DatabaseFault:
    """Arms one failure of the ORM session: at commit, at the first flush, or at the statement
    that locks the audit log's tail (mid-service: the record's rows are flushed already)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, where: str) -> None:
        self.where = where
        self.armed = False
        self.fired = 0
        real_commit, real_flush, real_execute = Session.commit, Session.flush, Session.execute
        fault = self

        def commit(session, *args, **kwargs):  # type: ignore[no-untyped-def]
            if fault.trigger("commit"):
                raise _gone("COMMIT")
            return real_commit(session, *args, **kwargs)

        def flush(session, *args, **kwargs):  # type: ignore[no-untyped-def]
            if session.new or session.dirty or session.deleted:
                if fault.trigger("flush"):
                    raise _gone("INSERT")
            return real_flush(session, *args, **kwargs)

        def execute(session, statement, *args, **kwargs):  # type: ignore[no-untyped-def]
            if "audit_entries" in str(statement) and fault.trigger("audit"):
                raise _gone("SELECT max(audit_entries.seq)")
            if fault.trigger("everything"):
                raise _gone("SELECT 1")
            return real_execute(session, statement, *args, **kwargs)

        monkeypatch.setattr(Session, "commit", commit)
        monkeypatch.setattr(Session, "flush", flush)
        monkeypatch.setattr(Session, "execute", execute)

    def trigger(self, kind: str) -> bool:
        if self.armed and kind == self.where and (self.fired == 0 or kind == "everything"):
            self.fired += 1
            return True
        return False


def _open_case(client, world) -> tuple[str, dict]:
    return "/cases/new", {"title": "Abduction in Panjgur", "summary": "Taken at night.",
                          "intake_channel": "", "team_id": "", "tags": "", "date_received": ""}


def _add_person(client, world) -> tuple[str, dict]:
    return f"/cases/{world}/people/new", {"full_name": "Nazeer Baloch", "counting_unit":
                                          "individual", "sex": "male"}


def _edit_case(client, world) -> tuple[str, dict]:
    html = client.get(f"/cases/{world}/edit").get_data(as_text=True)
    version = html.split('name="version" type="hidden" value="')[1].split('"')[0]
    return f"/cases/{world}/edit", {"title": "A new title that must not be half-saved",
                                    "summary": "Changed", "version": version, "team_id": "",
                                    "intake_channel": "", "tags": "changed", "date_received": ""}


def _add_note(client, world) -> tuple[str, dict]:
    return f"/cases/{world}/notes", {"comment": "Called the family."}


ACTIONS = {"open_case": _open_case, "add_person": _add_person, "edit_case": _edit_case,
           "add_note": _add_note}


@pytest.mark.parametrize("where", ["commit", "flush", "audit"])
@pytest.mark.parametrize("action", list(ACTIONS))
def test_the_database_going_away_mid_write_gives_try_again_and_writes_nothing(
        app, caseworker, caseworker_client, monkeypatch, action, where):
    case_id = make_case(app, caseworker)
    client = caseworker_client
    fault = DatabaseFault(monkeypatch, where)
    url, data = ACTIONS[action](client, case_id)
    page = f"/cases/{case_id}" if action == "add_note" else url
    token = csrf_from(client.get(page).get_data(as_text=True))
    before = counts(app)
    with app.app_context():
        title_before = db.session.get(Case, case_id).title
    fault.armed = True
    response = client.post(url, data={**data, "csrf_token": token})
    fault.armed = False
    assert fault.fired, f"the {where} fault never fired during {action}"
    body = response.get_data(as_text=True)
    assert response.status_code == 503, f"{response.status_code}: {body[:400]}"
    assert "try again" in body and "Nothing was saved" in body
    assert "Traceback" not in body and "OperationalError" not in body
    assert counts(app) == before, "a failed request left rows behind"
    with app.app_context():
        assert db.session.get(Case, case_id).title == title_before
    # "Try again" works: the same submission succeeds once the database is back.
    if action == "edit_case":
        url, data = ACTIONS[action](client, case_id)
    again = client.post(url, data={**data, "csrf_token": token})
    assert again.status_code == 302, again.get_data(as_text=True)[:400]


@pytest.mark.parametrize("method,url", [("GET", "/cases/"), ("POST", "/cases/new")])
def test_a_database_that_is_down_for_the_whole_request_gives_try_again(
        app, caseworker, caseworker_client, monkeypatch, method, url):
    """When the database is down, the first statement of a signed-in request is the session
    lookup, before any view runs: the answer must still be the 503 "try again" page."""
    client = caseworker_client
    token = csrf_from(client.get("/cases/new").get_data(as_text=True))
    app.config["PROPAGATE_EXCEPTIONS"] = False  # answer as in production, not raise into the test
    fault = DatabaseFault(monkeypatch, "everything")
    before = counts(app)
    fault.armed = True
    response = (client.get(url) if method == "GET" else
                client.post(url, data={"title": "Down", "csrf_token": token}))
    fault.armed = False
    body = response.get_data(as_text=True)
    assert response.status_code == 503, f"{response.status_code}: {body[:300]}"
    assert "try again" in body
    assert counts(app) == before


# --- A full disk on evidence upload --------------------------------------------------------------

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
       b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N"
       b"\x00\x00\x00\x00IEND\xaeB`\x82") + b"\x00" * 300_000


def _upload(client, case_id):
    url = f"/cases/{case_id}/evidence/new"
    token = csrf_from(client.get(url).get_data(as_text=True))
    return client.post(url, content_type="multipart/form-data", data={
        "csrf_token": token, "description": "Photo of the FIR", "collected_by": "field team",
        "collected_at": "", "collected_from": "", "derived_from": "",
        "file": (io.BytesIO(PNG), "fir.png", "image/png")})


def _stored_files(app) -> list[str]:
    directory = Path(app.config["EVIDENCE_DIR"])
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def _enospc(*_args, **_kwargs):  # type: ignore[no-untyped-def]
    raise OSError(errno.ENOSPC, "No space left on device")


def _half_written_then_full(real):  # type: ignore[no-untyped-def]
    def encrypt_stream(stream, handle, **kwargs):  # type: ignore[no-untyped-def]
        handle.write(b"\x01" * 70_000)  # some chunks reached the disk
        handle.flush()
        raise OSError(errno.ENOSPC, "No space left on device")
    return encrypt_stream


@pytest.mark.parametrize("where", ["file-write", "mid-stream", "fsync", "rename"])
def test_a_full_disk_on_evidence_upload_fails_cleanly(app, caseworker, caseworker_client,
                                                      monkeypatch, where):
    from app.evidence import store as store_module

    case_id = make_case(app, caseworker)
    before, files_before = counts(app), _stored_files(app)
    if where == "file-write":
        # The store's own file object: the first 64 KiB reach the disk, then the disk is full.
        real_fdopen = os.fdopen

        class FullDisk(io.RawIOBase):
            def __init__(self, fd: int, mode: str) -> None:
                self.real = real_fdopen(fd, mode, buffering=0)
                self.written = 0

            def writable(self) -> bool:
                return True

            def write(self, data) -> int:  # type: ignore[no-untyped-def,override]
                if self.written + len(data) > 65536:
                    _enospc()
                self.written += len(data)
                return self.real.write(data)

            def fileno(self) -> int:
                return self.real.fileno()

            def close(self) -> None:
                self.real.close()
                super().close()

        monkeypatch.setattr(store_module.os, "fdopen", FullDisk)
    elif where == "mid-stream":
        monkeypatch.setattr(store_module, "encrypt_stream",
                            _half_written_then_full(store_module.encrypt_stream))
    elif where == "fsync":
        monkeypatch.setattr(store_module.os, "fsync", _enospc)
    else:
        monkeypatch.setattr(store_module.os, "replace", _enospc)
    response = _upload(caseworker_client, case_id)
    monkeypatch.undo()
    body = response.get_data(as_text=True)
    assert response.status_code == 200, f"{response.status_code}: {body[:300]}"
    assert "out of disk space" in body and "nothing was stored" in body
    assert counts(app) == before
    assert _stored_files(app) == files_before, "a partial or orphaned file was left in the store"
    assert _upload(caseworker_client, case_id).status_code == 302  # space back: it works


def test_the_database_going_away_after_the_file_is_stored_leaves_no_orphan_file(
        app, caseworker, caseworker_client, monkeypatch):
    """The file is encrypted to disk first, then its record is committed. If that commit fails
    the request says "try again" and nothing is recorded; the file just written must not stay
    behind in the store, unreferenced (it would be evidence no record, custody log or backup
    check accounts for)."""
    case_id = make_case(app, caseworker)
    before, files_before = counts(app), _stored_files(app)
    fault = DatabaseFault(monkeypatch, "commit")
    real_add = evidence_service.add_evidence

    def add_then_fail(*args, **kwargs):  # type: ignore[no-untyped-def]
        item = real_add(*args, **kwargs)
        fault.armed = True
        return item

    monkeypatch.setattr(evidence_service, "add_evidence", add_then_fail)
    response = _upload(caseworker_client, case_id)
    assert fault.fired
    assert response.status_code == 503
    assert counts(app) == before
    assert _stored_files(app) == files_before, (
        f"orphaned evidence file(s) left: {set(_stored_files(app)) - set(files_before)}")


# --- Processes killed with SIGKILL ---------------------------------------------------------------

@pytest.fixture(scope="module")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file (also on PostgreSQL runs: these tests inspect the SQLite file)."""
    where = tmp_path_factory.mktemp("faults-template")
    path = where / "amanat.db"
    _upgrade(f"sqlite:///{path}", where / "instance")
    return path


class Installation:
    """A SQLite installation in a temporary directory, used in-process and by subprocesses."""

    def __init__(self, template: Path, root: Path) -> None:
        self.root = root
        self.db_path = root / "amanat.db"
        shutil.copyfile(template, self.db_path)
        (root / "instance").mkdir(mode=0o700)
        self.env = {
            "AMANAT_SQLALCHEMY_DATABASE_URI": f"sqlite:///{self.db_path}",
            "AMANAT_SECRET_KEY": BASE_CONFIG["SECRET_KEY"],
            "AMANAT_MASTER_KEY_PROVIDER": f"file:{root / 'instance' / 'master.key'}",
            "AMANAT_EVIDENCE_DIR": str(root / "evidence"),
            "AMANAT_AUDIT_SIGNING_KEY_FILE": str(root / "audit-signing.key"),
            "AMANAT_LOG_LEVEL": "WARNING",
        }
        self.app = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": self.env[
            "AMANAT_SQLALCHEMY_DATABASE_URI"], "INSTANCE_PATH": str(root / "instance"),
            "MASTER_KEY_PROVIDER": self.env["AMANAT_MASTER_KEY_PROVIDER"],
            "EVIDENCE_DIR": self.env["AMANAT_EVIDENCE_DIR"],
            "AUDIT_SIGNING_KEY_FILE": self.env["AMANAT_AUDIT_SIGNING_KEY_FILE"]})

    def release(self) -> None:
        """Close every connection, so the subprocess is the only writer."""
        with self.app.app_context():
            db.session.remove()
            db.engine.dispose()

    def start(self, args: list[str], *, announce: tuple[str, float] | None = None):  # type: ignore[no-untyped-def]
        self.release()
        command = ([sys.executable, str(ANNOUNCE), announce[0], str(announce[1])] if announce
                   else [str(AMANAT)]) + args
        return subprocess.Popen(command, cwd=self.root, env={**os.environ, **self.env},
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def run(self, args: list[str]) -> subprocess.CompletedProcess[str]:
        self.release()
        return subprocess.run([str(AMANAT), *args], cwd=self.root, env={**os.environ, **self.env},
                              capture_output=True, text=True, timeout=300, check=False)

    def sqlite(self, sql: str) -> list[tuple]:
        with sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True) as conn:
            return conn.execute(sql).fetchall()

    def assert_consistent(self) -> None:
        self.release()
        assert self.sqlite("PRAGMA integrity_check") == [("ok",)]
        orphans = self.sqlite("PRAGMA foreign_key_check")
        assert orphans == [], f"orphan rows: {orphans[:10]}"
        with self.app.app_context():
            report = verify_log()
            assert report.ok, [p.message for p in report.problems]

    def plaintexts(self) -> dict[tuple[str, str, str], Any]:
        """Every encrypted value, decrypted (raises if any one cannot be)."""
        values = {}
        with self.app.app_context():
            for entry in registered_fields():
                for row in db.session.execute(select(entry.model)).scalars():
                    if getattr(row, entry.storage) is not None:
                        values[(entry.table, entry.name, str(row.id))] = getattr(row, entry.name)
            db.session.rollback()
        return values


def _wait_for_calls(proc, wanted: int, timeout: float = 120.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    seen = 0
    while seen < wanted:
        line = proc.stderr.readline()
        if not line:
            proc.wait(timeout=10)
            raise AssertionError(f"process ended before call {wanted} (saw {seen}): "
                                 f"{proc.stdout.read()[-800:]}")
        if line.startswith("CALL "):
            seen = int(line.split()[1])
        assert time.monotonic() < deadline, "the process never got that far"


def _kill(proc) -> None:  # type: ignore[no-untyped-def]
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    proc.stdout.close()
    proc.stderr.close()


CASES_IN_BUNDLE = 24


def _large_bundle(path: Path, n: int = CASES_IN_BUNDLE) -> None:
    from tests.test_hostile_bundle import bundle, full_case

    path.write_text(json.dumps(bundle(*[full_case(i) for i in range(1, n + 1)])),
                    encoding="utf-8")


def _import_state(inst: Installation) -> tuple[int, int, int]:
    with inst.app.app_context():
        cases = db.session.execute(select(func.count()).select_from(Case)).scalar_one()
        counts_now = table_counts()
        imports = db.session.execute(select(func.count()).select_from(
            db.metadata.tables["audit_entries"]).where(
            db.metadata.tables["audit_entries"].c.action == "bundle.import")).scalar_one()
        db.session.rollback()
    return cases, counts_now["people"], imports


def test_import_killed_mid_write_leaves_nothing_and_a_consistent_database(
        sqlite_template, tmp_path):
    inst = Installation(sqlite_template, tmp_path)
    caseworker = make_user(inst.app, "caseworker", teams=["Quetta"])
    bundle_path = tmp_path / "large.json"
    _large_bundle(bundle_path)
    before = _import_state(inst)
    # Announce every act checked (1 per case; the importer checks acts once the cases and their
    # people are flushed) and kill at the last one.
    proc = inst.start(["import", str(bundle_path), "--as", caseworker.email],
                      announce=("app.services.acts:_validate", 0.005))
    _wait_for_calls(proc, CASES_IN_BUNDLE)  # every case and person flushed, none committed
    _kill(proc)
    inst.assert_consistent()
    assert _import_state(inst) == before, "a killed import left part of the bundle behind"
    inst.plaintexts()
    # The same file imports completely afterwards (in-process: the kill is what is tested).
    with inst.app.app_context():
        import_bundle(actor(caseworker), parse(bundle_path.read_bytes()))
    cases, people, imports = _import_state(inst)
    assert (cases, people, imports) == (before[0] + CASES_IN_BUNDLE,
                                        before[1] + 2 * CASES_IN_BUNDLE, before[2] + 1)
    inst.assert_consistent()


def test_the_real_amanat_import_killed_at_any_moment_is_all_or_nothing(sqlite_template,
                                                                       tmp_path):
    """The installed console script, unmodified, killed at several moments of one run's
    measured duration: each time the database holds none of the bundle or all of it."""
    inst = Installation(sqlite_template, tmp_path)
    caseworker = make_user(inst.app, "caseworker", teams=["Quetta"])
    bundle_path = tmp_path / "large.json"
    _large_bundle(bundle_path)
    inst.release()
    pristine = tmp_path / "pristine.db"
    shutil.copyfile(inst.db_path, pristine)
    before = _import_state(inst)
    started = time.monotonic()
    done = inst.run(["import", str(bundle_path), "--as", caseworker.email])
    duration = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    outcomes = []
    for fraction in (0.5, 0.8, 0.95):
        inst.release()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{inst.db_path}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(pristine, inst.db_path)
        proc = inst.start(["import", str(bundle_path), "--as", caseworker.email])
        time.sleep(duration * fraction)
        proc.send_signal(signal.SIGKILL)  # a no-op if it has just finished
        proc.communicate(timeout=30)
        assert proc.returncode in (0, -signal.SIGKILL)
        inst.assert_consistent()
        state = _import_state(inst)
        assert state in (before, (before[0] + CASES_IN_BUNDLE, before[1] + 2 * CASES_IN_BUNDLE,
                                  before[2] + 1)), f"partial import after a kill: {state}"
        outcomes.append(proc.returncode == -signal.SIGKILL)
        inst.plaintexts()
    assert any(outcomes), "every kill came after the process had finished"


def test_keys_rotate_killed_midway_leaves_every_value_readable_and_resumes(sqlite_template,
                                                                           tmp_path):
    inst = Installation(sqlite_template, tmp_path)
    caseworker = make_user(inst.app, "caseworker", teams=["Quetta"])
    bundle_path = tmp_path / "data.json"
    _large_bundle(bundle_path, 15)
    with inst.app.app_context():
        import_bundle(actor(caseworker), parse(bundle_path.read_bytes()))
    original = inst.plaintexts()
    with inst.app.app_context():
        old_key = operations._general_keys()[0]
        db.session.rollback()
    # Announce each value re-encrypted; batches of 10 commit one by one. Kill after 45 values.
    proc = inst.start(["keys", "rotate", "--batch-size", "10"],
                      announce=("app.crypto.cipher:FieldCipher.encrypt_bytes", 0.01))
    _wait_for_calls(proc, 45)
    _kill(proc)
    inst.assert_consistent()
    with inst.app.app_context():
        pending = operations.count_pending_values()
        unfinished = operations.unfinished_rotation()
        new_key = operations._general_keys()[0]
        db.session.rollback()
    assert new_key != old_key and unfinished is not None
    assert 0 < pending < len(original), "the kill did not land mid-rotation"
    assert inst.plaintexts() == original, "a value changed or became unreadable"
    # A second run (the real command) continues the same rotation and completes it.
    again = inst.run(["keys", "rotate", "--batch-size", "10"])
    assert again.returncode == 0, again.stdout + again.stderr
    assert "Continuing the pending rotation" in again.stdout
    with inst.app.app_context():
        assert operations.count_pending_values() == 0
        assert operations.unfinished_rotation() is None
        assert operations._general_keys()[0] == new_key
        db.session.rollback()
    assert inst.plaintexts() == original
    inst.assert_consistent()
