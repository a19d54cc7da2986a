"""The built-in vocabularies of DOMAIN.md: stable codes; labels are translated, codes never reused."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

CASE_STATUS = ("draft", "open", "under_review", "reviewed", "closed", "archived")
CONFIDENTIALITY = ("normal", "restricted")
INTAKE_CHANNEL = ("in_person", "phone", "partner_referral", "media_monitoring", "field_app")
COUNTING_UNIT = ("individual", "family", "group", "community")
SEX = ("female", "male", "other", "unknown")
AGE_GROUP = ("child", "youth", "adult", "elderly", "unknown")
DATE_PRECISION = ("day", "month", "year", "approximate", "unknown")

ACT_TYPE = (
    "enforced_disappearance", "abduction", "arbitrary_arrest", "arbitrary_detention",
    "extrajudicial_killing", "killing_by_non_state_actor", "killing_in_indiscriminate_attack",
    "death_in_custody", "attempted_killing", "torture", "rape", "sexual_assault",
    "hostage_taking", "death_threat", "harassment_intimidation", "illegal_search_raid",
    "destruction_of_property", "forced_displacement", "other",
)
SEXUAL_VIOLENCE_ACTS = frozenset({"rape", "sexual_assault"})
DISAPPEARANCE_ACTS = frozenset({"enforced_disappearance", "abduction"})
PERPETRATOR_TYPE = (
    "state_armed_forces", "state_paramilitary", "state_police", "state_counter_terrorism",
    "state_intelligence", "state_backed_armed_group", "non_state_armed_group", "criminal_group",
    "private_security", "civilian_mob", "unknown", "other",
)
LOCATION_TYPE = ("home", "checkpoint", "military_camp", "police_station", "street", "workplace",
                 "educational_institution", "hospital", "place_of_worship", "other", "unknown")
VICTIM_STATUS = ("still_missing", "released", "found_dead", "acknowledged_in_custody", "killed",
                 "injured", "unknown")
WHEREABOUTS = ("capture_acknowledged_location_disclosed",
               "capture_acknowledged_location_undisclosed", "capture_denied", "unknown")
INVOLVEMENT = ("directly_carried_out", "ordered", "planned", "present", "suspected",
               "failed_to_prevent", "unknown")
ATTRIBUTION = ("denied", "acknowledged", "acknowledged_denied_responsibility",
               "alternative_explanation", "claimed_responsibility", "none")
MATERIAL = ("victim_testimony", "witness_testimony", "interview", "affidavit", "photo", "video",
            "audio", "medical_report", "autopsy_report", "court_record",
            "press_release_government", "press_release_ngo", "press_release_armed_group",
            "news_report", "letter", "other")
CONNECTION = ("victim", "witness", "relative", "perpetrator", "third_party", "service_provider")
LINK_RELATION = ("supports", "contradicts", "mentions")
ALLEGATION_STATUS = ("alleged", "corroborated", "verified", "finding", "disputed",
                     "unsubstantiated")
RELIABILITY = ("A", "B", "C", "D", "E", "F")
CREDIBILITY = (1, 2, 3, 4, 5, 6)
FAMILY_STEP = ("police_report_filed", "police_report_refused", "habeas_corpus",
               "commission_of_inquiry_complaint", "wgeid_submission", "other")
FOLLOW_UP_TYPE = ("appeal", "complaint", "court_petition", "wgeid_submission",
                  "meeting_with_authorities", "media", "other")
FOLLOW_UP_STATUS = ("planned", "in_progress", "awaiting_response", "done", "abandoned")
CONSENT_PURPOSE = ("store", "share_wgeid_un", "courts", "partner_ngos", "media_public",
                   "anonymised_only")
LEGAL_BASIS = ("consent", "vital_interest", "public_interest", "legitimate_interest")
LANGUAGE = ("bal", "urd", "pus", "brh", "snd", "pan", "eng", "fas", "ara", "other")
CUSTODY_ACTION = ("received", "viewed", "downloaded", "exported", "transferred",
                  "hash_rechecked")

# Vocabularies admins may extend with local terms (stored in the vocabulary_terms table).
EXTENSIBLE = {
    "act_type": ACT_TYPE,
    "perpetrator_type": PERPETRATOR_TYPE,
    "location_type": LOCATION_TYPE,
    "material": MATERIAL,
    "intake_channel": INTAKE_CHANNEL,
    "follow_up_type": FOLLOW_UP_TYPE,
}


def label(code: object) -> str:
    """A readable label for any code: the translated built-in label, else the code itself."""
    text = LABELS.get(str(code))
    return str(text) if text is not None else str(code).replace("_", " ")


LABELS = {
    "draft": _l("Draft"), "open": _l("Open"), "under_review": _l("Under review"),
    "reviewed": _l("Reviewed"), "closed": _l("Closed"), "archived": _l("Archived"),
    "normal": _l("Normal"), "restricted": _l("Restricted"),
    "enforced_disappearance": _l("Enforced disappearance"), "abduction": _l("Abduction"),
    "arbitrary_arrest": _l("Arbitrary arrest"), "arbitrary_detention": _l("Arbitrary detention"),
    "extrajudicial_killing": _l("Extrajudicial killing"),
    "killing_by_non_state_actor": _l("Killing by a non-state actor"),
    "killing_in_indiscriminate_attack": _l("Killing in an indiscriminate attack"),
    "death_in_custody": _l("Death in custody"), "attempted_killing": _l("Attempted killing"),
    "torture": _l("Torture"), "rape": _l("Rape"), "sexual_assault": _l("Sexual assault"),
    "hostage_taking": _l("Hostage taking"), "death_threat": _l("Death threat"),
    "harassment_intimidation": _l("Harassment or intimidation"),
    "illegal_search_raid": _l("Illegal search or raid"),
    "destruction_of_property": _l("Destruction of property"),
    "forced_displacement": _l("Forced displacement"), "other": _l("Other"),
    "still_missing": _l("Still missing"), "released": _l("Released"),
    "found_dead": _l("Found dead"), "acknowledged_in_custody": _l("Acknowledged in custody"),
    "killed": _l("Killed"), "injured": _l("Injured"), "unknown": _l("Unknown"),
    "alleged": _l("Alleged"), "corroborated": _l("Corroborated (alleged)"),
    "verified": _l("Verified (alleged)"), "finding": _l("Finding"),
    "disputed": _l("Disputed (alleged)"), "unsubstantiated": _l("Unsubstantiated"),
    "supports": _l("Supports"), "contradicts": _l("Contradicts"), "mentions": _l("Mentions"),
    "day": _l("Exact day"), "month": _l("Month"), "year": _l("Year"),
    "approximate": _l("Approximate"),
    "female": _l("Female"), "male": _l("Male"),
    "state_armed_forces": _l("State armed forces"),
    "state_paramilitary": _l("State paramilitary forces"),
    "state_police": _l("Police"),
    "state_counter_terrorism": _l("Counter-terrorism department"),
    "state_intelligence": _l("State intelligence agency"),
    "state_backed_armed_group": _l("State-backed armed group"),
    "non_state_armed_group": _l("Non-state armed group"),
    "criminal_group": _l("Criminal group"),
    "private_security": _l("Private security"),
    "civilian_mob": _l("Civilian mob"),
    "home": _l("Home"),
    "checkpoint": _l("Checkpoint"),
    "military_camp": _l("Military camp"),
    "police_station": _l("Police station"),
    "street": _l("Street or road"),
    "workplace": _l("Workplace"),
    "educational_institution": _l("School, college or university"),
    "hospital": _l("Hospital"),
    "place_of_worship": _l("Place of worship"),
    "capture_acknowledged_location_disclosed": _l("Capture acknowledged, location disclosed"),
    "capture_acknowledged_location_undisclosed": _l("Capture acknowledged, location not disclosed"),
    "capture_denied": _l("Capture denied"),
    "directly_carried_out": _l("Directly carried out"),
    "ordered": _l("Ordered"),
    "planned": _l("Planned"),
    "present": _l("Present"),
    "suspected": _l("Suspected"),
    "failed_to_prevent": _l("Failed to prevent"),
    "denied": _l("Denied"),
    "acknowledged": _l("Acknowledged"),
    "acknowledged_denied_responsibility": _l("Acknowledged, denied responsibility"),
    "alternative_explanation": _l("Gave another explanation"),
    "claimed_responsibility": _l("Claimed responsibility"),
    "none": _l("Said nothing"),
    "victim_testimony": _l("Victim's testimony"),
    "witness_testimony": _l("Witness testimony"),
    "interview": _l("Interview"),
    "affidavit": _l("Affidavit"),
    "photo": _l("Photo"),
    "video": _l("Video"),
    "audio": _l("Audio recording"),
    "medical_report": _l("Medical report"),
    "autopsy_report": _l("Autopsy report"),
    "court_record": _l("Court record"),
    "press_release_government": _l("Government press release"),
    "press_release_ngo": _l("NGO press release"),
    "press_release_armed_group": _l("Armed group's press release"),
    "news_report": _l("News report"),
    "letter": _l("Letter"),
    "victim": _l("Victim"),
    "witness": _l("Witness"),
    "relative": _l("Relative"),
    "perpetrator": _l("Perpetrator"),
    "third_party": _l("Third party"),
    "service_provider": _l("Service provider"),
    "police_report_filed": _l("Police report (FIR) filed"),
    "police_report_refused": _l("Police refused to register a report"),
    "habeas_corpus": _l("Habeas corpus petition"),
    "commission_of_inquiry_complaint": _l("Complaint to the commission of inquiry"),
    "wgeid_submission": _l("Submission to the UN WGEID"),
    "appeal": _l("Appeal"),
    "complaint": _l("Complaint"),
    "court_petition": _l("Court petition"),
    "meeting_with_authorities": _l("Meeting with authorities"),
    "media": _l("Media"),
    "in_progress": _l("In progress"),
    "awaiting_response": _l("Awaiting response"),
    "done": _l("Done"),
    "abandoned": _l("Abandoned"),
    "store": _l("Keep the record"),
    "share_wgeid_un": _l("Share with the UN WGEID and UN bodies"),
    "courts": _l("Use in courts"),
    "partner_ngos": _l("Share with partner NGOs"),
    "media_public": _l("Media or public"),
    "anonymised_only": _l("Only anonymised"),
    "consent": _l("Consent"),
    "vital_interest": _l("Vital interest"),
    "public_interest": _l("Public interest"),
    "legitimate_interest": _l("Legitimate interest"),
    "in_person": _l("In person"),
    "phone": _l("Phone"),
    "partner_referral": _l("Referral by a partner"),
    "media_monitoring": _l("Media monitoring"),
    "field_app": _l("Field app"),
    "child": _l("Child"),
    "youth": _l("Youth"),
    "adult": _l("Adult"),
    "elderly": _l("Elderly"),
    "individual": _l("Individual"),
    "family": _l("Family"),
    "group": _l("Group"),
    "community": _l("Community"),
    "admin": _l("Administrator"), "supervisor": _l("Supervisor"),
    "caseworker": _l("Caseworker"), "analyst": _l("Analyst"),
}
