"""Forms of the duplicate review screen: run a scan, reveal a pair, decide a pair."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, SubmitField
from wtforms.validators import AnyOf, InputRequired

from app.duplicates.job import DECISIONS
from app.services.people import REVEAL_REASONS


class ScanForm(FlaskForm):
    submit = SubmitField(_l("Run scan"))


class PairRevealForm(FlaskForm):
    reason = SelectField(_l("Why do you need to see these identities?"), choices=[
        ("check_duplicate", _l("To check for a duplicate record")),
        ("verify_with_family", _l("To verify details with the family")),
        ("supervisor_review", _l("Supervisor review")),
        ("other", _l("Another reason related to these cases")),
    ], validators=[AnyOf(REVEAL_REASONS)])
    submit = SubmitField(_l("Show both identities"))


class DecisionForm(FlaskForm):
    version = HiddenField()
    decision = HiddenField(validators=[InputRequired(), AnyOf(DECISIONS)])
