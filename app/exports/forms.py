"""Form of the HURIDOCS export page: which cases, which format, whether to name consenting people."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, SubmitField


class HuridocsExportForm(FlaskForm):
    format = SelectField(_l("Format"), choices=[("json", _l("JSON (every ESF record)")),
                                                ("csv", _l("CSV (one row per act, codes only)"))])
    identities = BooleanField(
        _l("Name the people who consented to sharing with partner organisations"),
        description=_l("Asks for your password or code again. Everyone else stays de-identified."))
    submit = SubmitField(_l("Export"))
