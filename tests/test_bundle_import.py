"""Importing bundles: the DOMAIN.md example, all-or-nothing, every error with its JSON path."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.bundle.importer import import_bundle
from app.bundle.validate import BundleInvalid, parse
from app.extensions import db
from app.models import AuditEntry, Case, Person
from app.services import people
from tests.factories import actor

DOMAIN = Path("/work/shared/DOMAIN.md")


def domain_example() -> dict:
    """The minimal bundle printed in DOMAIN.md, exactly as written there."""
    text = DOMAIN.read_text(encoding="utf-8") if DOMAIN.exists() else EXAMPLE
    return json.loads(re.search(r"```json\n(.*?)```", text, re.S).group(1))


# A copy of DOMAIN.md's example, used when the shared file is not mounted.
EXAMPLE = '''```json
{"format": "amanat-bundle", "version": 1,
 "cases": [{"id": "c1", "title": "Abduction of a student in Turbat", "status": "open",
   "people": [{"id": "p1", "full_name": "Bashir Ahmed", "father_name": "Ghulam Nabi",
               "other_names": ["Basheer Ahmad"], "sex": "male", "cnic": "52203-1234567-1"},
              {"id": "p2", "full_name": "Fictional Witness", "sex": "female"}],
   "acts": [{"id": "a1", "type": "enforced_disappearance", "victim": "p1",
             "start": {"date": "2025-03-11", "precision": "day"}, "district": "PK211",
             "place_as_reported": "Main bazaar, Turbat", "status_of_victim": "still_missing",
             "disappearance": {"whereabouts": "capture_denied", "urgent": false},
             "perpetrators": [{"unit": "Unidentified men in plain clothes",
                               "type": "unknown", "involvement": "directly_carried_out"}]}],
   "sources": [{"id": "s1", "person": "p2", "reliability": "B", "pseudonym": "W-17"}],
   "testimonies": [{"id": "t1", "source": "s1", "date": "2025-03-14", "language": "bal",
                    "material": "witness_testimony", "connection": "witness",
                    "credibility": 2, "transcript": "..."}],
   "links": [{"act": "a1", "testimony": "t1", "relation": "supports"}]}]}
```'''


def table_counts() -> dict[str, int]:
    return {t.name: db.session.execute(select(func.count()).select_from(t)).scalar_one()
            for t in db.metadata.sorted_tables}


def test_domain_example_imports_as_is(app, caseworker):
    with app.app_context():
        user = actor(caseworker)
        summary = import_bundle(user, domain_example())
        assert summary.as_dict() == {"cases": 1, "people": 2, "acts": 1, "sources": 1,
                                     "testimonies": 1, "links": 1, "follow_ups": 0,
                                     "consents": 0, "notes": 0}
        case = db.session.get(Case, summary.cases[0][2])
        assert case.status == "open" and case.title == "Abduction of a student in Turbat"
        found = people.find_people(user, {"full_name": "Basheer Ahmad"})
        assert [p.father_name for p in found] == ["Ghulam Nabi"]
        entry = db.session.execute(select(AuditEntry).where(
            AuditEntry.action == "bundle.import")).scalar_one()
        assert json.loads(entry.details)["counts"]["people"] == 2
        assert "Bashir" not in entry.details


def _case(n: int, **extra) -> dict:
    case = copy.deepcopy(domain_example()["cases"][0])
    case["id"] = f"c{n}"
    case.update(extra)
    return case


def _bundle(*cases: dict) -> dict:
    return {"format": "amanat-bundle", "version": 1, "cases": list(cases)}


def _refused(app, user_fixture, bundle) -> list[str]:
    """Import, expect a refusal, check nothing at all changed; return the issues as text."""
    with app.app_context():
        before = table_counts()
        with pytest.raises(BundleInvalid) as caught:
            import_bundle(actor(user_fixture), bundle)
        db.session.rollback()
        assert table_counts() == before
        return [str(i) for i in caught.value.issues]


def test_a_broken_record_at_the_end_writes_nothing(app, caseworker):
    broken = _case(4)
    broken["acts"][0]["victim"] = "p9"
    issues = _refused(app, caseworker, _bundle(_case(1), _case(2), _case(3), broken))
    assert issues == ['$.cases[3].acts[0].victim: no person "p9" in this case']


def test_a_refusal_while_writing_rolls_back_every_case(app, caseworker, monkeypatch):
    from app.services import ServiceError, cases

    real = cases.note_text  # the notes rule, which add_note and the bulk importer both apply

    def refuse_boom(text):
        if text == "boom":
            raise ServiceError("refused for the test")
        return real(text)

    monkeypatch.setattr(cases, "note_text", refuse_boom)
    last = _case(3, notes=[{"text": "fine"}, {"text": "boom"}])
    issues = _refused(app, caseworker, _bundle(_case(1), _case(2), last))
    assert issues == ["$.cases[2].notes[1]: refused for the test"]


def test_every_error_is_reported_at_once_with_its_path(app, caseworker):
    first = _case(1)
    first["people"][0]["cnic"] = "12345"
    first["people"][1]["nmae"] = "typo"
    first["acts"][0]["type"] = "kidnapping"
    first["acts"][0]["district"] = "PK999"
    first["acts"][0]["start"] = {"date": "2025-03", "precision": "day"}
    first["testimonies"][0]["source"] = "s7"
    second = _case(2, status="closed")
    second["links"][0]["relation"] = "proves"
    second["acts"][0]["allegation_status"] = "corroborated"
    issues = _refused(app, caseworker, _bundle(first, second))
    assert set(issues) == {
        "$.cases[0].people[0].cnic: a CNIC has 13 digits, e.g. 52203-1234567-1",
        "$.cases[0].people[1].nmae: unknown field (not part of bundle version 1)",
        "$.cases[0].acts[0].type: kidnapping is not a current term of act type",
        "$.cases[0].acts[0].district: unknown district code PK999",
        "$.cases[0].acts[0].start: the date does not fit its precision: "
        "'2025-03' does not match precision 'day'.",
        '$.cases[0].testimonies[0].source: no source "s7" in this case',
        "$.cases[1].status: only a supervisor can import a case that is closed",
        '$.cases[1].links[0].relation: "proves" is not one of: supports, contradicts, mentions',
        "$.cases[1].acts[0].allegation_status: corroborated needs at least one supporting "
        "link; this act has none",
    }


@pytest.mark.parametrize("raw, message", [
    (b'{"format": "amanat-bundle", "version": 1, "cases": [', "This is not valid JSON"),
    (b"\xff\xfe\x00garbage", "not UTF-8"),
    (b'{"format": "amanat-bundle", "format": "x", "version": 1, "cases": []}', "appears twice"),
    (b'{"format": "amanat-bundle", "version": 1, "cases": [], "n": NaN}', "NaN"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (b'{"a":' * 40 + b"1" + b"}" * 40, "nested too deeply"),
])
def test_unreadable_input_is_refused_with_a_clear_message(app, raw, message):
    with app.app_context(), pytest.raises(BundleInvalid) as caught:
        parse(raw)
    assert len(caught.value.issues) == 1 and message in caught.value.issues[0].message


def test_an_oversized_file_is_refused_before_parsing(app):
    app.config["BUNDLE_MAX_BYTES"] = 100
    with app.app_context(), pytest.raises(BundleInvalid) as caught:
        parse(json.dumps(domain_example()).encode())
    assert "limited to 100 bytes" in caught.value.issues[0].message


@pytest.mark.parametrize("change, expected", [
    ({"format": "openevsys"}, ['$.format: must be "amanat-bundle"']),
    ({"version": 2}, ["$.version: must be 1"]),
])
def test_another_format_or_version_is_refused(app, caseworker, change, expected):
    assert _refused(app, caseworker, {**domain_example(), **change}) == expected


def test_duplicate_and_dangling_ids_are_refused(app, caseworker):
    case = _case(1)
    case["people"][1]["id"] = "p1"
    case["links"][0]["act"] = "a2"
    issues = _refused(app, caseworker, _bundle(case, _case(1)))
    assert set(issues) == {
        '$.cases[0].people[1].id: duplicate id "p1" in this case (also $.cases[0].people[0])',
        '$.cases[0].sources[0].person: no person "p2" in this case',
        '$.cases[0].links[0].act: no act "a2" in this case',
        '$.cases[1].id: duplicate case id "c1" (also $.cases[0])',
    }


def test_a_victim_must_be_a_person_of_the_same_case(app, caseworker):
    other = _case(2)
    other["people"][0]["id"] = "p7"
    other["acts"][0]["victim"] = "p7"
    first = _case(1)
    first["acts"][0]["victim"] = "p7"
    assert _refused(app, caseworker, _bundle(first, other)) == [
        '$.cases[0].acts[0].victim: no person "p7" in this case']


def test_unknown_or_retired_vocabulary_codes_are_refused(app, caseworker, admin):
    from app.models import VocabularyTerm
    from app.services import vocabularies

    with app.app_context():
        term = vocabularies.add_local_term(actor(admin), "material", "sms_screenshot",
                                           "SMS screenshot")
        vocabularies.retire_term(actor(admin), db.session.get(VocabularyTerm, term.id))
        db.session.commit()
    case = _case(1)
    case["testimonies"][0]["material"] = "sms_screenshot"
    case["acts"][0]["perpetrators"][0]["type"] = "aliens"
    assert set(_refused(app, caseworker, _bundle(case))) == {
        "$.cases[0].testimonies[0].material: sms_screenshot is not a current term of material",
        "$.cases[0].acts[0].perpetrators[0].type: aliens is not a current term of perpetrator "
        "type",
    }


def test_evidence_links_are_refused_in_version_1(app, caseworker):
    case = _case(1)
    case["links"] = [{"act": "a1", "evidence": "e1", "relation": "supports"}]
    assert _refused(app, caseworker, _bundle(case)) == [
        "$.cases[0].links[0].evidence: evidence files do not travel in bundle version 1; "
        "import the case, then upload the file on the case page and link it there"]


def test_admins_and_analysts_cannot_import(app, admin, analyst):
    for user in (admin, analyst):
        issues = _refused(app, user, domain_example())
        assert issues == ["$: Only caseworkers and supervisors can import cases."]


def test_a_dry_run_changes_nothing(app, caseworker):
    with app.app_context():
        before = table_counts()
        summary = import_bundle(actor(caseworker), _bundle(_case(1), _case(2)), dry_run=True)
        assert summary.dry_run and summary.as_dict()["cases"] == 2
        assert table_counts() == before


def test_a_supervisor_imports_a_closed_case_with_a_finding(app, supervisor):
    case = _case(1, status="closed")
    case["acts"][0]["allegation_status"] = "finding"
    with app.app_context():
        summary = import_bundle(actor(supervisor), _bundle(case))
        row = db.session.get(Case, summary.cases[0][2])
        assert row.status == "closed"
        statuses = db.session.execute(select(AuditEntry.action).where(
            AuditEntry.case_id == row.id, AuditEntry.action == "case.status")).all()
        assert len(statuses) == 4  # open, submit, mark reviewed, close: each audited


def test_sexual_violence_cases_are_restricted_on_import(app, caseworker, supervisor):
    case = _case(1)
    case["acts"][0] = {"id": "a1", "type": "rape", "victim": "p2",
                       "start": {"date": "2024", "precision": "year"}}
    with app.app_context():
        summary = import_bundle(actor(caseworker), _bundle(case))
        row = db.session.get(Case, summary.cases[0][2])
        assert row.confidentiality == "restricted"
        assert people.find_people(actor(supervisor), {"full_name": "Fictional Witness"}) == []


def test_import_cli_reports_every_error_and_exits_nonzero(app, runner, caseworker, tmp_path):
    broken = _case(1)
    broken["acts"][0]["victim"] = "p9"
    broken["people"][0]["sex"] = "m"
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(_bundle(broken)), encoding="utf-8")
    result = runner.invoke(args=["import", str(path), "--as", caseworker.email])
    assert result.exit_code == 1
    assert "Refused: 2 problem(s); nothing was imported." in result.output
    assert '$.cases[0].acts[0].victim: no person "p9" in this case' in result.output
    assert '$.cases[0].people[0].sex: "m" is not one of' in result.output
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(Person)).scalar_one() == 0


def test_import_cli_dry_run_then_import(app, runner, caseworker, tmp_path):
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(domain_example()), encoding="utf-8")
    dry = runner.invoke(args=["import", str(path), "--dry-run", "--as", caseworker.email])
    assert dry.exit_code == 0 and "Dry run" in dry.output and "Nothing was written" in dry.output
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(Case)).scalar_one() == 0
    done = runner.invoke(args=["import", str(path), "--as", caseworker.email])
    assert done.exit_code == 0, done.output
    assert re.search(r"c1 -> AM-\d{4}-0001", done.output)


def test_import_cli_refuses_an_admin(app, runner, admin, tmp_path):
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(domain_example()), encoding="utf-8")
    result = runner.invoke(args=["import", str(path), "--as", admin.email])
    assert result.exit_code != 0 and "only active caseworkers and supervisors" in result.output


def test_tags_longer_than_the_column_are_refused_not_truncated(app, caseworker):
    case = _case(1, tags=[f"tag number {n}" for n in range(60)])
    assert _refused(app, caseworker, _bundle(case)) == [
        "$.cases[0].tags: too many tags (500 characters in all)"]
