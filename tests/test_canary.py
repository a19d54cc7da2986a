"""The canary test (SECURITY.md, Encryption at rest).

Unique canary strings go into every encrypted field: through the web pages (every form of a
case, found by crawling the case's pages, including the evidence upload with a file that carries
a canary) and through the services (every field in `registered_fields()`). Then the raw SQLite
file and its WAL, a `pg_dump` of the test schema on PostgreSQL, every file of the evidence store
and the application log are searched: no canary may appear. A control canary written into a
clear column (users.name) and into the log must be found by the same searches.
"""

from __future__ import annotations

import io
import logging
import secrets
import subprocess
import uuid
from pathlib import Path

from sqlalchemy import select

from app.crypto.fields import registered_fields
from app.extensions import db
from app.models.cases import Case
from app.models.users import User
from app.services import evidence as evidence_service
from tests.conftest import ON_POSTGRES, PG_SCHEMA
from tests.matrix_support import (
    A_NORMAL,
    CW_OWNER,
    SUP_A,
    CannotFill,
    build_world,
    fill,
    forms_of,
    is_case_bound,
    png_bytes,
    rules_and_methods,
    url_for_rule,
)
from tests.test_mass_assignment import submission

# Forms whose posting would move the case out of reach of the rest of the crawl; done at the end.
LATER = ("/status/", "/assign", "/erase", "/reveal", "/download", "/view", "/recheck", "/delete",
         "/withdraw")
# Form fields stored in an encrypted field under another name.
FIELD_ALIASES = {"comment", "other_names", "text"}


def _canary(label: str) -> str:
    return f"CANARY-{label}-{secrets.token_hex(6)}"  # short: some fields allow 40 characters


def _encrypted_names() -> set[str]:
    return {f.name for f in registered_fields()} | FIELD_ALIASES


def _web_canaries(app, world, client) -> tuple[set[str], list[str]]:
    """Crawl every page of a case and submit each form on it, canaries in its encrypted fields."""
    written: set[str] = set()
    refused: list[str] = []
    names = _encrypted_names()
    pages: list[str] = ["/cases/new"]
    for rule, method in rules_and_methods(app):
        if method == "GET" and is_case_bound(rule):
            try:
                pages.append(url_for_rule(rule, fill(rule, world.objects_for(A_NORMAL, None),
                                                     world)))
            except CannotFill:
                continue  # reported by the access matrix
    done: set[str] = set()
    for page in pages:
        response = client.get(page)
        if response.status_code != 200 or response.mimetype != "text/html":
            continue  # downloads (PDF, CSV, files) carry no form
        for form in forms_of(response.get_data(as_text=True)):
            action = form.action.split("#")[0] or page
            if (form.method != "post" or action in done or not action.startswith("/cases/")
                    or any(word in action for word in LATER)):
                continue
            done.add(action)
            data = submission(form)
            for field in form.fields:
                if field.name == "cnic":  # 13 digits, or the form refuses it
                    data[field.name] = f"52203-{secrets.randbelow(10**7):07d}-1"
                elif field.name in names and field.tag in ("input", "textarea") and (
                        field.type in ("text", "search", "")):
                    data[field.name] = _canary(f"w-{field.name}")
            files = [f for f in form.fields if f.type == "file"]
            for field in files:
                content, filename = _canary("w-evidence-file"), _canary("w-filename")
                data[field.name] = (io.BytesIO(png_bytes(content)), f"{filename}.png")
                written |= {content, filename}
            written |= {v for v in data.values() if isinstance(v, str) and "CANARY-" in v}
            if "cnic" in data:
                written |= {data["cnic"], data["cnic"].replace("-", "")}
            answer = client.post(action, data=data,
                                 content_type="multipart/form-data" if files else None)
            if answer.status_code != 302:
                refused.append(f"{action} ({answer.status_code})")
    return written, refused


def _service_canaries(app, world) -> set[str]:
    """Every registered encrypted field, on rows the web pass did not write."""
    written: set[str] = set()
    with app.app_context():
        target = db.session.get(User, world.target_user_id)
        for entry in registered_fields():
            rows = ([target] if entry.table == "users" else
                    db.session.execute(select(entry.model)).scalars().all())
            assert rows, f"no {entry.table} row to write a canary into"
            for row in rows:
                current = getattr(row, entry.name)
                if isinstance(current, str) and "CANARY-" in current:
                    continue
                value = _canary(f"{entry.table}-{entry.name}")
                setattr(row, entry.name, value)
                written.add(value)
        owner = db.session.get(User, world.accounts[CW_OWNER].id)
        case = db.session.get(Case, world.cases[A_NORMAL])
        content = _canary("service-evidence-file")
        evidence_service.add_evidence(
            owner, case, io.BytesIO(png_bytes(content)), filename=_canary("service-filename"),
            declared_type="image/png", description=_canary("service-evidence-description"),
            collected_by="Field team", collected_at=None,
            collected_from=_canary("service-collected-from"))
        written.add(content)
        db.session.commit()
        db.session.remove()
    return written


def _decrypted_canaries(app) -> dict[str, str]:
    """Every canary the database holds, read back through the encrypted fields."""
    found: dict[str, str] = {}
    with app.app_context():
        for entry in registered_fields():
            for row in db.session.execute(select(entry.model)).scalars():
                value = getattr(row, entry.name)
                if isinstance(value, str) and "CANARY-" in value:
                    found[value] = entry.label
        db.session.remove()
    return found


def _forms(canary: str) -> list[bytes]:
    raw = canary.encode()
    return [raw, canary.encode("utf-16-le"), raw.hex().encode()]


def _contains(blob: bytes, folded: bytes, canary: str) -> bool:
    return any(form in blob for form in _forms(canary)) or canary.lower().encode() in folded


def _raw_database(app) -> list[tuple[str, bytes]]:
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if ON_POSTGRES:
        dump = subprocess.run(  # noqa: S603 - fixed arguments, test database only
            ["pg_dump", "-h", "127.0.0.1", "-U", "postgres", "-n", PG_SCHEMA, "test"],  # noqa: S607
            capture_output=True, check=True, timeout=120)
        return [("pg_dump", dump.stdout)]
    path = Path(url.removeprefix("sqlite:///"))
    blobs = [(str(path), path.read_bytes())]
    wal = path.with_name(path.name + "-wal")
    if wal.exists():
        blobs.append((str(wal), wal.read_bytes()))
    return blobs


def test_no_canary_reaches_the_disk_the_dump_the_evidence_store_or_the_log(app, tmp_path):
    log_path = tmp_path / "amanat.log"
    handler = logging.FileHandler(log_path, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    app.logger.addHandler(handler)
    root.addHandler(handler)
    try:
        world, clients = build_world(app, extra_objects=False)
        web_written, refused = _web_canaries(app, world, clients[CW_OWNER])
        # The supervisor returns the case with a comment (stored as the encrypted review
        # comment), after the owner submits it; both through the pages.
        owner, supervisor = clients[CW_OWNER], clients[SUP_A]
        case_id = world.cases[A_NORMAL]
        assert owner.post(f"/cases/{case_id}/status/submit", data={
            "csrf_token": owner.csrf}).status_code == 302
        comment = _canary("web-review-comment")
        assert supervisor.post(f"/cases/{case_id}/status/return", data={
            "csrf_token": supervisor.csrf, "comment": comment}).status_code == 302
        web_written.add(comment)
        service_written = _service_canaries(app, world)
        control = f"CONTROL-{uuid.uuid4().hex}"
        with app.app_context():
            db.session.get(User, world.target_user_id).name = control  # a clear column
            db.session.commit()
            db.session.remove()
        app.logger.warning("control line %s", control)
    finally:
        handler.flush()
        app.logger.removeHandler(handler)
        root.removeHandler(handler)
        handler.close()

    stored = _decrypted_canaries(app)
    web_fields = {label for value, label in stored.items()
                  if any(canary in value for canary in web_written)}
    assert {"cases.title", "cases.summary", "people.full_name", "people.father_name",
            "people.address", "person_names.name", "acts.place_as_reported", "acts.description",
            "disappearances.circumstances", "disappearances.place_last_seen",
            "disappearances.taken_by", "case_notes.text", "cases.review_comment",
            "testimonies.transcript", "evidence_items.original_name"} <= web_fields, (
        f"canaries written through the pages: {sorted(web_fields)}; refused forms: {refused}")
    every_field = {entry.label for entry in registered_fields()}
    assert every_field <= set(stored.values()) | {"users.totp_secret"}, (
        f"fields without a canary: {every_field - set(stored.values())}")
    canaries = web_written | service_written
    evidence_dir = Path(app.config["EVIDENCE_DIR"])
    evidence_files = [p for p in evidence_dir.rglob("*") if p.is_file()]
    assert len(evidence_files) >= 4

    places = _raw_database(app) + [(str(p), p.read_bytes()) for p in evidence_files]
    places.append((str(log_path), log_path.read_bytes()))
    leaks = []
    for where, blob in places:
        folded = blob.lower()
        for canary in canaries:
            if _contains(blob, folded, canary):
                leaks.append(f"{canary} found in {where}")
    assert not leaks, "\n".join(sorted(leaks))

    # The searches would have caught a leak: the control is found in the raw database and log.
    database = _raw_database(app)
    assert any(_contains(blob, blob.lower(), control) for _where, blob in database), (
        "the control canary in users.name was not found in the raw database: the search is blind")
    assert _contains(log_path.read_bytes(), log_path.read_bytes().lower(), control)
