"""Finding the same person recorded twice: name canonicalisation, blocking and pair scoring.

Pure functions over plaintext held in memory only; no database, no I/O. The job
(`app.duplicates.job`) decrypts, calls `find_candidates`, and stores ids, a score and the names of
the features that matched — never the values.

Names of people from Balochistan and elsewhere in Pakistan reach us in many Latin spellings
(Muhammad / Mohammad / Mohd, Baloch / Baluch / Balouch, Bashir / Basheer) and in Urdu script. Each
token is folded to a "skeleton" (lower case, accents dropped, ee→i, oo→u, doubled letters single),
looked up in a small table of variant spellings, and compared with rapidfuzz; blocking keys use
jellyfish's Metaphone of the canonical tokens, so spellings outside the table still meet.
"""

from __future__ import annotations

import math
import re
import time
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

import jellyfish
from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

from app.crypto.blind_index import normalise, normalise_digits

# Canonical spelling -> other spellings seen in records (Latin and Urdu script). Extend freely:
# a variant listed here makes two spellings identical for scoring, not only for blocking.
VARIANTS: dict[str, tuple[str, ...]] = {
    "muhammad": ("mohammad", "mohammed", "muhammed", "mohamad", "mohamed", "muhamad", "mohd",
                 "muhd", "md", "mhd", "mohammod", "muhammid", "mohamood", "محمد"),
    "abdul": ("abdal", "abdel", "abdool", "abdol", "abdull", "abd", "abdu", "عبدال", "عبدل"),
    "baloch": ("baluch", "balouch", "balooch", "bloch", "baloach", "balochi", "بلوچ"),
    "bashir": ("basheer", "bashier", "basher", "bashiir", "بشیر"),
    "ahmad": ("ahmed", "ahmet", "ahamad", "ahmud", "ahmd", "احمد"),
    "khan": ("khaan", "kahn", "خان"),
    "jan": ("jaan", "jann", "جان"),
    "hussain": ("husain", "hussein", "husein", "hossain", "hosain", "husayn", "حسین"),
    "hassan": ("hasan", "hasen", "حسن"),
    "ali": ("aly", "alee", "علی"),
    "rahman": ("rehman", "rahmaan", "rehmaan", "rahaman", "rahmān", "رحمان", "رحمن"),
    "ullah": ("ulla", "ulah", "allah", "اللہ", "الله"),
    "ghulam": ("gulam", "gholam", "golam", "غلام"),
    "nabi": ("nabee", "nabie", "نبی"),
    "qadir": ("qader", "kadir", "qadeer", "khadir", "qadar", "قادر"),
    "yousaf": ("yusuf", "yousuf", "yusaf", "yousef", "yosaf", "yousif", "یوسف"),
    "rashid": ("rasheed", "rashed", "راشد", "رشید"),
    "majeed": ("majid", "mejid", "majeeb", "مجید"),
    "hameed": ("hamid", "حمید"),
    "saeed": ("sayeed", "saeid", "saied", "saaed", "سعید"),
    "naseer": ("nasir", "naseir", "نصیر"),
    "zahid": ("zaheed", "zahed", "زاہد"),
    "noor": ("nur", "noore", "nour", "نور"),
    "din": ("deen", "uddin", "udin", "dinn", "الدین", "دین"),
    "bakhsh": ("baksh", "bux", "bukhsh", "bakhash", "bakhs", "بخش"),
    "dad": ("daad", "داد"),
    "bibi": ("bebe", "bibee", "بی بی", "بیبی"),
    "khuda": ("khoda", "khudah", "خدا"),
    "karim": ("kareem", "kerim", "کریم"),
    "rahim": ("raheem", "rahem", "رحیم"),
    "nawaz": ("nawaaz", "nawas", "نواز"),
    "iqbal": ("ikbal", "iqbaal", "اقبال"),
    "shah": ("shaah", "شاہ"),
    "mir": ("meer", "میر"),
    "sher": ("shair", "sheer", "شیر"),
    "gul": ("ghul", "gull", "گل"),
    "akbar": ("akber", "akhbar", "اکبر"),
    "aslam": ("aslum", "اسلم"),
    "ayub": ("ayoub", "ayyub", "ayoob", "ayyoub", "ایوب"),
    "ibrahim": ("ebrahim", "ibraheem", "ibrahem", "ابراہیم"),
    "ismail": ("ismael", "esmail", "ismaeel", "اسماعیل"),
    "younis": ("yunus", "younus", "yunis", "younas", "یونس"),
    "jamil": ("jameel", "jamel", "جمیل"),
    "shakeel": ("shakil", "شکیل"),
    "naveed": ("navid", "naved", "نوید"),
    "waheed": ("wahid", "وحید"),
    "fazal": ("fazl", "fazel", "fazil", "فضل"),
    "sadiq": ("sadik", "saadiq", "sadeeq", "صادق"),
    "tariq": ("tarik", "tareq", "طارق"),
    "asif": ("asef", "aasif", "آصف"),
    "imran": ("emran", "imraan", "عمران"),
    "usman": ("osman", "othman", "uthman", "usmaan", "عثمان"),
    "umar": ("omar", "umer", "omer", "عمر"),
    "mengal": ("mingal", "mangal", "مینگل"),
    "marri": ("mari", "murree", "مری"),
    "bugti": ("bugtee", "bughti", "بگٹی"),
    "raisani": ("raeesani", "raisaani", "رئیسانی"),
    "zehri": ("zahri", "zehree", "زہری"),
    "langov": ("langove", "langau", "لانگو"),
    "hoth": ("hot", "hout", "ہوت"),
}
# Tokens so common as a first word that they say nothing about who someone is; blocking skips them.
PREFIXES = frozenset({"muhamad", "syed", "sayed", "mir", "haji", "mula", "sheikh", "shaikh", "mst",
                      "musamat", "mr", "mrs", "dr", "malik", "sardar"})
# First words that only make a name together with the next one (Abdul Rahman, Ghulam Nabi).
COMPOUND_HEADS = frozenset({"abdul", "ghulam", "khuda"})
# "son of" markers inside a full name: what follows is the father's name.
_SON_OF = re.compile(r"\b(?:s/o|d/o|w/o|son of|daughter of|wife of|walad|bin|bint)\b", re.I)
_JOINED = (("abdul", "prefix"), ("abdal", "prefix"), ("ullah", "suffix"), ("uddin", "suffix"),
           ("udin", "suffix"))
_NON_WORD = re.compile(r"[^\w\s]|_|\d")
_VOWEL_RUNS = (("ee", "i"), ("oo", "u"), ("ou", "u"), ("aa", "a"), ("ii", "i"), ("uu", "u"))


def skeleton(token: str) -> str:
    """A spelling-tolerant form of one word: accents gone, long vowels short, doubles single."""
    text = normalise(token)
    if text.isascii():
        for long, short in _VOWEL_RUNS:
            text = text.replace(long, short)
        return re.sub(r"(.)\1+", r"\1", text)
    # Arabic script: drop vowel marks (harakat) and the hamza seat differences.
    text = "".join(ch for ch in unicodedata.normalize("NFKD", text)
                   if unicodedata.category(ch) != "Mn")
    return text.replace("أ", "ا").replace("إ", "ا").replace("آ", "ا").replace("ۃ", "ہ")


def _ascii_fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    if all(ord(ch) < 0x0590 for ch in decomposed):  # Latin-based: drop the accents
        return "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return text


def _build_table() -> dict[str, str]:
    table: dict[str, str] = {}
    for canonical, variants in VARIANTS.items():
        if " " in canonical:
            continue
        target = skeleton(canonical)
        for variant in (canonical, *variants):
            if " " not in variant:
                table[skeleton(variant)] = target
    return table


CANONICAL = _build_table()
CANONICAL_PHRASES = {skeleton(v.split()[0]) + " " + skeleton(v.split()[1]): skeleton(c)
                     for c, vs in VARIANTS.items() for v in vs if v.count(" ") == 1}


def canonical_tokens(name: str | None) -> list[str]:
    """The canonical words of a name: "Mohd. Basheer Baluch" -> ["muhamad", "bashir", "baloch"]."""
    if not name:
        return []
    text = _NON_WORD.sub(" ", _ascii_fold(name.replace("-", " ").replace("/", " ")))
    words = [skeleton(w) for w in text.split()]
    words = [w for w in words if w]
    out: list[str] = []
    i = 0
    while i < len(words):
        pair = " ".join(words[i:i + 2])
        if pair in CANONICAL_PHRASES:
            out.append(CANONICAL_PHRASES[pair])
            i += 2
            continue
        if pair in ("ud din", "ul lah", "ur rahman", "ul hag", "ul haq"):
            out.append(CANONICAL.get(words[i + 1], words[i + 1]))
            i += 2
            continue
        out.extend(_split_joined(words[i]))
        i += 1
    return [CANONICAL.get(w, w) for w in out]


def _split_joined(word: str) -> list[str]:
    """Abdulrahman -> abdul rahman; Saifullah -> saif ullah; Nizamuddin -> nizam din."""
    for part, where in _JOINED:
        if where == "prefix" and word.startswith(part) and len(word) > len(part) + 2:
            return [part, word[len(part):]]
        if where == "suffix" and word.endswith(part) and len(word) > len(part) + 2:
            return [word[:-len(part)], part]
    return [word]


def phonetic_key(token: str) -> str:
    if token.isascii():
        return jellyfish.metaphone(token) or token
    return token


def split_son_of(full_name: str | None) -> tuple[str | None, str | None]:
    """ "Bashir Ahmed s/o Ghulam Nabi" -> ("Bashir Ahmed", "Ghulam Nabi")."""
    if not full_name:
        return full_name, None
    parts = _SON_OF.split(full_name, maxsplit=1)
    if len(parts) == 2 and parts[0].strip() and parts[1].strip():
        return parts[0].strip(), parts[1].strip()
    return full_name, None


@dataclass(slots=True)
class PersonRecord:
    """What the scorer needs of one person, decrypted in memory by the caller."""

    id: object
    case_id: object
    names: Sequence[str]  # full name first, then other names and spellings
    father_name: str | None = None
    cnic: str | None = None
    sex: str | None = None
    age: int | None = None
    birth_year: int | None = None
    events: Sequence[tuple[date | None, date | None]] = ()  # disappearance windows (earliest, latest)
    districts: frozenset[str] = frozenset()


@dataclass(slots=True)
class Prepared:
    record: PersonRecord
    names: list[str]  # canonical forms, words joined by one space
    father: str | None
    cnic: str | None
    keys: frozenset[str] = field(default_factory=frozenset)
    name_count: int = 1  # records in the scanned population sharing this name / father's name
    father_count: int = 1


@dataclass(frozen=True, slots=True)
class Match:
    a: object  # person ids, a < b as strings
    b: object
    score: int
    matched: tuple[str, ...]
    conflicting: tuple[str, ...]


@dataclass(slots=True)
class Stats:
    persons: int = 0
    blocks: int = 0
    compared: int = 0
    oversized_blocks: int = 0
    candidates: int = 0
    seconds: float = 0.0


def _given(tokens: list[str]) -> tuple[str | None, str | None]:
    """The first significant word (not Muhammad, Syed, Haji...) and the one after it."""
    significant = [t for t in tokens if t not in PREFIXES] or tokens
    if len(significant) > 1 and significant[0] in COMPOUND_HEADS:
        significant = [significant[0] + significant[1], *significant[2:]]
    first = significant[0] if significant else None
    second = significant[1] if len(significant) > 1 else None
    return first, second


def prepare(record: PersonRecord) -> Prepared:
    names: list[str] = []
    father_raw = record.father_name
    token_lists = []
    for raw in record.names:
        name, embedded_father = split_son_of(raw)
        father_raw = father_raw or embedded_father
        tokens = canonical_tokens(name)
        if tokens and " ".join(tokens) not in names:
            names.append(" ".join(tokens))
            token_lists.append(tokens)
    father_tokens = canonical_tokens(father_raw)
    father = " ".join(father_tokens) or None
    digits = normalise_digits(record.cnic) if record.cnic else ""
    keys: set[str] = set()
    if len(digits) >= 9:
        keys.add("c:" + digits)
    father_given = _given(father_tokens)[0]
    fkey = phonetic_key(father_given) if father_given else None
    # Where and when (district, year) the person was disappeared: narrow enough to pair with one
    # name key, so a typo in the other name (or a missing father's name) still meets its twin.
    places = {f"{d}|{start.year}" for start, _ in record.events if start for d in record.districts}
    if fkey:
        keys.update(f"fp:{fkey}|{place}" for place in places)
    for tokens in token_lists:
        given, second = _given(tokens)
        if given is None:
            continue
        gkey = phonetic_key(given)
        keys.update(f"gp:{gkey}|{place}" for place in places)
        if fkey:
            keys.add(f"gf:{gkey}|{fkey}")
        if second:  # the whole name (three words or more are rarely shared by strangers)
            keys.add("n:" + "|".join(phonetic_key(t) for t in tokens if t not in PREFIXES))
    return Prepared(record, names, father, digits or None, frozenset(keys))


def _significant(name: str) -> int:
    return len({word for word in name.split() if word not in PREFIXES})


def _name_similarity(left: Iterable[str], right: Iterable[str]) -> float:
    """Best rapidfuzz similarity (0..1) over both records' spellings.

    One name contained in the other ("Bashir Ahmad" in "Muhammad Bashir Ahmad Baloch") counts
    nearly in full when the shorter has two significant words, but a single word ("Bashir")
    inside a longer name is only "similar": thousands of people share one given name.
    """
    best = 0.0
    right = list(right)
    for a in left:
        for b in right:
            if a == b:
                return 1.0
            whole = max(fuzz.token_sort_ratio(a, b),
                        fuzz.ratio(a.replace(" ", ""), b.replace(" ", "")))
            subset = fuzz.token_set_ratio(a, b) - 6
            if min(_significant(a), _significant(b)) < 2:
                subset = min(subset, 85)
            best = max(best, whole / 100, subset / 100)
    return best


def _commonness_penalty(count: int, weight: float, cap: int) -> int:
    """Fewer points for agreeing on a name many records share (a namesake is then likely)."""
    return 0 if count < 2 else min(cap, round(weight * math.log2(count)))


def _events_close(left: Sequence[tuple[date | None, date | None]],
                  right: Sequence[tuple[date | None, date | None]]) -> tuple[bool, bool]:
    """(within 31 days, same year) for any pair of disappearance windows."""
    close = same_year = False
    for a0, a1 in left:
        for b0, b1 in right:
            if not (a0 and b0):
                continue
            a1, b1 = a1 or a0, b1 or b0
            gap = max((b0 - a1).days, (a0 - b1).days, 0)
            close = close or gap <= 31
            same_year = same_year or gap <= 366
    return close, same_year


SEX_KNOWN = frozenset({"female", "male"})


def score_pair(a: Prepared, b: Prepared) -> Match:
    """Points for each feature that agrees, against each that conflicts; clamped to 0..100."""
    ra, rb = a.record, b.record
    points = 0
    matched: list[str] = []
    conflicting: list[str] = []
    name = _name_similarity(a.names, b.names) if a.names and b.names else 0.0
    if name >= 0.92:
        points += 45 - _commonness_penalty(max(a.name_count, b.name_count), 4, 15)
        matched.append("name")
    elif name >= 0.80:
        points += 30
        matched.append("name_similar")
    elif name >= 0.70:
        points += 15
        matched.append("name_similar")
    else:
        points -= 10
        conflicting.append("name")
    if a.father and b.father:
        father = _name_similarity([a.father], [b.father])
        if father >= 0.92:
            points += 25 - _commonness_penalty(max(a.father_count, b.father_count), 3, 10)
            matched.append("father_name")
        elif father >= 0.75:
            points += 15
            matched.append("father_name_similar")
        elif father >= 0.60:
            pass  # a badly misspelt father's name proves nothing either way
        else:
            points -= 25
            conflicting.append("father_name")
    if a.cnic and b.cnic:
        if a.cnic == b.cnic:
            points += 45
            matched.append("cnic")
        elif Levenshtein.distance(a.cnic, b.cnic) <= 1:
            points += 5
            matched.append("cnic_similar")
        else:
            points -= 40
            conflicting.append("cnic")
    if ra.sex in SEX_KNOWN and rb.sex in SEX_KNOWN:
        if ra.sex == rb.sex:
            points += 3
            matched.append("sex")
        else:
            points -= 40
            conflicting.append("sex")
    if ra.age is not None and rb.age is not None:
        if abs(ra.age - rb.age) <= 3:
            points += 7
            matched.append("age")
        else:
            points -= 15
            conflicting.append("age")
    elif ra.birth_year and rb.birth_year:
        if abs(ra.birth_year - rb.birth_year) <= 1:
            points += 7
            matched.append("birth_year")
        else:
            points -= 15
            conflicting.append("birth_year")
    if ra.events and rb.events:
        close, same_year = _events_close(ra.events, rb.events)
        if close:
            points += 12
            matched.append("disappearance_date")
        elif same_year:
            points += 4
            matched.append("disappearance_year")
    if ra.districts & rb.districts:
        points += 6
        matched.append("district")
    first, second = sorted((ra.id, rb.id), key=str)
    return Match(first, second, max(0, min(100, points)), tuple(matched), tuple(conflicting))


THRESHOLD = 60
MAX_BLOCK = 3000  # a block this large says nothing; its pairs are met through other keys


def find_candidates(records: Iterable[PersonRecord], *, threshold: int = THRESHOLD,
                    max_block: int = MAX_BLOCK, same_case: bool = False,
                    skip: Callable[[object, object], bool] | None = None,
                    ) -> tuple[list[Match], Stats]:
    """Pairs of people (in different cases unless `same_case`) scoring at least `threshold`.

    Only pairs sharing a blocking key are compared: CNIC, (given name, father's given name),
    (given name, second name), (father's given name, second name) — each a phonetic key of the
    canonical word — so the work grows with block sizes, not with the square of the population.
    A pair sharing several keys is scored once, in the block of its smallest shared key.
    """
    started = time.perf_counter()
    stats = Stats()
    prepared = [prepare(r) for r in records]
    stats.persons = len(prepared)
    name_counts = Counter(" ".join(sorted(p.names[0].split())) for p in prepared if p.names)
    father_counts = Counter(p.father for p in prepared if p.father)
    for p in prepared:
        if p.names:
            p.name_count = name_counts[" ".join(sorted(p.names[0].split()))]
        if p.father:
            p.father_count = father_counts[p.father]
    blocks: dict[str, list[int]] = defaultdict(list)
    for index, person in enumerate(prepared):
        for key in person.keys:
            blocks[key].append(index)
    matches: list[Match] = []
    for key, members in blocks.items():
        if len(members) < 2:
            continue
        stats.blocks += 1
        if len(members) > max_block:
            stats.oversized_blocks += 1
            continue
        for x, i in enumerate(members):
            a = prepared[i]
            for j in members[x + 1:]:
                b = prepared[j]
                if not same_case and a.record.case_id == b.record.case_id:
                    continue
                shared = a.keys & b.keys
                if len(shared) > 1 and min(shared) != key:
                    continue  # scored in the block of the smallest shared key
                if skip is not None and skip(a.record.id, b.record.id):
                    continue
                stats.compared += 1
                match = score_pair(a, b)
                if match.score >= threshold:
                    matches.append(match)
    stats.candidates = len(matches)
    stats.seconds = time.perf_counter() - started
    matches.sort(key=lambda m: -m.score)
    return matches, stats
