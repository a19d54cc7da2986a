"""The bulk import path (app/bundle/bulk.py) against the services it stands in for: the same
records, ciphertext, statuses and audit entries as one service call at a time; blind indexes and
crypto-shredding work on what it wrote; a refusal anywhere leaves nothing behind (rows, keys,
audit entries, reference numbers); the quick schema check never disagrees with jsonschema."""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from sqlalchemy import func, select

from app.audit.verify import verify_log
from app.bundle import bulk, demo, exporter
from app.bundle.fastcheck import compile_schema
from app.bundle.importer import import_bundle
from app.bundle.validate import BundleInvalid, schema
from app.crypto.fields import Shredded
from app.extensions import db
from app.models import AuditEntry, Case, Person
from app.models.acts import Act
from app.models.cases import CaseReferenceCounter
from app.models.keys import DataKey
from app.models.people import PersonName
from app.services import allegations, people
from app.services import cases as case_service
from tests.bundle_reference import import_through_services
from tests.factories import actor
from tests.test_bundle_export import RICH
from tests.test_hostile_bundle import PATHS, TEMPLATE, WRONG_TYPES, bundle, full_case, table_counts


def demo_bundle(count: int, status: str = "open", seed: int = 5) -> dict[str, Any]:
    """Fictional cases as `amanat seed-demo` makes them (3 people, acts, sources, links...)."""
    return bundle(*demo.bundle_cases(count, seed=seed, status=status, id_prefix="d"))


def supervisor_case(n: int) -> dict[str, Any]:
    """A closed case using what only a supervisor may import, and the rarer paths: verified and
    finding statuses, a sexual-violence act (restricts the case), an erased identity, a withdrawn
    consent, a source without pseudonym (gets S-02)."""
    case = full_case(n)
    case["status"] = "closed"
    case["people"].append({"id": "p3", "identity_erased": True, "sex": "male"})
    case["acts"].append({"id": "a2", "type": "rape", "victim": "p2",
                         "start": {"date": "2024", "precision": "year"},
                         "allegation_status": "finding"})
    case["acts"][0]["allegation_status"] = "verified"
    case["sources"].append({"id": "s2", "organisation": "Fictional District Rights Desk",
                            "reliability": "C"})
    case["testimonies"].append({"id": "t2", "source": "s2", "material": "news_report",
                                "date": "2025-03"})
    case["links"] += [{"act": "a1", "testimony": "t2", "relation": "supports",
                       "checked_on": "2025-03-20", "note": "Checked against the paper."},
                      {"act": "a2", "testimony": "t1", "relation": "supports"},
                      {"act": "a2", "testimony": "t2", "relation": "contradicts"}]
    case["consents"][0]["withdrawn_on"] = "2025-04-01"
    return case


def _exported(case_id: uuid.UUID) -> dict[str, Any]:
    out, _skipped = exporter.case_to_bundle(db.session.get(Case, case_id), "c")
    out.pop("reference")
    return out


def _audit_trail(case_id: uuid.UUID) -> list[tuple]:
    """The case's audit entries in log order, every database id replaced by the order in which
    it first appears (the two imports create different ids for the same records)."""
    names: dict[str, str] = {}

    def token(value: Any) -> str | None:
        return None if value is None else names.setdefault(str(value), f"#{len(names)}")

    trail = []
    for entry in db.session.execute(select(AuditEntry).where(AuditEntry.case_id == case_id)
                                    .order_by(AuditEntry.seq)).scalars():
        details = json.loads(entry.details)
        for key in ("act", "person"):
            if key in details:
                details[key] = token(details[key])
        trail.append((entry.action, entry.object_type, token(entry.object_id), entry.actor_id,
                      details))
    return trail


def _people_keys(case_id: uuid.UUID) -> list[int]:
    return list(db.session.execute(select(Person.data_key_id).where(
        Person.case_id == case_id)).scalars())


def test_bulk_import_gives_what_the_services_give_record_for_record(app, supervisor,
                                                                      monkeypatch):
    monkeypatch.setattr(bulk, "CHUNK", 4)  # several chunks, with a partial last one
    cases = (copy.deepcopy(RICH["cases"]) + [supervisor_case(1), supervisor_case(2)]
             + demo_bundle(6)["cases"] + demo_bundle(3, "archived", seed=9)["cases"])
    for n, case in enumerate(cases):
        case["id"] = f"k{n}"
    value = bundle(*cases)
    with app.app_context():
        user = actor(supervisor)
        reference = import_through_services(user, copy.deepcopy(value))
        summary = import_bundle(user, copy.deepcopy(value))
        assert summary.as_dict() == reference.as_dict()
        assert len(summary.cases) == len(cases)
        for (local, _ref, old_id), (local2, _ref2, new_id) in zip(reference.cases, summary.cases,
                                                                    strict=True):
            assert local == local2
            assert _exported(new_id) == _exported(old_id), local
            assert _audit_trail(new_id) == _audit_trail(old_id), local
            old, new = db.session.get(Case, old_id), db.session.get(Case, new_id)
            assert (new.status, new.confidentiality, new.team_id, new.owner_id) == (
                old.status, old.confidentiality, old.team_id, old.owner_id)
            # One key per person, its other names under the same key, and every key stored.
            keys = _people_keys(new_id)
            assert None not in keys and len(set(keys)) == len(keys)
            for person in db.session.execute(select(Person).where(
                    Person.case_id == new_id)).scalars():
                assert {n.data_key_id for n in person.other_names} <= {person.data_key_id}
                stored = db.session.get(DataKey, person.data_key_id)
                assert stored.purpose == "person"
                assert stored.destroyed == (person.shredded_at is not None)
        erased = db.session.execute(select(Person).where(
            Person.case_id == summary.cases[RICH["cases"].__len__()][2],
            Person.shredded_at.is_not(None))).scalar_one()
        assert isinstance(erased.full_name, Shredded) or erased.full_name is None


def test_the_log_verifies_with_contiguous_seq_after_a_multi_chunk_import(app, supervisor,
                                                                        monkeypatch):
    monkeypatch.setattr(bulk, "CHUNK", 7)
    value = demo_bundle(30)
    with app.app_context():
        before = db.session.execute(select(func.max(AuditEntry.seq))).scalar() or 0
        summary = import_bundle(actor(supervisor), value)
        seqs = list(db.session.execute(select(AuditEntry.seq).order_by(AuditEntry.seq)).scalars())
        assert seqs == list(range(1, len(seqs) + 1)) and seqs[-1] > before
        actions = dict(db.session.execute(select(AuditEntry.action, func.count()).where(
            AuditEntry.seq > before).group_by(AuditEntry.action)).all())
        counts = summary.as_dict()
        assert actions["case.create"] == counts["cases"] == 30
        assert actions["person.create"] == counts["people"]
        assert actions["act.create"] == counts["acts"]
        assert actions["testimony.create"] == counts["testimonies"]
        assert actions["link.create"] == counts["links"]
        assert actions["case.note"] == counts["notes"]
        assert actions["case.status"] == 30 and actions["bundle.import"] == 1
        # The import's own entry is the last one, after every case's entries.
        last = db.session.execute(select(AuditEntry).order_by(AuditEntry.seq.desc())
                                  .limit(1)).scalar_one()
        assert last.action == "bundle.import"
        report = verify_log()
        assert report.ok, [str(p) for p in report.problems]


def test_imported_people_are_found_by_blind_index_and_can_be_shredded(app, supervisor,
                                                                      monkeypatch):
    monkeypatch.setattr(bulk, "CHUNK", 3)
    value = demo_bundle(8)
    victim = value["cases"][6]["people"][0]
    with app.app_context():
        user = actor(supervisor)
        summary = import_bundle(user, value)
        case_id = summary.cases[6][2]
        by_name = people.find_people(user, {"full_name": victim["full_name"]})
        assert [p.case_id for p in by_name] == [case_id]
        by_other = people.find_people(user, {"full_name": victim["other_names"][-1],
                                             "father_name": victim["father_name"]})
        assert [p.id for p in by_other] == [p.id for p in by_name]
        person = by_name[0]
        assert person.father_name == victim["father_name"]
        witness = db.session.execute(select(Person).where(
            Person.case_id == case_id, Person.id != person.id)).scalars().first()
        witness_name = witness.full_name
        person_id, witness_id = person.id, witness.id
        people.shred_identity(user, db.session.get(Case, case_id), person, "family_request")
        db.session.commit()
        db.session.expunge_all()  # fresh objects: nothing decrypted before the shredding
        shredded = db.session.get(Person, person_id)
        assert isinstance(shredded.full_name, Shredded)
        assert all(isinstance(n.name, Shredded) for n in shredded.other_names)
        assert db.session.get(DataKey, shredded.data_key_id).wrapped is None
        user = actor(supervisor)
        assert people.find_people(user, {"full_name": victim["full_name"]}) == []
        # Only that identity: the witness of the same case, and other cases, still read.
        assert db.session.get(Person, witness_id).full_name == witness_name
        other = value["cases"][2]["people"][0]
        assert len(people.find_people(user, {"full_name": other["full_name"]})) >= 1


def test_allegation_statuses_are_the_ones_the_services_allow(app, supervisor):
    value = demo_bundle(25)
    with app.app_context():
        user = actor(supervisor)
        summary = import_bundle(user, value)
        seen = set()
        for (local, _ref, case_id), data in zip(summary.cases, value["cases"], strict=True):
            case = db.session.get(Case, case_id)
            rows = db.session.execute(select(Act).where(Act.case_id == case_id)
                                      .order_by(Act.created_at)).scalars().all()
            for act, item in zip(rows, data["acts"], strict=True):
                wanted = item.get("allegation_status", "alleged")
                assert act.allegation_status == wanted, local
                support = allegations.support_of(act)
                assert act.allegation_status in allegations.allowed_statuses(user, case, act)
                if support.unsupported:
                    assert act.allegation_status == "alleged"
                if act.allegation_status == "corroborated":
                    assert support.independent_sources >= 2
                seen.add((act.allegation_status, support.unsupported))
        assert {("alleged", True), ("corroborated", False)} <= seen


@pytest.mark.parametrize("where, value, path", [
    (("people", 0, "occupation"), "student\x00", "$.cases[49].people[0]"),
    (("follow_ups", 0, "to_whom"), "High Court\x00", "$.cases[49].follow_ups[0]"),
])
def test_a_record_refused_at_the_end_of_50_cases_leaves_no_row_key_or_entry(
        app, caseworker, monkeypatch, where, value, path):
    monkeypatch.setattr(bulk, "CHUNK", 8)  # six chunks written (and their audit entries) first
    cases = [full_case(n) for n in range(1, 51)]
    target: Any = cases[-1]
    for part in where[:-1]:
        target = target[part]
    target[where[-1]] = value
    with app.app_context():
        before = table_counts()
        counter = db.session.execute(select(CaseReferenceCounter.last)).scalar()
        with pytest.raises(BundleInvalid) as caught:
            import_bundle(actor(caseworker), bundle(*cases))
        assert [i.path for i in caught.value.issues] == [path]
        db.session.rollback()
        assert table_counts() == before  # cases, people, data_keys, audit_entries...
        assert db.session.execute(select(CaseReferenceCounter.last)).scalar() == counter
        # The next case gets the next number, as if the import had never been tried.
        case = case_service.open_case(actor(caseworker), {"title": "After the refusal"})
        assert case.reference.endswith(f"-{(counter or 0) + 1:04d}")
        db.session.rollback()


def test_a_multi_chunk_dry_run_changes_nothing(app, caseworker, monkeypatch):
    monkeypatch.setattr(bulk, "CHUNK", 5)
    with app.app_context():
        before = table_counts()
        summary = import_bundle(actor(caseworker), bundle(*[full_case(n) for n in range(1, 13)]),
                                dry_run=True)
        assert summary.as_dict()["cases"] == 12 and summary.dry_run
        assert table_counts() == before


def test_references_are_consecutive_numbers_from_the_counter(app, caseworker):
    with app.app_context():
        user = actor(caseworker)
        summary = import_bundle(user, bundle(*[full_case(n) for n in range(1, 4)]))
        numbers = [int(ref.rsplit("-", 1)[1]) for _local, ref, _id in summary.cases]
        assert numbers == [numbers[0], numbers[0] + 1, numbers[0] + 2]
        later = case_service.open_case(user, {"title": "Opened on the case page"})
        assert int(later.reference.rsplit("-", 1)[1]) == numbers[-1] + 1
        db.session.rollback()


def test_other_names_keep_the_persons_key_and_order(app, caseworker):
    case = full_case(1)
    case["people"][0]["other_names"] = [" Basheer Ahmad ", "Bashir Ahmad", "Basheer Ahmad"]
    with app.app_context():
        summary = import_bundle(actor(caseworker), bundle(case))
        person = db.session.execute(select(Person).where(
            Person.case_id == summary.cases[0][2]).order_by(Person.created_at)).scalars().first()
        assert [n.name for n in person.other_names] == ["Basheer Ahmad", "Bashir Ahmad"]
        keys = set(db.session.execute(select(PersonName.data_key_id).where(
            PersonName.person_id == person.id)).scalars())
        assert keys == {person.data_key_id}


QUICK_EXTRA = [("cases", 0, "people", 0, "age"), ("cases", 0, "title"),
               ("cases", 0, "acts", 0, "start", "date"), ("cases", 0, "people", 0, "id")]
QUICK_VALUES = [1.0, 2.5, True, False, 121, -1, "", " ", "x" * 301, "2025\n", "2025-03-11\n",
                "p 1", "p" * 65, {"date": "2025"}, ["a"], None, 0]


def test_the_quick_schema_check_never_disagrees_with_jsonschema():
    quick = compile_schema(schema())
    full = Draft202012Validator(schema())
    checked = 0
    for path in PATHS + QUICK_EXTRA:
        for replacement in WRONG_TYPES + QUICK_VALUES:
            mutated = copy.deepcopy(TEMPLATE)
            target: Any = mutated
            try:
                for part in path[:-1]:
                    target = target[part]
                target[path[-1]] = replacement
            except (KeyError, IndexError, TypeError):
                continue
            valid = not list(full.iter_errors(mutated))
            assert quick(mutated) == valid, (path, replacement)
            checked += 1
    for extra in ({"format": "amanat-bundle", "version": 1, "cases": []}, {}, [], None,
                  {**TEMPLATE, "unknown": 1}, {**TEMPLATE, "exported_at": "2025-01-01T00:00:00Z"}):
        assert quick(extra) == (not list(full.iter_errors(extra))), extra
    assert checked > 1000
