"""Consent records per person (add, withdraw) and, for supervisors, crypto-shredding an identity."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from app.access import Action, can, load_case_or_404
from app.cases import bp
from app.cases.forms import ConsentForm, ShredIdentityForm, WithdrawConsentForm
from app.cases.helpers import as_uuid, run
from app.extensions import db
from app.models.people import ConsentRecord, Person
from app.models.users import User
from app.services import people as people_service
from app.web.guard import require_recent_auth, roles

WORKERS = ("caseworker", "supervisor")
PURPOSE_LABELS = {
    "store": _l("Store their data in this case file"),
    "share_wgeid_un": _l("Share with the WGEID or other UN bodies"),
    "courts": _l("Use before courts"),
    "partner_ngos": _l("Share with partner NGOs"),
    "media_public": _l("Media or public use"),
    "anonymised_only": _l("Use only in anonymised form"),
}
LEGAL_BASIS_LABELS = {
    "consent": _l("Consent"), "vital_interest": _l("Vital interest"),
    "public_interest": _l("Public interest"), "legitimate_interest": _l("Legitimate interest"),
}


def _person_or_404(case: Any, person_id: str) -> Person:
    key = as_uuid(person_id)
    person = db.session.get(Person, key) if key else None
    if person is None or person.case_id != case.id:
        abort(404)
    return person


def _consent_form(form: ConsentForm) -> ConsentForm:
    form.purpose.choices = [("", "—")] + [(c, str(t)) for c, t in PURPOSE_LABELS.items()]
    form.legal_basis.choices = [(c, str(t)) for c, t in LEGAL_BASIS_LABELS.items()]
    return form


def store_consent_withdrawn(person: Person) -> bool:
    """Consent to store was given and withdrawn, and nothing current replaces it."""
    withdrawn = any(c.purpose == "store" and c.withdrawn_on is not None for c in person.consents)
    return withdrawn and not people_service.has_consent(person, "store")


def _page(case: Any, person: Person, form: ConsentForm,
          withdraw_form: WithdrawConsentForm | None = None,
          withdrawing: uuid.UUID | None = None) -> Any:
    obtained = {c.obtained_by_id for c in person.consents} - {None}
    names = {u.id: u.name for u in db.session.execute(
        select(User).where(User.id.in_(obtained))).scalars()} if obtained else {}
    if withdraw_form is None:
        withdraw_form = WithdrawConsentForm()
        withdraw_form.withdrawn_on.data = date.today()
    return render_template(
        "cases/consent.html", case=case, person=person, form=form,
        withdraw_form=withdraw_form, withdrawing=withdrawing, names=names,
        purposes=PURPOSE_LABELS, bases=LEGAL_BASIS_LABELS,
        editable=can(current_user, Action.EDIT, case),
        reviewer=can(current_user, Action.REVIEW, case) and current_user.role == "supervisor",
        offer_erasure=store_consent_withdrawn(person) and person.shredded_at is None,
        current=people_service.has_consent)


@bp.route("/<case_id>/people/<person_id>/consent", methods=["GET", "POST"])
@roles(*WORKERS)
def person_consent(case_id: str, person_id: str) -> Any:
    case = load_case_or_404(case_id, Action.EDIT if request.method == "POST" else Action.VIEW,
                            current_user)
    person = _person_or_404(case, person_id)
    form = _consent_form(ConsentForm())
    if request.method == "GET":
        form.given_on.data = date.today()
    if form.validate_on_submit():
        data = {"purpose": form.purpose.data or None, "legal_basis": form.legal_basis.data,
                "given_on": form.given_on.data,
                "recording_allowed": bool(form.recording_allowed.data)}
        if run(form, lambda: people_service.record_consent(current_user, case, person, data)):
            flash(_("Consent recorded."), "success")
            return redirect(url_for("cases.person_consent", case_id=case.id,
                                    person_id=person.id))
    return _page(case, person, form)


@bp.route("/<case_id>/people/<person_id>/consent/<consent_id>/withdraw", methods=["POST"])
@roles(*WORKERS)
def withdraw_consent(case_id: str, person_id: str, consent_id: str) -> Any:
    case = load_case_or_404(case_id, Action.EDIT, current_user)
    person = _person_or_404(case, person_id)
    key = as_uuid(consent_id)
    consent = db.session.get(ConsentRecord, key) if key else None
    if consent is None or consent.person_id != person.id:
        abort(404)
    form = WithdrawConsentForm()
    if form.validate_on_submit():
        on = form.withdrawn_on.data
        if on > date.today():
            form.withdrawn_on.errors = [_("The date cannot be in the future.")]
        elif consent.given_on and on < consent.given_on:
            form.withdrawn_on.errors = [_("Consent cannot be withdrawn before it was given.")]
        elif consent.withdrawn_on is not None:
            form.form_errors.append(_("This consent was already withdrawn."))
        else:
            def withdraw() -> bool:
                people_service.withdraw_consent(current_user, case, consent, on)
                db.session.flush()
                return True

            if run(form, withdraw):
                flash(_("Withdrawal recorded."), "success")
                return redirect(url_for("cases.person_consent", case_id=case.id,
                                        person_id=person.id))
    return _page(case, person, _consent_form(ConsentForm()), form, consent.id), 200


@bp.route("/<case_id>/people/<person_id>/erase", methods=["GET", "POST"])
@roles("supervisor")
def shred_person(case_id: str, person_id: str) -> Any:
    case = load_case_or_404(case_id, Action.REVIEW, current_user)
    person = _person_or_404(case, person_id)
    step = require_recent_auth()
    if step is not None:
        return step
    form = ShredIdentityForm()
    if request.method == "GET" and store_consent_withdrawn(person):
        form.reason.data = "consent_withdrawn"
    if person.shredded_at is None and form.validate_on_submit():
        if not form.reason.data:
            form.reason.errors = [_("Choose why this identity is being erased.")]
        elif not form.confirm.data:
            form.confirm.errors = [_("Confirm that you understand this cannot be undone.")]
        else:
            done = run(form, lambda: people_service.shred_identity(
                current_user, case, person, form.reason.data) or True)
            if done:
                flash(_("The identity was erased. The rest of the case is kept."), "success")
                return redirect(url_for("cases.view", case_id=case.id) + f"#person-{person.id}")
    return render_template("cases/shred_form.html", form=form, case=case, person=person,
                           withdrawn=store_consent_withdrawn(person))
