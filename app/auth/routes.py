"""Sign-in in two steps (password, then TOTP or recovery code), sign-out, step-up and account set-up."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from app.auth.forms import (
    EnrolForm,
    InvitationForm,
    LoginForm,
    ReauthenticateForm,
    SecondFactorForm,
    SetupForm,
)
from app.extensions import db, limiter
from app.models.users import TokenPurpose, User
from app.security import passwords, totp
from app.services import ServiceError, accounts
from app.web.guard import is_safe_next, mark_authenticated_now, public, safe_next, signed_in

bp = Blueprint("auth", __name__)

PENDING_SECONDS = 300  # the second step must follow the first within five minutes


def _failed(response: Any) -> bool:
    # Only failed attempts count towards throttling; a success redirects.
    return response.status_code != 302


def _address_limit() -> str:
    return current_app.config["LOGIN_LIMIT_PER_ADDRESS"]


def _account_limit() -> str:
    return current_app.config["LOGIN_LIMIT_PER_ACCOUNT"]


def _account_key() -> str:
    email = accounts.normalise_email(request.form.get("email", ""))[:254]
    return "acct:" + hashlib.sha256(email.encode()).hexdigest()


def _pending_key() -> str:
    pending = session.get("pending_2fa") or {}
    return "2fa:" + str(pending.get("user", request.remote_addr))


def _sign_in(user: User, next_url: str | None) -> Any:
    session.clear()
    login_user(user)
    session.regenerate()  # type: ignore[attr-defined]
    mark_authenticated_now()
    accounts.record_sign_in(user)
    db.session.commit()
    return redirect(safe_next(next_url))


@bp.route("/login", methods=["GET", "POST"])
@public
@limiter.limit(_address_limit, methods=["POST"], deduct_when=_failed, scope="login-address")
@limiter.limit(_account_limit, key_func=_account_key, methods=["POST"], deduct_when=_failed,
               scope="login-account")
def login() -> Any:
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = LoginForm()
    next_url = request.args.get("next")
    if form.validate_on_submit():
        user = accounts.authenticate(form.email.data, form.password.data)
        if user is not None and user.totp_enrolled_at is not None:
            db.session.commit()  # a raised Argon2 cost re-hashes here
            session["pending_2fa"] = {
                "user": str(user.id),
                "at": datetime.now(UTC).timestamp(),
                "next": next_url if is_safe_next(next_url) else None,
            }
            return redirect(url_for("auth.second_factor"))
        if user is not None:
            form.email.errors.append(_(
                "Two-step verification is not set up for this account. Use the enrolment link "
                "your administrator gave you."))
        else:
            form.password.errors.append(_("Email address or password is not correct."))
        db.session.commit()  # keep the audit entry of the failed attempt
    return render_template("auth/login.html", form=form)


def _pending_user() -> User | None:
    pending = session.get("pending_2fa")
    if not isinstance(pending, dict):
        return None
    if datetime.now(UTC).timestamp() - float(pending.get("at", 0)) > PENDING_SECONDS:
        session.pop("pending_2fa", None)
        return None
    user = db.session.get(User, uuid.UUID(pending["user"]))
    return user if user is not None and user.active else None


@bp.route("/login/verify", methods=["GET", "POST"])
@public
@limiter.limit(_address_limit, methods=["POST"], deduct_when=_failed, scope="2fa-address")
@limiter.limit(_account_limit, key_func=_pending_key, methods=["POST"], deduct_when=_failed,
               scope="2fa-account")
def second_factor() -> Any:
    user = _pending_user()
    if user is None:
        flash(_("Your sign-in took too long. Please start again."), "warning")
        return redirect(url_for("auth.login"))
    form = SecondFactorForm()
    if form.validate_on_submit():
        if accounts.verify_second_factor(user, form.code.data):
            return _sign_in(user, session["pending_2fa"].get("next"))
        db.session.commit()  # keep the audit entry of the failure
        form.code.errors.append(_("That code is not valid, or it was already used."))
    return render_template("auth/second_factor.html", form=form)


@bp.route("/logout", methods=["POST"])
@public  # signing out must work even for a session that is already half-expired
def logout() -> Any:
    if current_user.is_authenticated:
        accounts.record_sign_out(current_user)
        db.session.commit()
    logout_user()
    session.clear()
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/reauthenticate", methods=["GET", "POST"])
@signed_in
@limiter.limit(_address_limit, methods=["POST"], deduct_when=_failed, scope="reauth")
def reauthenticate() -> Any:
    form = ReauthenticateForm()
    next_url = request.args.get("next")
    if form.validate_on_submit():
        secret = form.secret.data
        ok = (accounts.verify_second_factor(current_user, secret)
              if totp.normalise_code(secret).isdigit() and len(totp.normalise_code(secret)) == 6
              else passwords.verify_password(current_user.password_hash, secret))
        db.session.commit()
        if ok:
            mark_authenticated_now()
            return redirect(safe_next(next_url))
        form.secret.errors.append(_("That was not correct."))
    return render_template("auth/reauthenticate.html", form=form)


@bp.route("/setup/<token>", methods=["GET", "POST"])
@public
@limiter.limit(_address_limit, methods=["POST"], scope="setup")
def setup(token: str) -> Any:
    if accounts.valid_token(token, TokenPurpose.SETUP) is None or not accounts.setup_needed():
        return render_template("auth/link_invalid.html"), 404
    form = SetupForm()
    if form.validate_on_submit():
        try:
            user = accounts.complete_setup(token, name=form.name.data, email=form.email.data,
                                           password=form.password.data)
        except ServiceError as error:
            db.session.rollback()
            getattr(form, error.field or "password").errors.append(error.message)
        else:
            accounts.start_totp_enrolment(user)
            enrol_token = accounts.issue_token(TokenPurpose.ENROL, user=user)
            db.session.commit()
            return redirect(url_for("auth.enrol", token=enrol_token))
    return render_template("auth/setup.html", form=form)


@bp.route("/invite/<token>", methods=["GET", "POST"])
@public
@limiter.limit(_address_limit, methods=["POST"], scope="invite")
def invitation(token: str) -> Any:
    found = accounts.valid_token(token, TokenPurpose.INVITE)
    if found is None or found.user is None or not found.user.active:
        return render_template("auth/link_invalid.html"), 404
    form = InvitationForm()
    if form.validate_on_submit():
        try:
            user = accounts.accept_invitation(token, form.password.data)
        except ServiceError as error:
            db.session.rollback()
            form.password.errors.append(error.message)
        else:
            accounts.start_totp_enrolment(user)
            enrol_token = accounts.issue_token(TokenPurpose.ENROL, user=user)
            db.session.commit()
            return redirect(url_for("auth.enrol", token=enrol_token))
    return render_template("auth/invitation.html", form=form, invited=found.user)


@bp.route("/enrol/<token>", methods=["GET", "POST"])
@public
@limiter.limit(_address_limit, methods=["POST"], deduct_when=_failed, scope="enrol")
def enrol(token: str) -> Any:
    found = accounts.user_for_enrolment(token)
    if found is None:
        return render_template("auth/link_invalid.html"), 404
    enrol_token, user = found
    needs_password = enrol_token.created_by_id is not None  # after an administrator's reset
    form = EnrolForm()
    if form.validate_on_submit():
        if needs_password and not passwords.verify_password(user.password_hash,
                                                            form.password.data or ""):
            form.password.errors.append(_("That password is not correct."))
        else:
            try:
                codes = accounts.confirm_totp_enrolment(user, form.code.data)
            except ServiceError as error:
                form.code.errors.append(error.message)
            else:
                accounts.use_enrolment_token(enrol_token)
                session.clear()
                login_user(user)
                session.regenerate()  # type: ignore[attr-defined]
                mark_authenticated_now()
                accounts.record_sign_in(user)
                db.session.commit()
                return render_template("auth/recovery_codes.html", codes=codes)
    secret = user.totp_secret
    if not secret:
        abort(404)
    uri = totp.provisioning_uri(secret, user.email, current_app.config["ORGANISATION_NAME"])
    return render_template("auth/enrol.html", form=form, qr_svg=totp.qr_svg(uri),
                           secret=secret, needs_password=needs_password, user=user)
