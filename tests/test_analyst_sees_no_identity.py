"""An analyst works with de-identified data only: no page, export or download the analyst can
reach carries an identity or a narrative (every encrypted field holds a unique canary here)."""

from __future__ import annotations

import secrets
import uuid

from sqlalchemy import select

from app.crypto.fields import registered_fields
from app.extensions import db
from app.models.people import Person
from tests.matrix_support import (
    A_NORMAL,
    ANALYST,
    CASES,
    CW_OWNER,
    CannotFill,
    build_world,
    ensure_session,
    fill,
    is_case_bound,
    restore_access_state,
    rules_and_methods,
    url_for_rule,
)

# Routes that hand out data in bulk: also tried with POST (exports are POSTs here).
BULK_WORDS = ("export", "download", "report", "bundle", "stat", "dashboard", "csv", "json")
PROBES = ["", "?format=csv", "?format=json", "?page=1", "?status=open", "?district=PK211"]


def plant_canaries(app) -> dict[str, str]:
    """A unique canary in every encrypted field of every case record (not staff accounts)."""
    planted: dict[str, str] = {}
    with app.app_context():
        for entry in registered_fields():
            if entry.table == "users":
                continue
            for row in db.session.execute(select(entry.model)).scalars():
                value = f"CANARY-{entry.table}-{entry.name}-{secrets.token_hex(6)}"
                setattr(row, entry.name, value)
                planted[value] = entry.label
        db.session.commit()
        db.session.remove()
    return planted


def test_no_page_or_export_the_analyst_reaches_shows_an_identity(app):
    world, clients = build_world(app, extra_objects=False)
    canaries = plant_canaries(app)
    labels = {label for label in canaries.values()}
    assert {"people.full_name", "people.cnic", "testimonies.transcript",
            "person_names.name"} <= labels
    analyst = clients[ANALYST]
    failures: list[str] = []
    unfillable: set[str] = set()
    requests = 0
    for rule, method in rules_and_methods(app):
        bulk = any(word in f"{rule.endpoint} {rule.rule}".lower() for word in BULK_WORDS)
        if method != "GET" and not bulk:
            continue
        for case in (CASES if is_case_bound(rule) else (None,)):
            try:
                url = url_for_rule(rule, fill(rule, world.objects_for(case, None) if case
                                              else {}, world))
            except CannotFill as error:
                unfillable.add(str(error))
                break
            for query in PROBES if (bulk or not rule.arguments) else [""]:
                if method == "GET":
                    response = analyst.get(url + query)
                else:
                    response = analyst.open(url + query, method=method,
                                            data={"csrf_token": analyst.csrf})
                requests += 1
                body = response.get_data().decode("utf-8", "replace") + str(response.headers)
                for canary, label in canaries.items():
                    if canary in body:
                        failures.append(f"{method} {url}{query} ({response.status_code}) shows "
                                        f"{label} to the analyst")
                if method != "GET":
                    restore_access_state(world)
                    ensure_session(app, analyst)
    assert not unfillable, "\n".join(sorted(unfillable))
    assert requests > 30
    assert not failures, "\n".join(failures)

    # Control: the canaries are really there for someone allowed to see them.
    owner = clients[CW_OWNER]
    case_id = world.cases[A_NORMAL]
    person_id = world.objects_for(A_NORMAL, None)["person"]
    with app.app_context():
        full_name = db.session.get(Person, uuid.UUID(str(person_id))).full_name
        db.session.remove()
    assert full_name.startswith("CANARY-people-full_name-")
    revealed = owner.post(f"/cases/{case_id}/people/{person_id}/reveal",
                          data={"csrf_token": owner.csrf, "reason": "check_duplicate"})
    assert revealed.status_code == 200
    assert full_name in revealed.get_data(as_text=True)
