"""The bundle pages: import with a dry run first, export with step-up, CSV with column mapping."""

from __future__ import annotations

import io
import json
import re

from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEntry, Case
from tests.factories import make_case
from tests.support import PASSWORD, csrf_from, post_form
from tests.test_bundle_import import (
    domain_example,
    table_counts,
)
from tests.test_csv_import import LIST


def _upload(client, url, data: bytes, name: str, extra: dict | None = None):
    page = client.get(url).get_data(as_text=True)
    return client.post(url, data={"csrf_token": csrf_from(page), **(extra or {}),
                                  "upload": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def _hidden(html: str, name: str) -> str:
    import html as html_lib

    match = re.search(rf'name="{name}" type="hidden" value="([^"]*)"|'
                      rf'type="hidden" name="{name}" value="([^"]*)"|'
                      rf'id="{name}" name="{name}" type="hidden" value="([^"]*)"', html)
    assert match, f"no hidden {name}"
    return html_lib.unescape(next(g for g in match.groups() if g is not None))


def test_import_page_shows_every_error_with_its_path(app, caseworker_client):
    bundle = domain_example()
    bundle["cases"][0]["acts"][0]["victim"] = "p9"
    bundle["cases"][0]["people"][0]["sex"] = "m"
    response = _upload(caseworker_client, "/bundle/import", json.dumps(bundle).encode(), "b.json")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "2 problems. Nothing was imported." in html
    assert "$.cases[0].acts[0].victim" in html and "no person &#34;p9&#34; in this case" in html


def test_import_page_dry_run_then_confirm(app, caseworker_client):
    raw = json.dumps(domain_example(), ensure_ascii=False).encode()
    with app.app_context():
        before = table_counts()
    checked = _upload(caseworker_client, "/bundle/import", raw, "b.json")
    html = checked.get_data(as_text=True)
    assert "The file is valid" in html and "1 case" in html
    with app.app_context():
        assert table_counts() == before  # the dry run wrote nothing, not even an audit entry
    done = caseworker_client.post("/bundle/import/confirm", data={
        "csrf_token": csrf_from(html), "payload": _hidden(html, "payload")},
        content_type="multipart/form-data")
    assert done.status_code == 302 and done.headers["Location"].endswith("/cases/")
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(Case)).scalar_one() == 1


def test_export_asks_for_step_up_then_downloads(app, caseworker, caseworker_client):
    case_id = make_case(app, caseworker)
    page = caseworker_client.get(f"/bundle/export?case={case_id}")
    assert page.status_code == 200 and "1 case will be exported" in page.get_data(as_text=True)
    with caseworker_client.session_transaction() as session:
        session["auth_at"] = session["auth_at"] - 16 * 60
    url = f"/bundle/export?case={case_id}"
    stale = caseworker_client.post(url, data={"csrf_token": csrf_from(page.get_data(as_text=True))},
                                   headers={"Referer": f"http://localhost{url}"})
    assert stale.status_code == 302 and "/reauthenticate" in stale.headers["Location"]
    back = post_form(caseworker_client, stale.headers["Location"], {"secret": PASSWORD})
    assert back.headers["Location"] == url
    response = post_form(caseworker_client, url, {})
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment;")
    bundle = json.loads(response.get_data(as_text=True))
    assert bundle["cases"][0]["people"][0]["full_name"] == "Bashir Ahmed"
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "bundle.export")).scalar_one() == 1


def test_export_of_someone_elses_case_is_a_404(app, caseworker, client):
    from tests.support import make_user, sign_in

    case_id = make_case(app, caseworker)
    stranger = make_user(app, "caseworker", teams=["Turbat"])
    sign_in(client, app, stranger)
    assert client.get(f"/bundle/export?case={case_id}").status_code == 404


def test_export_page_for_a_filtered_list(app, caseworker, caseworker_client):
    make_case(app, caseworker)
    assert "1 case will be exported" in caseworker_client.get(
        "/bundle/export?status=open").get_data(as_text=True)
    assert "0 cases will be exported" in caseworker_client.get(
        "/bundle/export?status=closed").get_data(as_text=True)


def test_admins_and_analysts_cannot_reach_import_or_export(app, admin_client):
    for url in ("/bundle/import", "/bundle/export", "/bundle/csv"):
        assert admin_client.get(url).status_code == 403
    assert admin_client.get("/bundle/schema.json").status_code == 200


def test_csv_pages_map_check_and_import(app, caseworker_client):
    mapped = _upload(caseworker_client, "/bundle/csv", LIST.encode(), "list.csv")
    html = mapped.get_data(as_text=True)
    assert mapped.status_code == 200 and "3 rows found" in html
    assert '<option value="father_name" selected>' in html
    assert "<td dir=\"auto\">M•••• B•••• B•••• · A•••• W•••• M•••• · ز•••• ب••••</td>" in html
    form = {"csrf_token": csrf_from(html), "payload": _hidden(html, "payload"), "status": "open",
            **{f"map-{i}": t for i, t in enumerate(
                ["full_name", "father_name", "other_names", "sex", "age", "cnic", "district",
                 "date_missing", "place", "circumstances"])}}
    with app.app_context():
        before = table_counts()
    checked = caseworker_client.post("/bundle/csv/map", data={**form, "check": "1"},
                                     content_type="multipart/form-data")
    assert "Every row can be imported" in checked.get_data(as_text=True)
    with app.app_context():
        assert table_counts() == before
    bad = caseworker_client.post("/bundle/csv/map", data={**form, "map-6": "age", "check": "1"},
                                 content_type="multipart/form-data")
    assert "Only one column can be mapped to age" in bad.get_data(as_text=True)
    done = caseworker_client.post("/bundle/csv/map", data={**form, "confirm": "1"},
                                  content_type="multipart/form-data")
    assert done.status_code == 302
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(Case)).scalar_one() == 3
