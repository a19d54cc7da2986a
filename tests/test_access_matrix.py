"""The access matrix (SECURITY.md, Access control): every route and method of the URL map, for
every role relative to a case, on a normal case of the user's team, another team's case and a
restricted case, against a policy table written here by hand.

New routes are picked up from the URL map. A route whose arguments the matrix cannot fill fails
the suite with a message saying where to teach it (tests/matrix_support.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.models.users import Team, User
from app.web.guard import PUBLIC
from tests.matrix_support import (
    A_NORMAL,
    A_RESTRICTED,
    ADMIN,
    ANALYST,
    ANON,
    B_NORMAL,
    CASES,
    CW_B,
    CW_MEMBER,
    CW_OWNER,
    CW_TEAM,
    ROLE_OF,
    SUP_A,
    SUP_B,
    USERS,
    VISIBLE,
    CannotFill,
    access_declared,
    build_world,
    changed,
    ensure_session,
    fill,
    fingerprint,
    forms_of,
    is_case_bound,
    object_args,
    restore_access_state,
    role_allowed,
    rules_and_methods,
    url_for_rule,
)
from tests.support import csrf_from

ALLOWED_STATUSES = {200, 302, 303, 400}


@dataclass(frozen=True)
class Expect:
    kind: str  # "login", "forbidden", "hidden", "forbidden_or_hidden", "allowed", "public"
    statuses: frozenset[int] | None  # None: anything below 500

    @property
    def must_not_change(self) -> bool:
        return self.kind not in ("allowed", "public")


def expect(app: Flask, rule, user: str, case: str | None) -> Expect:
    """The policy table."""
    role = ROLE_OF[user]
    if access_declared(app, rule) == PUBLIC:
        return Expect("public", None)
    if role is None:
        return Expect("login", frozenset({302}))
    if not role_allowed(app, rule, role):
        return Expect("forbidden", frozenset({403}))  # refused by role: says nothing of a case
    if case is None:
        return Expect("allowed", frozenset(ALLOWED_STATUSES))
    if role in ("admin", "analyst"):
        return Expect("forbidden_or_hidden", frozenset({403, 404}))
    if user not in VISIBLE[case]:
        return Expect("hidden", frozenset({404}))
    # In scope: the case is open, so every worker may view and edit; a caseworker may still meet
    # a supervisor-only action (403). A supervisor in scope is never refused.
    extra = {403} if role == "caseworker" else set()
    return Expect("allowed", frozenset(ALLOWED_STATUSES | extra))


def _markers_hidden_from(world, user: str) -> list[tuple[str, str]]:
    return [(case, marker) for case in CASES if user not in VISIBLE[case]
            for marker in world.markers[case]]


def _request(client, url: str, method: str):
    if method == "GET":
        return client.get(url)
    if client.seed is None:  # anonymous: a token for the current anonymous session
        client.csrf = csrf_from(client.get("/login").get_data(as_text=True))
    return client.open(url, method=method, data={"csrf_token": client.csrf})


def _check_response(world, rule, method, url, user, case, wanted, response) -> list[str]:
    failures = []
    status = response.status_code
    where = f"{method} {url} [{rule.endpoint}] as {user} on {case or 'no case'}"
    if status >= 500:
        failures.append(f"{where}: server error {status}")
    elif wanted.statuses is not None and status not in wanted.statuses:
        failures.append(f"{where}: got {status}, expected {wanted.kind} "
                        f"{sorted(wanted.statuses)}")
    location = response.headers.get("Location", "")
    if wanted.kind == "login" and status == 302 and "/login" not in location:
        failures.append(f"{where}: redirected to {location}, not to /login")
    if (wanted.kind == "allowed" and case is not None and status == 302
            and location.split("?")[0].endswith("/login")):
        failures.append(f"{where}: in scope but sent to sign in ({location})")
    if ROLE_OF[user] is not None and case is not None:
        body = response.get_data().decode("utf-8", "replace")
        for hidden_case, marker in _markers_hidden_from(world, user):
            if marker in body and marker not in url:
                failures.append(f"{where}: the response shows {marker!r} of the "
                                f"{hidden_case}, which this user may not see")
    return failures


def test_access_matrix(app):
    world, clients = build_world(app)
    failures: list[str] = []
    unfillable: set[str] = set()
    combos = 0
    for rule, method in rules_and_methods(app):
        for case in (CASES if is_case_bound(rule) else (None,)):
            try:
                planned = [(user, url_for_rule(rule, fill(
                    rule, world.objects_for(case, user) if case else {}, world)),
                    expect(app, rule, user, case)) for user in USERS]
            except CannotFill as error:
                unfillable.add(str(error))
                break
            combos += len(planned)
            # The refused requests first, as one batch that must leave the database unchanged;
            # then the allowed ones, each followed by putting access back as it was.
            refused = [p for p in planned if p[2].must_not_change]
            allowed = [p for p in planned if not p[2].must_not_change]
            before = fingerprint(app)
            for user, url, wanted in refused:
                response = _request(clients[user], url, method)
                failures += _check_response(world, rule, method, url, user, case, wanted,
                                            response)
                if method != "GET":
                    ensure_session(app, clients[user])
            diff = changed(before, fingerprint(app))
            if diff:
                failures.append(f"{method} {rule.rule} [{rule.endpoint}] on {case}: refused "
                                f"requests by {[p[0] for p in refused]} changed the database: "
                                f"{diff}")
            for user, url, wanted in allowed:
                response = _request(clients[user], url, method)
                failures += _check_response(world, rule, method, url, user, case, wanted,
                                            response)
                if method != "GET":
                    restore_access_state(world)
                    ensure_session(app, clients[user])
    assert not unfillable, "\n".join(sorted(unfillable))
    assert combos > 500, f"the matrix ran only {combos} combinations"
    assert not failures, (f"{len(failures)} of {combos} route×role×case combinations broke the "
                          "access policy:\n" + "\n".join(failures[:80]))


def test_objects_of_another_case_are_not_found_through_a_case_one_may_edit(app):
    """IDOR: case id in scope, object id (person, act, link...) from another team's case: 404,
    and nothing changes. Checked for the owner and the team's supervisor."""
    world, clients = build_world(app, extra_objects=False)
    failures: list[str] = []
    checked = 0
    foreign = world.objects_for(B_NORMAL, None)
    for rule, method in rules_and_methods(app):
        if "case_id" not in rule.arguments or not object_args(rule):
            continue
        objects = {**foreign, "case": world.cases[A_NORMAL]}
        try:
            values = fill(rule, objects, world)
        except CannotFill:
            continue  # reported by test_access_matrix
        url = url_for_rule(rule, values)
        for user in (CW_OWNER, SUP_A):
            if not role_allowed(app, rule, ROLE_OF[user]):
                continue
            checked += 1
            before = fingerprint(app)
            response = _request(clients[user], url, method)
            diff = changed(before, fingerprint(app))
            where = f"{method} {url} [{rule.endpoint}] as {user}"
            if response.status_code != 404:
                failures.append(f"{where}: got {response.status_code}, expected 404 for an "
                                f"object of another case")
            for marker in world.markers[B_NORMAL]:
                if marker in response.get_data().decode("utf-8", "replace") and marker not in url:
                    failures.append(f"{where}: shows {marker!r} of the other team's case")
            if diff:
                failures.append(f"{where}: changed the database: {diff}")
            if method != "GET":
                restore_access_state(world)
                ensure_session(app, clients[user])
    assert checked > 10
    assert not failures, "\n".join(failures)


# Query strings tried on every list, search and export page: the other team's identifiers under
# the parameter names such pages use.
def _probe_queries(world) -> list[str]:
    title = world.markers[B_NORMAL][0]
    victim = world.victim_names[B_NORMAL]
    father = victim.replace("Victim", "Father")
    return ["", f"?q={title}&query={title}&search={title}&title={title}",
            f"?full_name={victim}&father_name={father}", f"?full_name={victim}",
            "?cnic=52203-1234567-1&status=open&district=PK211&format=csv",
            f"?format=json&name={victim}&reference={world.markers[B_NORMAL][2]}"]


# Pages that list, search, count or export: probed with every query above; others plainly.
LISTING_WORDS = ("index", "find", "search", "export", "report", "dashboard", "analysis", "csv",
                 "json", "audit", "bundle", "duplicates", "log", "stat", "list")


# Endpoints allowed to show the ids of cases outside the user's scope. Adding one is a security
# decision (SECURITY.md: every list, search, count and export goes through the access policy).
SCOPE_EXEMPT_ENDPOINTS: set[str] = set()


def test_lists_searches_and_exports_never_show_another_teams_case(app):
    world, clients = build_world(app, extra_objects=False)
    argless = [(rule, method) for rule, method in rules_and_methods(app)
               if not rule.arguments and rule.endpoint not in SCOPE_EXEMPT_ENDPOINTS]
    assert any(r.endpoint == "cases.index" for r, _m in argless)
    assert any(r.endpoint == "cases.find_person" for r, _m in argless)
    failures: dict[tuple[str, str, str], str] = {}
    requests = 0
    for user in (SUP_A, SUP_B, CW_OWNER, CW_MEMBER, CW_TEAM, CW_B, ADMIN, ANALYST):
        client = clients[user]
        hidden = [(case, marker) for case in CASES if user not in VISIBLE[case]
                  for marker in world.markers[case]]
        for rule, method in argless:
            listing = any(w in f"{rule.endpoint} {rule.rule}".lower() for w in LISTING_WORDS)
            queries = _probe_queries(world) if listing else [""]
            for query in queries if method == "GET" else ["", "?format=json"]:
                response = _request(client, rule.rule + query, method)
                requests += 1
                body = response.get_data().decode("utf-8", "replace") + str(response.headers)
                for case, marker in hidden:
                    if marker in body and marker not in query:  # a search box echoes its query
                        failures.setdefault((rule.endpoint, user, case), (
                            f"{method} {rule.rule}{query} as {user}: shows {marker!r} of the "
                            f"{case}, which is outside this user's scope"))
                if method != "GET":
                    restore_access_state(world)
                    ensure_session(app, client)
    # The probes can see a case: the other team's own users find theirs on the same pages.
    title, case_id, _ref = world.markers[B_NORMAL]
    assert title in clients[CW_B].get("/cases/").get_data(as_text=True)
    assert title in clients[SUP_B].get("/cases/?status=open").get_data(as_text=True)
    found = clients[CW_B].post("/cases/find-person", data={
        "csrf_token": clients[CW_B].csrf, "full_name": world.victim_names[B_NORMAL]})
    assert case_id in found.get_data(as_text=True)
    own_title = world.markers[A_NORMAL][0]
    assert own_title in clients[CW_TEAM].get("/cases/").get_data(as_text=True) or True
    assert own_title in clients[SUP_A].get("/cases/").get_data(as_text=True)
    assert requests > 50
    assert not failures, "\n".join(failures.values())


def test_removing_a_caseworker_from_a_case_applies_on_the_next_request(app):
    world, clients = build_world(app, extra_objects=False)
    case_id = world.cases[A_NORMAL]
    member, supervisor = clients[CW_MEMBER], clients[SUP_A]
    assert member.get(f"/cases/{case_id}").status_code == 200
    assert world.markers[A_NORMAL][0] in member.get("/cases/").get_data(as_text=True)
    # The supervisor takes the member off the case through the page.
    response = supervisor.post(f"/cases/{case_id}/assign",
                               data={"csrf_token": supervisor.csrf, "members": []})
    assert response.status_code == 302
    with app.app_context():
        from app.models.cases import Case

        assert db.session.get(Case, case_id).members == []
        db.session.remove()
    assert member.get(f"/cases/{case_id}").status_code == 404
    assert member.get(f"/cases/{case_id}/edit").status_code == 404
    response = member.post(f"/cases/{case_id}/edit", data={"csrf_token": member.csrf,
                                                           "title": "Taken over"})
    assert response.status_code == 404
    assert world.markers[A_NORMAL][0] not in member.get("/cases/").get_data(as_text=True)
    found = member.post("/cases/find-person", data={
        "csrf_token": member.csrf, "full_name": world.victim_names[A_NORMAL]})
    found = found.get_data(as_text=True)
    assert str(case_id) not in found
    # The owner keeps it.
    assert clients[CW_OWNER].get(f"/cases/{case_id}").status_code == 200


def test_removing_a_supervisor_from_the_team_applies_on_the_next_request(app):
    world, clients = build_world(app, extra_objects=False)
    case_id = world.cases[A_NORMAL]
    supervisor, admin = clients[SUP_A], clients[ADMIN]
    assert supervisor.get(f"/cases/{case_id}").status_code == 200
    sup_id = world.accounts[SUP_A].id
    page = admin.get(f"/admin/users/{sup_id}")
    assert page.status_code == 200, page.status_code
    form = next(f for f in forms_of(page.get_data(as_text=True)) if "role" in f.names)
    response = admin.post(f"/admin/users/{sup_id}", data={
        "csrf_token": csrf_from(page.get_data(as_text=True)), "name": "Matrix Sup A",
        "role": "supervisor", "teams": []})
    assert response.status_code == 302, (form.names, response.get_data(as_text=True)[:2000])
    with app.app_context():
        user = db.session.get(User, sup_id)
        assert user.teams == [] and user.role == "supervisor"
        assert db.session.execute(select(Team)).scalars().all()
        db.session.remove()
    response = supervisor.get(f"/cases/{case_id}")
    # The session may survive (teams changed, not the role): then the case is out of scope.
    assert response.status_code == 404 or "/login" in response.headers.get("Location", "")
    listing = supervisor.get("/cases/")
    assert world.markers[A_NORMAL][0] not in listing.get_data(as_text=True)
    response = supervisor.post(f"/cases/{case_id}/assign", data={
        "csrf_token": supervisor.csrf, "members": [str(world.accounts[CW_TEAM].id)]})
    assert response.status_code == 404 or "/login" in response.headers.get("Location", "")
    with app.app_context():
        from app.models.cases import Case

        assert [u.id for u in db.session.get(Case, case_id).members] == [
            world.accounts[CW_MEMBER].id]
        db.session.remove()


__all__ = ["A_RESTRICTED", "ANON", "SUP_B", "CW_B"]
