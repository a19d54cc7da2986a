"""The case list, opening and editing a case, the case page, review workflow, assignment, notes."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from app.access import Action, load_case_or_404
from app.cases import bp
from app.cases.forms import AssignForm, CaseFilterForm, CaseForm, NoteForm, TransitionForm
from app.cases.helpers import as_uuid, code_choices, district_choices, run, term_choices
from app.cases.page import case_page_context
from app.cases.queries import CaseFilters, acts_by_case, filtered_cases
from app.domain.vocab import CASE_STATUS
from app.extensions import db
from app.models.cases import Case
from app.models.users import User
from app.paging import capped_page
from app.services import ServiceError
from app.services import cases as case_service
from app.services.vocabularies import districts
from app.web.guard import roles

WORKERS = ("caseworker", "supervisor")
PAGE_SIZE = 25


def _case_form(form: CaseForm, case: Any = None) -> CaseForm:
    form.intake_channel.choices = term_choices("intake_channel", blank=True)
    teams = {t.id: t.name for t in current_user.teams}
    if case is not None and case.team is not None:
        teams.setdefault(case.team.id, case.team.name)  # its own team is always a choice
    form.team_id.choices = [(str(k), v) for k, v in teams.items()] or [("", "—")]
    return form


def _case_data(form: CaseForm) -> dict[str, Any]:
    data = {"title": form.title.data, "summary": form.summary.data,
            "date_received": form.date_received.data,
            "intake_channel": form.intake_channel.data or None, "tags": form.tags.data}
    team_id = as_uuid(form.team_id.data)
    if team_id is not None:  # no (or no valid) choice: the team stays as it is
        data["team_id"] = team_id
    return data


@bp.route("/")
@roles(*WORKERS)
def index() -> Any:
    form = CaseFilterForm(request.args)
    form.status.choices = code_choices(CASE_STATUS, blank=True)
    form.district.choices = district_choices()
    form.act_type.choices = term_choices("act_type", blank=True)
    form.perpetrator_type.choices = term_choices("perpetrator_type", blank=True)
    form.validate()
    filters = CaseFilters(status=form.status.data or None, district=form.district.data or None,
                          act_type=form.act_type.data or None,
                          perpetrator_type=form.perpetrator_type.data or None,
                          date_from=form.date_from.data, date_to=form.date_to.data,
                          mine=bool(form.mine.data))
    page = capped_page(filtered_cases(current_user, filters), Case,
                       page=request.args.get("page", 1, type=int), per_page=PAGE_SIZE)
    summary = acts_by_case([c.id for c in page.items])
    names = {d.code: d.name for d in districts()}
    args = {k: v for k, v in request.args.items() if k != "page"}
    return render_template("cases/index.html", form=form, page=page, summary=summary,
                           district_names=names, args=args)


@bp.route("/new", methods=["GET", "POST"])
@roles(*WORKERS)
def new() -> Any:
    form = _case_form(CaseForm())
    if form.validate_on_submit():
        case = run(form, lambda: case_service.open_case(current_user, _case_data(form)))
        if case is not None:
            flash(_("Case %(ref)s opened. Now add the people involved.", ref=case.reference),
                  "success")
            return redirect(url_for("cases.view", case_id=case.id))
    return render_template("cases/case_form.html", form=form, case=None)


@bp.route("/<case_id>")
@roles(*WORKERS)
def view(case_id: str) -> Any:
    case = load_case_or_404(case_id, Action.VIEW, current_user)
    return render_template("cases/view.html", **case_page_context(case))


@bp.route("/<case_id>/edit", methods=["GET", "POST"])
@roles(*WORKERS)
def edit(case_id: str) -> Any:
    case = load_case_or_404(case_id, Action.EDIT, current_user)
    form = _case_form(CaseForm(obj=case if request.method == "GET" else None), case)
    if request.method == "GET":
        form.version.data = case.version
        form.team_id.data = str(case.team_id) if case.team_id else ""
    if form.validate_on_submit():
        done = run(form, lambda: case_service.update_case(
            current_user, case, _case_data(form), form.version.data) or True)
        if done:
            flash(_("Saved."), "success")
            return redirect(url_for("cases.view", case_id=case.id))
    return render_template("cases/case_form.html", form=form, case=case)


@bp.route("/<case_id>/status/<transition>", methods=["POST"])
@roles(*WORKERS)
def transition(case_id: str, transition: str) -> Any:
    case = load_case_or_404(case_id, Action.VIEW, current_user)
    form = TransitionForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        case_service.change_status(current_user, case, transition, form.comment.data)
    except ServiceError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        db.session.commit()
        flash(_("The case is now %(status)s.", status=case.status.replace("_", " ")), "success")
    return redirect(url_for("cases.view", case_id=case.id))


@bp.route("/<case_id>/assign", methods=["POST"])
@roles("supervisor")
def assign(case_id: str) -> Any:
    case = load_case_or_404(case_id, Action.ASSIGN, current_user)
    form = AssignForm()
    if not form.validate_on_submit():
        abort(400)
    wanted = {as_uuid(v) for v in request.form.getlist("members")} - {None}
    users = list(db.session.execute(select(User).where(User.id.in_(wanted))).scalars())
    if len(users) != len(wanted):
        abort(400)
    try:
        case_service.assign(current_user, case, users)
    except ServiceError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        db.session.commit()
        flash(_("Assignment saved."), "success")
    return redirect(url_for("cases.view", case_id=case.id))


@bp.route("/<case_id>/notes", methods=["POST"])
@roles(*WORKERS)
def add_note(case_id: str) -> Any:
    case = load_case_or_404(case_id, Action.VIEW, current_user)
    form = NoteForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        flash(_("Keep a note under 20,000 characters; it was not added."), "error")
        return redirect(url_for("cases.view", case_id=case.id) + "#notes")
    try:
        case_service.add_note(current_user, case, form.comment.data or "")
    except ServiceError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        db.session.commit()
        flash(_("Note added."), "success")
    return redirect(url_for("cases.view", case_id=case.id) + "#notes")
