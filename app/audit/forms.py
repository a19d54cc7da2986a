"""Forms of the audit review pages: the log filter (GET), Verify now and export (POST)."""

from __future__ import annotations

import uuid

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField, SubmitField
from wtforms.validators import Length, Optional, ValidationError


class LogFilterForm(FlaskForm):
    """Read from the query string: filtering changes nothing, so it carries no CSRF token."""

    class Meta:
        csrf = False

    actor = SelectField(_l("Person"), choices=[], default="", validate_choice=True)
    case = StringField(_l("Case id"), validators=[Optional(), Length(max=36)],
                       description=_l("The case's internal id, as shown in its audit entries."))
    action = SelectField(_l("Action"), choices=[], default="", validate_choice=True)
    date_from = DateField(_l("From (UTC)"), validators=[Optional()])
    date_to = DateField(_l("To (UTC, inclusive)"), validators=[Optional()])
    submit = SubmitField(_l("Filter"))

    def validate_case(self, field: StringField) -> None:
        if field.data:
            try:
                uuid.UUID(field.data.strip())
            except ValueError:
                raise ValidationError(
                    _l("Enter a case id like 7c1e2a4b-93f0-4d5e-8b6a-1f2e3d4c5b6a.")) from None

    def validate_date_to(self, field: DateField) -> None:
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError(_l("The end date is before the start date."))


class VerifyForm(FlaskForm):
    submit = SubmitField(_l("Verify now"))


class ExportForm(FlaskForm):
    csv = SubmitField(_l("Export as CSV"))
    json = SubmitField(_l("Export as JSON (verifiable)"))
