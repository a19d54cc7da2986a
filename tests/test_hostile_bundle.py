"""Hostile bundles: every refusal is a clear message with a JSON path, the database is left
exactly as it was, and nothing ever ends in a traceback (library API, `amanat import` in-process
and as a real subprocess).

Covered: nesting 10,000 levels deep (as text and as an already-parsed value), huge strings and
numbers, wrong types anywhere (hypothesis mutates every path of a complete bundle), duplicate
ids and keys, dangling references, unknown codes, invalid dates, NUL characters, and valid
bundles whose last record is broken (refused by validation, or by a service while writing).
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.bundle.importer import import_bundle
from app.bundle.validate import BundleInvalid, parse
from app.extensions import db
from tests.factories import actor

ROOT = Path(__file__).resolve().parent.parent


def full_case(n: int = 1) -> dict[str, Any]:
    """One case using every section of the format, valid for a caseworker."""
    return {
        "id": f"c{n}", "title": f"Abduction of a student in Turbat #{n}", "status": "open",
        "summary": "Taken from the main bazaar.", "date_received": "2025-03-12",
        "intake_channel": "phone", "tags": ["student", "Turbat"],
        "people": [
            {"id": "p1", "full_name": "Bashir Ahmed", "father_name": "Ghulam Nabi",
             "other_names": ["Basheer Ahmad"], "sex": "male", "age": 22,
             "cnic": "52203-1234567-1", "occupation": "student"},
            {"id": "p2", "full_name": "Fictional Witness", "sex": "female"}],
        "acts": [{
            "id": "a1", "type": "enforced_disappearance", "victim": "p1",
            "start": {"date": "2025-03-11", "precision": "day"}, "district": "PK211",
            "place_as_reported": "Main bazaar, Turbat", "status_of_victim": "still_missing",
            "disappearance": {"whereabouts": "capture_denied", "last_seen_time": "21:30",
                              "last_seen": {"date": "2025-03-11", "precision": "day"},
                              "family_steps": [{"step": "police_report_filed",
                                                "taken_on": "2025-03-13",
                                                "court_or_office": "City police station",
                                                "reference_number": "FIR 12/2025"}]},
            "perpetrators": [{"unit": "Unidentified men in plain clothes", "type": "unknown",
                              "involvement": "directly_carried_out"}]}],
        "sources": [{"id": "s1", "person": "p2", "reliability": "B", "pseudonym": "W-17"}],
        "testimonies": [{"id": "t1", "source": "s1", "date": "2025-03-14", "language": "bal",
                         "material": "witness_testimony", "connection": "witness",
                         "credibility": 2, "transcript": "I saw them take him."}],
        "links": [{"act": "a1", "testimony": "t1", "relation": "supports"}],
        "consents": [{"person": "p2", "purpose": "store", "given_on": "2025-03-14"}],
        "follow_ups": [{"id": "f1", "type": "appeal", "taken_on": "2025-03-20",
                        "to_whom": "High Court of Balochistan", "status": "awaiting_response"}],
        "notes": [{"text": "Family asked us to call only in the evening."}],
    }


def bundle(*cases: dict[str, Any]) -> dict[str, Any]:
    return {"format": "amanat-bundle", "version": 1, "cases": list(cases)}


def table_counts() -> dict[str, int]:
    return {t.name: db.session.execute(select(func.count()).select_from(t)).scalar_one()
            for t in db.metadata.sorted_tables if t.name != "sessions"}


def refused(app, who, value: Any, *, raw: bool = False) -> list[str]:
    """Parse (when raw) and import; expect BundleInvalid, nothing written; return the issues."""
    with app.app_context():
        before = table_counts()
        user = actor(who)
        with pytest.raises(BundleInvalid) as caught:
            import_bundle(user, parse(value) if raw else value)
        db.session.rollback()
        assert table_counts() == before, "a refused bundle changed the database"
    issues = caught.value.issues
    assert issues, "refused without saying why"
    for issue in issues:
        assert issue.path.startswith("$") and issue.message.strip(), issue
        assert "Traceback" not in issue.message
    return [str(i) for i in issues]


def test_the_complete_bundle_used_below_imports(app, caseworker):
    with app.app_context():
        summary = import_bundle(actor(caseworker), bundle(full_case()))
    assert summary.as_dict() == {"cases": 1, "people": 2, "acts": 1, "sources": 1,
                                 "testimonies": 1, "links": 1, "follow_ups": 1, "consents": 1,
                                 "notes": 1}


# --- Nesting, size -------------------------------------------------------------------------------

@pytest.mark.parametrize("opener,closer", [("[", "]"), ('{"a":', "}")], ids=["arrays", "objects"])
def test_json_nested_10000_levels_is_refused_at_the_root(app, caseworker, opener, closer):
    text = opener * 10_000 + "1" + closer * 10_000
    issues = refused(app, caseworker, text, raw=True)
    assert issues == ["$: The JSON is nested too deeply (more than 32 levels); this is not a "
                      "bundle."]


def test_deep_nesting_inside_a_valid_bundle_is_refused(app, caseworker):
    inner = "[" * 10_000 + "]" * 10_000
    text = json.dumps(bundle(full_case())).replace('"summary": "Taken from the main bazaar."',
                                                    f'"summary": {inner}')
    issues = refused(app, caseworker, text, raw=True)
    assert issues[0].startswith("$: The JSON is nested too deeply")


def test_an_already_parsed_deep_value_is_refused_not_a_recursion_error(app, caseworker):
    """import_bundle is public API (the web page and the demo call it): a deep Python value
    that never went through parse() must be refused, not crash the validator."""
    deep: Any = "x"
    for _ in range(10_000):
        deep = [deep]
    case = full_case()
    case["summary"] = deep
    case["tags"] = deep
    issues = refused(app, caseworker, bundle(case))
    assert any(i.startswith("$.cases[0].summary") for i in issues), issues


def test_huge_strings_are_refused_with_their_path(app, caseworker):
    case = full_case()
    case["title"] = "T" * 5_000_000
    case["people"][0]["full_name"] = "ب" * 100_000
    case["testimonies"][0]["transcript"] = "x" * 500_001
    issues = refused(app, caseworker, json.dumps(bundle(case)), raw=True)
    assert "$.cases[0].title: too long (300 characters at most)" in issues
    assert "$.cases[0].people[0].full_name: too long (2000 characters at most)" in issues
    assert "$.cases[0].testimonies[0].transcript: too long (500000 characters at most)" in issues


def test_a_file_over_the_size_limit_is_refused_before_parsing(app, caseworker):
    text = json.dumps(bundle(full_case())) + " " * (21 * 1024 * 1024)
    issues = refused(app, caseworker, text, raw=True)
    assert len(issues) == 1 and issues[0].startswith("$: The file is") and "limited" in issues[0]


@pytest.mark.parametrize("number", ["1e400", "-1e400", "1" * 5000, "NaN",
                                    "Infinity", "-Infinity"])
def test_huge_and_special_numbers_are_refused_clearly(app, caseworker, number):
    text = json.dumps(bundle(full_case())).replace('"age": 22', f'"age": {number}')
    issues = refused(app, caseworker, text, raw=True)
    joined = "\n".join(issues)
    # The message must be about this number: an int of 5,000 digits is not "NaN or Infinity".
    if number.isdigit():
        assert "NaN" not in joined, joined
    assert issues


@pytest.mark.parametrize("raw", [b"", b"\xff\xfe{}", b"\x00\x00\x00", b"{", b"[]", b"null",
                                 b'"a string"', b"{\"format\": \"amanat-bundle\"}",
                                 b"{\"cases\": [], \"format\": \"amanat-bundle\", \"version\": 1, "
                                 b"\"version\": 2}"])
def test_not_a_bundle_at_all(app, caseworker, raw):
    refused(app, caseworker, raw, raw=True)


# --- Duplicates, references, codes, dates --------------------------------------------------------

def test_duplicate_ids_are_refused_with_both_places(app, caseworker):
    one, two = full_case(1), full_case(1)
    two["people"].append(copy.deepcopy(two["people"][0]))
    two["acts"].append({**copy.deepcopy(two["acts"][0]), "id": "p1"})
    issues = refused(app, caseworker, bundle(one, two))
    assert '$.cases[1].id: duplicate case id "c1" (also $.cases[0])' in issues
    assert any(i.startswith("$.cases[1].people[2].id: duplicate id \"p1\"") for i in issues)
    assert any(i.startswith("$.cases[1].acts[1].id: duplicate id \"p1\"") for i in issues)


def test_dangling_references_are_each_named(app, caseworker):
    case = full_case()
    case["acts"][0]["victim"] = "p9"
    case["acts"][0]["perpetrators"][0]["person"] = "p8"
    case["sources"][0]["person"] = "nobody"
    case["testimonies"][0]["source"] = "s9"
    case["links"][0]["act"] = "a9"
    case["consents"][0]["person"] = "p7"
    issues = refused(app, caseworker, bundle(case))
    for expected in ('$.cases[0].acts[0].victim: no person "p9" in this case',
                     '$.cases[0].acts[0].perpetrators[0].person: no person "p8" in this case',
                     '$.cases[0].sources[0].person: no person "nobody" in this case',
                     '$.cases[0].testimonies[0].source: no source "s9" in this case',
                     '$.cases[0].links[0].act: no act "a9" in this case',
                     '$.cases[0].consents[0].person: no person "p7" in this case'):
        assert expected in issues, issues


def test_unknown_codes_are_refused(app, caseworker):
    case = full_case()
    case["acts"][0]["type"] = "teleportation"
    case["acts"][0]["district"] = "XX999"
    case["testimonies"][0]["material"] = "rumour"
    case["status"] = "lost"
    case["people"][0]["sex"] = "unknown_code"
    case["follow_ups"][0]["type"] = "prayer"
    issues = refused(app, caseworker, bundle(case))
    paths = {i.split(":")[0] for i in issues}
    assert {"$.cases[0].acts[0].type", "$.cases[0].acts[0].district",
            "$.cases[0].testimonies[0].material", "$.cases[0].status",
            "$.cases[0].people[0].sex", "$.cases[0].follow_ups[0].type"} <= paths, issues


@pytest.mark.parametrize("where,value", [
    (("date_received",), "2025-02-30"), (("date_received",), "2025-03-11\n"),
    (("date_received",), "9999-12-31"), (("date_received",), "٢٠٢٥-٠٣-١١"),
    (("acts", 0, "start"), {"date": "2025-13", "precision": "month"}),
    (("acts", 0, "start"), {"date": "2025-03", "precision": "day"}),
    (("acts", 0, "start"), {"date": "1850", "precision": "year"}),
    (("acts", 0, "start"), {"date": "2025\n", "precision": "year"}),
    (("acts", 0, "start"), {"precision": "day"}),
    (("testimonies", 0, "date"), "2025-02-29"),
    (("consents", 0, "given_on"), "yesterday"),
    (("follow_ups", 0, "taken_on"), "2025-3-1"),
    (("acts", 0, "disappearance", "last_seen_time"), "24:00"),
])
def test_invalid_dates_are_refused_with_their_path(app, caseworker, where, value):
    case = full_case()
    target = case
    for part in where[:-1]:
        target = target[part]
    target[where[-1]] = value
    issues = refused(app, caseworker, bundle(case))
    wanted = "$.cases[0]" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in where)
    assert any(i.startswith(wanted) for i in issues), issues


# --- All or nothing ------------------------------------------------------------------------------

def test_a_valid_bundle_with_one_broken_record_at_the_end_writes_nothing(app, caseworker):
    cases = [full_case(n) for n in range(1, 21)]
    cases[-1]["notes"].append({"text": "fine"})
    cases[-1]["follow_ups"].append({"id": "f2", "type": "appeal", "next_step_on": "2025-04-01"})
    issues = refused(app, caseworker, bundle(*cases))
    assert issues == ["$.cases[19].follow_ups[1].next_step: say what the next step is"]


@pytest.mark.parametrize("field_path,value", [
    # Values that validation lets through, which a service or the database then refuses while
    # the earlier cases are already flushed: the whole import must still roll back.
    (("people", 0, "full_name"), "x" * 2000 + "\u0301"),
    (("sources", 0, "pseudonym"), "W-\x0017"),
    (("tags",), ["student\x00"]),
    (("acts", 0, "perpetrators", 0, "unit"), "men\x00in plain clothes"),
    (("follow_ups", 0, "to_whom"), "High Court\x00"),
    (("acts", 0, "disappearance", "family_steps", 0, "reference_number"), "FIR\x0012"),
    (("people", 0, "occupation"), "student\x00"),
    (("acts", 0, "start"), {"date": "2025-03-11", "precision": "day", "as_given": "11.3.\x00"}),
])
def test_a_broken_last_record_found_while_writing_rolls_everything_back(app, caseworker,
                                                                         field_path, value):
    cases = [full_case(n) for n in range(1, 6)]
    target: Any = cases[-1]
    for part in field_path[:-1]:
        target = target[part]
    target[field_path[-1]] = value
    with app.app_context():
        before = table_counts()
        try:
            summary = import_bundle(actor(caseworker), bundle(*cases))
        except BundleInvalid as error:
            db.session.rollback()
            assert table_counts() == before
            assert all(str(i).startswith("$.cases[4]") for i in error.issues), error.issues
            return
        except Exception as error:  # noqa: BLE001 - any other exception is the failure
            db.session.rollback()
            assert table_counts() == before, "a crashed import left rows behind"
            pytest.fail(f"import crashed with {type(error).__name__} instead of a clear refusal "
                        f"naming $.cases[4]...: {str(error)[:300]}")
        assert summary.as_dict()["cases"] == 5
        assert table_counts()["cases"] == before["cases"] + 5


# --- Wrong types anywhere (hypothesis) -----------------------------------------------------------

def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, prefix + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, prefix + (index,))
    return found


TEMPLATE = bundle(full_case())
PATHS = _paths(TEMPLATE)
json_leaves = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70),
                        st.floats(allow_nan=False, allow_infinity=False),
                        st.text(st.characters(exclude_categories=("Cs",)), max_size=30),
                        st.sampled_from(["", "\x00", "\u202e", "p1", "a1", "c1", "2025-02-30",
                                         "x" * 3000]))
json_values = st.recursive(json_leaves, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=8)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def _json_path(path: tuple) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


# No shrinking: the exhaustive test below names every crash; this one explores further.
@settings(max_examples=60, deadline=None, database=None,
          phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(path=st.sampled_from(PATHS), replacement=json_values)
def test_a_wrong_type_anywhere_is_refused_with_its_path_or_imported_whole(
        app, caseworker, path, replacement):
    mutated = copy.deepcopy(TEMPLATE)
    target: Any = mutated
    for part in path[:-1]:
        target = target[part]
    original = target[path[-1]]
    target[path[-1]] = replacement
    retyped = _kind(original) != _kind(replacement) and not (
        original is None or replacement is None)
    with app.app_context():
        before = table_counts()
        try:
            summary = import_bundle(actor(caseworker), mutated)
        except BundleInvalid as error:
            db.session.rollback()
            assert table_counts() == before, "a refused bundle changed the database"
            issues = error.issues
            assert issues and all(i.path.startswith("$") and i.message for i in issues)
            if retyped:
                where = _json_path(path)
                assert any(where.startswith(i.path) or i.path.startswith(where)
                           for i in issues), (where, [str(i) for i in issues])
            return
        except Exception as error:  # noqa: BLE001
            db.session.rollback()
            assert table_counts() == before, "a crashed import left rows behind"
            raise AssertionError(f"{_json_path(path)} = {replacement!r:.80}: "
                                 f"{type(error).__name__}: {error}") from error
        after = table_counts()
        assert after["cases"] == before["cases"] + 1
        assert after["people"] - before["people"] == summary.as_dict()["people"]
        assert after["acts"] - before["acts"] == summary.as_dict()["acts"]


WRONG_TYPES = [[], {}, 5, True, None, "x", 1.5]


def test_every_path_with_every_wrong_type_is_refused_not_crashed(app, caseworker):
    """Exhaustive companion of the property above: each of the ~90 paths of a complete bundle
    set to each JSON type in turn. Validation alone must never raise anything but a list of
    issues; all crashes are collected, so the report names them all at once."""
    crashes: dict[str, list[str]] = {}
    with app.app_context():
        user = actor(caseworker)
        before = table_counts()
        for path in PATHS:
            for replacement in WRONG_TYPES:
                mutated = copy.deepcopy(TEMPLATE)
                target: Any = mutated
                for part in path[:-1]:
                    target = target[part]
                target[path[-1]] = replacement
                try:
                    import_bundle(user, mutated, dry_run=True)
                except BundleInvalid:
                    pass
                except Exception as error:  # noqa: BLE001
                    db.session.rollback()
                    crashes.setdefault(f"{type(error).__name__}: {str(error)[:60]}", []).append(
                        f"{_json_path(path)} = {json.dumps(replacement)}")
        assert table_counts() == before
    assert not crashes, "validation crashed instead of refusing:\n" + "\n".join(
        f"  {kind} <- {', '.join(where[:4])}{' ...' if len(where) > 4 else ''}"
        for kind, where in crashes.items())


# --- The command line ----------------------------------------------------------------------------

HOSTILE_FILES = {
    "deep.json": "[" * 10_000 + "]" * 10_000,
    "dangling.json": json.dumps(bundle({**full_case(), "links": [
        {"act": "a9", "testimony": "t1", "relation": "supports"}]})),
    "types.json": json.dumps(bundle({**full_case(), "people": {"p1": "x"}, "title": 7})),
    "act-id-is-a-list.json": json.dumps(bundle({**full_case(), "acts": [
        {**full_case()["acts"][0], "id": []}]})),
    "date-is-a-number.json": json.dumps(bundle({**full_case(), "acts": [
        {**full_case()["acts"][0], "start": {"date": 2025, "precision": "year"}}]})),
    "binary.json": "\udcff",  # written with surrogateescape: a lone 0xff byte
    "empty.json": "",
}


@pytest.mark.parametrize("name", list(HOSTILE_FILES))
def test_amanat_import_refuses_hostile_files_without_a_traceback(app, runner, caseworker,
                                                                 tmp_path, name):
    path = tmp_path / name
    path.write_text(HOSTILE_FILES[name], encoding="utf-8", errors="surrogateescape")
    with app.app_context():
        before = table_counts()
    result = runner.invoke(args=["import", str(path), "--as", caseworker.email])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    assert "Refused:" in result.output and "nothing was imported" in result.output
    assert "$" in result.output  # every problem carries its JSON path
    with app.app_context():
        assert table_counts() == before


def test_the_real_amanat_import_process_refuses_deep_json_cleanly(app, caseworker, tmp_path):
    """The same through the installed console script, in its own process (its own stack)."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("the subprocess reads the SQLite copy; PostgreSQL runs cover the API")
    path = tmp_path / "deep.json"
    path.write_text("{\"a\":" * 10_000 + "1" + "}" * 10_000, encoding="utf-8")
    master = Path(app.instance_path) / "master.key"
    env = {**os.environ, "AMANAT_SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
           "AMANAT_SECRET_KEY": app.config["SECRET_KEY"],
           "AMANAT_MASTER_KEY_PROVIDER": f"file:{master}",
           "AMANAT_EVIDENCE_DIR": str(tmp_path / "evidence"),
           "AMANAT_AUDIT_SIGNING_KEY_FILE": str(tmp_path / "audit.key"),
           "AMANAT_LOG_LEVEL": "WARNING"}
    done = subprocess.run([str(ROOT / ".venv" / "bin" / "amanat"), "import", str(path), "--as",
                           caseworker.email], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert "$: The JSON is nested too deeply" in done.stderr
