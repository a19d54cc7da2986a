"""Forms of the case pages. Free-text fields use dir="auto" so Urdu and Balochi display right."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
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


class NoteForm(FlaskForm):
    comment = TextAreaField(_l("Add a note"), validators=[Optional(), Length(max=20000)],
                            render_kw={**TEXT, "rows": 3})
    submit = SubmitField(_l("Add note"))


class AssignForm(FlaskForm):
    members = SelectField(_l("Assign"), choices=[], validate_choice=False)
    submit = SubmitField(_l("Save"))


class FindPersonForm(FlaskForm):
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


# --- Sources, testimony, evidence, follow-up and consent --------------------------------------

RELIABILITY_CHOICES = [
    ("A", _l("A – Completely reliable")),
    ("B", _l("B – Usually reliable")),
    ("C", _l("C – Fairly reliable")),
    ("D", _l("D – Not usually reliable")),
    ("E", _l("E – Unreliable")),
    ("F", _l("F – Reliability cannot be judged")),
]
CREDIBILITY_CHOICES = [
    ("1", _l("1 – Confirmed by other sources")),
    ("2", _l("2 – Probably true")),
    ("3", _l("3 – Possibly true")),
    ("4", _l("4 – Doubtful")),
    ("5", _l("5 – Improbable")),
    ("6", _l("6 – Truth cannot be judged")),
]
LANGUAGE_CHOICES = [
    ("", _l("Not recorded")), ("bal", _l("Balochi")), ("urd", _l("Urdu")), ("pus", _l("Pashto")),
    ("brh", _l("Brahui")), ("snd", _l("Sindhi")), ("pan", _l("Punjabi")), ("eng", _l("English")),
    ("fas", _l("Persian")), ("ara", _l("Arabic")), ("other", _l("Another language")),
]
CONNECTION_CHOICES = [
    ("", _l("Not recorded")), ("victim", _l("Victim")), ("witness", _l("Witness")),
    ("relative", _l("Relative")), ("perpetrator", _l("Perpetrator")),
    ("third_party", _l("Third party")), ("service_provider", _l("Service provider")),
]


class SourceForm(FlaskForm):
    person_id = SelectField(_l("The source is a person of this case"), choices=[],
                            validate_choice=False,
                            description=_l("Names are masked here. Leave empty when the source "
                                           "is an organisation."))
    organisation = StringField(_l("Or an organisation"), validators=[Optional(), Length(max=300)],
                               description=_l("e.g. a partner NGO, a newspaper, a hospital."),
                               render_kw=TEXT)
    reliability = SelectField(_l("Reliability of the source"), choices=RELIABILITY_CHOICES,
                              default="F",
                              description=_l("Admiralty grading: how far this source has proved "
                                             "reliable before, not whether this statement is "
                                             "true."))
    pseudonym = StringField(_l("Pseudonym"), validators=[Optional(), Length(max=40)],
                            description=_l("Used in every output instead of the name. Leave "
                                           "empty for the next free one (S-01, S-02...)."),
                            render_kw=TEXT)
    submit = SubmitField(_l("Add source"))


class TestimonyForm(VersionedForm):
    source_id = SelectField(_l("Source"), choices=[], validate_choice=False)
    given = StringField(_l("Date of the statement"), validators=[Optional(), Length(max=80)],
                        description=DATE_HINT, render_kw=TEXT)
    language = SelectField(_l("Language"), choices=LANGUAGE_CHOICES, default="")
    material = SelectField(_l("Type of material"), choices=[], validate_choice=False)
    connection = SelectField(_l("Connection to the facts"), choices=CONNECTION_CHOICES,
                             default="")
    credibility = SelectField(_l("Credibility of this information"), choices=CREDIBILITY_CHOICES,
                              default="6",
                              description=_l("How far the content is confirmed, independently "
                                             "of the source's reliability."))
    interview_place = StringField(_l("Place of the interview"),
                                  validators=[Optional(), Length(max=500)], render_kw=TEXT)
    transcript = TextAreaField(_l("Transcript"), validators=[Optional(), Length(max=500_000)],
                               description=_l("Stored encrypted."),
                               render_kw={**TEXT, "rows": 12})
    notes = TextAreaField(_l("Interviewer's notes"), validators=[Optional(), Length(max=50_000)],
                          description=_l("Demeanour, consistency, follow-up needed. Stored "
                                         "encrypted."),
                          render_kw={**TEXT, "rows": 4})
    submit = SubmitField(_l("Save testimony"))


class EvidenceForm(FlaskForm):
    file = FileField(_l("File"),
                     description=_l("Photos, audio, video, PDF, plain text, or an archive "
                                    "(kept as received, never unpacked). The type is read from "
                                    "the content, not the name."))
    description = TextAreaField(_l("What it is"), validators=[Optional(), Length(max=5000)],
                                description=_l("Stored encrypted."),
                                render_kw={**TEXT, "rows": 3})
    collected_by = StringField(_l("Collected by"), validators=[Optional(), Length(max=120)],
                               description=_l("A role or pseudonym, e.g. field team Kech, S-02. "
                                              "Not stored encrypted: do not write a name."),
                               render_kw=TEXT)
    collected_at = DateTimeLocalField(_l("Collected on (UTC)"), format="%Y-%m-%dT%H:%M",
                                      validators=[Optional()])
    collected_from = StringField(_l("Collected from"), validators=[Optional(), Length(max=2000)],
                                 description=_l("Device, account or URL. Stored encrypted."),
                                 render_kw=TEXT)
    derived_from = SelectField(_l("A copy of"), choices=[], validate_choice=False,
                               description=_l("For a redacted or converted copy: the original "
                                              "item. The original is never altered."))
    submit = SubmitField(_l("Upload"))


class FollowUpForm(VersionedForm):
    action_type = SelectField(_l("Type of action"), choices=[], validate_choice=False)
    taken_on = DateField(_l("Date"), validators=[Optional()])
    by_whom = StringField(_l("By whom"), validators=[Optional(), Length(max=200)],
                          render_kw=TEXT)
    to_whom = StringField(_l("To whom"), validators=[Optional(), Length(max=200)],
                          description=_l("e.g. the High Court of Balochistan, the WGEID, the "
                                         "district commissioner."),
                          render_kw=TEXT)
    response = TextAreaField(_l("Response"), validators=[Optional(), Length(max=20000)],
                             description=_l("Stored encrypted."), render_kw={**TEXT, "rows": 3})
    status = SelectField(_l("Status"), choices=[], validate_choice=False)
    next_step = TextAreaField(_l("Next step"), validators=[Optional(), Length(max=5000)],
                              description=_l("Stored encrypted."), render_kw={**TEXT, "rows": 2})
    next_step_on = DateField(_l("Next step due on"), validators=[Optional()])
    submit = SubmitField(_l("Save follow-up action"))


class ConsentForm(FlaskForm):
    purpose = SelectField(_l("Consent to"), choices=[], validate_choice=False)
    legal_basis = SelectField(_l("Legal basis"), choices=[], validate_choice=False,
                              default="consent")
    given_on = DateField(_l("Given on"), validators=[Optional()])
    recording_allowed = BooleanField(_l("Audio or video recording allowed"))
    submit = SubmitField(_l("Record consent"))


class WithdrawConsentForm(FlaskForm):
    withdrawn_on = DateField(_l("Withdrawn on"), validators=[InputRequired()])
    submit = SubmitField(_l("Record withdrawal"))


class ShredIdentityForm(FlaskForm):
    reason = SelectField(_l("Why is this identity being erased?"), choices=[
        ("", "—"),
        ("consent_withdrawn", _l("The person withdrew consent to store their data")),
        ("safety_risk", _l("Keeping it puts the person at risk")),
        ("data_minimisation", _l("It is no longer needed (data minimisation)")),
        ("legal_request", _l("A legal request to erase it")),
    ], validate_choice=False)
    confirm = BooleanField(_l("I understand that the name, father's name, CNIC, phone, address "
                              "and other identity details of this person can never be read "
                              "again, by anyone."))
    submit = SubmitField(_l("Erase identity"))
