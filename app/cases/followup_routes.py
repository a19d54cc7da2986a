"""Follow-up actions of a case: add and edit (optimistic locking); the case page lists them."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app.access import Action, load_case_or_404
from app.cases import bp
from app.cases.forms import FollowUpForm
from app.cases.helpers import as_uuid, run, term_choices
from app.extensions import db
from app.models.followups import FollowUp
from app.services import followups as follow_up_service
from app.web.guard import roles

WORKERS = ("caseworker", "supervisor")
STATUS_LABELS = {
    "planned": _l("Planned"), "in_progress": _l("In progress"),
    "awaiting_response": _l("Awaiting a response"), "done": _l("Done"),
    "abandoned": _l("Abandoned"),
}
TEXT_FIELDS = ("by_whom", "to_whom", "response", "next_step")


@bp.app_template_global("follow_up_overdue")
def follow_up_overdue(follow_up: FollowUp) -> bool:
    return follow_up_service.is_overdue(follow_up, date.today())


@bp.app_template_global("follow_up_status")
def follow_up_status(code: str) -> str:
    text = STATUS_LABELS.get(code)
    return str(text) if text is not None else code.replace("_", " ")


@bp.app_template_global("follow_ups_ordered")
def follow_ups_ordered(follow_ups: list[FollowUp]) -> list[FollowUp]:
    return follow_up_service.ordered(follow_ups)


def _follow_up_or_404(case: Any, follow_up_id: str) -> FollowUp:
    key = as_uuid(follow_up_id)
    follow_up = db.session.get(FollowUp, key) if key else None
    if follow_up is None or follow_up.case_id != case.id:
        abort(404)
    return follow_up


def _form(form: FollowUpForm) -> FollowUpForm:
    form.action_type.choices = term_choices("follow_up_type", blank=True)
    form.status.choices = [(code, str(label)) for code, label in STATUS_LABELS.items()]
    return form


def _data(form: FollowUpForm) -> dict[str, Any]:
    return {"action_type": form.action_type.data or "", "status": form.status.data,
            "taken_on": form.taken_on.data, "next_step_on": form.next_step_on.data,
            **{name: getattr(form, name).data for name in TEXT_FIELDS}}


@bp.route("/<case_id>/follow-ups/new", methods=["GET", "POST"])
@roles(*WORKERS)
def new_follow_up(case_id: str) -> Any:
    case = load_case_or_404(case_id, Action.EDIT, current_user)
    form = _form(FollowUpForm())
    if form.validate_on_submit():
        follow_up = run(form, lambda: follow_up_service.add_follow_up(current_user, case,
                                                                       _data(form)))
        if follow_up is not None:
            flash(_("Follow-up action added."), "success")
            return redirect(url_for("cases.view", case_id=case.id) + "#follow-up")
    return render_template("cases/follow_up_form.html", form=form, case=case, follow_up=None)


@bp.route("/<case_id>/follow-ups/<follow_up_id>/edit", methods=["GET", "POST"])
@roles(*WORKERS)
def edit_follow_up(case_id: str, follow_up_id: str) -> Any:
    case = load_case_or_404(case_id, Action.EDIT, current_user)
    follow_up = _follow_up_or_404(case, follow_up_id)
    form = _form(FollowUpForm(obj=follow_up if request.method == "GET" else None))
    if request.method == "GET":
        form.version.data = follow_up.version
    if form.validate_on_submit():
        done = run(form, lambda: follow_up_service.update_follow_up(
            current_user, case, follow_up, _data(form), form.version.data) is not None)
        if getattr(form, "conflict", None) is not None:
            # "Save again" from this page must work: it now carries the version just seen.
            form.version.data = follow_up.version
        if done:
            flash(_("Saved."), "success")
            return redirect(url_for("cases.view", case_id=case.id) + "#follow-up")
    return render_template("cases/follow_up_form.html", form=form, case=case,
                           follow_up=follow_up)
