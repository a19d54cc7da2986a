"""The user's own account: overview, password change, new recovery codes, sign out everywhere."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from app.account.forms import ChangePasswordForm, ConfirmForm
from app.extensions import db
from app.services import ServiceError, accounts
from app.web.guard import mark_authenticated_now, signed_in, step_up

bp = Blueprint("account", __name__, url_prefix="/account")


@bp.route("/")
@signed_in
def overview() -> Any:
    return render_template("account/overview.html", form=ConfirmForm(),
                           codes_left=accounts.remaining_recovery_codes(current_user))


@bp.route("/password", methods=["GET", "POST"])
@signed_in
def change_password() -> Any:
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            accounts.change_password(current_user, form.current_password.data, form.password.data)
        except ServiceError as error:
            db.session.rollback()
            getattr(form, error.field or "password").errors.append(error.message)
        else:
            user = current_user._get_current_object()
            db.session.commit()
            # Every other session ended with the change; this one continues under a new id.
            login_user(user)
            session.regenerate()  # type: ignore[attr-defined]
            mark_authenticated_now()
            flash(_("Your password is changed. You were signed out everywhere else."), "success")
            return redirect(url_for("account.overview"))
    return render_template("account/password.html", form=form)


@bp.route("/sign-out-everywhere", methods=["POST"])
@signed_in
def sign_out_everywhere() -> Any:
    form = ConfirmForm()
    if form.validate_on_submit():
        accounts.sign_out_everywhere(current_user)
        db.session.commit()
        logout_user()
        session.clear()
        flash(_("You are signed out on every device."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/recovery-codes", methods=["POST"])
@signed_in
@step_up
def new_recovery_codes() -> Any:
    form = ConfirmForm()
    if not form.validate_on_submit():
        return redirect(url_for("account.overview"))
    codes = accounts.renew_recovery_codes(current_user)
    db.session.commit()
    return render_template("auth/recovery_codes.html", codes=codes)
