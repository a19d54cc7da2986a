"""Evidence items through the web pages: encrypted intake with its hash, checked downloads that
grow the custody log, refusal of tampered files, types read from content, size limits, and
names that never become paths."""

from __future__ import annotations

import errno
import hashlib
import io
import os
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models.acts import Act
from app.models.audit import AuditEntry
from app.models.evidence import CustodyEvent, EvidenceItem
from app.services import allegations
from tests.factories import actor, get_case, make_case
from tests.support import csrf_from

CANARY = "CANARY-evidence-e41b7d-Panjgur-affidavit"
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
       b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N"
       b"\x00\x00\x00\x00IEND\xaeB`\x82")


def _upload(client, case_id, content: bytes, filename: str, *, mimetype: str = "text/plain",
            fields: dict | None = None):
    url = f"/cases/{case_id}/evidence/new"
    html = client.get(url).get_data(as_text=True)
    data = {"csrf_token": csrf_from(html), "description": "", "collected_by": "",
            "collected_at": "", "collected_from": "", "derived_from": "", **(fields or {}),
            "file": (io.BytesIO(content), filename, mimetype)}
    return client.post(url, data=data, content_type="multipart/form-data")


def _items(app) -> list[EvidenceItem]:
    with app.app_context():
        return list(db.session.execute(select(EvidenceItem).order_by(EvidenceItem.created_at))
                    .scalars())


def _custody(app, item_id) -> list[tuple[str, str | None]]:
    with app.app_context():
        return [(e.action, e.detail) for e in db.session.execute(
            select(CustodyEvent).where(CustodyEvent.item_id == item_id)
            .order_by(CustodyEvent.at, CustodyEvent.id)).scalars()]


def _audit(app, action: str) -> list[AuditEntry]:
    with app.app_context():
        return list(db.session.execute(select(AuditEntry).where(AuditEntry.action == action))
                    .scalars())


def _stored_files(app) -> list[Path]:
    directory = Path(app.config["EVIDENCE_DIR"])
    return sorted(p for p in directory.iterdir()) if directory.exists() else []


def _post_action(client, case_id, item_id, action: str):
    page = client.get(f"/cases/{case_id}/evidence/{item_id}").get_data(as_text=True)
    return client.post(f"/cases/{case_id}/evidence/{item_id}/{action}",
                       data={"csrf_token": csrf_from(page)})


def _nothing_written(app) -> None:
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(EvidenceItem)).scalar() == 0
        assert db.session.execute(select(func.count()).select_from(CustodyEvent)).scalar() == 0
        assert not db.session.execute(select(AuditEntry).where(
            AuditEntry.action == "evidence.upload")).first()
    assert [p.name for p in _stored_files(app) if not p.name.startswith(".")] == []
    assert [p.name for p in _stored_files(app)] == []  # no partial file either


def test_upload_encrypts_hashes_and_download_returns_exact_bytes(app, caseworker,
                                                                 caseworker_client):
    case_id = make_case(app, caseworker)
    content = f"Affidavit of a witness.\n{CANARY}\nشاہد کا بیان\n".encode()
    response = _upload(caseworker_client, case_id, content, f"affidavit-{CANARY}.txt",
                       fields={"description": f"Signed affidavit {CANARY}",
                               "collected_by": "Field team Kech",
                               "collected_at": "2025-03-20T10:30",
                               "collected_from": "WhatsApp, +92 300 0000000"})
    assert response.status_code == 302, response.get_data(as_text=True)
    [item] = _items(app)
    assert item.sha256 == hashlib.sha256(content).hexdigest()
    assert item.size == len(content)
    assert item.media_type == "text/plain; charset=utf-8"
    with app.app_context():
        stored = db.session.get(EvidenceItem, item.id)
        assert stored.original_name == f"affidavit-{CANARY}.txt"  # kept, encrypted
        assert stored.collected_by == "Field team Kech"
    # The evidence store holds one file under a random name, and no canary anywhere in it.
    files = _stored_files(app)
    assert [p.name for p in files] == [item.storage_name]
    for path in files:
        raw = path.read_bytes()
        assert CANARY.encode() not in raw and b"Affidavit" not in raw
        assert CANARY not in path.name
    assert _custody(app, item.id) == [("received", "sha256 recorded at intake")]
    [upload] = _audit(app, "evidence.upload")
    assert item.sha256 in upload.details and CANARY not in upload.details
    assert "original_name" in upload.details

    page = caseworker_client.get(f"/cases/{case_id}/evidence/{item.id}").get_data(as_text=True)
    assert item.sha256 in page and "Field team Kech" in page and "received" in page
    download = _post_action(caseworker_client, case_id, item.id, "download")
    assert download.status_code == 200
    assert download.get_data() == content
    assert download.headers["Content-Type"] == "application/octet-stream"
    disposition = download.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="evidence-')
    assert disposition.split(";")[1].isascii()
    assert download.headers["Content-Length"] == str(len(content))
    assert [a for a, _ in _custody(app, item.id)] == ["received", "hash_rechecked", "downloaded"]
    assert len(_audit(app, "evidence.download")) == 1
    _post_action(caseworker_client, case_id, item.id, "download")
    assert [a for a, _ in _custody(app, item.id)] == [
        "received", "hash_rechecked", "downloaded", "hash_rechecked", "downloaded"]


def test_a_file_larger_than_the_form_limit_is_accepted(app, caseworker, caseworker_client):
    case_id = make_case(app, caseworker)
    content = PNG + os.urandom(3 * 1024 * 1024)  # above the 2 MB limit for ordinary forms
    response = _upload(caseworker_client, case_id, content, "photo.png", mimetype="image/png")
    assert response.status_code == 302, response.status_code
    [item] = _items(app)
    assert item.sha256 == hashlib.sha256(content).hexdigest() and item.size == len(content)


def test_upload_needs_the_csrf_token(app, caseworker, caseworker_client):
    case_id = make_case(app, caseworker)
    response = caseworker_client.post(
        f"/cases/{case_id}/evidence/new", content_type="multipart/form-data",
        data={"file": (io.BytesIO(b"hello"), "a.txt", "text/plain")})
    assert response.status_code == 400
    _nothing_written(app)


def test_missing_file_keeps_what_was_typed(app, caseworker, caseworker_client):
    case_id = make_case(app, caseworker)
    url = f"/cases/{case_id}/evidence/new"
    html = caseworker_client.get(url).get_data(as_text=True)
    response = caseworker_client.post(url, content_type="multipart/form-data", data={
        "csrf_token": csrf_from(html), "description": "عکس بازار کا", "derived_from": ""})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Choose a file to upload." in body and "عکس بازار کا" in body
    _nothing_written(app)


def test_tampered_file_is_refused_with_a_clear_message(app, caseworker, caseworker_client):
    case_id = make_case(app, caseworker)
    content = b"Medical report: injuries consistent with beating.\n" * 50
    _upload(caseworker_client, case_id, content, "report.txt")
    [item] = _items(app)
    path = Path(app.config["EVIDENCE_DIR"]) / item.storage_name
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))
    response = _post_action(caseworker_client, case_id, item.id, "download")
    body = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "no longer matches the SHA-256" in body and "nothing was served" in body
    assert "Medical report" not in body
    assert response.headers["Content-Type"].startswith("text/html")
    assert "Content-Disposition" not in response.headers
    [entry] = _audit(app, "evidence.tampered")
    assert "hash_mismatch" in entry.details
    custody = _custody(app, item.id)
    assert custody[-1][0] == "hash_rechecked" and custody[-1][1].startswith("FAILED")
    assert "downloaded" not in [a for a, _ in custody]
    # The explicit re-check says the same.
    assert _post_action(caseworker_client, case_id, item.id, "recheck").status_code == 409


def test_recheck_and_inline_view_of_an_image(app, caseworker, caseworker_client):
    case_id = make_case(app, caseworker)
    _upload(caseworker_client, case_id, PNG, "photo.png", mimetype="image/png")
    [item] = _items(app)
    response = _post_action(caseworker_client, case_id, item.id, "recheck")
    assert response.status_code == 302
    view = _post_action(caseworker_client, case_id, item.id, "view")
    assert view.status_code == 200 and view.get_data() == PNG
    assert view.headers["Content-Type"] == "image/png"
    assert view.headers["Content-Disposition"].startswith("inline;")
    assert [a for a, _ in _custody(app, item.id)] == [
        "received", "hash_rechecked", "hash_rechecked", "viewed"]
    assert len(_audit(app, "evidence.view")) == 1 and len(_audit(app, "evidence.recheck")) == 1


def test_type_comes_from_content_not_name(app, caseworker, caseworker_client):
    case_id = make_case(app, caseworker)
    response = _upload(caseworker_client, case_id, PNG, "report.pdf", mimetype="application/pdf")
    assert response.status_code == 302
    [item] = _items(app)
    assert item.media_type == "image/png"
    [(action, detail)] = _custody(app, item.id)
    assert "declared application/pdf, content is image/png" in detail
    download = _post_action(caseworker_client, case_id, item.id, "download")
    assert download.headers["Content-Type"] == "image/png"
    assert 'filename="evidence-' in download.headers["Content-Disposition"]
    assert ".png" in download.headers["Content-Disposition"].split(";")[1]


@pytest.mark.parametrize("content", [
    b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + bytes(64),  # Windows executable
    b"\x7fELF\x02\x01\x01" + bytes(64),  # Linux executable
    bytes(range(256)) * 4,  # unrecognised binary
])
def test_executables_and_unknown_types_are_refused(app, caseworker, caseworker_client, content):
    case_id = make_case(app, caseworker)
    response = _upload(caseworker_client, case_id, content, "photo.jpg", mimetype="image/jpeg",
                       fields={"description": "Kept after refusal"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "not a recognised image, audio, video, PDF, plain text or archive format" in body
    assert "Kept after refusal" in body
    _nothing_written(app)


def test_archives_are_stored_as_received_and_flagged(app, caseworker, caseworker_client):
    case_id = make_case(app, caseworker)
    archive = b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + os.urandom(200)
    response = _upload(caseworker_client, case_id, archive, "photos.zip",
                       mimetype="application/zip")
    assert response.status_code == 302
    [item] = _items(app)
    assert item.media_type == "application/octet-stream"
    [(action, detail)] = _custody(app, item.id)
    assert "archive (zip), kept as received, not unpacked" in detail
    page = caseworker_client.get(f"/cases/{case_id}/evidence/{item.id}").get_data(as_text=True)
    assert "not unpacked" in page
    download = _post_action(caseworker_client, case_id, item.id, "download")
    assert download.get_data() == archive
    assert download.headers["Content-Type"] == "application/octet-stream"


@pytest.mark.parametrize("config_overrides", [{"MAX_EVIDENCE_BYTES": 1000}])
def test_oversized_upload_is_refused_and_nothing_is_written(app, caseworker, caseworker_client):
    case_id = make_case(app, caseworker)
    response = _upload(caseworker_client, case_id, b"x" * 5000, "big.txt",
                       fields={"description": "Too big but typed"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "larger than the evidence limit" in body and "Too big but typed" in body
    _nothing_written(app)
    # Far beyond the limit, the request itself is refused before the body is read.
    response = _upload(caseworker_client, case_id, b"x" * (600 * 1024), "huge.txt")
    assert response.status_code == 413
    _nothing_written(app)


def test_path_tricks_in_the_file_name_never_touch_the_filesystem(app, caseworker,
                                                                 caseworker_client, tmp_path):
    case_id = make_case(app, caseworker)
    before = {p for p in tmp_path.rglob("*")}
    for name in ("../../etc/passwd", "..\\..\\boot.ini", "/etc/shadow"):
        response = _upload(caseworker_client, case_id, b"just text\n", name)
        assert response.status_code == 302, response.get_data(as_text=True)
    created = {p for p in tmp_path.rglob("*")} - before
    items = _items(app)
    assert {p.name for p in created if p.is_file() and p.parent.name == "evidence"} == {
        i.storage_name for i in items}
    assert not [p for p in created if p.name in ("passwd", "boot.ini", "shadow")]
    assert all(Path(app.config["EVIDENCE_DIR"]) in p.parents or p == Path(
        app.config["EVIDENCE_DIR"]) for p in created if p.suffix != ".db-journal"
        and "amanat.db" not in p.name)
    with app.app_context():
        assert db.session.get(EvidenceItem, items[0].id).original_name == "../../etc/passwd"
    download = _post_action(caseworker_client, case_id, items[0].id, "download")
    disposition = download.headers["Content-Disposition"]
    assert "filename*=UTF-8''passwd" in disposition and ".." not in disposition
    assert "/" not in disposition


def test_full_disk_gives_a_clear_message_and_writes_nothing(app, caseworker, caseworker_client,
                                                           monkeypatch):
    from app.evidence import store as store_module

    def full_disk(src, dst, **kwargs):  # type: ignore[no-untyped-def]
        dst.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store_module, "encrypt_stream", full_disk)
    case_id = make_case(app, caseworker)
    response = _upload(caseworker_client, case_id, b"a statement\n", "s.txt",
                       fields={"description": "Typed before the disk filled"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "out of disk space, so nothing was stored" in body
    assert "Typed before the disk filled" in body
    _nothing_written(app)


def test_derived_copy_points_to_its_original_and_item_page_shows_links(app, caseworker,
                                                                       caseworker_client):
    case_id = make_case(app, caseworker)
    _upload(caseworker_client, case_id, PNG, "original.png", mimetype="image/png")
    [original] = _items(app)
    page = caseworker_client.get(f"/cases/{case_id}/evidence/new?derived_from={original.id}")
    assert f'<option selected value="{original.id}"' in page.get_data(as_text=True)
    response = _upload(caseworker_client, case_id, PNG + b"redacted", "redacted.png",
                       mimetype="image/png", fields={"derived_from": str(original.id)})
    assert response.status_code == 302
    copy = [i for i in _items(app) if i.id != original.id][0]
    assert copy.derived_from_id == original.id
    with app.app_context():
        act = db.session.execute(select(Act)).scalar_one()
        user = actor(caseworker)
        allegations.link(user, get_case(case_id), act, relation="supports",
                         evidence=db.session.get(EvidenceItem, original.id))
        db.session.commit()
    page = caseworker_client.get(f"/cases/{case_id}/evidence/{original.id}").get_data(as_text=True)
    assert "Enforced disappearance" in page and "Supports" in page
    assert f"/evidence/{copy.id}" in page  # copies made from it
    copy_page = caseworker_client.get(f"/cases/{case_id}/evidence/{copy.id}").get_data(as_text=True)
    assert f"/evidence/{original.id}" in copy_page and "A copy of" in copy_page
    case_page = caseworker_client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "derived copy" in case_page and f"/evidence/{copy.id}" in case_page


def test_another_teams_user_cannot_reach_the_item(app, caseworker, caseworker_client):
    from tests.support import make_user, sign_in

    case_id = make_case(app, caseworker)
    _upload(caseworker_client, case_id, PNG, "photo.png", mimetype="image/png")
    [item] = _items(app)
    outsider = make_user(app, "caseworker", teams=["Gwadar"])
    client = app.test_client()
    sign_in(client, app, outsider)
    assert client.get(f"/cases/{case_id}/evidence/{item.id}").status_code == 404
    html = client.get("/").get_data(as_text=True)
    response = client.post(f"/cases/{case_id}/evidence/{item.id}/download",
                           data={"csrf_token": csrf_from(html)})
    assert response.status_code == 404
    assert [a for a, _ in _custody(app, item.id)] == ["received"]
