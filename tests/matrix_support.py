"""Helpers for the access matrix, leak, mass-assignment and canary tests.

One "world" per test function: two teams, users of every role relative to team A's cases, three
cases (team A normal, team A restricted, team B normal), each filled with one object of every kind
(person, act, disappearance, family step, perpetrator, source, testimony, link, note, consent,
follow-up, evidence item) built through the services. Users in scope of a case also get their own
set of objects, so that a request that deletes or consumes an object (unlinking, say) does not
take it away from the next user.

URL arguments are filled from the argument names (`case_id`, `person_id`, `act_id`, ...). A route
with an argument nobody taught the matrix makes the tests fail with a message saying where to
teach it (`ARG_KINDS` / `ARG_VALUES` below).
"""

from __future__ import annotations

import hashlib
import io
import re
import secrets
import struct
import uuid
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import insert, select, text
from werkzeug.routing import Rule

from app.domain import dates
from app.domain.vocab import CONSENT_PURPOSE, FAMILY_STEP
from app.extensions import db
from app.models.cases import Case
from app.models.users import Team, User, WebSession
from app.services import acts, allegations, cases, followups, people, sources
from app.services import evidence as evidence_service
from app.services.reference_data import seed_reference_data
from app.services.vocabularies import choices as vocab_choices
from app.web.guard import PUBLIC, access_of
from tests.support import Person as Account
from tests.support import csrf_from, make_user, sign_in

# ---------------------------------------------------------------------------------------------
# Who is who. Every label is relative to team A ("Quetta"); B is "Turbat".

ADMIN, SUP_A, SUP_B = "admin", "supervisor of the case's team", "supervisor of another team"
CW_OWNER, CW_MEMBER = "caseworker owner", "caseworker assigned member"
CW_TEAM, CW_B = "caseworker same team not assigned", "caseworker of another team"
ANALYST, ANON = "analyst", "anonymous"
USERS = (ADMIN, SUP_A, SUP_B, CW_OWNER, CW_MEMBER, CW_TEAM, CW_B, ANALYST, ANON)
ROLE_OF = {ADMIN: "admin", SUP_A: "supervisor", SUP_B: "supervisor", CW_OWNER: "caseworker",
           CW_MEMBER: "caseworker", CW_TEAM: "caseworker", CW_B: "caseworker",
           ANALYST: "analyst", ANON: None}

A_NORMAL, B_NORMAL, A_RESTRICTED = "team A normal case", "team B case", "team A restricted case"
CASES = (A_NORMAL, B_NORMAL, A_RESTRICTED)

# The policy, written out by hand (SECURITY.md "Access control"), not derived from app/access.py:
# caseworkers see cases they own or are named on; supervisors also see their teams' cases unless
# restricted; admins and analysts never open an identified case record.
VISIBLE: dict[str, frozenset[str]] = {
    A_NORMAL: frozenset({SUP_A, CW_OWNER, CW_MEMBER}),
    B_NORMAL: frozenset({SUP_B, CW_B}),
    A_RESTRICTED: frozenset({CW_OWNER, CW_MEMBER}),
}

# ---------------------------------------------------------------------------------------------
# Filling URL arguments.

# argument name (without a trailing "_id") -> kind of object of the case it names
ARG_KINDS = {
    "case": "case", "person": "person", "victim": "person", "witness": "person",
    "act": "act", "link": "link", "allegation_link": "link", "testimony": "testimony",
    "statement": "testimony", "source": "source", "evidence": "evidence", "item": "evidence",
    "evidence_item": "evidence", "file": "evidence", "follow_up": "follow_up",
    "followup": "follow_up", "consent": "consent", "note": "note", "step": "family_step",
    "family_step": "family_step", "involvement": "involvement", "perpetrator": "involvement",
    "disappearance": "disappearance", "name": "person_name", "other_name": "person_name",
    "custody": "custody", "custody_event": "custody", "pair": "duplicate_pair",
    "duplicate": "duplicate_pair", "candidate": "duplicate_pair",
}
CASE_KINDS = set(ARG_KINDS.values())

# Query strings some argument-less routes need to answer at all (they 404 without them).
ENDPOINT_QUERIES: dict[str, str] = {
    "analysis.dashboard_csv": "?chart=by_month",
}

# (endpoint or "*", argument) -> a fixed value. Values chosen so that a POST is refused or
# harmless: "reopen" is not a valid transition from "open".
ARG_VALUES: dict[tuple[str, str], str] = {
    ("*", "transition"): "reopen",
    ("admin.user_action", "action"): "reactivate",
    ("*", "token"): "0" * 43,
}


class CannotFill(Exception):
    pass


def is_case_bound(rule: Rule) -> bool:
    return any(_kind_of(arg) in CASE_KINDS for arg in rule.arguments)


def object_args(rule: Rule) -> set[str]:
    """Arguments naming an object inside a case (not the case itself)."""
    return {arg for arg in rule.arguments
            if _kind_of(arg) in CASE_KINDS and _kind_of(arg) != "case"}


def _kind_of(arg: str) -> str | None:
    base = arg[:-3] if arg.endswith("_id") else arg
    if arg.endswith("_id") or base in ARG_KINDS:
        return ARG_KINDS.get(base)
    return None


def fill(rule: Rule, objects: dict[str, Any], world: World) -> dict[str, str]:
    """Values for every argument of the rule, or CannotFill naming the argument."""
    values: dict[str, str] = {}
    for arg in sorted(rule.arguments):
        fixed = ARG_VALUES.get((rule.endpoint, arg), ARG_VALUES.get(("*", arg)))
        kind = _kind_of(arg)
        if fixed is not None:
            values[arg] = fixed
        elif kind is not None and kind in objects:
            values[arg] = str(objects[kind])
        elif arg == "user_id":
            values[arg] = str(world.target_user_id)
        elif arg == "team_id":
            values[arg] = str(world.team_a)
        else:
            raise CannotFill(
                f"{rule.endpoint} {rule.rule}: the access matrix does not know how to fill "
                f"<{arg}>. Teach it in tests/matrix_support.py (ARG_KINDS for an object of a "
                f"case, ARG_VALUES for a fixed value) and make sure the world builds that object.")
    return values


def url_for_rule(rule: Rule, values: dict[str, str]) -> str:
    return rule.build(values, append_unknown=False)[1] + ENDPOINT_QUERIES.get(rule.endpoint, "")


def rules_and_methods(app: Flask) -> list[tuple[Rule, str]]:
    """Every (rule, method) of the URL map except static, HEAD and OPTIONS."""
    pairs = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        if rule.endpoint == "static":
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            pairs.append((rule, method))
    return pairs


def access_declared(app: Flask, rule: Rule) -> object:
    return access_of(app.view_functions[rule.endpoint])


def role_allowed(app: Flask, rule: Rule, role: str | None) -> bool:
    access = access_declared(app, rule)
    if access == PUBLIC:
        return True
    if role is None or access is None:
        return False
    return not isinstance(access, frozenset) or role in access


# ---------------------------------------------------------------------------------------------
# The world.


@dataclass
class World:
    app: Flask
    accounts: dict[str, Account]
    team_a: uuid.UUID
    team_b: uuid.UUID
    target_user_id: uuid.UUID
    cases: dict[str, uuid.UUID]
    # (case label, user label or None for the shared set) -> {kind: id}
    objects: dict[tuple[str, str | None], dict[str, Any]]
    markers: dict[str, list[str]]  # case label -> strings that only that case's pages show
    victim_names: dict[str, str]  # case label -> full name of its first victim
    original: dict[str, Any] = field(default_factory=dict)

    def objects_for(self, case_label: str, user_label: str | None) -> dict[str, Any]:
        return self.objects.get((case_label, user_label)) or self.objects[(case_label, None)]


def _actor(account: Account) -> User:
    return db.session.get(User, account.id)


def populate_case(app: Flask, owner: User, case: Case, tag: str) -> dict[str, Any]:
    """One object of every kind inside `case`, built through the services (as its owner)."""
    victim = people.add_person(owner, case, {"full_name": f"Victim {tag}",
                                             "father_name": f"Father {tag}", "sex": "male",
                                             "age": 30, "cnic": "52203-1234567-1"},
                               other_names=[f"Other {tag}"])
    witness = people.add_person(owner, case, {"full_name": f"Witness {tag}", "sex": "female"})
    act = acts.add_act(owner, case, {"act_type": "enforced_disappearance", "victim_id": victim.id,
                                     "district_code": "PK211",
                                     "place_as_reported": f"Bazaar {tag}",
                                     "status_of_victim": "still_missing"},
                       dates.parse("2025-03-11"))
    step = acts.add_family_step(owner, case, act, {"step": FAMILY_STEP[0],
                                                  "outcome": f"Outcome {tag}"})
    perpetrator_type = vocab_choices("perpetrator_type")[0][0]
    involvement = acts.add_perpetrator(owner, case, act, {"unit": "Men in plain clothes",
                                                          "perpetrator_type": perpetrator_type})
    source = sources.add_source(owner, case, {"person_id": witness.id, "reliability": "B"})
    testimony = sources.add_testimony(owner, case, {
        "source_id": source.id, "material": "witness_testimony", "connection": "witness",
        "language": "bal", "credibility": 2, "transcript": f"Transcript {tag}"},
        dates.parse("2025-03-14"))
    link = allegations.link(owner, case, act, relation="supports", testimony=testimony)
    note = cases.add_note(owner, case, f"Note {tag}")
    # Consent to every purpose, so exports (WGEID, reports) are allowed in scope, not refused.
    consents = [people.record_consent(owner, case, victim, {"purpose": purpose})
                for purpose in CONSENT_PURPOSE]
    consent = consents[0]
    act.disappearance.relatives_consent_wgeid = True
    follow_up = followups.add_follow_up(owner, case, {
        "action_type": vocab_choices("follow_up_type")[0][0], "response": f"Response {tag}",
        "next_step": f"Next step {tag}"})
    evidence = evidence_service.add_evidence(
        owner, case, io.BytesIO(png_bytes(f"evidence file {tag}")), filename=f"ev-{tag}.png",
        declared_type="image/png", description=f"Evidence {tag}", collected_by="Field team",
        collected_at=None, collected_from=f"Phone {tag}")
    db.session.flush()
    custody = evidence.custody[0]
    pair = _duplicate_pair(victim.id, witness.id)
    return {"case": case.id, "person": victim.id, "witness": witness.id, "act": act.id,
            "disappearance": act.disappearance.id, "family_step": step.id,
            "involvement": involvement.id, "source": source.id, "testimony": testimony.id,
            "link": link.id, "note": note.id, "consent": consent.id, "follow_up": follow_up.id,
            "evidence": evidence.id, "custody": custody.id,
            "person_name": victim.other_names[0].id, "duplicate_pair": pair}


def _duplicate_pair(first: uuid.UUID, second: uuid.UUID) -> uuid.UUID | None:
    """A possible-duplicate pair of two people of one case (the duplicates pages' object)."""
    try:
        from app.models.duplicates import DuplicateCandidate
    except ImportError:  # the duplicates feature is not there yet
        return None
    a, b = sorted((first, second), key=str)
    pair = DuplicateCandidate(id=uuid.uuid4(), person_a_id=a, person_b_id=b, score=60,
                              matched="full_name", conflicting="", status="open")
    db.session.add(pair)
    db.session.flush()
    return pair.id


def png_bytes(comment: str) -> bytes:
    """A valid 1x1 PNG carrying `comment` in a tEXt chunk (evidence is sniffed by content)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
            + chunk(b"tEXt", b"Comment\x00" + comment.encode())
            + chunk(b"IDAT", zlib.compress(b"\x00\x00")) + chunk(b"IEND", b""))


def build_world(app: Flask, *, sign_in_users: bool = True,
                extra_objects: bool = True) -> tuple[World, dict[str, FlaskClient]]:
    token = secrets.token_hex(4)
    with app.app_context():
        # On PostgreSQL the per-test TRUNCATE in conftest also empties the vocabularies and
        # districts the migrations seeded; put them back (idempotent, a no-op on SQLite).
        seed_reference_data(db.session.connection())
        db.session.commit()
        db.session.remove()
    accounts = {
        ADMIN: make_user(app, "admin", name="Matrix Admin"),
        SUP_A: make_user(app, "supervisor", name="Matrix Sup A", teams=["Quetta"]),
        SUP_B: make_user(app, "supervisor", name="Matrix Sup B", teams=["Turbat"]),
        CW_OWNER: make_user(app, "caseworker", name="Matrix Owner", teams=["Quetta"]),
        CW_MEMBER: make_user(app, "caseworker", name="Matrix Member", teams=["Quetta"]),
        CW_TEAM: make_user(app, "caseworker", name="Matrix Teammate", teams=["Quetta"]),
        CW_B: make_user(app, "caseworker", name="Matrix Caseworker B", teams=["Turbat"]),
        ANALYST: make_user(app, "analyst", name="Matrix Analyst"),
    }
    target = make_user(app, "caseworker", name="Matrix Target")
    with app.app_context():
        team_a = db.session.execute(select(Team).filter_by(name="Quetta")).scalar_one().id
        team_b = db.session.execute(select(Team).filter_by(name="Turbat")).scalar_one().id
        owner, member, owner_b = (_actor(accounts[CW_OWNER]), _actor(accounts[CW_MEMBER]),
                                  _actor(accounts[CW_B]))
        sup_a = _actor(accounts[SUP_A])
        case_ids: dict[str, uuid.UUID] = {}
        markers: dict[str, list[str]] = {}
        objects: dict[tuple[str, str | None], dict[str, Any]] = {}
        names: dict[str, str] = {}
        for number, (label, who) in enumerate(((A_NORMAL, owner), (B_NORMAL, owner_b),
                                               (A_RESTRICTED, owner))):
            title = f"MATRIX-TITLE-{token}-{number}"
            case = cases.open_case(who, {"title": title,
                                         "summary": f"MATRIX-SUMMARY-{token}-{number}"})
            cases.change_status(who, case, "open")
            if label != B_NORMAL:
                cases.assign(sup_a, case, [member])
            if label == A_RESTRICTED:
                cases.make_restricted(who, case, reason="test")
            db.session.flush()
            case_ids[label] = case.id
            markers[label] = [title, str(case.id), case.reference]
            objects[(label, None)] = populate_case(app, who, case, f"{token}-{number}")
            names[label] = f"Victim {token}-{number}"
            if extra_objects:
                for user_label in sorted(VISIBLE[label]):
                    objects[(label, user_label)] = populate_case(
                        app, who, case, f"{token}-{number}-{user_label[:6]}")
        db.session.commit()
    world = World(app, accounts, team_a, team_b, target.id, case_ids, objects, markers, names)
    world.original = snapshot_access_state(app)
    clients = sign_in_all(app, accounts) if sign_in_users else {}
    return world, clients


# ---------------------------------------------------------------------------------------------
# Access-relevant state: saved once, put back after requests that are allowed to change it.


def snapshot_access_state(app: Flask) -> dict[str, Any]:
    with app.app_context():
        state = {
            "cases": {c.id: (c.status, c.confidentiality, c.owner_id, c.team_id,
                             sorted(u.id for u in c.members))
                      for c in db.session.execute(select(Case)).scalars()},
            "users": {u.id: (u.role, u.active, sorted(t.id for t in u.teams))
                      for u in db.session.execute(select(User)).scalars()},
        }
        db.session.remove()
    return state


def restore_access_state(world: World) -> None:
    with world.app.app_context():
        now = snapshot_access_state_inner()
        if now == world.original:
            db.session.remove()
            return
        for case_id, (status, confidentiality, owner_id, team_id, members) in (
                world.original["cases"].items()):
            case = db.session.get(Case, case_id)
            case.status, case.confidentiality = status, confidentiality
            case.owner_id, case.team_id = owner_id, team_id
            case.members = [db.session.get(User, m) for m in members]
        for user_id, (role, active, teams) in world.original["users"].items():
            user = db.session.get(User, user_id)
            user.role, user.active = role, active
            user.teams = [db.session.get(Team, t) for t in teams]
        db.session.commit()
        db.session.remove()


def snapshot_access_state_inner() -> dict[str, Any]:
    return {
        "cases": {c.id: (c.status, c.confidentiality, c.owner_id, c.team_id,
                         sorted(u.id for u in c.members))
                  for c in db.session.execute(select(Case)).scalars()},
        "users": {u.id: (u.role, u.active, sorted(t.id for t in u.teams))
                  for u in db.session.execute(select(User)).scalars()},
    }


# ---------------------------------------------------------------------------------------------
# Signed-in clients. Each user signs in once through the real forms; the server-side session is
# then copied, so a request that ends the session (logout, sign out everywhere, role change) can
# be followed by a fresh session of the same user without spending another TOTP code.

COOKIE = "amanat_session"


@dataclass
class SessionSeed:
    user_id: uuid.UUID
    data: str


def sign_in_all(app: Flask, accounts: dict[str, Account]) -> dict[str, FlaskClient]:
    clients: dict[str, FlaskClient] = {}
    for label, account in accounts.items():
        client = app.test_client()
        response = sign_in(client, app, account)
        assert response.status_code == 302, (label, response.get_data(as_text=True)[:500])
        client.csrf = csrf_from(client.get("/account/").get_data(as_text=True))  # type: ignore[attr-defined]
        sid = client.get_cookie(COOKIE).value
        with app.app_context():
            row = db.session.execute(select(WebSession).where(
                WebSession.id_hash == hashlib.sha256(sid.encode()).hexdigest())).scalar_one()
            client.seed = SessionSeed(row.user_id, row.data)  # type: ignore[attr-defined]
            db.session.remove()
        clients[label] = client
    anonymous = app.test_client()
    anonymous.csrf = csrf_from(anonymous.get("/login").get_data(as_text=True))  # type: ignore[attr-defined]
    anonymous.seed = None  # type: ignore[attr-defined]
    clients[ANON] = anonymous
    return clients


def ensure_session(app: Flask, client: FlaskClient) -> None:
    """Give the client a live session again if the last request ended it."""
    seed: SessionSeed | None = client.seed  # type: ignore[attr-defined]
    cookie = client.get_cookie(COOKIE)
    with app.app_context():
        alive = cookie is not None and db.session.execute(select(WebSession.id_hash).where(
            WebSession.id_hash == hashlib.sha256(cookie.value.encode()).hexdigest())).first()
        if alive:
            db.session.remove()
            return
        if seed is None:  # anonymous: a fresh anonymous session and token
            db.session.remove()
            client.delete_cookie(COOKIE)
            client.csrf = csrf_from(client.get("/login").get_data(as_text=True))  # type: ignore[attr-defined]
            return
        sid = secrets.token_urlsafe(16)
        now = datetime.now(UTC)
        # The session table keys rows by SHA-256 of the cookie value (app/security/sessions.py).
        db.session.execute(insert(WebSession).values(
            id_hash=hashlib.sha256(sid.encode()).hexdigest(), user_id=seed.user_id,
            data=seed.data, created_at=now, last_seen_at=now, expires_at=now + timedelta(hours=1)))
        db.session.commit()
        db.session.remove()
    client.set_cookie(COOKIE, sid)


# ---------------------------------------------------------------------------------------------
# What the database holds, in one query: rows per table, and sums/maxima that move on updates.

SKIP_TABLES = {"web_sessions"}


def _fingerprint_sql() -> str:
    parts = []
    for table in db.metadata.sorted_tables:
        if table.name in SKIP_TABLES:
            continue
        parts.append(f'(SELECT count(*) FROM "{table.name}")')
        cols = table.c
        if "version" in cols:
            parts.append(f'(SELECT coalesce(sum(version), 0) FROM "{table.name}")')
        if "updated_at" in cols:
            parts.append(f'(SELECT max(updated_at) FROM "{table.name}")')
    return "SELECT " + ", ".join(parts)


def fingerprint(app: Flask) -> tuple:
    with app.app_context():
        names = []
        for table in db.metadata.sorted_tables:
            if table.name in SKIP_TABLES:
                continue
            names.append(f"{table.name}.rows")
            if "version" in table.c:
                names.append(f"{table.name}.versions")
            if "updated_at" in table.c:
                names.append(f"{table.name}.updated_at")
        row = db.session.execute(text(_fingerprint_sql())).one()
        db.session.remove()
    return tuple(zip(names, (str(v) for v in row), strict=True))


def changed(before: tuple, after: tuple) -> list[str]:
    return [name for (name, old), (_n, new) in zip(before, after, strict=True) if old != new]


# ---------------------------------------------------------------------------------------------
# Reading forms out of a page.


@dataclass
class FormField:
    name: str
    tag: str
    type: str = "text"
    value: str = ""
    options: list[str] = field(default_factory=list)
    selected: list[str] = field(default_factory=list)
    checked: bool = False


@dataclass
class Form:
    action: str
    method: str
    enctype: str
    fields: list[FormField] = field(default_factory=list)

    @property
    def names(self) -> set[str]:
        return {f.name for f in self.fields}


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._field: FormField | None = None
        self._option: str | None = None
        self._option_text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._form = Form(a.get("action", ""), a.get("method", "get").lower(),
                              a.get("enctype", ""))
            self.forms.append(self._form)
        elif self._form is None:
            return
        elif tag == "input" and a.get("name"):
            self._form.fields.append(FormField(a["name"], "input", a.get("type", "text").lower(),
                                               a.get("value", ""), checked="checked" in a))
        elif tag in ("select", "textarea") and a.get("name"):
            self._field = FormField(a["name"], tag)
            self._form.fields.append(self._field)
        elif tag == "option" and self._field is not None:
            self._option = a.get("value")
            self._option_text = ""
            if "selected" in a:
                self._field.selected.append(a.get("value", ""))

    def handle_data(self, data: str) -> None:
        if self._field is not None and self._field.tag == "textarea":
            self._field.value += data
        if self._option is None and self._field is not None and self._field.tag == "select":
            return
        if self._option is not None:
            self._option_text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "option" and self._field is not None:
            self._field.options.append(self._option if self._option is not None
                                       else self._option_text.strip())
            self._option = None
        elif tag in ("select", "textarea"):
            self._field = None
        elif tag == "form":
            self._form = None


def forms_of(html: str) -> list[Form]:
    parser = _FormParser()
    parser.feed(html)
    textarea_fix(parser.forms)
    return parser.forms


def textarea_fix(forms: list[Form]) -> None:
    for form in forms:
        for f in form.fields:
            if f.tag == "textarea":
                # the parser keeps the line break that follows <textarea>
                f.value = f.value.removeprefix("\r").removeprefix("\n")


def current_values(form: Form) -> dict[str, Any]:
    """What a browser would submit without the user touching anything."""
    data: dict[str, Any] = {}
    for f in form.fields:
        if f.tag == "select":
            data[f.name] = f.selected[0] if f.selected else (f.options[0] if f.options else "")
        elif f.type in ("checkbox", "radio"):
            if f.checked:
                data[f.name] = f.value or "y"
        elif f.type in ("submit", "button", "file", "image", "reset"):
            continue
        else:
            data[f.name] = f.value
    return data


UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

