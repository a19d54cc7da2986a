"""Bulk-seed N cases fast, for the scale benchmark: rows with valid ciphertext, not the services.

Each case gets ~3 people (each with their own wrapped data key, identity fields encrypted under
it, blind indexes from the app's indexer), 1-2 acts (disappearance details for disappearance
types, one alleged perpetrator each), 1-2 sources with a testimony each, and links from every
act to the first testimony. Ciphertext comes from the app's FieldCipher with the same table /
column / row binding as EncryptedField, so pages decrypt it like any other row. Rows go in with
SQLAlchemy Core executemany, in batches, one transaction per batch of cases.

No audit entries are written for seeded rows (the pages measured do not read the log).
"""

from __future__ import annotations

import os
import random
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import insert

WEIGHTED_TYPES = (["enforced_disappearance"] * 8 + ["abduction"] * 2
                  + ["arbitrary_arrest", "torture", "extrajudicial_killing", "illegal_search_raid",
                     "death_threat", "harassment_intimidation",
                     "killing_in_indiscriminate_attack"])
DISAPPEARANCE = {"enforced_disappearance", "abduction"}
DISTRICTS = ["PK211", "PK211", "PK211", "PK226", "PK226", "PK213", "PK224", "PK205", "PK201",
             "PK212", "PK210", "PK220", "PK204", "PK216", "PK203", "PK217", "PK228", "PK223"]
PERPETRATORS = ["unknown", "state_paramilitary", "state_police", "state_intelligence",
                "state_backed_armed_group", "non_state_armed_group", "state_armed_forces"]
VICTIM_STATUS = ["still_missing", "still_missing", "still_missing", "released", "found_dead",
                 "killed", "unknown"]
ALLEGATION = ["alleged", "alleged", "alleged", "corroborated", "corroborated", "verified"]
STATUSES = ["draft", "open", "open", "open", "under_review", "reviewed", "closed"]
GIVEN = ["Muhammad", "Bashir", "Nasir", "Jameel", "Hafeez", "Rashid", "Naveed", "Khalil",
         "Shahzad", "Saeed", "Zahid", "Abdul Rahman", "Abdul Wahid", "Ghulam Rasool", "Imran",
         "Sameer", "Zarina", "Mahnaz", "Sabira", "Hani"]
CLAN = ["Baloch", "Marri", "Bugti", "Mengal", "Rind", "Dashti", "Lango", "Bizenjo", "Zehri",
        "Kurd", "Kakar", "Hazara"]
FATHERS = ["Ghulam Nabi", "Abdul Ghafoor", "Dost Muhammad", "Allah Bakhsh", "Mir Jan",
           "Haji Abdullah", "Noor Ahmed", "Wali Muhammad", "Khuda Bakhsh", "Gul Khan"]
TRANSCRIPT = ("They came at night, about eight men in two vehicles, and took him without a word. "
              "We went to the police station the next morning; they refused to write the report. "
              "His phone was off after that and nobody has seen him since. ") * 3


@dataclass
class SeedResult:
    cases: int = 0
    rows: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    seconds: float = 0.0
    crypto_seconds: float = 0.0
    insert_seconds: float = 0.0
    team_a_cases: int = 0
    analyze_seconds: float = 0.0


def _words(rng: random.Random, size: int) -> str:
    base = TRANSCRIPT
    start = rng.randrange(0, 200)
    return base[start:start + size]


def bulk_seed(app: Flask, count: int, *, team_a: uuid.UUID, team_b: uuid.UUID,
              owners_a: list[uuid.UUID], owners_b: list[uuid.UUID], share_a: float = 0.7,
              batch_cases: int = 2000, seed: int = 1, progress: Any = None) -> SeedResult:
    """Insert `count` cases (share_a of them in team_a) and everything under them."""
    from app.crypto import runtime
    from app.crypto.blind_index import INDEXES
    from app.crypto.keyring import PURPOSE_PERSON, _wrap
    from app.extensions import db
    from app.models.acts import Act, DisappearanceDetails, Involvement
    from app.models.cases import Case
    from app.models.keys import DataKey
    from app.models.people import Person, PersonName
    from app.models.sources import AllegationLink, Source, Testimony

    rng = random.Random(seed)  # noqa: S311 - fictional data
    result = SeedResult()
    started = time.perf_counter()
    with app.app_context():
        ring = runtime.keyring()
        indexer = runtime.indexer()
        general = runtime.general_key_id()
        master, master_id = ring._master_state()  # bench only: wrap person keys in bulk
        db.session.commit()
        used_key_ids: set[int] = set()
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        from app.crypto.cipher import _PREFIX, FORMAT_VERSION, _location

        def _enc_with(aead: AESGCM, key_id: int, value: str, table: str, column: str,
                      row_id: uuid.UUID) -> bytes:
            prefix = _PREFIX.pack(FORMAT_VERSION, key_id)
            nonce = os.urandom(12)
            return prefix + nonce + aead.encrypt(nonce, value.encode(),
                                                 prefix + _location(table, column, str(row_id)))

        def bidx(index: str, value: str) -> bytes | None:
            return indexer.compute(index, value) if INDEXES[index].normaliser(value) else None

        general_aead = ring.aead(general)
        now = datetime.now(UTC)
        tables = {"data_keys": DataKey.__table__, "cases": Case.__table__,
                  "people": Person.__table__, "person_names": PersonName.__table__,
                  "acts": Act.__table__, "disappearances": DisappearanceDetails.__table__,
                  "involvements": Involvement.__table__, "sources": Source.__table__,
                  "testimonies": Testimony.__table__, "allegation_links": AllegationLink.__table__}
        number = 0
        while number < count:
            t0 = time.perf_counter()
            rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for _ in range(min(batch_cases, count - number)):
                number += 1
                in_a = rng.random() < share_a
                result.team_a_cases += in_a
                owner = rng.choice(owners_a if in_a else owners_b)
                case_id = uuid.uuid4()
                updated = now - timedelta(minutes=rng.randint(0, 2_000_000))
                created = updated - timedelta(days=rng.randint(0, 30))
                victim_name = f"{rng.choice(GIVEN)} {rng.choice(CLAN)}"
                rows["cases"].append({
                    "id": case_id, "reference": f"AM-B-{number:07d}",
                    "title_enc": _enc_with(general_aead, general,
                                           f"Enforced disappearance — {victim_name}", "cases",
                                           "title", case_id),
                    "summary_enc": _enc_with(general_aead, general, _words(rng, 400), "cases",
                                             "summary", case_id),
                    "review_comment_enc": None,
                    "status": rng.choice(STATUSES),
                    "confidentiality": "restricted" if rng.random() < 0.03 else "normal",
                    "team_id": team_a if in_a else team_b, "owner_id": owner,
                    "date_received": (created.date()), "intake_channel": rng.choice(
                        ["in_person", "phone", "partner_referral", "media_monitoring"]),
                    "tags": "bulk", "version": 1, "created_at": created, "updated_at": updated,
                    "created_by_id": owner, "updated_by_id": owner})
                people_ids = []
                for role in ("victim", "relative", "witness"):
                    person_id = uuid.uuid4()
                    people_ids.append(person_id)
                    while True:
                        key_id = rng.randrange(1, 2**31 - 1)
                        if key_id not in used_key_ids:
                            used_key_ids.add(key_id)
                            break
                    data_key = os.urandom(32)
                    rows["data_keys"].append({
                        "id": key_id, "purpose": PURPOSE_PERSON,
                        "wrapped": _wrap(master, key_id, PURPOSE_PERSON, data_key),
                        "master_key_id": master_id, "active": False, "destroyed": False,
                        "created_at": created, "destroyed_at": None})
                    aead = AESGCM(data_key)
                    name = victim_name if role == "victim" else (
                        f"{rng.choice(GIVEN)} {rng.choice(CLAN)}")
                    values: dict[str, str | None] = {
                        "full_name": name, "father_name": rng.choice(FATHERS),
                        "tribe": name.split()[-1],
                        "date_of_birth": str(rng.randint(1960, 2005)) if role == "victim" else None,
                        "cnic": (f"5{rng.randint(1000, 9999)}-{rng.randint(1000000, 9999999)}-"
                                 f"{rng.randint(1, 9)}") if rng.random() < 0.5 else None,
                        "phone": f"+92 300 {rng.randint(1000000, 9999999)}" if role != "victim"
                        else None,
                        "address": "House 12, Street 4, Satellite Town" if role != "witness"
                        else None,
                        "physical_description": _words(rng, 120) if role == "victim" else None}
                    row: dict[str, Any] = {
                        "id": person_id, "case_id": case_id, "data_key_id": key_id,
                        "counting_unit": "individual", "sex": "male" if rng.random() < 0.88
                        else "female", "age": rng.randint(16, 70), "age_group": None,
                        "occupation": "student" if role == "victim" else None,
                        "affiliation": None, "confidentiality": "normal", "shredded_at": None,
                        "version": 1, "created_at": created, "updated_at": created,
                        "created_by_id": owner, "updated_by_id": owner}
                    for column, value in values.items():
                        row[f"{column}_enc"] = (None if value is None else _enc_with(
                            aead, key_id, value, "people", column, person_id))
                    for column, index in (("full_name", "person_name"),
                                          ("father_name", "person_father_name"),
                                          ("cnic", "person_cnic"), ("phone", "person_phone")):
                        value = values[column]
                        row[f"{column}_bidx"] = bidx(index, value) if value else None
                    rows["people"].append(row)
                    if role == "victim":
                        other_id = uuid.uuid4()
                        other = name.replace("Muhammad", "Mohammad").replace("Baloch", "Baluch")
                        rows["person_names"].append({
                            "id": other_id, "person_id": person_id, "data_key_id": key_id,
                            "name_enc": _enc_with(aead, key_id, other, "person_names", "name",
                                                  other_id),
                            "name_bidx": bidx("person_other_name", other), "version": 1,
                            "created_at": created, "updated_at": created})
                district = rng.choice(DISTRICTS)
                act_ids = []
                for _n in range(1 if rng.random() < 0.6 else 2):
                    act_id = uuid.uuid4()
                    act_ids.append(act_id)
                    act_type = rng.choice(WEIGHTED_TYPES)
                    day = date(2016, 1, 1) + timedelta(days=rng.randint(0, 3500))
                    kind = rng.random()
                    if kind < 0.6:
                        value, precision, earliest, latest = day.isoformat(), "day", day, day
                    elif kind < 0.85:
                        first = day.replace(day=1)
                        last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
                        value, precision, earliest, latest = day.isoformat()[:7], "month", first, last
                    else:
                        value, precision = str(day.year), "year"
                        earliest, latest = date(day.year, 1, 1), date(day.year, 12, 31)
                    rows["acts"].append({
                        "id": act_id, "case_id": case_id, "act_type": act_type,
                        "victim_id": people_ids[0], "start_value": value,
                        "start_precision": precision, "start_as_given": None,
                        "start_earliest": earliest, "start_latest": latest, "end_value": None,
                        "end_precision": "unknown", "end_as_given": None,
                        "district_code": district, "district_list_version": None,
                        "place_as_reported_enc": _enc_with(general_aead, general,
                                                           "A checkpoint on the main road", "acts",
                                                           "place_as_reported", act_id),
                        "coordinates_enc": None,
                        "location_type": "checkpoint",
                        "description_enc": _enc_with(general_aead, general, _words(rng, 200),
                                                     "acts", "description", act_id),
                        "status_of_victim": rng.choice(VICTIM_STATUS),
                        "allegation_status": rng.choice(ALLEGATION), "version": 1,
                        "created_at": created, "updated_at": created, "created_by_id": owner,
                        "updated_by_id": owner})
                    if act_type in DISAPPEARANCE:
                        dis_id = uuid.uuid4()
                        rows["disappearances"].append({
                            "id": dis_id, "act_id": act_id, "last_seen_value": value,
                            "last_seen_precision": precision, "last_seen_time": "21:30",
                            "place_last_seen_enc": _enc_with(general_aead, general,
                                                             "Main bazaar", "disappearances",
                                                             "place_last_seen", dis_id),
                            "circumstances_enc": _enc_with(general_aead, general, _words(rng, 150),
                                                           "disappearances", "circumstances",
                                                           dis_id),
                            "taken_by_enc": None, "whereabouts": "unknown",
                            "deprived_of_liberty": True, "state_involvement": None,
                            "concealment": None, "relatives_consent_wgeid": None,
                            "source_keeps_contact": None, "current_status": None,
                            "current_status_on": None, "version": 1, "created_at": created,
                            "updated_at": created})
                    rows["involvements"].append({
                        "id": uuid.uuid4(), "act_id": act_id, "perpetrator_person_id": None,
                        "unit": "Men in plain clothes (unit not identified)",
                        "perpetrator_type": rng.choice(PERPETRATORS), "degree": "suspected",
                        "attribution": "none", "created_at": created, "updated_at": created,
                        "created_by_id": owner, "updated_by_id": owner})
                testimony_ids = []
                for n_source in range(1 if rng.random() < 0.6 else 2):
                    source_id = uuid.uuid4()
                    rows["sources"].append({
                        "id": source_id, "case_id": case_id, "person_id": people_ids[1 + n_source],
                        "organisation_enc": None, "reliability": rng.choice("ABBCCDF"),
                        "pseudonym": f"S-{n_source + 1:02d}", "version": 1, "created_at": created,
                        "updated_at": created, "created_by_id": owner, "updated_by_id": owner})
                    testimony_id = uuid.uuid4()
                    testimony_ids.append(testimony_id)
                    rows["testimonies"].append({
                        "id": testimony_id, "case_id": case_id, "source_id": source_id,
                        "given_value": created.date().isoformat(), "given_precision": "day",
                        "interviewer_id": owner,
                        "interview_place_enc": _enc_with(general_aead, general, "Family home",
                                                         "testimonies", "interview_place",
                                                         testimony_id),
                        "language": "urd", "material": "interview", "connection": "relative",
                        "transcript_enc": _enc_with(general_aead, general,
                                                    _words(rng, rng.randint(300, 600)),
                                                    "testimonies", "transcript", testimony_id),
                        "notes_enc": None, "credibility": rng.randint(1, 6), "version": 1,
                        "created_at": created, "updated_at": created, "created_by_id": owner,
                        "updated_by_id": owner})
                for act_id in act_ids:
                    rows["allegation_links"].append({
                        "id": uuid.uuid4(), "act_id": act_id, "testimony_id": testimony_ids[0],
                        "evidence_id": None, "relation": "supports", "note_enc": None,
                        "checked_on": None, "created_at": created, "updated_at": created,
                        "created_by_id": owner, "updated_by_id": owner})
            t1 = time.perf_counter()
            result.crypto_seconds += t1 - t0
            for name in ("data_keys", "cases", "people", "person_names", "acts", "disappearances",
                         "involvements", "sources", "testimonies", "allegation_links"):
                batch = rows.get(name)
                if batch:
                    db.session.execute(insert(tables[name]), batch)
                    result.rows[name] += len(batch)
            db.session.commit()
            result.insert_seconds += time.perf_counter() - t1
            result.cases = number
            if progress:
                progress(number)
        if db.engine.dialect.name == "postgresql":
            # autovacuum would analyze these tables soon after such growth; do it now, so the
            # planner works with real row counts (SQLite is left as the app leaves it: the app
            # never runs ANALYZE there, which is itself a finding of the scale benchmark)
            t0 = time.perf_counter()
            with db.engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
            result.analyze_seconds = time.perf_counter() - t0
        db.session.remove()
    result.seconds = time.perf_counter() - started
    return result
