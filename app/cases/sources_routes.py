"""Sources (graded A–F, named by pseudonym) and their testimonies (graded 1–6): add, edit, read."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from app.access import Action, can, load_case_or_404, may_see_field_kind
from app.cases import bp
from app.cases.forms import (
    CONNECTION_CHOICES,
    CREDIBILITY_CHOICES,
    LANGUAGE_CHOICES,
    RELIABILITY_CHOICES,
    SourceForm,
    TestimonyForm,
)
from app.cases.helpers import as_uuid, parse_date, people_choices, run, term_choices
from app.domain import dates
from app.extensions import db
from app.models.acts import Act
from app.models.sources import AllegationLink, Source, Testimony
from app.models.users import User
from app.services import sources as source_service
from app.web.guard import roles

WORKERS = ("caseworker", "supervisor")
TESTIMONY_TEXT = ("interview_place", "transcript", "notes")


def _testimony_or_404(case: Any, testimony_id: str) -> Testimony:
    key = as_uuid(testimony_id)
    testimony = db.session.get(Testimony, key) if key else None
    if testimony is None or testimony.case_id != case.id:
        abort(404)
    return testimony


def _sources_of(case: Any) -> list[Source]:
    return list(db.session.execute(select(Source).where(Source.case_id == case.id)
                                   .order_by(Source.pseudonym)).scalars())


def _source_choices(case: Any) -> list[tuple[str, str]]:
    grades = dict(RELIABILITY_CHOICES)
    return [("", "—")] + [(str(s.id), f"{s.pseudonym} ({grades.get(s.reliability, s.reliability)})")
                          for s in _sources_of(case)]


def _testimony_form(form: TestimonyForm, case: Any) -> TestimonyForm:
    form.source_id.choices = _source_choices(case)
    form.material.choices = term_choices("material", blank=True)
    return form


def _testimony_data(form: TestimonyForm) -> dict[str, Any]:
    return {"source_id": as_uuid(form.source_id.data), "material": form.material.data or "",
            "language": form.language.data or None, "connection": form.connection.data or None,
            "credibility": int(form.credibility.data or 6),
            **{name: getattr(form, name).data for name in TESTIMONY_TEXT}}


def _given_date(form: TestimonyForm) -> dates.PartialDate | None:
    return parse_date(form.given)  # empty means "not known"


def given_display(testimony: Testimony) -> str:
    """The stored date as the form shows it again ("~2024-04" keeps an approximate date so)."""
    if not testimony.given_value:
        return ""
    return dates.from_parts(testimony.given_value, testimony.given_precision).display()


@bp.route("/<case_id>/sources/new", methods=["GET", "POST"])
@roles(*WORKERS)
def new_source(case_id: str) -> Any:
    case = load_case_or_404(case_id, Action.EDIT, current_user)
    form = SourceForm()
    form.person_id.choices = people_choices(case)
    if form.validate_on_submit():
        data = {"person_id": as_uuid(form.person_id.data),
                "organisation": form.organisation.data, "reliability": form.reliability.data,
                "pseudonym": form.pseudonym.data}
        source = run(form, lambda: source_service.add_source(current_user, case, data))
        if source is not None:
            flash(_("Source %(p)s added. Now record what they said.", p=source.pseudonym),
                  "success")
            return redirect(url_for("cases.new_testimony", case_id=case.id, source=source.id))
    return render_template("cases/source_form.html", form=form, case=case)


@bp.route("/<case_id>/testimonies/new", methods=["GET", "POST"])
@roles(*WORKERS)
def new_testimony(case_id: str) -> Any:
    case = load_case_or_404(case_id, Action.EDIT, current_user)
    form = _testimony_form(TestimonyForm(), case)
    if request.method == "GET" and request.args.get("source"):
        form.source_id.data = request.args["source"]
    if form.validate_on_submit() and (given := _given_date(form)) is not None:
        testimony = run(form, lambda: source_service.add_testimony(
            current_user, case, _testimony_data(form), given))
        if testimony is not None:
            flash(_("Testimony recorded. Link it to the acts it speaks of."), "success")
            return redirect(url_for("cases.testimony", case_id=case.id,
                                    testimony_id=testimony.id))
    return render_template("cases/testimony_form.html", form=form, case=case, testimony=None)


@bp.route("/<case_id>/testimonies/<testimony_id>/edit", methods=["GET", "POST"])
@roles(*WORKERS)
def edit_testimony(case_id: str, testimony_id: str) -> Any:
    case = load_case_or_404(case_id, Action.EDIT, current_user)
    testimony = _testimony_or_404(case, testimony_id)
    if request.method == "GET":
        form = _testimony_form(TestimonyForm(obj=testimony), case)
        form.version.data = testimony.version
        form.source_id.data = str(testimony.source_id)
        form.language.data = testimony.language or ""
        form.connection.data = testimony.connection or ""
        form.credibility.data = str(testimony.credibility)
        form.given.data = given_display(testimony)
    else:
        form = _testimony_form(TestimonyForm(), case)
    if form.validate_on_submit() and (given := _given_date(form)) is not None:
        done = run(form, lambda: source_service.update_testimony(
            current_user, case, testimony, _testimony_data(form), given,
            form.version.data) is not None)
        if getattr(form, "conflict", None) is not None:
            # "Save again" from this page must work: it now carries the version just seen.
            form.version.data = testimony.version
        if done:
            flash(_("Saved."), "success")
            return redirect(url_for("cases.testimony", case_id=case.id,
                                    testimony_id=testimony.id))
    return render_template("cases/testimony_form.html", form=form, case=case,
                           testimony=testimony)


@bp.route("/<case_id>/testimonies/<testimony_id>")
@roles(*WORKERS)
def testimony(case_id: str, testimony_id: str) -> Any:
    case = load_case_or_404(case_id, Action.VIEW, current_user)
    item = _testimony_or_404(case, testimony_id)
    links = db.session.execute(
        select(AllegationLink, Act).join(Act, Act.id == AllegationLink.act_id)
        .where(AllegationLink.testimony_id == item.id)
        .order_by(AllegationLink.relation, AllegationLink.created_at)).all()
    interviewer = db.session.get(User, item.interviewer_id) if item.interviewer_id else None
    return render_template(
        "cases/testimony.html", case=case, testimony=item, source=item.source, links=links,
        interviewer=interviewer, show_narrative=may_see_field_kind(current_user, "narrative"),
        editable=can(current_user, Action.EDIT, case),
        reliability=dict(RELIABILITY_CHOICES), credibility=dict(CREDIBILITY_CHOICES),
        languages=dict(LANGUAGE_CHOICES), connections=dict(CONNECTION_CHOICES))
