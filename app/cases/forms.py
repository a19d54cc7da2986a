"""Forms of the case pages. Free-text fields use dir="auto" so Urdu and Balochi display right."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional

TEXT = {"dir": "auto"}
DATE_HINT = _l("As given: 2025-03-11, 11 March 2025, March 2025, 2019, or 'around Eid 2024'.")
YES_NO_UNKNOWN = [("", _l("Not known")), ("yes", _l("Yes")), ("no", _l("No"))]


class VersionedForm(FlaskForm):
    version = HiddenField()


class CaseForm(VersionedForm):
    title = StringField(_l("Title"), validators=[InputRequired(), Length(max=300)],
                        description=_l("Short and factual. It is stored encrypted."),
                        render_kw=TEXT)
    summary = TextAreaField(_l("Summary"), validators=[Optional(), Length(max=20000)],
                            render_kw=TEXT)
    date_received = DateField(_l("Date received"), validators=[Optional()])
    intake_channel = SelectField(_l("How it reached us"), choices=[], validate_choice=False)
    team_id = SelectField(_l("Team"), choices=[], validate_choice=False)
    tags = StringField(_l("Tags"), validators=[Optional(), Length(max=500)],
                       description=_l("Comma-separated, e.g. student, Turbat, 2025 wave."))
    submit = SubmitField(_l("Save case"))


class PersonForm(VersionedForm):
    full_name = StringField(_l("Full name"), validators=[Optional(), Length(max=300)],
                            render_kw=TEXT)
    other_names = TextAreaField(
        _l("Other names and spellings"), validators=[Optional(), Length(max=3000)],
        description=_l("One per line, e.g. Mohammad / Muhammad / Mohd, Baloch / Baluch."),
        render_kw={**TEXT, "rows": 3})
    father_name = StringField(_l("Father's name"), validators=[Optional(), Length(max=300)],
                              render_kw=TEXT)
    tribe = StringField(_l("Tribe or clan"), validators=[Optional(), Length(max=200)],
                        render_kw=TEXT)
    sex = SelectField(_l("Sex"), default="", choices=[("", _l("Not known")), ("female", _l("Female")),
                                          ("male", _l("Male")), ("other", _l("Other"))])
    date_of_birth = StringField(_l("Date of birth"), validators=[Optional(), Length(max=40)],
                                render_kw=TEXT)
    age = IntegerField(_l("Age"), validators=[Optional(), NumberRange(min=0, max=120)])
    age_group = SelectField(_l("Age group"), default="", choices=[
        ("", _l("Not known")), ("child", _l("Child")), ("youth", _l("Youth")),
        ("adult", _l("Adult")), ("elderly", _l("Elderly"))])
    cnic = StringField(_l("CNIC"), validators=[Optional(), Length(max=20)],
                       description=_l("13 digits, e.g. 52203-1234567-1."))
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=40)])
    address = TextAreaField(_l("Address"), validators=[Optional(), Length(max=2000)],
                            render_kw={**TEXT, "rows": 2})
    occupation = StringField(_l("Occupation"), validators=[Optional(), Length(max=120)],
                             render_kw=TEXT)
    affiliation = StringField(_l("Affiliation"), validators=[Optional(), Length(max=120)],
                              description=_l("e.g. student, political worker, journalist."),
                              render_kw=TEXT)
    physical_description = TextAreaField(_l("Physical description"),
                                         validators=[Optional(), Length(max=2000)],
                                         render_kw={**TEXT, "rows": 2})
    counting_unit = SelectField(_l("Counting unit"), default="individual", choices=[
        ("individual", _l("Individual")), ("family", _l("Family")), ("group", _l("Group")),
        ("community", _l("Community"))])
    submit = SubmitField(_l("Save person"))


class ActForm(VersionedForm):
    act_type = SelectField(_l("What happened"), choices=[], validate_choice=False)
    victim_id = SelectField(_l("Victim"), choices=[], validate_choice=False)
    start = StringField(_l("When it happened (or began)"), validators=[Length(max=80)],
                        description=DATE_HINT, render_kw=TEXT)
    end = StringField(_l("When it ended"), validators=[Optional(), Length(max=80)],
                      description=_l("Leave empty if it has not ended or is not known."),
                      render_kw=TEXT)
    district_code = SelectField(_l("District"), choices=[], validate_choice=False)
    place_as_reported = StringField(_l("Place, as reported"),
                                    validators=[Optional(), Length(max=500)], render_kw=TEXT)
    location_type = SelectField(_l("Type of location"), choices=[], validate_choice=False)
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=20000)],
                                render_kw=TEXT)
    status_of_victim = SelectField(_l("Status of the victim now"), choices=[],
                                   validate_choice=False)
    submit = SubmitField(_l("Save act"))


class DisappearanceForm(VersionedForm):
    last_seen = StringField(_l("Last seen on"), validators=[Optional(), Length(max=80)],
                            description=DATE_HINT, render_kw=TEXT)
    last_seen_time = StringField(_l("At (time)"), validators=[Optional(), Length(max=5)],
                                 description=_l("24-hour, e.g. 21:30."))
    place_last_seen = StringField(_l("Place last seen"), validators=[Optional(), Length(max=500)],
                                  render_kw=TEXT)
    circumstances = TextAreaField(_l("Circumstances"), validators=[Optional(), Length(max=20000)],
                                  render_kw=TEXT)
    taken_by = TextAreaField(_l("Who took the person, and how"),
                             validators=[Optional(), Length(max=5000)],
                             description=_l("Uniforms, vehicles, number of men, what was said."),
                             render_kw={**TEXT, "rows": 3})
    whereabouts = SelectField(_l("Whereabouts"), choices=[], validate_choice=False)
    deprived_of_liberty = SelectField(_l("Deprived of liberty?"), choices=YES_NO_UNKNOWN, default="")
    state_involvement = SelectField(_l("State involvement, at least by acquiescence?"),
                                    choices=YES_NO_UNKNOWN, default="")
    concealment = SelectField(_l("Refusal to acknowledge, or concealment of fate?"),
                              choices=YES_NO_UNKNOWN, default="")
    relatives_consent_wgeid = SelectField(_l("Relatives consent to a WGEID submission?"),
                                          choices=YES_NO_UNKNOWN, default="")
    source_keeps_contact = SelectField(_l("Can the source keep in contact?"),
                                       choices=YES_NO_UNKNOWN, default="")
    current_status = SelectField(_l("Current status"), choices=[], validate_choice=False)
    current_status_on = DateField(_l("Status last changed on"), validators=[Optional()])
    submit = SubmitField(_l("Save disappearance details"))


class PerpetratorForm(FlaskForm):
    unit = StringField(_l("Unit, force or group"), validators=[Optional(), Length(max=200)],
                       description=_l("e.g. men in plain clothes, a named force or agency."),
                       render_kw=TEXT)
    perpetrator_person_id = SelectField(_l("Or a person in this case"), choices=[],
                                        validate_choice=False)
    perpetrator_type = SelectField(_l("Type of perpetrator"), choices=[], validate_choice=False)
    degree = SelectField(_l("Degree of involvement"), choices=[], validate_choice=False)
    attribution = SelectField(_l("What the perpetrator said"), choices=[], validate_choice=False)
    submit = SubmitField(_l("Add alleged perpetrator"))


class FamilyStepForm(FlaskForm):
    step = SelectField(_l("What the family did"), choices=[], validate_choice=False)
    taken_on = DateField(_l("On"), validators=[Optional()])
    court_or_office = StringField(_l("Court, police station or office"),
                                  validators=[Optional(), Length(max=200)], render_kw=TEXT)
    reference_number = StringField(_l("Number (FIR, petition...)"),
                                   validators=[Optional(), Length(max=80)])
    outcome = TextAreaField(_l("Outcome"), validators=[Optional(), Length(max=5000)],
                            render_kw={**TEXT, "rows": 2})
    submit = SubmitField(_l("Add step"))


class LinkForm(FlaskForm):
    material = SelectField(_l("Testimony or evidence"), choices=[], validate_choice=False)
    relation = SelectField(_l("It"), choices=[("supports", _l("supports this act")),
                                              ("contradicts", _l("contradicts this act")),
                                              ("mentions", _l("mentions this act"))])
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=5000)],
                         render_kw={**TEXT, "rows": 2})
    checked = BooleanField(_l("Source, item and content have been checked"))
    submit = SubmitField(_l("Link"))


class AllegationStatusForm(FlaskForm):
    status = SelectField(_l("Allegation status"), choices=[], validate_choice=False)
    submit = SubmitField(_l("Set status"))


class TransitionForm(FlaskForm):
    comment = TextAreaField(_l("Comment"), validators=[Optional(), Length(max=5000)],
                            render_kw={**TEXT, "rows": 2})
    submit = SubmitField(_l("Confirm"))


class AssignForm(FlaskForm):
    members = SelectField(_l("Assign"), choices=[], validate_choice=False)
    submit = SubmitField(_l("Save"))


class FindPersonForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search that changes nothing (it is audited)

    full_name = StringField(_l("Name (or another spelling)"), validators=[Optional()],
                            render_kw=TEXT)
    father_name = StringField(_l("Father's name"), validators=[Optional()], render_kw=TEXT)
    cnic = StringField(_l("CNIC"), validators=[Optional()])
    phone = StringField(_l("Phone"), validators=[Optional()])
    submit = SubmitField(_l("Find"))


class RevealForm(FlaskForm):
    reason = SelectField(_l("Why do you need to see this identity?"), choices=[
        ("verify_with_family", _l("To verify details with the family")),
        ("prepare_submission", _l("To prepare a submission")),
        ("check_duplicate", _l("To check for a duplicate record")),
        ("court_or_legal", _l("For a court or legal process")),
        ("supervisor_review", _l("Supervisor review")),
        ("other", _l("Another reason related to this case")),
    ])
    submit = SubmitField(_l("Show identity"))


class CaseFilterForm(FlaskForm):
    class Meta:
        csrf = False

    status = SelectField(_l("Status"), choices=[], validate_choice=False)
    district = SelectField(_l("District"), choices=[], validate_choice=False)
    act_type = SelectField(_l("Act type"), choices=[], validate_choice=False)
    perpetrator_type = SelectField(_l("Perpetrator type"), choices=[], validate_choice=False)
    date_from = DateField(_l("Acts from"), validators=[Optional()])
    date_to = DateField(_l("Acts until"), validators=[Optional()])
    mine = BooleanField(_l("Only cases assigned to me"))
    submit = SubmitField(_l("Filter"))
