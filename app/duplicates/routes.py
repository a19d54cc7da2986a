"""Duplicate review: the list of candidate pairs, running a scan, revealing a pair, deciding it;
and `amanat duplicates scan [--as EMAIL]` for a scheduled run."""

from __future__ import annotations

from typing import Any

import click
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from app.duplicates import bp, job
from app.duplicates.forms import DecisionForm, PairRevealForm, ScanForm
from app.extensions import db
from app.models.cases import Case
from app.models.users import User
from app.services import ServiceError
from app.services.changes import ConflictError
from app.services.people import mask
from app.web.guard import require_recent_auth, roles

FEATURES = {
    "name": _l("name"), "name_similar": _l("similar name"), "father_name": _l("father's name"),
    "father_name_similar": _l("similar father's name"), "cnic": _l("CNIC"),
    "cnic_similar": _l("CNIC one digit apart"), "sex": _l("sex"), "age": _l("age (±3)"),
    "birth_year": _l("year of birth"), "disappearance_date": _l("date of disappearance"),
    "disappearance_year": _l("year of disappearance"), "district": _l("district"),
}
STATUSES = {"open": _l("To review"), "same": _l("Same person"), "different": _l("Different people")}


def feature_labels(codes: list[str]) -> list[str]:
    return [str(FEATURES.get(code, code)) for code in codes]


def _side(person: Any) -> dict[str, Any]:
    case = db.session.get(Case, person.case_id)
    return {"person": person, "case": case,
            "name": _("[identity erased]") if person.shredded_at else mask(person.full_name),
            "father": "" if person.shredded_at else mask(person.father_name)}


@bp.route("/")
@roles("supervisor")
def index() -> Any:
    status = request.args.get("status", "open")
    if status not in STATUSES:
        status = "open"
    rows = [{"pair": pair, "a": _side(pair.person_a), "b": _side(pair.person_b),
             "matched": feature_labels(pair.matched_features),
             "conflicting": feature_labels(pair.conflicting_features)}
            for pair in job.candidates(current_user, status)]
    return render_template("duplicates/index.html", rows=rows, status=status, statuses=STATUSES,
                           scan_form=ScanForm(), reveal_form=PairRevealForm(),
                           decision_form=DecisionForm())


@bp.route("/scan", methods=["POST"])
@roles("supervisor")
def run_scan() -> Any:
    if not ScanForm().validate_on_submit():
        abort(400)
    try:
        result = job.scan(current_user)
    except ServiceError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        db.session.commit()
        flash(_("Scan done: %(people)d people compared in %(pairs)d pairs; %(new)d new "
                "possible duplicates, %(total)d in all.", people=result.persons,
                pairs=result.compared, new=result.new, total=result.candidates), "success")
    return redirect(url_for("duplicates.index"))


def _pair_or_404(pair_id: str) -> Any:
    pair = job.candidate_or_none(current_user, pair_id)
    if pair is None:
        abort(404)
    return pair


@bp.route("/<pair_id>/reveal", methods=["POST"])
@roles("supervisor")
def reveal(pair_id: str) -> Any:
    pair = _pair_or_404(pair_id)
    step = require_recent_auth()
    if step is not None:
        return step
    form = PairRevealForm()
    if not form.validate_on_submit():
        flash(_("Choose why you need to see these identities."), "error")
        return redirect(url_for("duplicates.index"))
    try:
        job.reveal_pair(current_user, pair, form.reason.data)
    except ServiceError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("duplicates.index"))
    db.session.commit()
    # Shown in this response only, like the reveal on the case page.
    return render_template("duplicates/revealed.html", pair=pair, a=_side(pair.person_a),
                           b=_side(pair.person_b), matched=feature_labels(pair.matched_features),
                           conflicting=feature_labels(pair.conflicting_features),
                           decision_form=DecisionForm())


@bp.route("/<pair_id>/decide", methods=["POST"])
@roles("supervisor")
def decide(pair_id: str) -> Any:
    pair = _pair_or_404(pair_id)
    form = DecisionForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        job.decide(current_user, pair, form.decision.data, form.version.data)
    except ConflictError:
        db.session.rollback()
        flash(_("Someone else decided this pair meanwhile; see its current state below."), "error")
    except ServiceError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        db.session.commit()
        flash(_("Recorded: the same person, both records kept and linked.")
              if form.decision.data == "same" else
              _("Recorded: different people; this pair will not be proposed again."), "success")
    return redirect(url_for("duplicates.index"))


@bp.cli.command("scan")
@click.option("--as", "email", help="Supervisor whose cases are scanned (default: every active "
              "supervisor in turn, each within their own cases).")
def scan_command(email: str | None) -> None:
    """Look for the same person recorded in more than one case."""
    from app.services import accounts

    if email:
        user = accounts.find_user_by_email(email)
        if user is None or user.role != "supervisor" or not user.active:
            raise click.ClickException(f"No active supervisor with email address {email}.")
        supervisors = [user]
    else:
        supervisors = list(db.session.execute(select(User).where(
            User.role == "supervisor", User.active.is_(True)).order_by(User.email)).scalars())
        if not supervisors:
            raise click.ClickException("No active supervisor: nobody's cases to scan.")
    for supervisor in supervisors:
        try:
            result = job.scan(supervisor)
        except ServiceError as error:
            db.session.rollback()
            raise click.ClickException(error.message) from None
        db.session.commit()
        click.echo(f"{supervisor.email}: {result.persons} people, {result.compared} pairs compared, "
                   f"{result.candidates} candidates ({result.new} new, {result.removed} removed, "
                   f"{result.suppressed} already decided) in {result.seconds:.1f} s")

