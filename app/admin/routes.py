"""Administrators invite and edit users, change roles and teams, reset 2FA, deactivate accounts."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from app.admin.forms import ActionForm, EditUserForm, TeamForm, UserForm
from app.extensions import db
from app.models.users import Role, Team, TokenPurpose, User
from app.services import ServiceError, accounts
from app.web.guard import roles, step_up

bp = Blueprint("admin", __name__, url_prefix="/admin")

PAGE_SIZE = 50


def _user_or_404(user_id: str) -> User:
    try:
        key = uuid.UUID(user_id)
    except ValueError:
        abort(404)
    user = db.session.get(User, key)
    if user is None:
        abort(404)
    return user


def _all_teams() -> list[Team]:
    return list(db.session.execute(select(Team).order_by(Team.name)).scalars())


def _with_team_choices(form: UserForm) -> UserForm:
    form.teams.choices = [SelectChoice(str(t.id), t.name) for t in _all_teams()]
    return form


def _chosen_teams(form: UserForm) -> list[Team]:
    wanted = {uuid.UUID(v) for v in form.teams.data or []}
    return [t for t in _all_teams() if t.id in wanted]


def _absolute(endpoint: str, token: str) -> str:
    return url_for(endpoint, token=token, _external=True)


@bp.route("/users")
@roles(Role.ADMIN.value)
def users() -> Any:
    page = max(request.args.get("page", 1, type=int), 1)
    query = select(User).order_by(User.active.desc(), User.name)
    rows = db.paginate(query, page=page, per_page=PAGE_SIZE, error_out=False)
    return render_template("admin/users.html", page=rows)


@bp.route("/users/new", methods=["GET", "POST"])
@roles(Role.ADMIN.value)
@step_up
def new_user() -> Any:
    form = _with_team_choices(UserForm())
    if form.validate_on_submit():
        try:
            user = accounts.create_user(current_user, name=form.name.data, email=form.email.data,
                                        role=form.role.data, teams=_chosen_teams(form))
            token = accounts.issue_token(TokenPurpose.INVITE, user=user, actor=current_user)
        except ServiceError as error:
            db.session.rollback()
            getattr(form, error.field or "name").errors.append(error.message)
        else:
            db.session.commit()
            return render_template("admin/link_issued.html", user=user,
                                   link=_absolute("auth.invitation", token), kind="invite")
    return render_template("admin/user_form.html", form=form, user=None)


@bp.route("/users/<user_id>", methods=["GET", "POST"])
@roles(Role.ADMIN.value)
@step_up
def edit_user(user_id: str) -> Any:
    user = _user_or_404(user_id)
    form = _with_team_choices(EditUserForm(obj=None if request.method == "POST" else user))
    if request.method == "GET":
        form.teams.data = [str(t.id) for t in user.teams]
    if form.validate_on_submit():
        try:
            accounts.update_profile(current_user, user, name=form.name.data)
            accounts.set_role(current_user, user, form.role.data)
            accounts.set_teams(current_user, user, _chosen_teams(form))
        except ServiceError as error:
            db.session.rollback()
            getattr(form, error.field or "name").errors.append(error.message)
        else:
            db.session.commit()
            flash(_("Saved."), "success")
            return redirect(url_for("admin.edit_user", user_id=user.id))
    return render_template("admin/user_form.html", form=form, user=user, action=ActionForm())


@bp.route("/users/<user_id>/<action>", methods=["POST"])
@roles(Role.ADMIN.value)
@step_up
def user_action(user_id: str, action: str) -> Any:
    user = _user_or_404(user_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        if action == "deactivate":
            accounts.deactivate(current_user, user)
            message = _("The account is deactivated and its sessions have ended.")
        elif action == "reactivate":
            accounts.reactivate(current_user, user)
            message = _("The account is active again.")
        elif action == "reset-2fa":
            token = accounts.reset_second_factor(current_user, user)
            db.session.commit()
            return render_template("admin/link_issued.html", user=user,
                                   link=_absolute("auth.enrol", token), kind="enrol")
        elif action == "reinvite":
            if user.password_hash:
                abort(400)
            token = accounts.issue_token(TokenPurpose.INVITE, user=user, actor=current_user)
            db.session.commit()
            return render_template("admin/link_issued.html", user=user,
                                   link=_absolute("auth.invitation", token), kind="invite")
        else:
            abort(404)
    except ServiceError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        db.session.commit()
        flash(message, "success")
    return redirect(url_for("admin.edit_user", user_id=user.id))


@bp.route("/teams", methods=["GET", "POST"])
@roles(Role.ADMIN.value)
def teams() -> Any:
    form = TeamForm()
    if form.validate_on_submit():
        try:
            accounts.create_team(current_user, form.name.data)
        except ServiceError as error:
            db.session.rollback()
            form.name.errors.append(error.message)
        else:
            db.session.commit()
            flash(_("Team created."), "success")
            return redirect(url_for("admin.teams"))
    return render_template("admin/teams.html", form=form, teams=_all_teams())
