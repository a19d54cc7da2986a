"""CSV lists of missing persons: column mapping, a dry run that changes nothing, all rows or none."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.bundle import csv_import
from app.extensions import db
from app.models import Act, Case
from app.services import people
from tests.factories import actor
from tests.test_bundle_import import (
    table_counts,
)

LIST = (
    "Name,Father,Other spellings,Gender,Age,CNIC,District,Date missing,Place,What happened\n"
    "Muhammad Bashir Baloch,Ghulam Nabi,Mohammad Bashir Baluch; Mohd Basheer,M,24,"
    "52203-1234567-1,Kech,March 2025,Main bazaar,Taken by men in plain clothes\n"
    "Abdul Wahid Marri,Dost Muhammad,Abdal Wahid Mari,male,31,,PK226,around Eid 2024,,\n"
    "\n"
    "زرینہ بلوچ,نور احمد,Zareena Baloch,F,,,Panjgur,2019,,\n"
)
MAPPING = {"Name": "full_name", "Father": "father_name", "Other spellings": "other_names",
           "Gender": "sex", "Age": "age", "CNIC": "cnic", "District": "district",
           "Date missing": "date_missing", "Place": "place", "What happened": "circumstances"}


def test_the_mapping_is_guessed_from_column_names(app):
    with app.app_context():
        table = csv_import.read_csv(LIST.encode("utf-8-sig"))
    assert csv_import.guess_mapping(table.header) == MAPPING
    assert [n for n, _cells in table.rows] == [2, 3, 5]  # spreadsheet rows; blank row skipped


def test_excel_utf16_and_semicolon_files_are_read(app):
    with app.app_context():
        table = csv_import.read_csv(LIST.replace(";", "/").replace(",", "\t").encode("utf-16"))
    assert table.header[:2] == ["Name", "Father"] and len(table.rows) == 3


def test_a_csv_dry_run_changes_nothing(app, caseworker):
    with app.app_context():
        before = table_counts()
        summary = csv_import.import_rows(actor(caseworker), csv_import.read_csv(LIST.encode()),
                                         MAPPING, dry_run=True)
        assert summary.as_dict()["cases"] == 3 and summary.as_dict()["people"] == 3
        assert table_counts() == before  # every table, the audit log included


def test_csv_import_creates_people_findable_by_their_other_names(app, caseworker):
    with app.app_context():
        user = actor(caseworker)
        csv_import.import_rows(user, csv_import.read_csv(LIST.encode()), MAPPING)
        found = people.find_people(user, {"full_name": "Mohd Basheer"})
        assert [p.full_name for p in found] == ["Muhammad Bashir Baloch"]
        assert [p.full_name for p in people.find_people(user, {"full_name": "Abdal Wahid Mari"})
                ] == ["Abdul Wahid Marri"]
        assert [p.father_name for p in people.find_people(user, {"full_name": "زرینہ بلوچ"})
                ] == ["نور احمد"]
        acts = db.session.execute(select(Act).order_by(Act.created_at)).scalars().all()
        assert [a.act_type for a in acts] == ["enforced_disappearance"] * 3
        assert [(a.start_value, a.start_precision) for a in acts] == [
            ("2025-03", "month"), ("2024", "approximate"), ("2019", "year")]
        assert acts[1].start_as_given == "around Eid 2024"
        assert [a.district_code for a in acts] == ["PK211", "PK226", "PK224"]
        assert acts[0].disappearance.circumstances == "Taken by men in plain clothes"
        assert {c.status for c in db.session.execute(select(Case)).scalars()} == {"open"}


def test_every_bad_row_is_reported_with_row_and_column_and_nothing_is_written(app, caseworker):
    bad = ("Name,Gender,Age,District,Date missing,CNIC\n"
           "Ok Person,M,30,Kech,2024,\n"
           "Bad Sex,X,30,Kech,2024,\n"
           "Bad Age,F,thirty,Atlantis,next week,123\n"
           ",M,,,,\n")
    mapping = {"Name": "full_name", "Gender": "sex", "Age": "age", "District": "district",
               "Date missing": "date_missing", "CNIC": "cnic"}
    with app.app_context():
        before = table_counts()
        with pytest.raises(csv_import.CsvInvalid) as caught:
            csv_import.import_rows(actor(caseworker), csv_import.read_csv(bad.encode()), mapping)
        db.session.rollback()
        assert table_counts() == before
    where = [(p.row, p.column) for p in caught.value.problems]
    assert where == [(3, "Gender"), (4, "Age"), (4, "CNIC"), (4, "Date missing"),
                     (4, "District"), (5, "Name")]


def test_a_mapping_needs_a_name_and_one_column_per_field(app, caseworker):
    with app.app_context():
        table = csv_import.read_csv(b"A,B\nx,y\n")
        with pytest.raises(csv_import.CsvInvalid) as caught:
            csv_import.import_rows(actor(caseworker), table, {"A": "phone", "B": "phone"})
    messages = [str(p) for p in caught.value.problems]
    assert any("Only one column can be mapped to phone" in m for m in messages)
    assert any("Map one column to full_name" in m for m in messages)


def test_import_csv_cli(app, runner, caseworker, tmp_path):
    path = tmp_path / "list.csv"
    path.write_text(LIST, encoding="utf-8")
    args = ["import-csv", str(path), "--as", caseworker.email]
    for column, field in MAPPING.items():
        args += ["--map", f"{column}={field}"]
    dry = runner.invoke(args=args + ["--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would create 3 cases, 3 people, 3 acts" in dry.output
    with app.app_context():
        assert db.session.execute(select(Case)).first() is None
    done = runner.invoke(args=args[:4] + ["--map", "Name=full_name", "--map", "District=district"])
    assert done.exit_code == 0, done.output
    assert "Ignored columns:" in done.output
    wrong = runner.invoke(args=args[:4] + ["--map", "Name=nom"])
    assert wrong.exit_code == 2 and "Unknown field 'nom'" in wrong.output
