"""Forms for a user's own account."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SubmitField
from wtforms.validators import DataRequired, Length

from app.auth.forms import NewPasswordMixin
from app.security.passwords import MAX_LENGTH


class ChangePasswordForm(NewPasswordMixin, FlaskForm):
    current_password = PasswordField(_l("Current password"),
                                     validators=[DataRequired(), Length(max=MAX_LENGTH)],
                                     render_kw={"autocomplete": "current-password"})
    submit = SubmitField(_l("Change password"))


class ConfirmForm(FlaskForm):
    """A bare form: the CSRF token is the point."""

    submit = SubmitField(_l("Confirm"))
