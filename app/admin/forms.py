"""Forms for administering accounts and teams."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, SelectField, SelectMultipleField, StringField, SubmitField, widgets
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from app.models.users import Role

ROLE_LABELS = {
    Role.ADMIN.value: _l("Administrator: accounts, teams, settings; no case content"),
    Role.SUPERVISOR.value: _l("Supervisor: reviews their teams' cases and the audit trail"),
    Role.CASEWORKER.value: _l("Caseworker: documents the cases they own or are assigned"),
    Role.ANALYST.value: _l("Analyst: de-identified data only"),
}


class CheckboxListField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class UserForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    email = EmailField(_l("Email address"), validators=[DataRequired(), Length(max=254)])
    role = SelectField(_l("Role"), choices=[SelectChoice(k, v) for k, v in ROLE_LABELS.items()],
                       default=Role.CASEWORKER.value)
    teams = CheckboxListField(_l("Teams"), choices=[], validate_choice=True)
    submit = SubmitField(_l("Save"))


class EditUserForm(UserForm):
    email = None  # the address is the sign-in name; changing it is a new account


class TeamForm(FlaskForm):
    name = StringField(_l("Team name"), validators=[DataRequired(), Length(max=120)])
    submit = SubmitField(_l("Create team"))


class ActionForm(FlaskForm):
    submit = SubmitField(_l("Confirm"))
