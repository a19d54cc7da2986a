"""Forms of the search page and the dashboard. POSTs are CSRF-checked by the app-wide CSRFProtect;
the dashboard's GET filters change nothing."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField
from wtforms.validators import Length, Optional

TEXT = {"dir": "auto", "autocomplete": "off"}


class SearchForm(FlaskForm):
    class Meta:
        csrf = False  # POSTs are checked by CSRFProtect; GETs (saved searches) change nothing

    district = SelectField(_l("District"), choices=[], validate_choice=False)
    date_from = DateField(_l("Act began on or after"), validators=[Optional()])
    date_to = DateField(_l("Act began on or before"), validators=[Optional()],
                        description=_l("Imprecise dates (a month, a year) match when any day they "
                                       "can mean is in the range, and are marked in the results."))
    act_type = SelectField(_l("Type of act"), choices=[], validate_choice=False)
    perpetrator_type = SelectField(_l("Type of alleged perpetrator"), choices=[], validate_choice=False)
    status_of_victim = SelectField(_l("Status of the victim"), choices=[], validate_choice=False)
    allegation_status = SelectField(_l("Allegation status"), choices=[], validate_choice=False)
    reliability = SelectField(_l("Supported by a source graded at least"), choices=[],
                              validate_choice=False,
                              description=_l("Acts with supporting testimony from a source of this "
                                             "reliability or better (A is best)."))
    team = SelectField(_l("Team"), choices=[], validate_choice=False)
    case_status = SelectField(_l("Case status"), choices=[], validate_choice=False)
    full_name = StringField(_l("Victim's name (or a recorded other spelling)"),
                            validators=[Optional(), Length(max=300)], render_kw=TEXT)
    father_name = StringField(_l("Victim's father's name"), validators=[Optional(), Length(max=300)],
                              render_kw=TEXT)
    cnic = StringField(_l("Victim's CNIC"), validators=[Optional(), Length(max=40)],
                       render_kw={"autocomplete": "off"})
    phone = StringField(_l("Victim's phone"), validators=[Optional(), Length(max=40)],
                        render_kw={"autocomplete": "off"})
    save_name = StringField(_l("Save these filters as"), validators=[Optional(), Length(max=120)],
                            description=_l("Filters only: a search with a name, CNIC or phone "
                                           "cannot be saved."), render_kw={"dir": "auto"})


class DashboardForm(FlaskForm):
    class Meta:
        csrf = False  # a GET filter that changes nothing

    date_from = DateField(_l("Acts that began from"), validators=[Optional()])
    date_to = DateField(_l("to"), validators=[Optional()])
    district = SelectField(_l("District"), choices=[], validate_choice=False)
