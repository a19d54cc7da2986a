"""Supervisors review the audit log: filters, pages, per-person weeks, Verify now with a red banner
on failure, and CSV/JSON exports a recipient can check. Administrators see only account and
security events; analysts and caseworkers never see the log."""

from __future__ import annotations

import base64
import csv
import io
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text, update

from app.audit.canonical import ENTRY_FIELDS, canonical_entry
from app.audit.checkpoint import decode_verifier_key, verify_checkpoint
from app.audit.merkle import TreeBuilder, leaf_hash, verify_inclusion
from app.audit.queries import start_of_week
from app.audit.recorder import record
from app.extensions import db
from app.models.audit import AuditEntry
from app.models.users import User
from tests.support import csrf_from, make_user, post_form, sign_in

PAGES = ("/audit/", "/audit/people", "/audit/verification")
CASE = uuid.UUID("7c1e2a4b-93f0-4d5e-8b6a-1f2e3d4c5b6a")


def _client(app, person):  # type: ignore[no-untyped-def]
    client = app.test_client()
    assert sign_in(client, app, person).status_code == 302
    return client


@pytest.fixture
def supervisor_client(app, supervisor):  # type: ignore[no-untyped-def]
    return _client(app, supervisor)


@pytest.fixture
def case_id(app, caseworker) -> uuid.UUID:  # type: ignore[no-untyped-def]
    """A case of the supervisor's team (Quetta), so it is in the supervisor's scope."""
    from tests.factories import make_case

    return make_case(app, caseworker)


def _record(app, action: str, n: int = 1, **kwargs) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        for i in range(n):
            record(action, actor_id=kwargs.get("actor_id"), object_type=kwargs.get("object_type"),
                   object_id=kwargs.get("object_id", i), case_id=kwargs.get("case_id"),
                   details=kwargs.get("details", {"fields": ["status"]}))
        db.session.commit()


def _export(client, fmt: str, query: str = ""):  # type: ignore[no-untyped-def]
    token = csrf_from(client.get(f"/audit/{query}").get_data(as_text=True))
    button = {"json": "Export as JSON (verifiable)", "csv": "Export as CSV"}[fmt]
    return client.post(f"/audit/export{query}", data={"csrf_token": token, fmt: button})


# --- who may look ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["analyst", "caseworker"])
def test_analysts_and_caseworkers_never_see_the_audit_pages(app, role):
    client = _client(app, make_user(app, role))
    for page in PAGES:
        assert client.get(page).status_code == 403
    for url in ("/audit/verification", "/audit/export"):
        assert post_form(client, url, {}, page="/").status_code == 403


def test_signed_out_visitors_are_sent_to_sign_in(client):
    for page in PAGES:
        response = client.get(page)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_supervisor_sees_entries_with_names_and_admin_only_account_events(
        app, supervisor_client, admin_client, supervisor, caseworker, case_id):
    _record(app, "case.update", actor_id=caseworker.id, object_type="case", object_id=case_id,
            case_id=case_id, details={"fields": ["summary"]})
    html = supervisor_client.get("/audit/").get_data(as_text=True)
    assert "case.update" in html and "Karim Caseworker" in html and str(case_id) in html
    assert "auth.sign_in" in html and "summary" in html
    admin_html = _table(admin_client.get("/audit/").get_data(as_text=True))
    assert "auth.sign_in" in admin_html and "case.update" not in admin_html
    assert str(case_id) not in admin_html


# --- the log: filters and pages -----------------------------------------------------------


def test_log_pages_fifty_entries_newest_first(app, supervisor_client):
    _record(app, "test.bulk", n=120)
    html = supervisor_client.get("/audit/?action=test.bulk").get_data(as_text=True)
    assert "120 entries" in html and "Page 1 of 3" in html
    with app.app_context():
        top = db.session.execute(select(AuditEntry.seq).where(AuditEntry.action == "test.bulk")
                                 .order_by(AuditEntry.seq.desc())).scalars().all()
    first_rows = [int(s) for s in _seqs(html)]
    assert first_rows == top[:50]
    page3 = supervisor_client.get("/audit/?action=test.bulk&page=3").get_data(as_text=True)
    assert [int(s) for s in _seqs(page3)] == top[100:]


def _table(html: str) -> str:
    return html[html.index("<tbody>"):html.index("</tbody>")]


def _seqs(html: str) -> list[str]:
    import re

    return re.findall(r"<tr>\s*<td>(\d+)</td>", html)


def test_log_filters_by_person_case_action_and_dates(app, supervisor_client, caseworker,
                                                     supervisor, case_id):
    _record(app, "case.update", actor_id=caseworker.id, case_id=case_id, object_type="case")
    _record(app, "case.view", actor_id=supervisor.id, object_type="case")
    with app.app_context():  # one old entry, from last year
        db.session.execute(update(AuditEntry).where(AuditEntry.action == "case.view")
                           .values(occurred_at=datetime.now(UTC) - timedelta(days=400)))
        db.session.commit()
    by_actor = _table(supervisor_client.get(f"/audit/?actor={caseworker.id}").get_data(as_text=True))
    assert "case.update" in by_actor and "case.view" not in by_actor
    by_case = _table(supervisor_client.get(f"/audit/?case={case_id}").get_data(as_text=True))
    assert _seqs(by_case) and "case.view" not in by_case and "auth.sign_in" not in by_case
    by_action = _table(supervisor_client.get("/audit/?action=case.view").get_data(as_text=True))
    assert len(_seqs(by_action)) == 1
    recent = (datetime.now(UTC) - timedelta(days=30)).date().isoformat()
    by_date = _table(supervisor_client.get(f"/audit/?date_from={recent}").get_data(as_text=True))
    assert "case.update" in by_date and "case.view" not in by_date
    old = _table(supervisor_client.get(f"/audit/?date_to={recent}").get_data(as_text=True))
    assert "case.view" in old and "case.update" not in old


def test_a_bad_filter_is_explained_not_crashed_on(supervisor_client):
    html = supervisor_client.get("/audit/?case=nonsense").get_data(as_text=True)
    assert "Enter a case id like" in html


def test_people_page_links_to_each_persons_week(app, supervisor_client, caseworker):
    _record(app, "case.update", n=3, actor_id=caseworker.id, object_type="case")
    html = supervisor_client.get("/audit/people").get_data(as_text=True)
    link = f"/audit/?actor={caseworker.id}&amp;date_from={start_of_week().isoformat()}"
    assert link in html
    week = supervisor_client.get(link.replace("&amp;", "&")).get_data(as_text=True)
    assert week.count("case.update") >= 3


# --- verify now and the banner ------------------------------------------------------------------


def test_verify_now_shows_the_result_and_a_failure_raises_a_banner(app, supervisor_client):
    _record(app, "test.event", n=5)
    assert 'role="alert"' not in supervisor_client.get("/audit/").get_data(as_text=True)
    response = post_form(supervisor_client, "/audit/verification", {})
    assert response.status_code == 200 and "Passed" in response.get_data(as_text=True)
    assert 'role="alert"' not in supervisor_client.get("/audit/").get_data(as_text=True)

    with app.app_context():
        db.session.execute(text("UPDATE audit_entries SET action = 'x.y' WHERE seq = 2"))
        db.session.commit()
    failed = post_form(supervisor_client, "/audit/verification", {}).get_data(as_text=True)
    assert "Failed" in failed and "Entry 2 does not match" in failed
    for page in PAGES:
        html = supervisor_client.get(page).get_data(as_text=True)
        assert 'role="alert"' in html and "failed its last verification" in html


def test_verify_now_needs_post_with_a_token(supervisor_client):
    assert supervisor_client.post("/audit/verification", data={}).status_code == 400


# --- exports ------------------------------------------------------------------------------------


def _recipient_checks(document: dict, vkey: str) -> None:
    """What docs/audit.md tells a recipient to do with a JSON export."""
    name, public_key = decode_verifier_key(vkey)
    checkpoint = verify_checkpoint(document["checkpoint"], name, public_key, origin=name)
    assert checkpoint.size == document["tree_size"]
    builder = TreeBuilder()
    for entry in document["entries"]:
        fields = {k: entry[k] for k in ENTRY_FIELDS}
        fields["occurred_at"] = datetime.fromisoformat(fields["occurred_at"])
        leaf = bytes.fromhex(entry["leaf_hash"])
        if not entry["redacted"]:
            assert leaf_hash(canonical_entry(fields)) == leaf
        if document["complete"]:
            builder.append(leaf)
        else:
            proof = [base64.b64decode(p) for p in entry["inclusion_proof"]]
            verify_inclusion(leaf, entry["leaf_index"], checkpoint.size, proof,
                             checkpoint.root_hash)
    if document["complete"]:
        assert builder.root() == checkpoint.root_hash


def test_json_export_is_verifiable_by_a_recipient_and_is_audited(app, supervisor_client,
                                                                 caseworker, case_id):
    _record(app, "case.update", n=7, actor_id=caseworker.id, object_type="case", case_id=case_id,
            details={"fields": ["summary"], "status": {"old": "open", "new": "closed"}})
    _record(app, "test.noise", n=9)
    response = _export(supervisor_client, "json", f"?actor={caseworker.id}")
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    document = json.loads(response.get_data(as_text=True))
    assert len(document["entries"]) >= 7 and not document["complete"]
    assert {e["action"] for e in document["entries"]} >= {"case.update"}
    assert all(e["actor_id"] == str(caseworker.id) for e in document["entries"])
    _recipient_checks(document, document["verifier_key"])
    with app.app_context():
        entry = db.session.execute(select(AuditEntry).where(AuditEntry.action == "audit.export")
                                   ).scalar_one()
        details = json.loads(entry.details)
        assert details["format"] == "json" and details["filter"] == {"actor": str(caseworker.id)}


def test_unfiltered_json_export_is_the_whole_log_up_to_its_checkpoint(app, supervisor_client):
    _record(app, "test.event", n=4)
    document = json.loads(_export(supervisor_client, "json").get_data(as_text=True))
    assert document["complete"] and document["tree_size"] == len(document["entries"])
    assert document["entries"][-1]["action"] == "audit.export"  # the export is in its own log
    _recipient_checks(document, document["verifier_key"])


def test_csv_export_carries_checkpoint_and_key_and_defuses_formulas(app, supervisor_client):
    with app.app_context():
        mallory = make_user(app, "caseworker", name="=HYPERLINK(\"http://evil\")")
    _record(app, "case.update", actor_id=mallory.id, object_type="case")
    response = _export(supervisor_client, "csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    body = response.get_data(as_text=True)
    comments = [line[2:] for line in body.splitlines() if line.startswith("# ")]
    vkey = next(c for c in comments if c.startswith("Verifier key: "))[len("Verifier key: "):]
    start = comments.index("Signed checkpoint (remove the leading '# ' from each line to check it):")
    note = "\n".join(comments[start + 1:]) + "\n"
    name, key = decode_verifier_key(vkey)
    rows = list(csv.DictReader(io.StringIO("\n".join(
        line for line in body.splitlines() if not line.startswith("#")))))
    checkpoint = verify_checkpoint(note, name, key, origin=name)
    assert checkpoint.size == len(rows)
    names = {row["actor_name"] for row in rows}
    assert "'=HYPERLINK(\"http://evil\")" in names
    with app.app_context():
        assert db.session.execute(select(AuditEntry.seq)
                                  .where(AuditEntry.action == "audit.export")).first()


def test_export_is_post_only(supervisor_client):
    assert supervisor_client.get("/audit/export").status_code == 405


def test_admin_export_holds_only_account_events(app, admin_client, caseworker):
    _record(app, "case.update", actor_id=caseworker.id, object_type="case", case_id=CASE)
    document = json.loads(_export(admin_client, "json").get_data(as_text=True))
    actions = {e["action"] for e in document["entries"]}
    assert "case.update" not in actions and "auth.sign_in" in actions
    _recipient_checks(document, document["verifier_key"])
    with app.app_context():
        assert db.session.get(User, caseworker.id) is not None


def test_supervisors_see_only_entries_of_cases_in_their_scope_and_other_ids_are_hidden(
        app, supervisor_client, caseworker):
    from tests.factories import make_case

    ours = make_case(app, caseworker, title="A case of our team")
    outsider = make_user(app, "caseworker", teams=["Kech"])
    theirs = make_case(app, outsider, title="A case of another team")
    # An entry about no case that names both (as a multi-case export does).
    _record(app, "export.cases", actor_id=outsider.id, object_type="export",
            details={"case_ids": [str(ours), str(theirs)]})
    html = _table(supervisor_client.get("/audit/").get_data(as_text=True))
    assert str(ours) in html and str(theirs) not in html
    assert "[case outside your scope]" in html
    document = json.loads(_export(supervisor_client, "json").get_data(as_text=True))
    dumped = json.dumps(document)
    assert str(ours) in dumped and str(theirs) not in dumped
    redacted = [e for e in document["entries"] if e["redacted"]]
    assert [e["action"] for e in redacted] == ["export.cases"]
    _recipient_checks(document, document["verifier_key"])
