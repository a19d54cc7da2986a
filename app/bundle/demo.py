"""`amanat seed-demo`: a realistic but entirely fictional dataset, for training and demonstrations.

Every name, place detail, number and statement is invented (names are common given names and
clan names recombined at random; no real person is described). The cases are written as bundles
through the bundle importer, so every service rule, encryption and audit entry applies; the demo
users get one-time invitation links, never passwords.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select

from app.audit.recorder import record
from app.bundle.importer import import_bundle
from app.domain import dates
from app.domain.vocab import ACT_TYPE, DISAPPEARANCE_ACTS, SEXUAL_VIOLENCE_ACTS
from app.extensions import db
from app.models.cases import Case
from app.models.users import Team, TokenPurpose, User
from app.services import accounts
from app.services import cases as case_service

DEMO_DOMAIN = "demo.amanat.invalid"  # .invalid never resolves: no mail can reach anyone
USERS = (  # (name, local part, role, team)
    ("Saima Jamali (demo supervisor)", "supervisor", "supervisor", "Quetta"),
    ("Karim Lango (demo caseworker)", "caseworker.quetta1", "caseworker", "Quetta"),
    ("Nazia Rind (demo caseworker)", "caseworker.quetta2", "caseworker", "Quetta"),
    ("Hammal Dashti (demo caseworker)", "caseworker.turbat", "caseworker", "Turbat"),
)
# Given names with the spellings people actually use for them, and an Urdu-script form.
GIVEN = {
    "Muhammad": (["Mohammad", "Mohd", "Muhammed"], "محمد"),
    "Bashir": (["Basheer"], "بشیر"), "Nasir": (["Naseer"], "ناصر"),
    "Jameel": (["Jamil"], "جمیل"), "Hafeez": (["Hafiz"], "حفیظ"),
    "Rashid": (["Rasheed"], "رشید"), "Naveed": (["Navid"], "نوید"),
    "Khalil": (["Khaleel"], "خلیل"), "Shahzad": (["Shehzad"], "شہزاد"),
    "Saeed": (["Said", "Sayeed"], "سعید"), "Zahid": (["Zahed"], "زاہد"),
    "Abdul Rahman": (["Abdal Rahman", "Abdul Rehman"], "عبدالرحمن"),
    "Abdul Wahid": (["Abdal Wahid", "Abdul Waheed"], "عبدالواحد"),
    "Ghulam Rasool": (["Gulam Rasool", "Ghulam Rasul"], "غلام رسول"),
    "Dad Karim": (["Dad Kareem"], "داد کریم"), "Shahdad": (["Shadad"], "شہداد"),
    "Imran": (["Imraan"], "عمران"), "Sameer": (["Samir"], "سمیر"),
}
GIVEN_FEMALE = {
    "Zarina": (["Zareena"], "زرینہ"), "Mahnaz": (["Mehnaz"], "مہناز"),
    "Sabira": (["Sabera"], "صابرہ"), "Gul Bibi": (["Gul Bibi"], "گل بی بی"),
    "Hani": (["Haani"], "ہانی"), "Shari": (["Shaari"], "شاری"),
}
CLAN = {
    "Baloch": ["Baluch", "Balouch"], "Marri": ["Mari"], "Bugti": ["Bughti"],
    "Mengal": ["Mingal"], "Rind": ["Rend"], "Dashti": ["Dashtee"], "Lango": ["Langov"],
    "Bizenjo": ["Bizenjoo"], "Zehri": ["Zehree"], "Kurd": ["Kurd"], "Kakar": ["Kakkar"],
    "Hazara": ["Hazarah"],
}
FATHERS = ["Ghulam Nabi", "Abdul Ghafoor", "Dost Muhammad", "Allah Bakhsh", "Mir Jan",
           "Haji Abdullah", "Noor Ahmed", "Wali Muhammad", "Khuda Bakhsh", "Gul Khan"]
DISTRICTS = ["PK211", "PK211", "PK211", "PK226", "PK226", "PK213", "PK224", "PK205", "PK201",
             "PK212", "PK210", "PK220", "PK204", "PK216", "PK203", "PK217", "PK228", "PK223"]
DISTRICT_NAMES = {"PK201": "Awaran", "PK203": "Chagai", "PK204": "Dera Bugti", "PK205": "Gwadar",
                  "PK210": "Kalat", "PK211": "Kech", "PK212": "Kharan", "PK213": "Khuzdar",
                  "PK216": "Kohlu", "PK217": "Lasbela", "PK220": "Mastung", "PK223": "Nushki",
                  "PK224": "Panjgur", "PK226": "Quetta", "PK228": "Sibi"}
PLACES = ["main bazaar", "a checkpoint on the main road", "the family home", "the university "
          "hostel", "a bus stop near the hospital", "his shop", "the date orchards outside town",
          "the mosque after evening prayer", "a hotel on the highway", "the football ground"]
OCCUPATIONS = ["student", "shopkeeper", "driver", "teacher", "labourer", "fisherman",
               "farmer", "tailor", "mechanic", "government clerk"]
AFFILIATIONS = ["student", "political worker", "journalist", None, None, None]
UNITS = [("Men in plain clothes with two double-cabin pickups (unit not identified)", "unknown"),
         ("Uniformed paramilitary personnel (unit not identified)", "state_paramilitary"),
         ("Police in uniform with an unmarked van", "state_police"),
         ("Plain-clothes men said by witnesses to be from an intelligence agency",
          "state_intelligence"),
         ("Armed men of a pro-government militia (as described by the family)",
          "state_backed_armed_group"),
         ("An armed group that claimed responsibility in a statement", "non_state_armed_group"),
         ("Unknown armed men on motorcycles", "unknown")]
TRANSCRIPTS = [
    "انہیں بازار سے اٹھایا گیا اور گاڑی میں بٹھا کر لے گئے۔",  # Urdu: fictional statement
    "They came at night, about eight men, and took him without a word.",
    "We went to the police station the next morning; they refused to write the report.",
    "ما آییا گون وتی چمّان دیست که آ برتگ بوت۔",  # Balochi (Arabic script): fictional statement
    "He called at 4 pm to say he was leaving the shop. His phone was off after that.",
]
COURTS = ["Balochistan High Court, Quetta", "Balochistan High Court, Turbat Bench",
          "Commission of Inquiry on Enforced Disappearances"]
WEIGHTED_TYPES = (["enforced_disappearance"] * 8 + ["abduction"] * 2 + ["arbitrary_arrest",
                  "torture", "extrajudicial_killing", "illegal_search_raid", "death_threat",
                  "harassment_intimidation", "killing_in_indiscriminate_attack"])
VICTIM_STATUS = {"enforced_disappearance": ["still_missing"] * 5 + ["released", "found_dead",
                                                                    "acknowledged_in_custody"],
                 "abduction": ["still_missing", "released"],
                 "extrajudicial_killing": ["killed"], "killing_by_non_state_actor": ["killed"],
                 "killing_in_indiscriminate_attack": ["killed"], "death_in_custody": ["killed"],
                 "attempted_killing": ["injured"], "torture": ["released", "injured"]}


class NotEmpty(Exception):
    """The database already holds cases; the demo refuses to mix fiction with real records."""


@dataclass
class Outcome:
    cases: int = 0
    invitations: list[tuple[User, str]] = field(default_factory=list)


def _users() -> dict[str, User]:
    teams: dict[str, Team] = {}
    for name in sorted({u[3] for u in USERS}):
        team = db.session.execute(select(Team).where(Team.name == name)).scalar_one_or_none()
        if team is None:
            team = Team(id=uuid.uuid4(), name=name)
            db.session.add(team)
            db.session.flush()
            record("team.create", actor_id=None, object_type="team", object_id=team.id,
                   details={"demo": True})
        teams[name] = team
    users = {}
    for name, local, role, team in USERS:
        email = f"{local}@{DEMO_DOMAIN}"
        user = accounts.find_user_by_email(email) or accounts.create_user(
            None, name=name, email=email, role=role, teams=[teams[team]])
        users[local] = user
    return users


class _Maker:
    """Builds one fictional case as a bundle case."""

    def __init__(self, rng: random.Random, today: date) -> None:
        self.rng = rng
        self.today = today

    def person_name(self, female: bool = False) -> tuple[str, list[str]]:
        rng = self.rng
        pool = GIVEN_FEMALE if female else GIVEN
        given = rng.choice(sorted(pool))
        clan = rng.choice(sorted(CLAN))
        variants, script = pool[given]
        full = f"{given} {clan}"
        others = [f"{rng.choice(variants)} {clan}", f"{given} {rng.choice(CLAN[clan])}"]
        if rng.random() < 0.4:
            others.append(script)
        return full, [o for o in dict.fromkeys(others) if o != full]

    def when(self, recent: bool = False) -> dict[str, Any]:
        rng = self.rng
        back = rng.randint(10, 85) if recent else rng.randint(100, 3300)
        day = self.today - timedelta(days=back)
        month = day.strftime("%B")
        kind = rng.random()
        if recent or kind < 0.6:
            text = f"{day.day} {month} {day.year}"
        elif kind < 0.8:
            text = f"{month} {day.year}"
        elif kind < 0.9:
            text = str(day.year)
        else:
            text = f"around Eid {day.year}"
        partial = dates.parse(text)
        out = {"date": partial.value, "precision": partial.precision}
        if partial.as_given and partial.precision == "approximate":
            out["as_given"] = partial.as_given
        return out

    def case(self, number: int, types: list[str], status: str) -> dict[str, Any]:
        rng = self.rng
        victim_female = any(t in SEXUAL_VIOLENCE_ACTS for t in types) or rng.random() < 0.1
        name, others = self.person_name(female=victim_female)
        victim = {"id": "p1", "full_name": name, "other_names": others,
                  "father_name": rng.choice(FATHERS), "sex": "female" if victim_female else "male",
                  "age": rng.randint(16, 58), "occupation": rng.choice(OCCUPATIONS),
                  "affiliation": rng.choice(AFFILIATIONS)}
        if rng.random() < 0.5:
            victim["cnic"] = f"5{rng.randint(1000, 9999)}-{rng.randint(1000000, 9999999)}-" \
                             f"{rng.randint(1, 9)}"
        victim = {k: v for k, v in victim.items() if v is not None}
        mother = rng.random() < 0.5
        relative_name, relative_others = self.person_name(female=mother)
        relative = {"id": "p2", "full_name": relative_name, "other_names": relative_others,
                    "sex": "female" if mother else "male"}
        witness_name, _ = self.person_name()
        witness = {"id": "p3", "full_name": witness_name, "sex": "male"}
        district = rng.choice(DISTRICTS)
        place = rng.choice(PLACES)
        sensitive = any(t in SEXUAL_VIOLENCE_ACTS for t in types)
        acts = []
        for n, act_type in enumerate(types, start=1):
            recent = act_type in DISAPPEARANCE_ACTS and rng.random() < 0.12
            act: dict[str, Any] = {
                "id": f"a{n}", "type": act_type, "victim": "p1", "start": self.when(recent),
                "district": district, "place_as_reported": f"{place.capitalize()}",
                "location_type": rng.choice(["street", "home", "checkpoint", "workplace",
                                             "unknown"]),
                "status_of_victim": rng.choice(VICTIM_STATUS.get(act_type, ["unknown"]))}
            if not sensitive:  # survivor-centred: narrative minimised for sexual violence
                act["description"] = f"Fictional account for training: {act_type.replace('_', ' ')} " \
                                     f"reported at {place}."
            unit, perpetrator_type = rng.choice(UNITS)
            act["perpetrators"] = [{"unit": unit, "type": perpetrator_type,
                                    "involvement": rng.choice(["directly_carried_out",
                                                               "suspected", "present"]),
                                    "attribution": rng.choice(["denied", "none", "none"])}]
            if act_type in DISAPPEARANCE_ACTS:
                act["disappearance"] = self.disappearance(act, place)
            acts.append(act)
        sources = [{"id": "s1", "person": "p2", "reliability": rng.choice("ABBCCDF"),
                    "pseudonym": f"R-{number:02d}"}]
        testimonies = [self.testimony("t1", "s1", "relative")]
        links: list[dict[str, Any]] = []
        shape = rng.random()
        corroborated = shape < 0.3
        unsupported = 0.3 <= shape < 0.45
        if corroborated:
            sources.append({"id": "s2", "person": "p3", "reliability": rng.choice("BCDEF"),
                            "pseudonym": f"W-{number:02d}"})
            testimonies.append(self.testimony("t2", "s2", "witness"))
            if rng.random() < 0.5:
                sources.append({"id": "s3", "organisation": "Fictional District Rights Desk",
                                "reliability": "C", "pseudonym": f"O-{number:02d}"})
                testimonies.append({"id": "t3", "source": "s3", "material": "news_report",
                                    "language": "eng", "credibility": 3,
                                    "date": acts[0]["start"].get("date"),
                                    "precision": acts[0]["start"]["precision"]})
        for act in acts:
            if unsupported and act["id"] == "a1":
                continue  # shown as unsupported: no material cited yet
            links.append({"act": act["id"], "testimony": "t1", "relation": "supports"})
            if corroborated:
                links.append({"act": act["id"], "testimony": "t2", "relation": "supports",
                              "note": "Independent eyewitness."})
                act["allegation_status"] = "corroborated"
            if len(testimonies) > 2:
                links.append({"act": act["id"], "testimony": "t3", "relation": "mentions"})
        consents = [{"person": "p2", "purpose": "store", "legal_basis": "consent",
                     "given_on": (self.today - timedelta(days=rng.randint(1, 60))).isoformat()}]
        if rng.random() < 0.5:
            consents.append({"person": "p2", "purpose": "share_wgeid_un",
                             "given_on": consents[0]["given_on"], "recording_allowed": True})
        title_type = types[0].replace("_", " ")
        case: dict[str, Any] = {
            "id": f"demo{number}", "title": f"{title_type.capitalize()} — {name}",
            "summary": "Fictional case created by amanat seed-demo for training.",
            "status": status, "date_received": (self.today - timedelta(
                days=rng.randint(1, 90))).isoformat(),
            "intake_channel": rng.choice(["in_person", "phone", "partner_referral",
                                          "media_monitoring"]),
            "tags": ["demo", DISTRICT_NAMES[district]], "people": [victim, relative, witness], "acts": acts,
            "sources": sources, "testimonies": testimonies, "links": links,
            "consents": consents,
            "notes": [{"text": "Demo note: call the family back after the court hearing."}]}
        if rng.random() < 0.3 and not sensitive:
            case["follow_ups"] = [{"type": rng.choice(["wgeid_submission", "court_petition",
                                                       "meeting_with_authorities"]),
                                   "taken_on": (self.today - timedelta(days=5)).isoformat(),
                                   "by_whom": "Legal desk", "status": "awaiting_response",
                                   "next_step": "Ask for the next hearing date.",
                                   "next_step_on": (self.today + timedelta(days=14)).isoformat()}]
        return case

    def testimony(self, local: str, source: str, connection: str) -> dict[str, Any]:
        rng = self.rng
        transcript = rng.choice(TRANSCRIPTS)
        language = "urd" if "ا" in transcript and "گون" not in transcript else (
            "bal" if "گون" in transcript else "eng")
        given = self.today - timedelta(days=rng.randint(1, 60))
        return {"id": local, "source": source, "date": given.isoformat(), "precision": "day",
                "language": language,
                "material": "witness_testimony" if connection == "witness" else "interview",
                "connection": connection, "credibility": rng.randint(1, 6),
                "transcript": transcript}

    def disappearance(self, act: dict[str, Any], place: str) -> dict[str, Any]:
        rng = self.rng
        start = act["start"]
        steps: list[dict[str, Any]] = []
        first = dates.from_parts(start.get("date"), start["precision"]).latest or self.today
        day = min(first + timedelta(days=rng.randint(1, 5)), self.today)
        if rng.random() < 0.5:
            steps.append({"step": "police_report_filed", "taken_on": day.isoformat(),
                          "court_or_office": "City police station",
                          "reference_number": f"FIR {rng.randint(10, 300)}/{day.year}"})
        else:
            steps.append({"step": "police_report_refused", "taken_on": day.isoformat(),
                          "court_or_office": "City police station",
                          "outcome": "The duty officer refused to register the report."})
        if rng.random() < 0.5:
            later = min(day + timedelta(days=rng.randint(10, 60)), self.today)
            steps.append({"step": "habeas_corpus", "taken_on": later.isoformat(),
                          "court_or_office": rng.choice(COURTS[:2]),
                          "reference_number": f"C.P. {rng.randint(100, 2000)}/{later.year}",
                          "outcome": "Pending; next hearing not yet fixed."})
        if rng.random() < 0.3:
            later = min(day + timedelta(days=rng.randint(30, 120)), self.today)
            steps.append({"step": "commission_of_inquiry_complaint",
                          "taken_on": later.isoformat(), "court_or_office": COURTS[2]})
        unit = act["perpetrators"][0]["type"] if act.get("perpetrators") else "unknown"
        return {"last_seen": {k: v for k, v in start.items() if k != "as_given"},
                "last_seen_time": f"{rng.randint(6, 23):02d}:{rng.choice(['00', '15', '30', '45'])}",
                "place_last_seen": place.capitalize(),
                "circumstances": "Fictional: taken in front of passers-by, who were told to "
                                 "keep away.",
                "taken_by": rng.choice(["Eight men, two vehicles", "Uniformed men in a van",
                                        "Plain-clothes men on motorcycles"]),
                "whereabouts": rng.choice(["capture_denied", "unknown", "unknown"]),
                "deprived_of_liberty": True, "state_involvement": unit.startswith("state"),
                "concealment": rng.random() < 0.7,
                "relatives_consent_wgeid": rng.random() < 0.6,
                "source_keeps_contact": rng.random() < 0.8, "family_steps": steps}


def _type_plan(count: int, rng: random.Random) -> list[list[str]]:
    """Act types per case: every type appears at least once, the rest weighted like real
    caseloads in Balochistan (mostly disappearances)."""
    plan: list[list[str]] = [[] for _ in range(count)]
    for index, act_type in enumerate(ACT_TYPE):
        plan[index % count].append(act_type)
    for types in plan:
        if not types:
            types.append(rng.choice(WEIGHTED_TYPES))
    return plan


def bundle_cases(count: int, *, seed: int, status: str = "open",
                 id_prefix: str = "c") -> list[dict[str, Any]]:
    """`count` fictional bundle cases (three people, acts weighted like real caseloads, sources,
    testimony), each with one act type and sometimes a second, for benchmarks and tests."""
    rng = random.Random(seed)  # noqa: S311 - fictional demo data, not security
    maker = _Maker(rng, date.today())
    cases = []
    for number in range(1, count + 1):
        types = [rng.choice(WEIGHTED_TYPES)]
        if rng.random() < 0.4:
            types.append(rng.choice(WEIGHTED_TYPES))
        cases.append({**maker.case(number, types, status), "id": f"{id_prefix}{number}"})
    return cases


def seed(*, count: int = 40, force: bool = False, seed: int = 1971) -> Outcome:
    existing = db.session.execute(select(func.count()).select_from(Case)).scalar_one()
    if existing and not force:
        raise NotEmpty(f"The database already holds {existing} case(s); seed-demo adds fictional "
                       "cases only to an empty installation. Use --force to add them anyway.")
    rng = random.Random(seed)  # noqa: S311 - fictional demo data, not security
    users = _users()
    owners = ["caseworker.quetta1", "caseworker.quetta2", "caseworker.turbat", "supervisor"]
    maker = _Maker(rng, date.today())
    outcome = Outcome()
    plan = _type_plan(count, rng)
    by_owner: dict[str, list[tuple[dict[str, Any], str]]] = {o: [] for o in owners}
    for number, types in enumerate(plan, start=1):
        owner = owners[number % len(owners)]
        sensitive = any(t in SEXUAL_VIOLENCE_ACTS for t in types)
        if sensitive and owner == "supervisor":
            owner = "caseworker.quetta1"
        wanted = rng.choice(["draft", "open", "open", "open", "under_review", "reviewed",
                             "closed"])
        # A caseworker's import stops at under_review; the Quetta supervisor reviews the rest.
        status = wanted if owner == "supervisor" or wanted in ("draft", "open", "under_review") \
            else "under_review"
        if owner == "caseworker.turbat" or sensitive:
            wanted = status  # no supervisor sees these (other team, or restricted)
        by_owner[owner].append((maker.case(number, types, status), wanted))
    supervisor = users["supervisor"]
    for owner, items in by_owner.items():
        if not items:
            continue
        actor = users[owner]
        summary = import_bundle(actor, {"format": "amanat-bundle", "version": 1,
                                        "cases": [c for c, _ in items]}, source="demo")
        outcome.cases += len(summary.cases)
        for (_local, _reference, case_id), (case, wanted) in zip(summary.cases, items,
                                                                 strict=True):
            row = db.session.get(Case, case_id)
            if case["status"] == "under_review" and wanted in ("reviewed", "closed"):
                case_service.change_status(supervisor, row, "mark_reviewed")
                if wanted == "closed":
                    case_service.change_status(supervisor, row, "close")
        db.session.commit()
    for local in ("supervisor", "caseworker.quetta1", "caseworker.quetta2", "caseworker.turbat"):
        user = users[local]
        outcome.invitations.append((user, accounts.issue_token(TokenPurpose.INVITE, user=user)))
    db.session.commit()
    return outcome
