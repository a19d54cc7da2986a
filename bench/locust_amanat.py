"""Locust scenario for `python -m bench load`: caseworkers and supervisors using Amanat in a browser.

Run by bench/load.py (which seeds the accounts and checks the database afterwards):

    BENCH_LOAD_DIR=bench/out/postgres/load locust -f bench/locust_amanat.py --headless \
        -u 55 -r 5 -t 5m --host http://127.0.0.1:PORT --csv bench/out/postgres/load/locust

BENCH_LOAD_DIR/accounts.json holds the seeded accounts (email, password, TOTP seed, role) and the
seeded cases; each simulated user takes one account, signs in once through the real two-step
forms (password, then a TOTP code computed with pyotp; CSRF tokens read from the HTML) and then
works with 1-3 s of think time. At the end the file BENCH_LOAD_DIR/records.json holds every
request (timing, status, outcome) and everything the users created or saved, for the harness to
look for in the database.

Outcomes: "ok"; "conflict" (the edit form came back with the optimistic-lock message: by design,
not an error); "error" (status >= 400 other than that, a page without the expected content, a
sign-out, a socket error). 5xx are errors and counted on their own by the harness.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import secrets
import threading
import time
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

import pyotp
from locust import HttpUser, between, events, task
from locust.exception import StopUser

LOAD_DIR = Path(os.environ.get("BENCH_LOAD_DIR", "bench/out/load"))
SIGNED_IN_MARKER = 'class="sign-out"'
CONFLICT_MARKERS = ("Someone else saved this record",)
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
CASE_LINK = re.compile(rf'href="/cases/({UUID})"')
ACT_ANCHOR = re.compile(rf"#act-({UUID})$")
EVIDENCE_LOCATION = re.compile(rf"/cases/{UUID}/evidence/({UUID})$")
CASE_LOCATION = re.compile(rf"/cases/({UUID})$")
REFERENCE = re.compile(r"AM-\d{4}-\d{4,}")
STALE_EDIT_SHARE = 0.1  # edits saved from two tabs of one case: the second is a conflict on purpose
UNSAFE_ACTS = ("sexual", "rape")  # these restrict the case to named people (supervisors lose it)

_lock = threading.Lock()
_accounts = json.loads((LOAD_DIR / "accounts.json").read_text(encoding="utf-8")) \
    if (LOAD_DIR / "accounts.json").exists() else {"caseworker": [], "supervisor": []}
_free = {role: list(people) for role, people in _accounts.items() if role in
         ("caseworker", "supervisor")}
RECORDS: dict[str, list[Any]] = {"requests": [], "cases": [], "people": [], "acts": [],
                                  "evidence": [], "edits": [], "sign_ins": [], "problems": []}
STARTED = time.time()


# --- HTML forms ---------------------------------------------------------------------------------


class _FormParser(HTMLParser):
    """Every <form>: its action, method and fields as a browser would submit them untouched."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[dict[str, Any]] = []
        self._form: dict[str, Any] | None = None
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        if tag == "form":
            self._form = {"action": a.get("action", ""), "method": a.get("method", "get").lower(),
                          "id": a.get("id", ""), "fields": {}, "options": {}}
            self.forms.append(self._form)
            return
        if self._form is None:
            return
        fields, name = self._form["fields"], a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text").lower()
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    fields[name] = a.get("value", "on")
            elif kind not in ("submit", "button", "file", "image", "reset"):
                fields[name] = a.get("value", "")
        elif tag == "select" and name:
            self._select = name
            self._form["options"][name] = []
        elif tag == "option" and self._select:
            value = a.get("value", "")
            self._form["options"][self._select].append(value)
            if "selected" in a or self._select not in fields:
                fields[self._select] = value
        elif tag == "textarea" and name:
            self._textarea = name
            fields[name] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._form is not None and self._textarea:
            self._form["fields"][self._textarea] += data


def forms_of(html: str) -> list[dict[str, Any]]:
    parser = _FormParser()
    parser.feed(html)
    return parser.forms


def form_on(html: str, action_part: str = "", form_id: str = "") -> dict[str, Any] | None:
    """The form with this id, or the POST form whose action contains `action_part`; with
    neither, the page's own form (a POST form without an action posts back to the page)."""
    for form in forms_of(html):
        if form_id:
            if form["id"] == form_id:
                return form
        elif action_part:
            if form["method"] == "post" and action_part in form["action"]:
                return form
        elif form["method"] == "post" and not form["action"]:
            return form
    return None


def csrf_token(html: str) -> str | None:
    match = re.search(r'name="csrf_token"[^>]*?value="([^"]+)"|value="([^"]+)"[^>]*?'
                      r'name="csrf_token"', html)
    return unescape(next(g for g in match.groups() if g)) if match else None


# --- The simulated people -----------------------------------------------------------------------


class AmanatUser(HttpUser):
    abstract = True
    role = "caseworker"
    wait_time = between(1, 3)

    def on_start(self) -> None:
        with _lock:
            pool = _free.get(self.role) or []
            self.account = pool.pop() if pool else None
        self.cases: list[str] = []
        self.csrf: str | None = None
        self.signed_in = False
        if self.account is None:
            self.problem("no free seeded account for this simulated user")
            raise StopUser
        self.sign_in()
        if self.signed_in:
            self.refresh_cases("/cases/")

    # -- requests ---------------------------------------------------------------------------

    def call(self, method: str, path: str, name: str, kind: str, *, expect: int = 200,
             must_contain: str | None = SIGNED_IN_MARKER, allow_conflict: bool = False,
             **kwargs: Any) -> Any:
        """One request, timed and classified. Returns the response, or None on a socket error."""
        kwargs.setdefault("allow_redirects", False)
        kwargs.setdefault("timeout", 60)
        started = time.perf_counter()
        outcome, detail, status = "ok", "", 0
        with self.client.request(method, path, name=name, catch_response=True,
                                 **kwargs) as response:
            elapsed = time.perf_counter() - started
            status = response.status_code or 0
            body = response.text if status else ""
            if status == 0:
                outcome, detail = "error", f"socket: {response.error!r}"[:300]
            elif allow_conflict and status == 200 and any(m in body for m in CONFLICT_MARKERS):
                outcome = "conflict"
            elif status != expect:
                outcome = "error"
                where = response.headers.get("Location", "")
                detail = f"expected {expect}, got {status} {where}".strip()
                if status == 200:
                    errors = re.findall(r'class="(?:field-)?errors?[^"]*"[^>]*>(.*?)</',
                                        body, re.S)
                    detail += f"; form errors: {[unescape(e).strip()[:120] for e in errors][:3]}"
                elif status >= 500:
                    detail += f"; body: {body[:200]!r}"
            elif status == 302 and "/login" in response.headers.get("Location", "") and \
                    "login" not in name:
                outcome, detail = "error", "signed out (redirect to /login)"
            elif must_contain and status == 200 and must_contain not in body:
                outcome, detail = "error", f"page lacks {must_contain!r}"
            if outcome == "error":
                response.failure(detail or "error")
                self.problem(f"{method} {name}: {detail}")
            else:
                response.success()
        with _lock:
            RECORDS["requests"].append([round(time.time() - STARTED, 3), self.role, method, name,
                                        kind, status, round(elapsed * 1000, 2), outcome])
        return response if status else None

    def get(self, path: str, name: str, **kwargs: Any) -> Any:
        return self.call("GET", path, name, "page", **kwargs)

    def post(self, path: str, name: str, data: dict[str, Any], **kwargs: Any) -> Any:
        return self.call("POST", path, name, "write", data=data, **kwargs)

    def problem(self, text: str) -> None:
        with _lock:
            RECORDS["problems"].append([round(time.time() - STARTED, 3),
                                        self.account["email"] if self.account else "?", text])

    # -- sign-in ----------------------------------------------------------------------------

    def next_code(self) -> str:
        """The code an authenticator app shows now; the next one if this step was used."""
        totp = pyotp.TOTP(self.account["totp_secret"])
        current = totp.timecode(time.time())
        last = self.account.get("last_step")
        step = current if last is None else max(current, last + 1)
        while step > current:
            time.sleep(1)
            current = totp.timecode(time.time())
        self.account["last_step"] = step
        return totp.generate_otp(step)

    def sign_in(self) -> None:
        started = time.perf_counter()
        page = self.call("GET", "/login", "sign-in: GET /login", "sign-in", must_contain=None)
        if page is None or csrf_token(page.text) is None:
            return self.give_up("no sign-in form")
        password = self.call("POST", "/login", "sign-in: POST /login (password)", "sign-in",
                             expect=302, must_contain=None,
                             data={"csrf_token": csrf_token(page.text),
                                   "email": self.account["email"],
                                   "password": self.account["password"]})
        if password is None or password.status_code != 302:
            return self.give_up("password step failed")
        verify = self.call("GET", "/login/verify", "sign-in: GET /login/verify", "sign-in",
                           must_contain=None)
        if verify is None or csrf_token(verify.text) is None:
            return self.give_up("no code form")
        for attempt in (1, 2):  # a person whose code is refused types the next one
            code = self.call("POST", "/login/verify",
                             "sign-in: POST /login/verify (TOTP)" if attempt == 1 else
                             "sign-in: POST /login/verify (TOTP, again)", "sign-in",
                             expect=302, must_contain=None,
                             data={"csrf_token": csrf_token(verify.text),
                                   "code": self.next_code()})
            if code is not None and code.status_code == 302:
                break
            if code is None or csrf_token(code.text) is None:
                return self.give_up("code step failed")
            verify = code
        else:
            return self.give_up("code refused twice")
        home = self.get("/", "GET /")
        if home is None or home.status_code != 200 or SIGNED_IN_MARKER not in home.text:
            return self.give_up("not signed in after the code step")
        self.csrf = csrf_token(home.text)
        self.signed_in = True
        with _lock:
            RECORDS["sign_ins"].append([self.account["email"],
                                        round((time.perf_counter() - started) * 1000, 1)])
        return None

    def give_up(self, why: str) -> NoReturn:
        """A person who cannot sign in stops (and is counted); no requests while signed out."""
        self.problem(f"sign-in abandoned: {why}")
        raise StopUser

    # -- shared tasks -----------------------------------------------------------------------

    def refresh_cases(self, path: str, name: str = "GET /cases/") -> None:
        page = self.get(path, name)
        if page is not None and page.status_code == 200:
            found = CASE_LINK.findall(page.text)
            if found:
                known = set(self.cases)
                self.cases.extend(c for c in dict.fromkeys(found) if c not in known)

    def some_case(self) -> str | None:
        return random.choice(self.cases) if self.cases else None

    def list_cases(self) -> None:
        choice = random.random()
        if choice < 0.35:
            self.refresh_cases("/cases/")
            return
        page = self.get("/cases/", "GET /cases/")
        if page is None or page.status_code != 200:
            return
        filters = next((f for f in forms_of(page.text) if f["method"] == "get"), None)
        if filters is None:
            self.problem("case list has no filter form")
            return
        options = filters["options"]
        query: dict[str, str] = {}
        pick = random.choice(("status", "district", "act_type", "mine", "combined", "page2"))
        if pick in ("status", "combined"):
            query["status"] = random.choice([o for o in options.get("status", [""]) if o]
                                            or [""])
        if pick in ("district", "combined"):
            query["district"] = random.choice([o for o in options.get("district", [""]) if o]
                                              or [""])
        if pick == "act_type":
            query["act_type"] = random.choice([o for o in options.get("act_type", [""]) if o]
                                              or [""])
        if pick == "mine":
            query["mine"] = "y"
        if pick == "page2":
            query["page"] = "2"
        self.refresh_cases("/cases/?" + "&".join(f"{k}={v}" for k, v in query.items()),
                           f"GET /cases/?{pick}")

    def view_case(self) -> None:
        case_id = self.some_case()
        if case_id:
            self.get(f"/cases/{case_id}", "GET /cases/[id]")

    def search(self) -> None:
        page = self.get("/search", "GET /search")
        if page is None or page.status_code != 200:
            return
        form = form_on(page.text, form_id="search-form")
        if form is None:
            self.problem("search page has no search form")
            return
        data = dict(form["fields"])
        options = form["options"]
        pick = random.choice(("district", "act_type", "dates", "name", "case_status"))
        if pick == "district":
            data["district"] = random.choice([o for o in options.get("district", []) if o]
                                             or [""])
        elif pick == "act_type":
            data["act_type"] = random.choice([o for o in options.get("act_type", []) if o]
                                             or [""])
        elif pick == "dates":
            data.update(date_from="2024-01-01", date_to="2025-12-31")
        elif pick == "name":
            data["full_name"] = random.choice(("Baloch", "Muhammad Bench", "Bench Person 7"))
        else:
            data["case_status"] = "draft"
        self.post("/search", f"POST /search ({pick})", data, must_contain="</form>")

    def edit_case(self) -> None:
        case_id = self.some_case()
        if not case_id:
            return
        page = self.get(f"/cases/{case_id}/edit", "GET /cases/[id]/edit")
        if page is None or page.status_code != 200:
            return
        form = form_on(page.text)
        if form is None:
            self.problem("edit page has no form")
            return
        data = self.edited(form["fields"])
        time.sleep(random.uniform(1, 3))  # typing
        if random.random() < STALE_EDIT_SHARE:
            # Two tabs on the same case: save the first, then the second, opened before it.
            self.save_edit(case_id, data, False, attempt=1)
            self.save_edit(case_id, self.edited(form["fields"]), True, attempt=1)
        else:
            self.save_edit(case_id, data, False, attempt=1)

    @staticmethod
    def edited(fields: dict[str, Any]) -> dict[str, Any]:
        data = dict(fields)
        marker = f"edit-{secrets.token_hex(4)}"
        data["marker"] = marker
        data["title"] = f"Bench case edited {marker}"
        data["summary"] = (data.get("summary") or "")[:2000] + f"\nFollow-up note {marker}."
        return data

    def save_edit(self, case_id: str, data: dict[str, Any], stale: bool, attempt: int) -> None:
        marker = data["marker"]
        form = {k: v for k, v in data.items() if k != "marker"}
        name = "POST /cases/[id]/edit" if attempt == 1 else "POST /cases/[id]/edit (again)"
        response = self.post(f"/cases/{case_id}/edit", name, form, expect=302,
                             allow_conflict=True)
        if response is None:
            return
        record = {"case_id": case_id, "marker": marker, "user": self.account["email"],
                  "stale": stale, "attempt": attempt, "status": response.status_code}
        if response.status_code == 302:
            record["outcome"] = "saved"
            with _lock:
                RECORDS["edits"].append(record)
            self.get(urlsplit(response.headers["Location"]).path, "GET /cases/[id]")
            return
        if any(m in response.text for m in CONFLICT_MARKERS):
            record["outcome"] = "conflict"
            with _lock:
                RECORDS["edits"].append(record)
            again = form_on(response.text)
            if again is not None and attempt == 1:
                # Reconcile as the page asks: keep my text, save again on the current version.
                retry = dict(again["fields"])
                retry.update(title=data["title"], summary=data["summary"], marker=marker)
                time.sleep(random.uniform(1, 3))
                self.save_edit(case_id, retry, stale, attempt=2)
            return
        record["outcome"] = "failed"
        with _lock:
            RECORDS["edits"].append(record)

    # -- writing new records ----------------------------------------------------------------

    def create_case(self) -> None:
        page = self.get("/cases/new", "GET /cases/new")
        if page is None or page.status_code != 200:
            return
        form = form_on(page.text)
        if form is None:
            self.problem("new case page has no form")
            return
        token = secrets.token_hex(4)
        data = dict(form["fields"])
        channels = [o for o in form["options"].get("intake_channel", []) if o]
        data.update(title=f"Bench load case {token}",
                    summary=f"Opened under load by {self.account['email']}.",
                    date_received="2026-11-20",
                    intake_channel=random.choice(channels) if channels else "",
                    tags="load, bench")
        time.sleep(random.uniform(1, 3))
        saved = self.post("/cases/new", "POST /cases/new", data, expect=302)
        if saved is None or saved.status_code != 302:
            return
        match = CASE_LOCATION.search(urlsplit(saved.headers["Location"]).path)
        if not match:
            self.problem(f"case created but redirected to {saved.headers['Location']}")
            return
        case_id = match.group(1)
        view = self.get(f"/cases/{case_id}", "GET /cases/[id]")
        reference = None
        if view is not None and view.status_code == 200:
            found = REFERENCE.search(view.text)
            reference = found.group(0) if found else None
        with _lock:
            RECORDS["cases"].append({"id": case_id, "reference": reference,
                                     "title": data["title"], "user": self.account["email"]})
        self.cases.append(case_id)
        person = self.add_person(case_id, token)
        self.add_act(case_id, person)

    def add_person(self, case_id: str, token: str) -> str | None:
        page = self.get(f"/cases/{case_id}/people/new", "GET /cases/[id]/people/new")
        if page is None or page.status_code != 200:
            return None
        form = form_on(page.text)
        if form is None:
            self.problem("new person page has no form")
            return None
        full_name = f"Bench Load Person {token}"
        data = dict(form["fields"])
        data.update(full_name=full_name, father_name="Bench Father", sex="male",
                    age=str(random.randint(18, 60)), cnic=f"52203-{random.randint(10**6, 10**7 - 1)}-1",
                    occupation="student")
        time.sleep(random.uniform(1, 3))
        saved = self.post(f"/cases/{case_id}/people/new", "POST /cases/[id]/people/new", data,
                          expect=302)
        if saved is None or saved.status_code != 302:
            return None
        with _lock:
            RECORDS["people"].append({"case_id": case_id, "full_name": full_name,
                                      "user": self.account["email"]})
        view = self.get(f"/cases/{case_id}", "GET /cases/[id]")
        if view is None or view.status_code != 200:
            return None
        ids = re.findall(rf"/cases/{case_id}/people/({UUID})/", view.text)
        return ids[-1] if len(set(ids)) == 1 else None

    def add_act(self, case_id: str, person_id: str | None) -> None:
        page = self.get(f"/cases/{case_id}/acts/new", "GET /cases/[id]/acts/new")
        if page is None or page.status_code != 200:
            return
        form = form_on(page.text)
        if form is None:
            self.problem("new act page has no form")
            return
        options = form["options"]
        data = dict(form["fields"])
        act_types = [o for o in options.get("act_type", []) if o and
                     not any(u in o for u in UNSAFE_ACTS)]
        districts = [o for o in options.get("district_code", []) if o]
        data.update(act_type=random.choice(act_types) if act_types else "",
                    district_code=random.choice(districts) if districts else "",
                    start=random.choice(("2025-03-11", "March 2025", "2024", "around Eid 2024")),
                    end="", place_as_reported="near the bus stop",
                    description="Recorded under load.")
        if person_id and person_id in options.get("victim_id", []):
            data["victim_id"] = person_id
        time.sleep(random.uniform(1, 3))
        saved = self.post(f"/cases/{case_id}/acts/new", "POST /cases/[id]/acts/new", data,
                          expect=302)
        if saved is None or saved.status_code != 302:
            return
        match = ACT_ANCHOR.search(saved.headers["Location"])
        with _lock:
            RECORDS["acts"].append({"case_id": case_id, "id": match.group(1) if match else None,
                                    "act_type": data["act_type"],
                                    "user": self.account["email"]})
        self.get(urlsplit(saved.headers["Location"]).path, "GET /cases/[id]")

    def upload_evidence(self) -> None:
        case_id = self.some_case()
        if not case_id:
            return
        page = self.get(f"/cases/{case_id}/evidence/new", "GET /cases/[id]/evidence/new")
        if page is None or page.status_code != 200:
            return
        form = form_on(page.text)
        if form is None:
            self.problem("evidence page has no form")
            return
        body = (f"Statement recorded under load, {secrets.token_hex(8)}.\n" * random.randint(
            20, 400)).encode()
        data = dict(form["fields"])
        data.update(description="A short written statement.", collected_by="field team Kech")
        time.sleep(random.uniform(1, 3))
        saved = self.call("POST", f"/cases/{case_id}/evidence/new",
                          "POST /cases/[id]/evidence/new", "write", expect=302, data=data,
                          files={"file": ("statement.txt", body, "text/plain")})
        if saved is None or saved.status_code != 302:
            return
        match = EVIDENCE_LOCATION.search(urlsplit(saved.headers["Location"]).path)
        with _lock:
            RECORDS["evidence"].append({"case_id": case_id,
                                        "id": match.group(1) if match else None,
                                        "sha256": hashlib.sha256(body).hexdigest(),
                                        "size": len(body), "user": self.account["email"]})
        self.get(urlsplit(saved.headers["Location"]).path, "GET /cases/[id]/evidence/[id]")


class Caseworker(AmanatUser):
    role = "caseworker"
    weight = 10

    @task(20)
    def t_list_cases(self) -> None:
        self.list_cases()

    @task(25)
    def t_view_case(self) -> None:
        self.view_case()

    @task(12)
    def t_search(self) -> None:
        self.search()

    @task(12)
    def t_edit_case(self) -> None:
        self.edit_case()

    @task(6)
    def t_create_case(self) -> None:
        self.create_case()

    @task(6)
    def t_upload(self) -> None:
        self.upload_evidence()


class Supervisor(AmanatUser):
    role = "supervisor"
    fixed_count = len(_accounts.get("supervisor", []))

    @task(15)
    def t_audit_log(self) -> None:
        self.get("/audit/", "GET /audit/")

    @task(8)
    def t_audit_filtered(self) -> None:
        pick = random.choice(("case.update", "case.create", "evidence.upload", "auth.sign_in"))
        self.get(f"/audit/?action={pick}", "GET /audit/?action")

    @task(4)
    def t_audit_page2(self) -> None:
        self.get("/audit/?page=2", "GET /audit/?page=2")

    @task(4)
    def t_audit_people(self) -> None:
        self.get("/audit/people", "GET /audit/people")

    @task(12)
    def t_list_cases(self) -> None:
        self.list_cases()

    @task(15)
    def t_view_case(self) -> None:
        self.view_case()

    @task(8)
    def t_search(self) -> None:
        self.search()

    @task(6)
    def t_edit_case(self) -> None:
        self.edit_case()


@events.test_stop.add_listener
def _write_records(**_kwargs: Any) -> None:
    with _lock:
        path = LOAD_DIR / "records.json"
        path.write_text(json.dumps(RECORDS), encoding="utf-8")
