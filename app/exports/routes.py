"""Pages of the exports: the WGEID draft of a disappearance, the case report, the HURIDOCS export.

Each view checks the case through `load_case_or_404`, asks for a fresh authentication before it
shows identities, and commits the audit entry its export function wrote (or, when refused, an
entry saying so). The PDF of the case report and of the WGEID draft goes through the same checks
and audit (`"output": "pdf"`); it is the same template rendered with `pdf=True`, made into a PDF
by `app.exports.pdf`. When this server cannot make PDFs, the page says so and links the printable
HTML (503), before anything is exported.
"""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Any

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.access import Action, load_case_or_404, scoped_cases
from app.audit.recorder import record
from app.exports import bp
from app.exports.case_report import case_report
from app.exports.forms import HuridocsExportForm
from app.exports.huridocs import export_huridocs, to_csv
from app.exports.pdf import PdfUnavailable, pdf_filename, render_pdf, unavailable_reason
from app.exports.wgeid import check_allowed, record_refusal, wgeid_draft
from app.extensions import db
from app.models.acts import Act
from app.models.cases import Case
from app.services import ServiceError
from app.web.guard import recently_authenticated, require_recent_auth, roles

WORKERS = ("caseworker", "supervisor")


def _act_or_404(case: Any, act_id: str) -> Act:
    try:
        act = db.session.get(Act, uuid.UUID(act_id))
    except ValueError:
        abort(404)
    if act is None or act.case_id != case.id:
        abort(404)
    return act


def _wgeid(case_id: str, act_id: str, output: str) -> Any:
    case = load_case_or_404(case_id, Action.EXPORT_IDENTIFIED, current_user)
    act = _act_or_404(case, act_id)
    step = require_recent_auth()  # the draft names the disappeared person
    if step is not None:
        return step
    try:
        if output == "pdf":
            check_allowed(current_user, case, act)  # a refusal outranks a missing PDF library
            if _pdf_problem():
                return _pdf_unavailable(case, url_for("exports.wgeid", case_id=case.id,
                                                      act_id=act.id))
        draft = wgeid_draft(current_user, case, act, output=output)
    except ServiceError as error:
        db.session.rollback()
        record_refusal(current_user, case, act, error, output)
        db.session.commit()
        return render_template("exports/wgeid_refused.html", case=case, act=act, error=error,
                               missing=getattr(error, "missing", [])), 403
    if output == "pdf":
        html = render_template("exports/wgeid.html", case=case, act=act, draft=draft, pdf=True)
        return _pdf_download(case, html, "wgeid",
                             url_for("exports.wgeid", case_id=case.id, act_id=act.id),
                             action="export.wgeid", object_type="act", object_id=act.id)
    db.session.commit()
    if output == "text":
        return _download(draft.render_text(), "text/plain; charset=utf-8",
                         f"wgeid-{case.reference}.txt")
    return render_template("exports/wgeid.html", case=case, act=act, draft=draft)


@bp.route("/cases/<case_id>/acts/<act_id>/wgeid")
@roles(*WORKERS)
def wgeid(case_id: str, act_id: str) -> Any:
    return _wgeid(case_id, act_id, "html")


@bp.route("/cases/<case_id>/acts/<act_id>/wgeid.txt")
@roles(*WORKERS)
def wgeid_text(case_id: str, act_id: str) -> Any:
    return _wgeid(case_id, act_id, "text")


@bp.route("/cases/<case_id>/acts/<act_id>/wgeid.pdf")
@roles(*WORKERS)
def wgeid_pdf(case_id: str, act_id: str) -> Any:
    return _wgeid(case_id, act_id, "pdf")


def _report(case_id: str, output: str) -> Any:
    wants_identities = request.args.get("identities") == "1"
    case = load_case_or_404(case_id, Action.EXPORT_IDENTIFIED if wants_identities else Action.VIEW,
                            current_user)
    if wants_identities:
        step = require_recent_auth()
        if step is not None:
            return step
    printable = url_for("exports.report", case_id=case.id, identities=1 if wants_identities else None)
    if output == "pdf" and _pdf_problem():
        return _pdf_unavailable(case, printable)
    try:
        built = case_report(current_user, case, identities=wants_identities, output=output)
    except ServiceError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("cases.view", case_id=case.id))
    if output == "pdf":
        html = render_template("exports/case_report.html", case=case, report=built, pdf=True)
        return _pdf_download(case, html, "case-report", printable,
                             action="export.case_report", object_type="case", object_id=case.id)
    db.session.commit()
    return render_template("exports/case_report.html", case=case, report=built)


@bp.route("/cases/<case_id>/report")
@roles(*WORKERS)
def report(case_id: str) -> Any:
    return _report(case_id, "html")


@bp.route("/cases/<case_id>/report.pdf")
@roles(*WORKERS)
def report_pdf(case_id: str) -> Any:
    return _report(case_id, "pdf")


@bp.route("/exports/huridocs", methods=["GET", "POST"])
@roles(*WORKERS)
def huridocs() -> Any:
    form = HuridocsExportForm()
    cases = list(db.session.execute(scoped_cases(current_user).order_by(Case.reference)).scalars())
    preselected = set(request.args.getlist("case"))
    if form.validate_on_submit():
        chosen = request.form.getlist("case")
        if form.identities.data and not recently_authenticated():
            return require_recent_auth()
        try:
            data = export_huridocs(current_user, chosen, identities=bool(form.identities.data),
                                   output=form.format.data)
        except ServiceError as error:
            db.session.rollback()
            for case_id in chosen or [c.id for c in cases]:
                case = next((c for c in cases if str(c.id) == str(case_id)), None)
                if case is not None:
                    record("export.huridocs", actor_id=current_user.id, object_type="case",
                           object_id=case.id, case_id=case.id,
                           details={"output": form.format.data,
                                    "refused": getattr(error, "reasons", ["not_allowed"])})
            db.session.commit()
            form.form_errors.append(error.message)
            preselected = set(chosen)
        else:
            db.session.commit()
            stamp = date.today().isoformat()
            if form.format.data == "csv":
                return _download(to_csv(data), "text/csv; charset=utf-8",
                                 f"huridocs-esf-{stamp}.csv")
            return _download(json.dumps(data, ensure_ascii=False, indent=2),
                             "application/json; charset=utf-8", f"huridocs-esf-{stamp}.json")
    return render_template("exports/huridocs.html", form=form, cases=cases,
                           preselected=preselected)


def _download(body: str, mimetype: str, filename: str) -> Response:
    response = Response(body, mimetype=mimetype.split(";")[0])
    response.headers["Content-Type"] = mimetype
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _pdf_problem() -> str | None:
    problem = unavailable_reason()
    if problem:
        current_app.logger.warning("PDF output unavailable: %s", problem)
    return problem


def _pdf_unavailable(case: Any, printable_url: str) -> tuple[str, int]:
    """Say plainly that no PDF can be made here and point to the printable page (never a 500)."""
    return render_template("exports/pdf_unavailable.html", case=case,
                           printable_url=printable_url), 503


def _pdf_download(case: Any, html: str, kind: str, printable_url: str, *, action: str,
                  object_type: str, object_id: Any) -> Any:
    """Commit the export's audit entry, then make the PDF outside the transaction (rendering
    takes a second or more; no database lock is held meanwhile). Should rendering fail although
    WeasyPrint loaded, a second entry says the PDF was not delivered, and the page says PDF
    output is unavailable."""
    reference, case_id, actor_id = case.reference, case.id, current_user.id  # before expiry
    db.session.commit()
    try:
        body = render_pdf(html, reference=reference)
    except PdfUnavailable:
        db.session.rollback()
        record(action, actor_id=actor_id, object_type=object_type, object_id=object_id,
               case_id=case_id, details={"output": "pdf", "not_delivered": "pdf_rendering_failed"})
        db.session.commit()
        return _pdf_unavailable(case, printable_url)
    response = Response(body, mimetype="application/pdf")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{pdf_filename(kind, reference)}"')
    return response
