"""Acts of a case: add and edit, disappearance details, perpetrators, family steps, links, status."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from app.access import Action, load_case_or_404
from app.cases import bp
from app.cases.forms import (
    ActForm,
    AllegationStatusForm,
    DisappearanceForm,
    FamilyStepForm,
    LinkForm,
    PerpetratorForm,
)
from app.cases.helpers import (
    as_uuid,
    code_choices,
    district_choices,
    parse_date,
    people_choices,
    run,
    term_choices,
    yes_no,
    yes_no_text,
)
from app.domain import dates
from app.domain.vocab import (
    ATTRIBUTION,
    FAMILY_STEP,
    INVOLVEMENT,
    VICTIM_STATUS,
    WHEREABOUTS,
)
from app.extensions import db
from app.models.acts import Act
from app.models.evidence import EvidenceItem
from app.models.sources import AllegationLink, Testimony
from app.services import ServiceError, allegations
from app.services import acts as act_service
from app.web.guard import roles

WORKERS = ("caseworker", "supervisor")


def _act_or_404(case: Any, act_id: str) -> Act:
    act = db.session.get(Act, as_uuid(act_id)) if as_uuid(act_id) else None
    if act is None or act.case_id != case.id:
        abort(404)
    return act


def _act_form(form: ActForm, case: Any) -> ActForm:
    form.act_type.choices = term_choices("act_type")
    form.victim_id.choices = people_choices(case)
    form.district_code.choices = district_choices()
    form.location_type.choices = term_choices("location_type", blank=True)
    form.status_of_victim.choices = code_choices(VICTIM_STATUS)
    return form


def _act_data(form: ActForm) -> dict[str, Any]:
    return {"act_type": form.act_type.data, "victim_id": as_uuid(form.victim_id.data),
            "district_code": form.district_code.data or None,
            "place_as_reported": form.place_as_reported.data,
            "location_type": form.location_type.data or None,
            "description": form.description.data, "status_of_victim": form.status_of_victim.data}


def _dates(form: ActForm) -> tuple[dates.PartialDate, dates.PartialDate] | None:
    start, end = parse_date(form.start), parse_date(form.end)
    return (start, end) if start is not None and end is not None else None


@bp.route("/<case_id>/acts/new", methods=["GET", "POST"])
@roles(*WORKERS)
def new_act(case_id: str) -> Any:
    case = load_case_or_404(case_id, Action.EDIT, current_user)
    form = _act_form(ActForm(), case)
    if request.method == "GET" and request.args.get("victim"):
        form.victim_id.data = request.args["victim"]
    if form.validate_on_submit() and (parsed := _dates(form)):
        act = run(form, lambda: act_service.add_act(current_user, case, _act_data(form), *parsed))
        if act is not None:
            flash(_("Act recorded as alleged. Link the testimony or evidence it rests on."),
                  "success")
            return redirect(url_for("cases.view", case_id=case.id) + f"#act-{act.id}")
    return render_template("cases/act_form.html", form=form, case=case, act=None)


@bp.route("/<case_id>/acts/<act_id>/edit", methods=["GET", "POST"])
@roles(*WORKERS)
def edit_act(case_id: str, act_id: str) -> Any:
    case = load_case_or_404(case_id, Action.EDIT, current_user)
    act = _act_or_404(case, act_id)
    form = _act_form(ActForm(obj=act if request.method == "GET" else None), case)
    if request.method == "GET":
        form.version.data = act.version
        form.victim_id.data = str(act.victim_id) if act.victim_id else ""
        form.start.data = act_service.start_of(act).display() if act.start_value else ""
        form.end.data = act_service.end_of(act).display() if act.end_value else ""
    if form.validate_on_submit() and (parsed := _dates(form)):
        done = run(form, lambda: act_service.update_act(
            current_user, case, act, _act_data(form), *parsed, form.version.data) is not None)
        if done:
            flash(_("Saved."), "success")
            return redirect(url_for("cases.view", case_id=case.id) + f"#act-{act.id}")
    return render_template("cases/act_form.html", form=form, case=case, act=act)


@bp.route("/<case_id>/acts/<act_id>/disappearance", methods=["GET", "POST"])
@roles(*WORKERS)
def edit_disappearance(case_id: str, act_id: str) -> Any:
    case = load_case_or_404(case_id, Action.EDIT, current_user)
    act = _act_or_404(case, act_id)
    details = act.disappearance
    if details is None:
        abort(404)
    form = DisappearanceForm(obj=details if request.method == "GET" else None)
    form.whereabouts.choices = code_choices(WHEREABOUTS)
    form.current_status.choices = code_choices(VICTIM_STATUS, blank=True)
    booleans = ("deprived_of_liberty", "state_involvement", "concealment",
                "relatives_consent_wgeid", "source_keeps_contact")
    if request.method == "GET":
        form.version.data = details.version
        form.last_seen.data = details.last_seen_value or ""
        for name in booleans:
            getattr(form, name).data = yes_no_text(getattr(details, name))
    step_form = FamilyStepForm()
    step_form.step.choices = code_choices(FAMILY_STEP)
    if form.validate_on_submit() and (last_seen := parse_date(form.last_seen)) is not None:
        data = {"last_seen_time": form.last_seen_time.data,
                "place_last_seen": form.place_last_seen.data,
                "circumstances": form.circumstances.data, "taken_by": form.taken_by.data,
                "whereabouts": form.whereabouts.data,
                "current_status": form.current_status.data or None,
                "current_status_on": form.current_status_on.data}
        data.update({name: yes_no(getattr(form, name).data) for name in booleans})
        done = run(form, lambda: act_service.update_disappearance(
            current_user, case, act, data, last_seen, form.version.data) is not None)
        if done:
            flash(_("Saved."), "success")
            return redirect(url_for("cases.view", case_id=case.id) + f"#act-{act.id}")
    return render_template("cases/disappearance_form.html", form=form, step_form=step_form,
                           case=case, act=act)


@bp.route("/<case_id>/acts/<act_id>/family-steps", methods=["POST"])
@roles(*WORKERS)
def add_family_step(case_id: str, act_id: str) -> Any:
    case = load_case_or_404(case_id, Action.EDIT, current_user)
    act = _act_or_404(case, act_id)
    form = FamilyStepForm()
    form.step.choices = code_choices(FAMILY_STEP)
    if form.validate_on_submit():
        data = {"step": form.step.data, "taken_on": form.taken_on.data,
                "court_or_office": form.court_or_office.data,
                "reference_number": form.reference_number.data, "outcome": form.outcome.data}
        if run(form, lambda: act_service.add_family_step(current_user, case, act, data)):
            flash(_("Step added."), "success")
            return redirect(url_for("cases.edit_disappearance", case_id=case.id, act_id=act.id))
    main_form = DisappearanceForm(obj=act.disappearance)
    main_form.whereabouts.choices = code_choices(WHEREABOUTS)
    main_form.current_status.choices = code_choices(VICTIM_STATUS, blank=True)
    main_form.version.data = act.disappearance.version if act.disappearance else None
    return render_template("cases/disappearance_form.html", form=main_form, step_form=form,
                           case=case, act=act), 200


@bp.route("/<case_id>/acts/<act_id>/perpetrators", methods=["GET", "POST"])
@roles(*WORKERS)
def add_perpetrator(case_id: str, act_id: str) -> Any:
    case = load_case_or_404(case_id, Action.EDIT, current_user)
    act = _act_or_404(case, act_id)
    form = PerpetratorForm()
    form.perpetrator_person_id.choices = people_choices(case)
    form.perpetrator_type.choices = term_choices("perpetrator_type")
    form.degree.choices = code_choices(INVOLVEMENT)
    form.attribution.choices = code_choices(ATTRIBUTION)
    if form.validate_on_submit():
        data = {"unit": form.unit.data,
                "perpetrator_person_id": as_uuid(form.perpetrator_person_id.data),
                "perpetrator_type": form.perpetrator_type.data, "degree": form.degree.data,
                "attribution": form.attribution.data}
        if run(form, lambda: act_service.add_perpetrator(current_user, case, act, data)):
            flash(_("Alleged perpetrator added."), "success")
            return redirect(url_for("cases.view", case_id=case.id) + f"#act-{act.id}")
    return render_template("cases/perpetrator_form.html", form=form, case=case, act=act)


def _material_choices(case: Any) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = [("", "—")]
    for t in db.session.execute(select(Testimony).where(Testimony.case_id == case.id)
                                .order_by(Testimony.created_at)).scalars():
        rows.append((f"t:{t.id}", _("Testimony from %(p)s (%(m)s, %(d)s)",
                                    p=t.source.pseudonym, m=t.material.replace("_", " "),
                                    d=t.given_value or "?")))
    for e in db.session.execute(select(EvidenceItem).where(EvidenceItem.case_id == case.id)
                                .order_by(EvidenceItem.created_at)).scalars():
        rows.append((f"e:{e.id}", _("Evidence: %(t)s, %(s)d bytes", t=e.media_type, s=e.size)))
    return rows


@bp.route("/<case_id>/acts/<act_id>/links", methods=["GET", "POST"])
@roles(*WORKERS)
def link_material(case_id: str, act_id: str) -> Any:
    case = load_case_or_404(case_id, Action.EDIT, current_user)
    act = _act_or_404(case, act_id)
    form = LinkForm()
    form.material.choices = _material_choices(case)
    if form.validate_on_submit():
        kind, _sep, raw = (form.material.data or "").partition(":")
        key = as_uuid(raw)
        testimony = db.session.get(Testimony, key) if kind == "t" and key else None
        evidence = db.session.get(EvidenceItem, key) if kind == "e" and key else None
        done = run(form, lambda: allegations.link(
            current_user, case, act, relation=form.relation.data, testimony=testimony,
            evidence=evidence, note=form.note.data,
            checked_on=date.today() if form.checked.data else None))
        if done:
            flash(_("Linked."), "success")
            return redirect(url_for("cases.view", case_id=case.id) + f"#act-{act.id}")
    return render_template("cases/link_form.html", form=form, case=case, act=act)


@bp.route("/<case_id>/links/<link_id>/delete", methods=["POST"])
@roles(*WORKERS)
def unlink(case_id: str, link_id: str) -> Any:
    case = load_case_or_404(case_id, Action.EDIT, current_user)
    link_row = db.session.get(AllegationLink, as_uuid(link_id)) if as_uuid(link_id) else None
    linked_act = db.session.get(Act, link_row.act_id) if link_row is not None else None
    if linked_act is None or linked_act.case_id != case.id:
        abort(404)  # another case's link is "not found" here, like anything out of scope
    try:
        allegations.unlink(current_user, case, link_row)
    except ServiceError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        db.session.commit()
        flash(_("Link removed."), "success")
    return redirect(url_for("cases.view", case_id=case.id))


@bp.route("/<case_id>/acts/<act_id>/status", methods=["GET", "POST"])
@roles(*WORKERS)
def allegation_status(case_id: str, act_id: str) -> Any:
    case = load_case_or_404(case_id, Action.VIEW, current_user)
    act = _act_or_404(case, act_id)
    form = AllegationStatusForm()
    allowed = allegations.allowed_statuses(current_user, case, act)
    form.status.choices = code_choices(tuple(allowed))
    if request.method == "GET":
        form.status.data = act.allegation_status
    if form.validate_on_submit():
        if run(form, lambda: allegations.set_status(current_user, case, act,
                                                    form.status.data) or True):
            flash(_("Status saved."), "success")
            return redirect(url_for("cases.view", case_id=case.id) + f"#act-{act.id}")
    return render_template("cases/status_form.html", form=form, case=case, act=act,
                           support=allegations.support_of(act))
