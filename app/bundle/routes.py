"""Bundle pages: import a bundle (dry run first), export cases, import a CSV list of missing
persons through a column-mapping step, and the published JSON Schema.

Between the dry run and the import, the uploaded text travels back in the confirmation form
rather than being kept on the server: nothing identifying is stored anywhere in clear, and the
import re-validates everything it receives.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, SelectField, SubmitField

from app.bundle import csv_import, exporter
from app.bundle.importer import import_bundle
from app.bundle.validate import SCHEMA_PATH, BundleInvalid, Issue, parse
from app.cases.forms import CaseFilterForm
from app.cases.helpers import as_uuid, code_choices, district_choices, term_choices
from app.cases.queries import CaseFilters
from app.domain.vocab import CASE_STATUS
from app.extensions import db
from app.services import ServiceError
from app.web.guard import require_recent_auth, roles

bp = Blueprint("bundle", __name__, url_prefix="/bundle")
WORKERS = ("caseworker", "supervisor")
TARGET_LABELS = {
    "full_name": _l("Full name"), "father_name": _l("Father's name"),
    "other_names": _l("Other names and spellings (separated by ;)"), "sex": _l("Sex"),
    "age": _l("Age"), "cnic": _l("CNIC"), "phone": _l("Phone"),
    "district": _l("District (name or code)"), "date_missing": _l("Date missing (as given)"),
    "place": _l("Place"), "circumstances": _l("Circumstances"), "ignore": _l("Ignore"),
}


class UploadForm(FlaskForm):
    upload = FileField(_l("File"), validators=[FileRequired(_l("Choose a file."))])
    submit = SubmitField(_l("Check the file"))


class ConfirmForm(FlaskForm):
    payload = HiddenField()
    submit = SubmitField(_l("Import"))


class CsvMapForm(FlaskForm):
    payload = HiddenField()
    status = SelectField(_l("Status of the new cases"), default="open",
                         choices=[("open", _l("Open")), ("draft", _l("Draft"))])
    check = SubmitField(_l("Check (nothing is written)"))
    confirm = SubmitField(_l("Import all rows"))


class ExportForm(FlaskForm):
    submit = SubmitField(_l("Download the bundle"))


def _read_upload(form: UploadForm) -> bytes:
    return form.upload.data.read()


# Import ---------------------------------------------------------------------------------------

@bp.route("/import", methods=["GET", "POST"])
@roles(*WORKERS)
def import_page() -> Any:
    form = UploadForm()
    issues: list[Issue] = []
    summary = confirm = None
    if form.validate_on_submit():
        raw = _read_upload(form)
        try:
            bundle = parse(raw)
            summary = import_bundle(current_user, bundle, dry_run=True)
        except BundleInvalid as error:
            db.session.rollback()
            issues = error.issues
        else:
            confirm = ConfirmForm(formdata=None)
            confirm.payload.data = raw.decode("utf-8-sig")
    return render_template("bundle/import.html", form=form, issues=issues, summary=summary,
                           confirm=confirm)


@bp.route("/import/confirm", methods=["POST"])
@roles(*WORKERS)
def import_confirm() -> Any:
    confirm = ConfirmForm()
    if not confirm.validate_on_submit() or not confirm.payload.data:
        flash(_("The form expired. Choose the file again."), "error")
        return redirect(url_for("bundle.import_page"))
    try:
        summary = import_bundle(current_user, parse(confirm.payload.data))
    except BundleInvalid as error:
        db.session.rollback()
        return render_template("bundle/import.html", form=UploadForm(formdata=None),
                               issues=error.issues, summary=None, confirm=None)
    flash(_("Imported %(n)d case(s): %(refs)s.", n=len(summary.cases),
            refs=", ".join(ref for _local, ref, _id in summary.cases)), "success")
    return redirect(url_for("cases.index"))


# Export ---------------------------------------------------------------------------------------

def _filter_form() -> CaseFilterForm:
    form = CaseFilterForm(request.args)
    form.status.choices = code_choices(CASE_STATUS, blank=True)
    form.district.choices = district_choices()
    form.act_type.choices = term_choices("act_type", blank=True)
    form.perpetrator_type.choices = term_choices("perpetrator_type", blank=True)
    form.validate()
    return form


def _chosen_cases(form: CaseFilterForm) -> list[Any]:
    case_ids = [i for i in (as_uuid(v) for v in request.args.getlist("case")) if i]
    if request.args.getlist("case") and not case_ids:
        raise ServiceError(_("One of these cases does not exist or is not yours to see."))
    if case_ids:
        return exporter.select_cases(current_user, case_ids=case_ids)
    return exporter.select_cases(current_user, filters=CaseFilters(
        status=form.status.data or None, district=form.district.data or None,
        act_type=form.act_type.data or None, perpetrator_type=form.perpetrator_type.data or None,
        date_from=form.date_from.data, date_to=form.date_to.data, mine=bool(form.mine.data)))


@bp.route("/export", methods=["GET"])
@roles(*WORKERS)
def export_page() -> Any:
    """Which cases a download would hold: one case (?case=<id>) or the case list's filters."""
    form = _filter_form()
    try:
        chosen = _chosen_cases(form)
    except ServiceError:
        abort(404)  # not there and not yours read the same
    return render_template("bundle/export.html", form=form, chosen=chosen,
                           export_form=ExportForm(), single=bool(request.args.getlist("case")),
                           args=request.args)


@bp.route("/export", methods=["POST"])
@roles(*WORKERS)
def export_download() -> Any:
    """Identified data leaves the system: ask for the password or a code again if it is stale."""
    again = require_recent_auth()
    if again is not None:
        return again
    form = ExportForm()
    if not form.validate_on_submit():
        flash(_("The form expired. Try again."), "error")
        return redirect(url_for("bundle.export_page", **request.args))
    try:
        chosen = _chosen_cases(_filter_form())
        result = exporter.export_bundle(current_user, chosen, channel="web")
    except ServiceError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("cases.index"))
    db.session.commit()
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    name = (f"{chosen[0].reference}-{stamp}.json" if len(chosen) == 1
            else f"amanat-bundle-{stamp}.json")
    return Response(result.to_json(), mimetype="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.route("/schema.json")
@roles("caseworker", "supervisor", "analyst", "admin")
def schema() -> Any:
    return Response(SCHEMA_PATH.read_text(encoding="utf-8"), mimetype="application/schema+json")


# CSV ------------------------------------------------------------------------------------------

@bp.route("/csv", methods=["GET", "POST"])
@roles(*WORKERS)
def csv_upload() -> Any:
    form = UploadForm()
    problems: list[csv_import.Problem] = []
    if form.validate_on_submit():
        raw = _read_upload(form)
        try:
            table = csv_import.read_csv(raw)
        except csv_import.CsvInvalid as error:
            problems = error.problems
        else:
            map_form = CsvMapForm(formdata=None)
            map_form.payload.data = _as_text(raw)
            return _render_mapping(map_form, table, csv_import.guess_mapping(table.header))
    return render_template("bundle/csv_upload.html", form=form, problems=problems)


def _as_text(raw: bytes) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    return raw.decode("utf-8-sig")


def _render_mapping(form: CsvMapForm, table: csv_import.Table, mapping: dict[str, str],
                    problems: list[csv_import.Problem] | None = None,
                    summary: Any = None) -> Any:
    targets = [(t, TARGET_LABELS[t]) for t in csv_import.TARGETS]
    return render_template("bundle/csv_map.html", form=form, table=table, mapping=mapping,
                           targets=targets, problems=problems or [], summary=summary,
                           preview=table.rows[:5])


@bp.route("/csv/map", methods=["POST"])
@roles(*WORKERS)
def csv_map() -> Any:
    form = CsvMapForm()
    if not form.validate_on_submit() or not form.payload.data:
        flash(_("The form expired. Choose the file again."), "error")
        return redirect(url_for("bundle.csv_upload"))
    try:
        table = csv_import.read_csv(form.payload.data)
    except csv_import.CsvInvalid:
        return redirect(url_for("bundle.csv_upload"))
    mapping = {column: request.form.get(f"map-{index}", "ignore")
               for index, column in enumerate(table.header)}
    dry_run = not form.confirm.data
    try:
        summary = csv_import.import_rows(current_user, table, mapping, status=form.status.data,
                                         dry_run=dry_run)
    except csv_import.CsvInvalid as error:
        db.session.rollback()
        return _render_mapping(form, table, mapping, problems=error.problems)
    if dry_run:
        return _render_mapping(form, table, mapping, summary=summary)
    flash(_("Imported %(n)d case(s), one per row.", n=len(summary.cases)), "success")
    return redirect(url_for("cases.index"))
