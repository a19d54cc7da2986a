"""Mass assignment: extra fields posted to every case, person, act (and other case-record) form
change nothing outside the fields the form declares; stale or forged versions are refused.

Form routes are found in the URL map (every case route answering GET and POST, plus the new-case
page); each form is read from its page, submitted as a browser would, plus hostile extras.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.models.cases import Case
from tests.matrix_support import (
    A_NORMAL,
    B_NORMAL,
    CW_B,
    CW_OWNER,
    SUP_A,
    CannotFill,
    Form,
    build_world,
    fill,
    forms_of,
    is_case_bound,
    rules_and_methods,
    url_for_rule,
)

SKIP_TABLES = {"web_sessions", "audit_entries", "audit_checkpoints", "data_keys",
               "case_reference_counters"}  # bookkeeping the services own
ALWAYS_ALLOWED = {"updated_at", "updated_by_id", "version"}
# A form field that is stored under another column name.
ALIASES = {"status": {"allegation_status"}, "district_code": {"district_list_version"},
           "file": set(), "material": {"testimony_id", "evidence_id"}}
# The core forms: each must accept the submission (otherwise the test proves nothing).
MUST_ACCEPT = {"cases.new", "cases.edit", "cases.new_person", "cases.edit_person",
               "cases.new_act", "cases.edit_act", "cases.edit_disappearance"}
FILLERS = {"cnic": "52203-1234567-1", "last_seen_time": "10:30", "phone": "0300-1234567",
           "age": "30", "title": "Mass assignment probe", "start": "2024-01-01",
           "end": "", "given": "2024-01-02", "last_seen": "2024-01-01",
           "reference_number": "FIR-1", "date_received": "", "version": None}


def snapshot(app) -> dict[str, dict[Any, dict[str, Any]]]:
    with app.app_context():
        rows: dict[str, dict[Any, dict[str, Any]]] = {}
        for table in db.metadata.sorted_tables:
            if table.name in SKIP_TABLES:
                continue
            keys = [c.name for c in table.primary_key.columns]
            rows[table.name] = {
                tuple(str(r[k]) for k in keys): {c: r[c] for c in r.keys()}
                for r in db.session.execute(table.select()).mappings()}
        db.session.remove()
    return rows


def hostile_values(world) -> dict[str, str]:
    other = world.objects_for(B_NORMAL, None)
    hostile_user = str(world.accounts[CW_B].id)
    return {
        "owner_id": hostile_user, "team_id": str(world.team_b),
        "case_id": str(world.cases[B_NORMAL]), "created_by_id": hostile_user,
        "updated_by_id": hostile_user, "interviewer_id": hostile_user,
        "obtained_by_id": hostile_user, "actor_id": hostile_user, "user_id": hostile_user,
        "status": "archived", "allegation_status": "finding", "confidentiality": "restricted",
        "role": "admin", "reference": "AM-1999-9999", "id": "0badc0de-0000-4000-8000-000000000001",
        "person_id": str(other["person"]), "act_id": str(other["act"]),
        "source_id": str(other["source"]), "victim_id": str(other["person"]),
        "testimony_id": str(other["testimony"]), "evidence_id": str(other["evidence"]),
        "disappearance_id": str(other["disappearance"]), "data_key_id": "987654",
        "shredded_at": "2020-01-01", "sha256": "0" * 64, "storage_name": "f" * 32,
        "members": hostile_user, "active": "n", "is_admin": "y", "review_comment": "forged",
        "credibility": "1", "reliability": "A", "checked_on": "2020-01-01",
    }


def _fill_value(field) -> str | None:
    if field.name in FILLERS:
        return FILLERS[field.name]
    if field.tag == "select":
        options = [o for o in field.options if o]
        if field.selected and field.selected[0]:
            return field.selected[0]
        if field.name == "material" and options:
            return options[-1]  # the newest material: the oldest is already linked
        if field.name == "act_type" and "enforced_disappearance" in options:
            return "enforced_disappearance"  # not a sexual-violence act (those restrict a case)
        return options[0] if options else ""
    if field.type in ("checkbox", "radio", "submit", "button", "file", "hidden"):
        return None
    if field.value:
        return field.value
    if field.type == "date":
        return "2024-01-01"
    if field.type == "datetime-local":
        return "2024-01-01T10:00"
    if field.type == "number":
        return "1"
    return "Probe text"


def submission(form: Form) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for field in form.fields:
        if field.type == "hidden":
            data[field.name] = field.value
            continue
        if field.type == "checkbox" and field.checked:
            data[field.name] = field.value or "y"
        value = _fill_value(field)
        if value is not None:
            data[field.name] = value
    return data


def allowed_columns(form: Form) -> set[str]:
    names = form.names - {"csrf_token", "submit"}
    return names | ALWAYS_ALLOWED | {a for n in names for a in ALIASES.get(n, set())}


def column_allowed(column: str, form_fields: set[str]) -> bool:
    return column in form_fields or any(column.startswith(f + "_") for f in form_fields)


def diff_problems(before, after, form: Form, hostile: dict[str, str]) -> list[str]:
    problems = []
    allowed = allowed_columns(form)
    bad_values = set(hostile.values()) - {"y", "n", "1", "A"}
    for table, rows in after.items():
        old_rows = before.get(table, {})
        for key, row in rows.items():
            old = old_rows.get(key)
            changed_cols = list(row) if old is None else [c for c in row if row[c] != old[c]]
            for column in changed_cols:
                value = row[column]
                if value is not None and str(value) in bad_values:
                    problems.append(f"{table}.{column} took the posted value {value!r}")
                if old is not None and not column_allowed(column, allowed):
                    problems.append(f"{table}.{column} changed ({old[column]!r} -> {value!r}) "
                                    "but the form does not declare it")
                if column == "version" and old is not None and value < old[column]:
                    problems.append(f"{table}.version went back {old[column]} -> {value}")
        for key in set(old_rows) - set(rows):
            problems.append(f"{table} row {key} disappeared")
    return problems


def form_routes(app):
    for rule, method in rules_and_methods(app):
        if method == "POST" and "GET" in (rule.methods or ()) and (
                is_case_bound(rule) or rule.endpoint == "cases.new"):
            yield rule


def _form_for(html: str, path: str) -> Form | None:
    for form in forms_of(html):
        if form.method == "post" and (form.action in ("", path) or form.action.split("?")[0]
                                      == path) and form.names - {"csrf_token"}:
            return form
    return None


def test_extra_fields_change_nothing_outside_the_declared_form(app):
    world, clients = build_world(app, extra_objects=False)
    hostile = hostile_values(world)
    problems: list[str] = []
    accepted: set[str] = set()
    tried: set[str] = set()
    for rule in form_routes(app):
        try:
            url = url_for_rule(rule, fill(rule, world.objects_for(A_NORMAL, None), world))
        except CannotFill as error:
            problems.append(str(error))
            continue
        for user in (CW_OWNER, SUP_A):
            client = clients[user]
            page = client.get(url)
            if page.status_code == 200:
                break
        else:
            problems.append(f"{rule.endpoint}: no in-scope user could open {url}")
            continue
        html = page.get_data(as_text=True)
        form = _form_for(html, url)
        if form is None:
            problems.append(f"{rule.endpoint}: no form posting to {url} on its page")
            continue
        tried.add(rule.endpoint)
        data = submission(form)
        extras = {k: v for k, v in hostile.items() if k not in form.names}
        before = snapshot(app)
        response = client.post(url, data={**data, **extras})
        if response.status_code == 302:
            accepted.add(rule.endpoint)
        elif response.status_code != 200:
            problems.append(f"{rule.endpoint}: answered {response.status_code}")
        problems += [f"{rule.endpoint} as {user}: {p}"
                     for p in diff_problems(before, snapshot(app), form, extras)]
    assert MUST_ACCEPT <= tried, f"form routes not found: {MUST_ACCEPT - tried}"
    assert MUST_ACCEPT <= accepted, (
        f"these forms refused a valid submission (with extras), so nothing was tested: "
        f"{sorted(MUST_ACCEPT - accepted)}")
    assert not problems, "\n".join(problems)


def test_stale_or_forged_versions_are_refused(app):
    world, clients = build_world(app, extra_objects=False)
    client = clients[CW_OWNER]
    problems = []
    checked = 0
    for rule in form_routes(app):
        try:
            url = url_for_rule(rule, fill(rule, world.objects_for(A_NORMAL, None), world))
        except CannotFill:
            continue
        page = client.get(url)
        form = _form_for(page.get_data(as_text=True), url) if page.status_code == 200 else None
        if form is None or "version" not in form.names:
            continue
        data = submission(form)
        current = data.get("version") or ""
        if not current.isdigit():
            continue  # a create form carries no version
        for forged in (str(int(current) + 5), str(int(current) - 1), "", "abc", "-1",
                       [str(int(current) + 5), current]):
            checked += 1
            before = snapshot(app)
            response = client.post(url, data={**data, "version": forged,
                                              "summary": "Changed under a forged version",
                                              "description": "Changed under a forged version"})
            if response.status_code == 302:
                problems.append(f"{rule.endpoint}: saved with version {forged!r} (current "
                                f"{current})")
            after = snapshot(app)
            if before != after:
                problems.append(f"{rule.endpoint}: version {forged!r} changed the database")
    assert checked >= 20
    assert not problems, "\n".join(problems)


def _case(app, case_id) -> Case:
    with app.app_context():
        case = db.session.execute(select(Case).where(Case.id == case_id)).scalar_one()
        db.session.expunge(case)
        db.session.remove()
    return case


def test_a_case_cannot_be_moved_out_of_its_team_through_the_edit_form(app):
    """team_id is a declared field, but only the user's own teams are offered. A blank team or
    another team must not be accepted: a case without a team leaves its supervisor's sight."""
    world, clients = build_world(app, extra_objects=False)
    client = clients[CW_OWNER]
    case_id = world.cases[A_NORMAL]
    url = f"/cases/{case_id}/edit"
    form = _form_for(client.get(url).get_data(as_text=True), url)
    assert form is not None and "team_id" in form.names
    team_field = next(f for f in form.fields if f.name == "team_id")
    assert str(world.team_b) not in team_field.options and "" not in team_field.options
    problems = []
    for forged in ("", str(world.team_b), str(uuid.uuid4()), "not-a-uuid"):
        data = submission(form)
        data["version"] = str(_case(app, case_id).version)
        client.post(url, data={**data, "team_id": forged})
        team = _case(app, case_id).team_id
        if team != world.team_a:
            problems.append(f"posting team_id={forged!r} moved the case to team {team}")
            with app.app_context():  # put it back for the next probe
                db.session.get(Case, case_id).team_id = world.team_a
                db.session.commit()
                db.session.remove()
    assert clients[SUP_A].get(f"/cases/{case_id}").status_code == 200
    assert not problems, "\n".join(problems)
