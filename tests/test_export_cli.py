"""`amanat export --format ...`: every format from the command line, scoped, audited, 0600."""

from __future__ import annotations

import csv
import io
import json
import stat

from sqlalchemy import select

from app.extensions import db
from app.models.audit import AuditEntry
from app.models.cases import Case
from tests.factories import make_case


def _reference(app, case_id) -> str:
    with app.app_context():
        return db.session.get(Case, case_id).reference


def _actions(app) -> list[str]:
    with app.app_context():
        return list(db.session.execute(select(AuditEntry.action)).scalars())


def test_bundle_is_the_default_format_and_the_file_is_private(app, runner, caseworker, tmp_path):
    ref = _reference(app, make_case(app, caseworker))
    out = tmp_path / "cases.json"
    result = runner.invoke(args=["export", "--case", ref, "--as", caseworker.email, "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert json.loads(out.read_text())["format"] == "amanat-bundle"
    assert "bundle.export" in _actions(app)


def test_huridocs_format(app, runner, caseworker):
    from app.models.people import Person
    from app.services import people
    from tests.factories import actor

    case_id = make_case(app, caseworker)
    with app.app_context():
        case = db.session.get(Case, case_id)
        for person in db.session.execute(select(Person)).scalars():
            people.record_consent(actor(caseworker), case, person, {"purpose": "partner_ngos"})
        db.session.commit()
    ref = _reference(app, case_id)
    result = runner.invoke(args=["export", "--format", "huridocs", "--case", ref,
                                 "--as", caseworker.email])
    assert result.exit_code == 0, result.output
    assert "Bashir" not in result.output  # identities only on request, after step-up, in the UI
    assert "export.huridocs" in _actions(app)


def test_wgeid_format_is_refused_without_consent_and_the_refusal_is_clear(app, runner, caseworker):
    ref = _reference(app, make_case(app, caseworker))
    result = runner.invoke(args=["export", "--format", "wgeid", "--case", ref,
                                 "--as", caseworker.email])
    assert result.exit_code == 1
    assert "consent" in result.output.lower()


def test_deidentified_csv_for_an_analyst(app, runner, caseworker, analyst):
    make_case(app, caseworker)
    result = runner.invoke(args=["export", "--format", "deidentified-csv", "--all",
                                 "--as", analyst.email])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert rows and "Bashir" not in result.stdout and "52203" not in result.stdout
    assert "export.deidentified" in _actions(app)


def test_caseworker_cannot_take_deidentified_rows_and_analyst_cannot_take_bundles(
        app, runner, caseworker, analyst):
    make_case(app, caseworker)
    refused = runner.invoke(args=["export", "--format", "deidentified-csv", "--all",
                                  "--as", caseworker.email])
    assert refused.exit_code == 1
    refused = runner.invoke(args=["export", "--all", "--as", analyst.email])
    assert refused.exit_code == 1 and "only active caseworkers and supervisors" in refused.output


def test_bundle_sealed_under_a_passphrase_travels_and_imports(app, runner, caseworker, tmp_path):
    ref = _reference(app, make_case(app, caseworker))
    secret = tmp_path / "passphrase.txt"
    secret.write_text("quetta river lantern at dusk\n")
    out = tmp_path / "transfer.json"
    result = runner.invoke(args=["export", "--case", ref, "--as", caseworker.email,
                                 "-o", str(out), "--passphrase-file", str(secret)])
    assert result.exit_code == 0, result.output
    raw = out.read_text()
    assert "Bashir" not in raw and "Turbat" not in raw  # nothing readable in transit
    refused = runner.invoke(args=["import", str(out), "--as", caseworker.email, "--dry-run"])
    assert refused.exit_code == 1 and "sealed" in refused.output
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("not the right passphrase at all\n")
    refused = runner.invoke(args=["import", str(out), "--as", caseworker.email, "--dry-run",
                                  "--passphrase-file", str(wrong)])
    assert refused.exit_code == 1 and "passphrase is wrong" in refused.output
    opened = runner.invoke(args=["import", str(out), "--as", caseworker.email, "--dry-run",
                                 "--passphrase-file", str(secret)])
    assert opened.exit_code == 0, opened.output
    assert "Dry run" in opened.output
