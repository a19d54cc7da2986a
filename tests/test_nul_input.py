"""A NUL character in any query or form value is refused with a clear page on every route, and
nothing is written (PostgreSQL cannot store or compare it; found by the hostile-form tests)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models.cases import Case
from tests.support import csrf_from

MESSAGE = "contains a character that cannot be stored"


@pytest.mark.parametrize("url", ["/cases/?district=PK%00211", "/cases/?act_type=a%00b",
                                 "/cases/?status=o%00pen&page=2", "/dashboard?district=%00"])
def test_a_nul_in_a_query_is_refused(app, caseworker_client, url):
    answer = caseworker_client.get(url)
    assert answer.status_code == 400 and MESSAGE in answer.get_data(as_text=True)


def test_a_nul_in_a_form_is_refused_and_nothing_is_saved(app, caseworker_client):
    c = caseworker_client
    token = csrf_from(c.get("/cases/new").get_data(as_text=True))
    answer = c.post("/cases/new", data={"csrf_token": token, "title": "Abduction in Kech",
                                        "summary": "", "intake_channel": "nul\x00in the middle"})
    assert answer.status_code == 400 and MESSAGE in answer.get_data(as_text=True)
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(Case)).scalar_one() == 0
    search = csrf_from(c.get("/search").get_data(as_text=True))
    for field in ("district", "act_type", "full_name"):
        answer = c.post("/search", data={"csrf_token": search, field: "PK\x00211"})
        assert answer.status_code == 400, field
    # The same form without the NUL goes through.
    answer = c.post("/cases/new", data={"csrf_token": token, "title": "Abduction in Kech",
                                        "summary": "", "intake_channel": ""})
    assert answer.status_code == 302


def test_a_nul_in_an_evidence_upload_form_is_refused(app, caseworker, caseworker_client):
    from tests.factories import make_case
    from tests.test_evidence_items import _nothing_written, _upload

    case_id = make_case(app, caseworker)
    answer = _upload(caseworker_client, case_id, b"notes of the visit", "visit.txt",
                     fields={"collected_from": "Kech\x00bazaar"})
    assert answer.status_code == 400 and MESSAGE in answer.get_data(as_text=True)
    _nothing_written(app)
