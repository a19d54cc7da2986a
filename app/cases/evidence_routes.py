"""Evidence items: upload (with its own size limit), the item page, checked download and view.

The upload view is exempt from the global CSRF hook only because that hook reads the body
before any view runs, under the 2 MB form limit. The view raises the limit for this request
alone (after the guard has checked who is asking), then runs the very same CSRF check itself
before anything else is read. Downloads and inline views are POSTs: they append custody events.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from app.access import Action, can, load_case_or_404, may_see_field_kind
from app.cases import bp
from app.cases.forms import EvidenceForm, TransitionForm
from app.cases.helpers import as_uuid, run
from app.extensions import csrf, db
from app.models.evidence import EvidenceItem
from app.models.users import User
from app.services import ServiceError
from app.services import evidence as evidence_service
from app.web.errors import refuse_nul_in_form
from app.web.guard import roles

WORKERS = ("caseworker", "supervisor")
FORM_OVERHEAD = 256 * 1024  # the other fields and multipart framing around the file


def _item_or_404(case: Any, item_id: str) -> EvidenceItem:
    key = as_uuid(item_id)
    item = db.session.get(EvidenceItem, key) if key else None
    if item is None or item.case_id != case.id:
        abort(404)
    return item


def _derived_choices(case: Any) -> list[tuple[str, str]]:
    rows = [("", _("Not a copy: this is an original"))]
    for item in db.session.execute(select(EvidenceItem).where(EvidenceItem.case_id == case.id)
                                   .order_by(EvidenceItem.created_at)).scalars():
        rows.append((str(item.id), _("%(type)s, %(size)s bytes, received %(on)s, SHA-256 %(h)s…",
                                     type=item.media_type, size=item.size,
                                     on=item.created_at.strftime("%Y-%m-%d"),
                                     h=item.sha256[:12])))
    return rows


@csrf.exempt
@bp.route("/<case_id>/evidence/new", methods=["GET", "POST"])
@roles(*WORKERS)
def new_evidence(case_id: str) -> Any:
    case = load_case_or_404(case_id, Action.EDIT, current_user)
    if request.method == "POST":
        request.max_content_length = (current_app.config["MAX_EVIDENCE_BYTES"]
                                      + FORM_OVERHEAD)
        csrf.protect()  # the global check, run here once the body may be this large
        refusal = refuse_nul_in_form()
        if refusal is not None:
            return refusal
    form = EvidenceForm()
    form.derived_from.choices = _derived_choices(case)
    if request.method == "GET" and request.args.get("derived_from"):
        form.derived_from.data = request.args["derived_from"]
    if form.validate_on_submit():
        upload = form.file.data
        derived = None
        if form.derived_from.data:
            key = as_uuid(form.derived_from.data)
            derived = db.session.get(EvidenceItem, key) if key else None
            if derived is None or derived.case_id != case.id:
                form.derived_from.errors = [*form.derived_from.errors,
                                            _("Choose an item of this case.")]
        if upload is None:  # no file part, or one with no file chosen
            form.file.errors = [*form.file.errors, _("Choose a file to upload.")]
        elif not form.derived_from.errors:
            item = run(form, lambda: evidence_service.add_evidence(
                current_user, case, upload.stream, filename=upload.filename,
                declared_type=upload.mimetype, description=form.description.data,
                collected_by=form.collected_by.data, collected_at=form.collected_at.data,
                collected_from=form.collected_from.data, derived_from=derived))
            if item is not None:
                flash(_("Evidence received and stored encrypted. SHA-256: %(h)s",
                        h=item.sha256), "success")
                return redirect(url_for("cases.evidence_item", case_id=case.id,
                                        item_id=item.id))
    return render_template("cases/evidence_form.html", form=form, case=case)


@bp.route("/<case_id>/evidence/<item_id>")
@roles(*WORKERS)
def evidence_item(case_id: str, item_id: str) -> Any:
    case = load_case_or_404(case_id, Action.VIEW, current_user)
    item = _item_or_404(case, item_id)
    actors = {event.actor_id for event in evidence_service.custody_of(item)} | {item.created_by_id}
    names = {u.id: u.name for u in db.session.query(User).filter(User.id.in_(actors - {None}))}
    return render_template(
        "cases/evidence_item.html", case=case, item=item,
        custody=evidence_service.custody_of(item), links=evidence_service.links_of(item),
        copies=evidence_service.copies_of(item), names=names, action_form=TransitionForm(),
        editable=can(current_user, Action.EDIT, case),
        show_narrative=may_see_field_kind(current_user, "narrative"),
        viewable=item.media_type in evidence_service.INLINE_VIEWABLE)


def _integrity_page(case: Any, item: EvidenceItem, error: ServiceError) -> Any:
    db.session.commit()  # the failed check stays in the custody log and the audit trail
    return render_template("cases/evidence_refused.html", case=case, item=item,
                           message=error.message), 409


def _serve(case_id: str, item_id: str, purpose: str) -> Any:
    case = load_case_or_404(case_id, Action.VIEW, current_user)
    item = _item_or_404(case, item_id)
    if not TransitionForm().validate_on_submit():
        abort(400)
    if purpose == "viewed" and item.media_type not in evidence_service.INLINE_VIEWABLE:
        abort(404)
    try:
        chunks = evidence_service.open_checked(current_user, case, item, purpose=purpose)
    except evidence_service.EvidenceIntegrityFailure as error:
        return _integrity_page(case, item, error)
    except ServiceError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("cases.evidence_item", case_id=case.id, item_id=item.id))
    db.session.commit()  # custody and audit first: the file is served only once they are kept
    media_type = (item.media_type if item.media_type in evidence_service.SERVED_AS_IS
                  else evidence_service.OCTET_STREAM)
    fallback, original = evidence_service.download_names(item)
    disposition = "attachment" if purpose == "downloaded" else "inline"
    value = f'{disposition}; filename="{fallback}"'
    if original:
        value += f"; filename*=UTF-8''{quote(original, safe='')}"
    response = Response(chunks, mimetype=media_type, direct_passthrough=True)
    response.headers["Content-Disposition"] = value
    response.headers["Content-Length"] = str(item.size)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.route("/<case_id>/evidence/<item_id>/download", methods=["POST"])
@roles(*WORKERS)
def download_evidence(case_id: str, item_id: str) -> Any:
    return _serve(case_id, item_id, "downloaded")


@bp.route("/<case_id>/evidence/<item_id>/view", methods=["POST"])
@roles(*WORKERS)
def view_evidence(case_id: str, item_id: str) -> Any:
    return _serve(case_id, item_id, "viewed")


@bp.route("/<case_id>/evidence/<item_id>/recheck", methods=["POST"])
@roles(*WORKERS)
def recheck_evidence(case_id: str, item_id: str) -> Any:
    case = load_case_or_404(case_id, Action.VIEW, current_user)
    item = _item_or_404(case, item_id)
    if not TransitionForm().validate_on_submit():
        abort(400)
    try:
        evidence_service.recheck(current_user, case, item)
    except evidence_service.EvidenceIntegrityFailure as error:
        return _integrity_page(case, item, error)
    except ServiceError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        db.session.commit()
        flash(_("The stored file matches the SHA-256 recorded when it was received."), "success")
    return redirect(url_for("cases.evidence_item", case_id=case.id, item_id=item.id))
