"""People of a case: add, edit (other spellings too), reveal an identity for one view, find."""

from __future__ import annotations

import uuid
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.access import Action, load_case_or_404
from app.cases import bp
from app.cases.forms import FindPersonForm, PersonForm, RevealForm
from app.cases.helpers import run
from app.extensions import db
from app.models.people import Person
from app.services import ServiceError
from app.services import people as people_service
from app.web.guard import require_recent_auth, roles

WORKERS = ("caseworker", "supervisor")
TEXT_FIELDS = ("full_name", "father_name", "tribe", "date_of_birth", "cnic", "phone", "address",
               "occupation", "affiliation", "physical_description")


def _person_or_404(case: Any, person_id: str) -> Person:
    try:
        person = db.session.get(Person, uuid.UUID(person_id))
    except ValueError:
        abort(404)
    if person is None or person.case_id != case.id:
        abort(404)
    return person


def _data(form: PersonForm) -> dict[str, Any]:
    data: dict[str, Any] = {f: getattr(form, f).data for f in TEXT_FIELDS}
    data.update(sex=form.sex.data or None, age=form.age.data,
                age_group=form.age_group.data or None, counting_unit=form.counting_unit.data)
    return data


def _other_names(form: PersonForm) -> list[str]:
    return [line for line in (form.other_names.data or "").splitlines() if line.strip()]


@bp.route("/<case_id>/people/new", methods=["GET", "POST"])
@roles(*WORKERS)
def new_person(case_id: str) -> Any:
    case = load_case_or_404(case_id, Action.EDIT, current_user)
    form = PersonForm()
    if form.validate_on_submit():
        person = run(form, lambda: people_service.add_person(current_user, case, _data(form),
                                                             _other_names(form)))
        if person is not None:
            flash(_("Person added."), "success")
            return redirect(url_for("cases.view", case_id=case.id) + "#people")
    return render_template("cases/person_form.html", form=form, case=case, person=None)


@bp.route("/<case_id>/people/<person_id>/edit", methods=["GET", "POST"])
@roles(*WORKERS)
def edit_person(case_id: str, person_id: str) -> Any:
    case = load_case_or_404(case_id, Action.EDIT, current_user)
    person = _person_or_404(case, person_id)
    if request.method == "GET":
        # Editing shows identities: the same step-up as a reveal applies, and it is logged.
        step = require_recent_auth()
        if step is not None:
            return step
        form = PersonForm(obj=person)
        form.version.data = person.version
        form.other_names.data = "\n".join(n.name for n in person.other_names)
        people_service.reveal_identity(current_user, case, person, "edit_record")
        db.session.commit()
    else:
        form = PersonForm()
    if request.method == "POST" and form.validate_on_submit():
        done = run(form, lambda: people_service.update_person(
            current_user, case, person, _data(form), form.version.data,
            _other_names(form)) is not None)
        if done:
            flash(_("Saved."), "success")
            return redirect(url_for("cases.view", case_id=case.id) + "#people")
    return render_template("cases/person_form.html", form=form, case=case, person=person)


@bp.route("/<case_id>/people/<person_id>/reveal", methods=["POST"])
@roles(*WORKERS)
def reveal_person(case_id: str, person_id: str) -> Any:
    case = load_case_or_404(case_id, Action.REVEAL, current_user)
    person = _person_or_404(case, person_id)
    step = require_recent_auth()
    if step is not None:
        return step
    form = RevealForm()
    if not form.validate_on_submit():
        flash(_("Choose why you need to see this identity."), "error")
        return redirect(url_for("cases.view", case_id=case.id) + "#people")
    try:
        people_service.reveal_identity(current_user, case, person, form.reason.data)
    except ServiceError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("cases.view", case_id=case.id))
    db.session.commit()
    # Shown in this response only: nothing is remembered, a reload shows the masked page again.
    return render_template("cases/person_revealed.html", case=case, person=person)


@bp.route("/find-person", methods=["GET", "POST"])
@roles(*WORKERS)
def find_person() -> Any:
    """POST only for the search itself: names and CNICs never end up in addresses, history or
    server logs."""
    form = FindPersonForm()
    results = None
    if form.validate_on_submit():
        try:
            results = people_service.find_people(current_user, {
                f: getattr(form, f).data or "" for f in ("full_name", "father_name", "cnic",
                                                          "phone")})
            db.session.commit()
        except ServiceError as error:
            db.session.rollback()
            form.form_errors.append(error.message)
    return render_template("cases/find_person.html", form=form, results=results,
                           mask=people_service.mask)
