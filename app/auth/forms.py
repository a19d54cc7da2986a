"""Forms for signing in and for setting up an account."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, EqualTo, Length

from app.security.passwords import MAX_LENGTH


class LoginForm(FlaskForm):
    email = EmailField(_l("Email address"), validators=[DataRequired(), Length(max=254)],
                       render_kw={"autocomplete": "username"})
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=MAX_LENGTH)],
                             render_kw={"autocomplete": "current-password"})
    submit = SubmitField(_l("Continue"))


class SecondFactorForm(FlaskForm):
    code = StringField(
        _l("Code from your authenticator app, or a recovery code"),
        validators=[DataRequired(), Length(max=40)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "text",
                   "autocapitalize": "characters", "spellcheck": "false"},
    )
    submit = SubmitField(_l("Sign in"))


class ReauthenticateForm(FlaskForm):
    secret = PasswordField(_l("Your password, or a code from your authenticator app"),
                           validators=[DataRequired(), Length(max=MAX_LENGTH)],
                           render_kw={"autocomplete": "current-password"})
    submit = SubmitField(_l("Confirm"))


class NewPasswordMixin:
    password = PasswordField(
        _l("New password"),
        validators=[DataRequired(), Length(max=MAX_LENGTH)],
        description=_l("At least 12 characters. A few unrelated words are easy to remember."),
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The two passwords differ."))],
        render_kw={"autocomplete": "new-password"},
    )


class SetupForm(NewPasswordMixin, FlaskForm):
    name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=120)],
                       render_kw={"autocomplete": "name"})
    email = EmailField(_l("Email address"), validators=[DataRequired(), Length(max=254)],
                       render_kw={"autocomplete": "email"})
    submit = SubmitField(_l("Create administrator"))


class InvitationForm(NewPasswordMixin, FlaskForm):
    submit = SubmitField(_l("Set password"))


class EnrolForm(FlaskForm):
    password = PasswordField(_l("Your password"), validators=[Length(max=MAX_LENGTH)],
                             render_kw={"autocomplete": "current-password"})
    code = StringField(_l("6-digit code from the app"),
                       validators=[DataRequired(), Length(max=10)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"})
    submit = SubmitField(_l("Turn on two-step verification"))
