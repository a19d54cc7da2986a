"""Search (caseworkers, supervisors), dashboard and de-identified export (supervisors, analysts)."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.analysis import bp
from app.analysis.charts import bar_chart
from app.analysis.dashboard import CHART_KEYS, basis_text, build_dashboard, chart_csv
from app.analysis.deidentify import deidentified_rows, rows_to_csv
from app.analysis.forms import DashboardForm, SearchForm
from app.analysis.scope import AnalysisFilters, K
from app.analysis.search import (
    IDENTITY_KEYS,
    RELIABILITY_SCALE,
    SearchFilters,
    delete_saved_search,
    save_search,
    saved_filters,
    saved_searches,
    search_acts,
    team_choices,
)
from app.audit.recorder import record
from app.cases.helpers import code_choices, district_choices, term_choices
from app.domain.vocab import ALLEGATION_STATUS, CASE_STATUS, VICTIM_STATUS
from app.extensions import db
from app.services import ServiceError
from app.web.guard import roles

SEARCHERS = ("caseworker", "supervisor")
COUNTERS = ("supervisor", "analyst")


def _search_form(formdata: Any) -> SearchForm:
    form = SearchForm(formdata=formdata)
    form.district.choices = district_choices()
    form.act_type.choices = term_choices("act_type", blank=True)
    form.perpetrator_type.choices = term_choices("perpetrator_type", blank=True)
    form.status_of_victim.choices = code_choices(VICTIM_STATUS, blank=True)
    form.allegation_status.choices = code_choices(ALLEGATION_STATUS, blank=True)
    form.reliability.choices = [("", "—")] + [(g, g) for g in RELIABILITY_SCALE]
    form.team.choices = [("", "—")] + team_choices(current_user)
    form.case_status.choices = code_choices(CASE_STATUS, blank=True)
    return form


def _filters_of(form: SearchForm) -> SearchFilters:
    return SearchFilters.from_query({key: form[key].data for key in SearchFilters.keys()})


def _render_search(form: SearchForm, results: Any = None, notice: str | None = None,
                   status: int = 200) -> Any:
    saved = [(s, url_for("analysis.search", **saved_filters(s).as_query()))
             for s in saved_searches(current_user)]
    return render_template("analysis/search.html", form=form, results=results, notice=notice,
                           saved=saved, identity_keys=IDENTITY_KEYS), status


@bp.route("/search", methods=["GET", "POST"])
@roles(*SEARCHERS)
def search() -> Any:
    """GET runs filters only (saved searches link here); identity values come by POST only, so
    they never sit in a web address, the browser history or a server log."""
    posted = request.method == "POST"
    form = _search_form(request.form if posted else request.args)
    notice = None
    if not posted and any(request.args.get(k) for k in IDENTITY_KEYS):
        for key in IDENTITY_KEYS:
            form[key].data = ""
        notice = _("Names, CNIC and phone numbers are searched through the form only, never from "
                   "a web address; they were ignored. Type them again below.")
    run = posted or any(request.args.get(k) for k in SearchFilters.keys())
    results = None
    if run and form.validate():
        source = request.form if posted else request.args
        identity = {k: form[k].data for k in IDENTITY_KEYS} if posted else {}
        try:
            results = search_acts(current_user, _filters_of(form), identity,
                                  page=source.get("page", 1, type=int) or 1)
            db.session.commit()
        except ServiceError as error:
            db.session.rollback()
            _put_error(form, error)
    return _render_search(form, results, notice)


@bp.route("/search/save", methods=["POST"])
@roles(*SEARCHERS)
def save() -> Any:
    form = _search_form(request.form)
    if form.validate():
        try:
            saved = save_search(current_user, form.save_name.data or "", _filters_of(form),
                                {k: form[k].data for k in IDENTITY_KEYS})
            db.session.commit()
        except ServiceError as error:
            db.session.rollback()
            _put_error(form, error)
        else:
            flash(_("Search saved as “%(name)s”.", name=saved.name), "success")
            return redirect(url_for("analysis.search", **saved_filters(saved).as_query()))
    return _render_search(form)


@bp.route("/search/saved/delete", methods=["POST"])
@roles(*SEARCHERS)
def delete_saved() -> Any:
    try:
        delete_saved_search(current_user, request.form.get("saved_search"))
        db.session.commit()
    except ServiceError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        flash(_("Saved search deleted."), "success")
    return redirect(url_for("analysis.search"))


def _put_error(form: SearchForm, error: ServiceError) -> None:
    field = form[error.field] if error.field and error.field in form else None
    if field is not None:
        field.errors = [*field.errors, error.message]
    else:
        form.form_errors.append(error.message)


# --- Dashboard and exports -------------------------------------------------------------------


def _analysis_filters() -> tuple[DashboardForm, AnalysisFilters]:
    form = DashboardForm(request.args)
    form.district.choices = district_choices()
    filters = AnalysisFilters()
    if form.validate():
        start, end = form.date_from.data, form.date_to.data
        if start and end and start > end:
            form.date_to.errors = [*form.date_to.errors,
                                   _("The start of the date range is after its end.")]
        else:
            filters = AnalysisFilters(start, end, form.district.data or None)
    return form, filters.for_user(current_user)


def _query_of(filters: AnalysisFilters) -> dict[str, str]:
    return {k: (v.isoformat() if isinstance(v, date) else v)
            for k in filters.names() if (v := getattr(filters, k))}


@bp.route("/dashboard")
@roles(*COUNTERS)
def dashboard() -> Any:
    form, filters = _analysis_filters()
    board = build_dashboard(current_user, filters)
    svgs = {chart.key: bar_chart(f"chart-{chart.key}", chart.title,
                                 f"{chart.basis} {chart.note or ''}".strip(), chart.cells)
            for chart in board.charts}
    return render_template("analysis/dashboard.html", form=form, board=board, svgs=svgs,
                           query=_query_of(filters), filters=filters, basis=basis_text(), k=K)


@bp.route("/dashboard.csv")
@roles(*COUNTERS)
def dashboard_csv() -> Any:
    key = request.args.get("chart", "")
    if key not in CHART_KEYS:
        abort(400)  # say which chart: ?chart=by_month, by_district...
    _form, filters = _analysis_filters()
    chart = build_dashboard(current_user, filters).chart(key)
    record("export.dashboard", actor_id=current_user.id, object_type="export",
           details={"chart": key, "filters": filters.names(), "cells": len(chart.cells)})
    db.session.commit()
    return _csv(chart_csv(chart), f"amanat-{key.replace('_', '-')}.csv")


@bp.route("/analysis/export.csv")
@roles(*COUNTERS)
def export_csv() -> Any:
    _form, filters = _analysis_filters()
    try:
        rows = deidentified_rows(current_user, filters)
    except ServiceError:  # the role guard already refuses; kept for a role changed mid-request
        db.session.rollback()
        abort(403)
    db.session.commit()
    return _csv(rows_to_csv(rows), f"amanat-deidentified-{date.today():%Y%m%d}.csv")


def _csv(text: str, filename: str) -> Response:
    return Response(text, mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
