"""Hostile input on every case form: nothing is lost, nothing half-written, nothing executed.

Each form gets generated values (hypothesis): right-to-left text, combining marks, zero-width
joiners, bidi overrides, NUL and other control characters, astral characters, 100 KB strings,
empty and whitespace-only values, numbers where text is expected, wrong types for dates and
selects, unknown select values, template and script injection. For every submission:

* the answer is never a 5xx;
* either it is refused clearly (200 with an error shown, or 400/413) and NOTHING was written
  (row counts of every table, the audit log included, are unchanged, and an edited record still
  holds what it held),
* or it is accepted, and every free-text field reads back exactly as typed (the services strip
  surrounding whitespace and store an empty value as NULL), every select holds a known code, an
  audit entry was written, and the pages showing the record escape it (`<script>` never raw,
  `{{7*7}}` never 49).

The app is built once per form (function-scoped fixtures) and hypothesis loops inside it, so the
database grows between examples; every check compares before/after one submission.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.domain import dates
from app.domain.vocab import (
    ATTRIBUTION,
    FAMILY_STEP,
    FOLLOW_UP_STATUS,
    INVOLVEMENT,
    WHEREABOUTS,
)
from app.extensions import db
from app.models.acts import Act, DisappearanceDetails, FamilyStep, Involvement
from app.models.audit import AuditEntry
from app.models.cases import Case, CaseNote
from app.models.followups import FollowUp
from app.models.people import ConsentRecord, Person
from app.models.sources import AllegationLink, Source
from app.models.sources import Testimony as TestimonyRow
from app.models.users import User
from app.services import acts as act_service
from tests.conftest import ON_POSTGRES, TEST_SECRET
from tests.factories import make_case
from tests.support import csrf_from

EXAMPLES = 18

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
SSTI = "Q{{7*7}}Q"
BIG = 100_000
HOSTILE = [
    "", " ", "   \t  ", "\r\n\r\n", "\u00a0\u2003\u3000",
    "بشیر احمد ولد غلام نبی، تربت", "گۆڵ محمد بلوچ",  # Urdu, Balochi (RTL)
    "\u202egnp.exe\u202c", "abc\u202edef\u202c\u2066x\u2069",  # bidi overrides and isolates
    "e\u0301\u0302\u0303\u0304 Z\u0351\u0352\u0353\u0354\u0355",  # stacked combining marks
    "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466", "a\u200bb\u200cc\u200dd\ufeff",
    "nul\x00in the middle", "\x00", "bell\x07 esc\x1b[31m del\x7f", "\x01\x02\x03\x1f",
    "\U0001d518\U0001d52b\U0001d526 \U0001f642 \U00013000 \U0010fffd",  # astral
    "\u2028line\u2029separators\x85", "tab\there", "\ufffe\uffff",
    "0", "12345", "-1", "3.14", "1e309", "NaN", "0x1F", "٢٠٢٤", "99999999999999999999",
    SSTI, "{{7*7}}", "{{config}}", "{% for x in range(3) %}x{% endfor %}", "${7*7}", "#{7*7}",
    SCRIPT, '"><script>alert(1)</script>', IMG, "javascript:alert(1)", "&lt;b&gt;&amp;",
    "Robert'); DROP TABLE cases;--", "' OR '1'='1", "%s%n%x%p", "../../etc/passwd",
    "A" * BIG, "ب" * 30_000, ("\U0001f600" * 1000),
]
HOSTILE_DATES = ["2025-13-45", "2025-02-30", "0000-00-00", "99999-01-01", "2999-01-01",
                 "31/12/2020", "yesterday", "2020", "٢٠٢٤-٠١-٠١", "2020-01-01T00:00", "1e9",
                 "-2020-01-01", "2020-1-1", ""]
PARTIAL_DATES = ["", "unknown", "2025-03-11", "11 March 2025", "March 2025", "2019",
                 "around Eid 2024", "~2023", "2025-02-30", "1850", "3000", "next year",
                 "around \x00 2020", "\u202e2020", "٢٠٢٠", "early 2021\u200b"]

text_values = st.one_of(st.sampled_from(HOSTILE),
                        st.text(st.characters(exclude_categories=("Cs",)), max_size=40),
                        st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
                                min_size=1, max_size=20))
# Hostile but within every form's length limits: what a submission that should succeed carries.
FITTING = [v for v in HOSTILE if len(v) <= 40]
fitting_text = st.one_of(st.sampled_from(FITTING),
                         st.text(st.characters(exclude_categories=("Cs",)), max_size=40))
date_values = st.one_of(st.sampled_from(HOSTILE_DATES), st.sampled_from(HOSTILE),
                        st.dates(min_value=date(1900, 1, 1)).map(date.isoformat))
good_dates = st.one_of(st.just(""), st.dates(min_value=date(1990, 1, 1),
                                             max_value=date(2024, 12, 31)).map(date.isoformat))
partial_date_values = st.one_of(st.sampled_from(PARTIAL_DATES), st.sampled_from(HOSTILE))
GOOD_PARTIAL_DATES = ["", "unknown", "2025-03-11", "11 March 2025", "March 2025", "2019",
                      "around Eid 2024", "~2023"]


class Draw:
    """Strategies for one submission: `clean` ones keep selects and dates valid and texts within
    the length limits (hostile characters still), so that about half the submissions succeed;
    the others throw anything at every field."""

    def __init__(self, clean: bool) -> None:
        self.clean = clean

    def text(self) -> st.SearchStrategy[str]:
        return fitting_text if self.clean else text_values

    def optional(self, values: list[str]) -> st.SearchStrategy[str]:
        return st.one_of(st.sampled_from(values), self.text())

    def select(self, valid: list[str]) -> st.SearchStrategy[str]:
        if self.clean:
            return st.sampled_from(valid)
        return st.one_of(st.sampled_from(valid),
                         st.sampled_from(HOSTILE + ["unknown_code", str(uuid.uuid4())]))

    def date(self) -> st.SearchStrategy[str]:
        return good_dates if self.clean else date_values

    def partial(self) -> st.SearchStrategy[str]:
        return st.sampled_from(GOOD_PARTIAL_DATES) if self.clean else partial_date_values


# --- The forms -----------------------------------------------------------------------------------

@dataclass
class World:
    case_id: uuid.UUID
    victim_id: uuid.UUID
    witness_id: uuid.UUID
    act_id: uuid.UUID
    source_id: uuid.UUID
    testimony_id: uuid.UUID


@dataclass
class Spec:
    name: str
    url: Callable[[World], str]
    model: type | None  # the table a success adds a row to (None: an edit, or a search)
    texts: dict[str, str]  # form field -> model attribute, read back exactly
    strategies: Callable[[World, Draw], dict[str, st.SearchStrategy[str]]]
    page: Callable[[World], str] | None = None  # where the form lives, if not at `url`
    shown_on: Callable[[World, Any], list[str]] = lambda w, row: [f"/cases/{w.case_id}"]
    selects: dict[str, tuple[str, ...]] = field(default_factory=dict)  # attr -> allowed codes
    edit: Callable[[World], Any] | None = None  # the record an edit form changes
    versioned: bool = False
    prepare: Callable[[Any, World], World] | None = None  # per example, in an app context


def _case_strategies(w: World, d: Draw) -> dict[str, st.SearchStrategy[str]]:
    return {"title": d.optional(["Abduction in Kech", "  padded title  "]),
            "summary": d.text(), "tags": d.text(), "date_received": d.date(),
            "intake_channel": d.select(["", "phone", "in_person"]), "team_id": d.select([""])}


def _person_strategies(w: World, d: Draw) -> dict[str, st.SearchStrategy[str]]:
    fields = {name: d.text() for name in ("full_name", "father_name", "tribe", "date_of_birth",
                                          "phone", "address", "occupation", "affiliation",
                                          "physical_description", "other_names")}
    fields["cnic"] = (st.sampled_from(["", "52203-1234567-1", "٥٢٢٠٣١٢٣٤٥٦٧١"]) if d.clean
                      else d.optional(["", "52203-1234567-1"]))
    fields["sex"] = d.select(["", "female", "male", "other"])
    fields["age_group"] = d.select(["", "child", "adult"])
    fields["counting_unit"] = d.select(["individual", "family"])
    fields["age"] = st.sampled_from(["", "22", "0", "120", " 7 ", "٢٢"] if d.clean else
                                    ["121", "-1", "abc", "1e3", "99999999999999999999999", "\x00"])
    return fields


def _act_strategies(w: World, d: Draw) -> dict[str, st.SearchStrategy[str]]:
    return {"act_type": d.select(["enforced_disappearance", "torture", "abduction"]),
            "victim_id": d.select(["", str(w.victim_id)]),
            "start": d.partial(), "end": st.just("") if d.clean else d.partial(),
            "district_code": d.select(["", "PK211"]),
            "place_as_reported": d.text(), "description": d.text(),
            "location_type": d.select(["", "home", "checkpoint"]),
            "status_of_victim": d.select(["still_missing", "unknown"])}


def _disappearance_strategies(w: World, d: Draw) -> dict[str, st.SearchStrategy[str]]:
    yes_no = d.select(["", "yes", "no"])
    return {"last_seen": d.partial(),
            "last_seen_time": (st.sampled_from(["", "21:30", "9:05", "\u202e1:00"]) if d.clean
                               else d.optional(["25:99", "\x00"])),
            "place_last_seen": d.text(), "circumstances": d.text(), "taken_by": d.text(),
            "whereabouts": d.select(list(WHEREABOUTS)),
            "deprived_of_liberty": yes_no, "state_involvement": yes_no, "concealment": yes_no,
            "relatives_consent_wgeid": yes_no, "source_keeps_contact": yes_no,
            "current_status": d.select(["", "still_missing", "released"]),
            "current_status_on": d.date()}


def _perpetrator_strategies(w: World, d: Draw) -> dict[str, st.SearchStrategy[str]]:
    return {"unit": d.optional(["Men in plain clothes", ""]),
            "perpetrator_person_id": d.select(["", str(w.witness_id)]),
            "perpetrator_type": d.select(["unknown", "state_police"]),
            "degree": d.select(["unknown", "ordered"]),
            "attribution": d.select(["none", "denied"])}


def _family_step_strategies(w: World, d: Draw) -> dict[str, st.SearchStrategy[str]]:
    return {"step": d.select(["police_report_filed", "habeas_corpus"]),
            "taken_on": d.date(), "court_or_office": d.text(),
            "reference_number": d.text(), "outcome": d.text()}


def _link_strategies(w: World, d: Draw) -> dict[str, st.SearchStrategy[str]]:
    return {"material": d.select([f"t:{w.testimony_id}"]),
            "relation": d.select(["supports", "mentions", "contradicts"]),
            "note": d.text(), "checked": st.sampled_from(["", "y", "on", "false", "\x00"])}


def _source_strategies(w: World, d: Draw) -> dict[str, st.SearchStrategy[str]]:
    return {"person_id": d.select(["", str(w.witness_id)]),
            "organisation": d.optional(["HRCP Quetta office"]),
            "reliability": d.select(["A", "F"]), "pseudonym": d.text()}


def _testimony_strategies(w: World, d: Draw) -> dict[str, st.SearchStrategy[str]]:
    return {"source_id": d.select([str(w.source_id)]), "given": d.partial(),
            "language": d.select(["", "bal", "urd"]),
            "material": d.select(["witness_testimony", "affidavit"]),
            "connection": d.select(["", "witness"]), "credibility": d.select(["1", "6"]),
            "interview_place": d.text(), "transcript": d.text(), "notes": d.text()}


def _follow_up_strategies(w: World, d: Draw) -> dict[str, st.SearchStrategy[str]]:
    return {"action_type": d.select(["appeal", "complaint"]),
            "taken_on": d.date(), "by_whom": d.text(), "to_whom": d.text(),
            "response": d.text(), "status": d.select(["planned", "done"]),
            "next_step": d.text(), "next_step_on": st.just("") if d.clean else d.date()}


def _consent_strategies(w: World, d: Draw) -> dict[str, st.SearchStrategy[str]]:
    return {"purpose": d.select(["store", "courts"]),
            "legal_basis": d.select(["consent", "vital_interest"]),
            "given_on": d.date(), "recording_allowed": st.sampled_from(["", "y", "\x00"])}


def _new_act(app, w: World) -> World:
    """A fresh act per example, so linking the one testimony is never a duplicate."""
    from tests.factories import get_case

    case = get_case(w.case_id)
    user = db.session.get(User, case.owner_id)
    act = act_service.add_act(user, case, {"act_type": "torture", "victim_id": w.victim_id},
                              dates.parse("2024"))
    db.session.commit()
    return World(w.case_id, w.victim_id, w.witness_id, act.id, w.source_id, w.testimony_id)


SPECS = [
    Spec("case", lambda w: "/cases/new", Case, {"title": "title", "summary": "summary",
                                                "tags": "tags"}, _case_strategies,
         shown_on=lambda w, row: [f"/cases/{row.id}", "/cases/"],
         selects={"intake_channel": ("phone", "in_person", None)}),
    Spec("person", lambda w: f"/cases/{w.case_id}/people/new", Person,
         {n: n for n in ("full_name", "father_name", "tribe", "date_of_birth", "cnic", "phone",
                         "address", "occupation", "affiliation", "physical_description")},
         _person_strategies,
         selects={"sex": ("female", "male", "other", None),
                  "age_group": ("child", "adult", None),
                  "counting_unit": ("individual", "family")}),
    Spec("act", lambda w: f"/cases/{w.case_id}/acts/new", Act,
         {"place_as_reported": "place_as_reported", "description": "description"},
         _act_strategies,
         selects={"act_type": ("enforced_disappearance", "torture", "abduction"),
                  "district_code": ("PK211", None),
                  "location_type": ("home", "checkpoint", None),
                  "status_of_victim": ("still_missing", "unknown")}),
    Spec("disappearance", lambda w: f"/cases/{w.case_id}/acts/{w.act_id}/disappearance", None,
         {"last_seen_time": "last_seen_time", "place_last_seen": "place_last_seen",
          "circumstances": "circumstances", "taken_by": "taken_by"},
         _disappearance_strategies,
         shown_on=lambda w, row: [f"/cases/{w.case_id}",
                                  f"/cases/{w.case_id}/acts/{w.act_id}/disappearance"],
         selects={"whereabouts": WHEREABOUTS,
                  "current_status": ("still_missing", "released", None)},
         edit=lambda w: db.session.execute(select(DisappearanceDetails).where(
             DisappearanceDetails.act_id == w.act_id)).scalar_one(),
         versioned=True),
    Spec("perpetrator", lambda w: f"/cases/{w.case_id}/acts/{w.act_id}/perpetrators", Involvement,
         {"unit": "unit"}, _perpetrator_strategies,
         selects={"perpetrator_type": ("unknown", "state_police"),
                  "degree": tuple(INVOLVEMENT), "attribution": tuple(ATTRIBUTION)}),
    Spec("family_step", lambda w: f"/cases/{w.case_id}/acts/{w.act_id}/family-steps", FamilyStep,
         {"court_or_office": "court_or_office", "reference_number": "reference_number",
          "outcome": "outcome"}, _family_step_strategies,
         page=lambda w: f"/cases/{w.case_id}/acts/{w.act_id}/disappearance",
         shown_on=lambda w, row: [f"/cases/{w.case_id}/acts/{w.act_id}/disappearance",
                                  f"/cases/{w.case_id}"],
         selects={"step": tuple(FAMILY_STEP)}),
    Spec("link", lambda w: f"/cases/{w.case_id}/acts/{w.act_id}/links", AllegationLink,
         {"note": "note"}, _link_strategies,
         shown_on=lambda w, row: [f"/cases/{w.case_id}",
                                  f"/cases/{w.case_id}/testimonies/{w.testimony_id}"],
         selects={"relation": ("supports", "mentions", "contradicts")}, prepare=_new_act),
    Spec("source", lambda w: f"/cases/{w.case_id}/sources/new", Source,
         {"organisation": "organisation"}, _source_strategies,
         selects={"reliability": ("A", "F")}),
    Spec("testimony", lambda w: f"/cases/{w.case_id}/testimonies/new", TestimonyRow,
         {"interview_place": "interview_place", "transcript": "transcript", "notes": "notes"},
         _testimony_strategies,
         shown_on=lambda w, row: [f"/cases/{w.case_id}",
                                  f"/cases/{w.case_id}/testimonies/{row.id}"],
         selects={"language": ("bal", "urd", None), "material": ("witness_testimony", "affidavit"),
                  "connection": ("witness", None), "credibility": (1, 6)}),
    Spec("follow_up", lambda w: f"/cases/{w.case_id}/follow-ups/new", FollowUp,
         {"by_whom": "by_whom", "to_whom": "to_whom", "response": "response",
          "next_step": "next_step"}, _follow_up_strategies,
         selects={"action_type": ("appeal", "complaint"), "status": tuple(FOLLOW_UP_STATUS)}),
    Spec("consent", lambda w: f"/cases/{w.case_id}/people/{w.victim_id}/consent", ConsentRecord,
         {}, _consent_strategies,
         shown_on=lambda w, row: [f"/cases/{w.case_id}/people/{w.victim_id}/consent"],
         selects={"purpose": ("store", "courts"), "legal_basis": ("consent", "vital_interest")}),
]
SPEC_BY_NAME = {spec.name: spec for spec in SPECS}


# --- Helpers -------------------------------------------------------------------------------------

def table_counts() -> dict[str, int]:
    return {t.name: db.session.execute(select(func.count()).select_from(t)).scalar_one()
            for t in db.metadata.sorted_tables if t.name != "sessions"}


def counts(app) -> dict[str, int]:
    with app.app_context():
        return table_counts()


ERROR_MARKS = ("has-error", "flash-error", "error-summary")
_VERSION = re.compile(r'name="version" type="hidden" value="([^"]*)"|'
                      r'type="hidden" name="version" value="([^"]*)"|'
                      r'id="version" name="version" type="hidden" value="([^"]*)"')


def version_from(html: str) -> str:
    match = _VERSION.search(html)
    assert match, "the edit page carries no version"
    return next((g for g in match.groups() if g is not None), "")


def assert_escaped(html: str, where: str) -> None:
    """Nothing typed was executed or injected, wherever it is shown."""
    for raw in (SCRIPT, IMG, '"><script>'):
        assert raw not in html, f"{where}: {raw!r} appears unescaped"
    assert "Q49Q" not in html, f"{where}: {{{{7*7}}}} was evaluated"
    assert TEST_SECRET not in html, f"{where}: {{{{config}}}} was evaluated"


def assert_not_5xx(response, where: str) -> None:
    assert response.status_code < 500, (
        f"{where}: {response.status_code}\n{response.get_data(as_text=True)[:600]}")


def expected_text(value: str) -> str | None:
    """What the services store for a typed value: surrounding whitespace stripped, '' -> NULL."""
    return value.strip() or None


def make_world(app, caseworker) -> World:
    case_id = make_case(app, caseworker)
    with app.app_context():
        people = list(db.session.execute(select(Person).where(Person.case_id == case_id)
                                         .order_by(Person.created_at)).scalars())
        victim = next(p for p in people if p.full_name == "Bashir Ahmed")
        witness = next(p for p in people if p is not victim)
        act = db.session.execute(select(Act).where(Act.case_id == case_id)).scalar_one()
        source = db.session.execute(select(Source).where(Source.case_id == case_id)).scalar_one()
        testimony = db.session.execute(select(TestimonyRow).where(TestimonyRow.case_id == case_id)
                                       ).scalar_one()
        return World(case_id, victim.id, witness.id, act.id, source.id, testimony.id)


def snapshot(row: Any, attrs: list[str]) -> dict[str, Any]:
    return {a: getattr(row, a) for a in attrs}


HYPOTHESIS = settings(max_examples=EXAMPLES, deadline=None, database=None,
                      suppress_health_check=[HealthCheck.function_scoped_fixture,
                                             HealthCheck.too_slow, HealthCheck.data_too_large,
                                             HealthCheck.filter_too_much])


# --- The property --------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(SPEC_BY_NAME))
@HYPOTHESIS
@given(data=st.data())
def test_a_case_form_under_hostile_input_refuses_cleanly_or_stores_exactly(
        name, data, app, caseworker, caseworker_client):
    spec = SPEC_BY_NAME[name]
    client = caseworker_client
    if not hasattr(app, "_hostile_world"):
        app._hostile_world = make_world(app, caseworker)  # once per test, not per example
    world: World = app._hostile_world
    if spec.prepare is not None:
        with app.app_context():
            world = spec.prepare(app, world)
    clean = data.draw(st.booleans(), label="clean")
    values = data.draw(st.fixed_dictionaries(spec.strategies(world, Draw(clean))), label="form")
    page = client.get((spec.page or spec.url)(world))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    form = {**values, "csrf_token": csrf_from(html)}
    attrs = list(spec.texts.values()) + list(spec.selects)
    with app.app_context():
        before_rows = counts(app)
        before_ids = (set(db.session.execute(select(spec.model.id)).scalars())
                      if spec.model is not None else set())
        before_edit = snapshot(spec.edit(world), attrs) if spec.edit else None
        before_version = spec.edit(world).version if spec.edit else None
    if spec.versioned:
        form["version"] = version_from(html)

    response = client.post(spec.url(world), data=form)
    body = response.get_data(as_text=True)
    assert_not_5xx(response, f"POST {name}")
    assert_escaped(body, f"POST {name} answer")
    after_rows = counts(app)

    if response.status_code in (400, 413) or (
            response.status_code == 200 and any(mark in body for mark in ERROR_MARKS)):
        event(f"refused ({response.status_code})")
        assert after_rows == before_rows, f"{name}: refused, yet rows changed: " + str(
            {k: (before_rows[k], after_rows[k]) for k in after_rows
             if after_rows[k] != before_rows.get(k)})
        if spec.edit:
            with app.app_context():
                row = spec.edit(world)
                assert snapshot(row, attrs) == before_edit and row.version == before_version
        return

    event("accepted")
    assert response.status_code == 302, (
        f"{name}: answered {response.status_code} without an error message or a redirect:\n"
        f"{body[:800]}")
    with app.app_context():
        if spec.model is not None:
            new_ids = set(db.session.execute(select(spec.model.id)).scalars()) - before_ids
            assert len(new_ids) == 1, f"{name}: one submission made {len(new_ids)} rows"
            row = db.session.get(spec.model, new_ids.pop())
            changed = True
        else:
            row = spec.edit(world)
            changed = row.version != before_version
        if changed:  # an edit that changes nothing is rightly not audited
            assert after_rows["audit_entries"] > before_rows["audit_entries"], (
                f"{name}: accepted but not audited")
        for form_field, attr in spec.texts.items():
            stored = getattr(row, attr)
            if name == "source" and attr == "pseudonym":
                continue
            assert stored == expected_text(values[form_field]), (
                f"{name}.{attr}: typed {values[form_field][:80]!r}, stored {str(stored)[:80]!r}")
        for attr, allowed in spec.selects.items():
            assert getattr(row, attr) in allowed, (
                f"{name}.{attr}: stored unknown code {getattr(row, attr)!r}")
        if name == "person":
            wanted: list[str] = []
            for line in values["other_names"].splitlines():
                if line.strip() and line.strip() not in wanted:
                    wanted.append(line.strip())
            assert [n.name for n in row.other_names] == wanted
        if name == "source" and values["pseudonym"].strip():
            assert row.pseudonym == values["pseudonym"].strip()
        pages = spec.shown_on(world, row)
    for url in pages:
        shown = client.get(url)
        assert shown.status_code == 200, f"{url}: {shown.status_code}"
        assert_escaped(shown.get_data(as_text=True), url)


# --- Notes and the person search (their views answer differently) -------------------------------

@HYPOTHESIS
@given(text=text_values)
def test_a_case_note_under_hostile_input(text, app, caseworker, caseworker_client):
    client = caseworker_client
    if not hasattr(app, "_hostile_world"):
        app._hostile_world = make_world(app, caseworker)
    world: World = app._hostile_world
    view = f"/cases/{world.case_id}"
    token = csrf_from(client.get(view).get_data(as_text=True))
    with app.app_context():
        before = table_counts()
        before_ids = set(db.session.execute(select(CaseNote.id)).scalars())
    response = client.post(f"{view}/notes", data={"comment": text, "csrf_token": token},
                           follow_redirects=True)
    assert_not_5xx(response, "POST note")
    body = response.get_data(as_text=True)
    assert_escaped(body, "case page after a note")
    with app.app_context():
        new = set(db.session.execute(select(CaseNote.id)).scalars()) - before_ids
        if response.status_code in (400, 413) or "flash-error" in body:  # 400: a NUL character
            assert table_counts() == before and not new
            return
        assert response.status_code == 200 and "flash-success" in body, body[:600]
        assert len(new) == 1
        assert db.session.get(CaseNote, new.pop()).text == text.strip()
        if "{{7*7}}" in text and not set("<>&\"'") & set(text):
            assert "{{7*7}}" in body  # shown literally


@HYPOTHESIS
@given(values=st.fixed_dictionaries({
    "full_name": st.one_of(st.sampled_from(["Bashir Ahmed", "basheer ahmad", "BASHIR  AHMED"]),
                           text_values),
    "father_name": text_values,
    "cnic": st.one_of(st.sampled_from(["", "52203-1234567-1"]), text_values),
    "phone": text_values}))
def test_find_person_under_hostile_input(values, app, caseworker, caseworker_client):
    client = caseworker_client
    if not hasattr(app, "_hostile_world"):
        app._hostile_world = make_world(app, caseworker)
    token = csrf_from(client.get("/cases/find-person").get_data(as_text=True))
    with app.app_context():
        before = table_counts()
    response = client.post("/cases/find-person", data={**values, "csrf_token": token})
    assert_not_5xx(response, "POST find-person")
    body = response.get_data(as_text=True)
    assert_escaped(body, "find-person answer")
    with app.app_context():
        after = table_counts()
    changed = {k for k in after if after[k] != before[k]}
    if response.status_code in (400, 413) or any(mark in body for mark in ERROR_MARKS):
        assert not changed, changed  # refused (400: a NUL character, as every form refuses)
    else:
        # A search writes exactly one audit entry (field names and a count, never the values).
        assert response.status_code == 200
        assert changed == {"audit_entries"} and after["audit_entries"] == before["audit_entries"] + 1
        with app.app_context():
            details = db.session.execute(select(AuditEntry.details).order_by(
                AuditEntry.seq.desc()).limit(1)).scalar_one()
        for value in values.values():
            if len(value.strip()) > 3:
                assert value.strip() not in details


# --- Deterministic cases the properties found or must always cover ------------------------------

def _post(client, url: str, data: dict, page: str | None = None):
    token = csrf_from(client.get(page or url).get_data(as_text=True))
    return client.post(url, data={**data, "csrf_token": token})


def test_a_long_urdu_transcript_within_the_form_limit_is_accepted(app, caseworker,
                                                                  caseworker_client):
    """The testimony form allows 500,000 characters; a 100,000-character Urdu transcript (a
    long interview) is well within it and must be stored, not refused by the body parser."""
    world = make_world(app, caseworker)
    transcript = ("میرے بیٹے کو رات کو گھر سے اٹھا لیا گیا۔ " * 3000)[:100_000]
    before = counts(app)
    response = _post(caseworker_client, f"/cases/{world.case_id}/testimonies/new", {
        "source_id": str(world.source_id), "given": "2025-03-14", "language": "urd",
        "material": "witness_testimony", "connection": "witness", "credibility": "2",
        "interview_place": "", "transcript": transcript, "notes": ""})
    assert response.status_code == 302, (
        f"{response.status_code}: a {len(transcript):,}-character transcript "
        f"({len(transcript.encode()):,} bytes of UTF-8) was refused")
    with app.app_context():
        assert counts(app)["testimonies"] == before["testimonies"] + 1
        stored = db.session.execute(select(TestimonyRow).order_by(TestimonyRow.created_at.desc())
                                    .limit(1)).scalar_one()
        assert stored.transcript == transcript.strip()


CLEARTEXT_FIELDS = [
    # (form, field, extra valid fields) -- values kept in clear columns, not encrypted ones
    ("case", "tags", {"title": "A title"}),
    ("person", "occupation", {"counting_unit": "individual"}),
    ("person", "affiliation", {"counting_unit": "individual"}),
    ("perpetrator", "unit", {"perpetrator_type": "unknown", "degree": "unknown",
                             "attribution": "none"}),
    ("family_step", "court_or_office", {"step": "habeas_corpus"}),
    ("family_step", "reference_number", {"step": "habeas_corpus"}),
    ("source", "pseudonym", {"organisation": "HRCP", "reliability": "B"}),
    ("follow_up", "by_whom", {"action_type": "appeal", "status": "planned"}),
    ("follow_up", "to_whom", {"action_type": "appeal", "status": "planned"}),
    ("act", "start", {"act_type": "torture", "status_of_victim": "unknown"}),
    ("disappearance", "last_seen_time", {"whereabouts": "unknown"}),
]


@pytest.mark.parametrize("form_name,field_name,extra", CLEARTEXT_FIELDS,
                         ids=[f"{f}.{n}" for f, n, _ in CLEARTEXT_FIELDS])
def test_nul_and_control_characters_in_clear_text_columns(form_name, field_name, extra, app,
                                                          caseworker, caseworker_client):
    """NUL is legal in a form value and in SQLite TEXT, but PostgreSQL text columns refuse it:
    the answer must be a clear refusal or an exact store, never a 500."""
    world = make_world(app, caseworker)
    spec = SPEC_BY_NAME[form_name]
    value = "around \x00 2020" if field_name == "start" else (
        "1\x002" if field_name == "last_seen_time" else "ab\x00c\x01d\x1b")
    data = {**extra, field_name: value}
    if spec.versioned:
        data["version"] = version_from(caseworker_client.get(spec.url(world)).get_data(
            as_text=True))
    before = counts(app)
    response = _post(caseworker_client, spec.url(world), data,
                     page=spec.page(world) if spec.page else None)
    assert response.status_code < 500, (
        f"{form_name}.{field_name} with a NUL character: {response.status_code} "
        f"(database {'PostgreSQL' if ON_POSTGRES else 'SQLite'})")
    if response.status_code != 302:
        assert counts(app) == before
