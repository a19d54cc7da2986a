"""Audit review pages: the filtered log, activity per person, Verify now, and exports.

Supervisors see entries tied to no case and those of the cases they may see; administrators only
account, sign-in, team, key, settings and audit events (app/audit/queries.py). Analysts and
caseworkers never reach these pages.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, abort, flash, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from app.audit import checkpoints, export, queries
from app.audit.checkpoints import AuditKeyError, signing_key
from app.audit.forms import ExportForm, LogFilterForm, VerifyForm
from app.audit.verify import last_verification, run_verification
from app.extensions import db
from app.models.users import Role
from app.web.guard import roles, step_up

bp = Blueprint("audit", __name__, url_prefix="/audit")

REVIEWERS = (Role.SUPERVISOR.value, Role.ADMIN.value)

# What each verification problem code means, for people (app/audit/verify.py sets the codes).
PROBLEM_LABELS = {
    "hash_mismatch": _l("An entry no longer matches its hash: it was edited or moved."),
    "unreadable": _l("An entry cannot be read."),
    "gap": _l("Entries are missing: deleted from the log."),
    "bad_seq": _l("An entry has an impossible sequence number."),
    "checkpoint_signature": _l("A stored checkpoint's signature is not valid."),
    "checkpoint_columns": _l("A stored checkpoint's columns differ from what was signed."),
    "checkpoint_unverified": _l("A stored checkpoint could not be checked (signing key missing)."),
    "checkpoint_mismatch": _l("The log no longer matches a signed checkpoint."),
    "checkpoint_beyond_log": _l("The log is shorter than a signed checkpoint: entries were "
                                "deleted."),
    "bad_verifier_key": _l("The verifier key given is not valid."),
    "against_signature": _l("An exported checkpoint is not signed by this log's key."),
    "against_unverified": _l("An exported checkpoint could not be checked."),
    "against_mismatch": _l("The log no longer matches an exported checkpoint."),
    "against_beyond_log": _l("The log is shorter than an exported checkpoint: entries were "
                             "deleted."),
    "against_proof": _l("No consistency proof to an exported checkpoint."),
}


@bp.record_once
def _start_checkpointing(state: Any) -> None:
    checkpoints.init_app(state.app)


@bp.context_processor
def _verification_state() -> dict[str, Any]:
    # Every audit page shows a red banner while the last verification failed.
    return {"last_verification": last_verification(), "problem_labels": PROBLEM_LABELS}


def _filter_form() -> tuple[LogFilterForm, queries.LogFilter]:
    form = LogFilterForm(request.args)
    form.actor.choices = [SelectChoice("", _("Anyone"))] + [
        SelectChoice(str(u.id), u.name) for u in queries.reviewable_users()]
    form.action.choices = [SelectChoice("", _("Any action"))] + [
        SelectChoice(a, a) for a in queries.known_actions(current_user)]
    if not request.args or not form.validate():
        return form, queries.LogFilter()
    return form, queries.LogFilter(
        actor_id=uuid.UUID(form.actor.data) if form.actor.data else None,
        case_id=uuid.UUID(form.case.data.strip()) if form.case.data else None,
        action=form.action.data or None,
        date_from=form.date_from.data,
        date_to=form.date_to.data,
    )


@bp.route("/")
@roles(*REVIEWERS)
def log() -> Any:
    form, log_filter = _filter_form()
    page = queries.log_page(current_user, log_filter, request.args.get("page", 1, type=int))
    return render_template("audit/log.html", form=form, page=page, log_filter=log_filter,
                           export_form=ExportForm(), week_start=queries.start_of_week())


@bp.route("/people")
@roles(*REVIEWERS)
def people() -> Any:
    week_start = queries.start_of_week()
    since = datetime.combine(week_start, datetime.min.time(), tzinfo=UTC)
    return render_template("audit/people.html", users=queries.reviewable_users(),
                           counts=queries.activity_since(current_user, since),
                           week_start=week_start)


def _verification_page(report: Any = None) -> Any:
    try:
        vkey = signing_key(create=False).verifier_key
    except AuditKeyError:
        vkey = None
    return render_template("audit/verification.html", form=VerifyForm(), report=report,
                           vkey=vkey, latest=checkpoints.latest_checkpoint())


@bp.route("/verification")
@roles(*REVIEWERS)
def verification() -> Any:
    return _verification_page()


@bp.route("/verification", methods=["POST"])
@roles(*REVIEWERS)
def verify_now() -> Any:
    if not VerifyForm().validate_on_submit():
        abort(400)
    report = run_verification(current_user.id, "web")
    db.session.commit()
    if report.ok:
        flash(_("The audit log verified: %(n)d entries, every check held.", n=report.entries),
              "success")
    return _verification_page(report)


@bp.route("/export", methods=["POST"])
@roles(*REVIEWERS)
@step_up
def export_log() -> Any:
    form = ExportForm()
    if not form.validate_on_submit():
        abort(400)
    fmt = "json" if form.json.data else "csv"
    _form, log_filter = _filter_form()
    export.record_export(current_user, log_filter, fmt)
    db.session.commit()
    checkpoint, warning = export.checkpoint_for_export()
    build = export.build_json if fmt == "json" else export.build_csv
    result = build(current_user, log_filter, checkpoint, warning)
    return Response(result.body, mimetype=result.mimetype, headers={
        "Content-Disposition": f'attachment; filename="{result.filename}"'})
