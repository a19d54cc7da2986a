"""Duplicate detection: precision and recall on a labelled fictional set, and blocking+scoring time
at 300,000 people. In memory only (no database, no server): it measures `app.duplicates.matching`.

The fictional population draws names from weighted pools of common Baloch and Pakistani given
names, second names and tribal names (so namesakes are frequent, as in real records). Duplicates
are second records of a person in another case, written the way a different caseworker or source
would: variant spellings from the canonicalisation table (Muhammad/Mohd, Baloch/Baluch,
Bashir/Basheer...), a typo in one word in a third of them, "Muhammad" or the tribal name dropped or
added, the father's name missing in one in five, the CNIC missing in four in ten, the age off by up
to 2 years, and the disappearance date a few days off or known only to the month.

`python -m bench duplicates` (once, not per database) or `python -m bench.duplicates`.
"""

from __future__ import annotations

import argparse
import random
import string
import sys
import time
from datetime import date, timedelta
from typing import Any

from app.duplicates import matching
from bench.base import Benchmark

GIVEN_MALE = (
    "Bashir Ahmed Ali Hassan Hussain Abdul-Rahman Abdul-Qadir Abdul-Majeed Ghulam-Nabi Ghulam-Qadir "
    "Naveed Zahid Rashid Hameed Saeed Naseer Karim Rahim Nawaz Iqbal Sher Gul Akbar Aslam Ayub Ibrahim "
    "Ismail Younis Jamil Shakeel Waheed Fazal Sadiq Tariq Asif Imran Usman Umar Khuda-Bakhsh Noor "
    "Dad Jan Khan Shah Mir Baloch Dilawar Jalil Sameer Shabbir Shoaib Wahid Zubair Zakir Yasin "
    "Hafeez Hanif Kamal Kabir Latif Lal Mazhar Murad Nasir Nadir Qasim Qamar Rafiq Sabir Sajid "
    "Salim Sattar Shafi Shahzad Sharif Taj Wali Yaqub Zafar Zareef Arif Amin Anwar Azam Azhar Bilal "
    "Dost Faiz Farooq Ghani Habib Haider Hakim Idrees Irfan Jameel Javed Kaleem Khalid Mahmood "
    "Majid Mansoor Mehboob Mumtaz Nazeer Obaid Parvez Rasool Riaz Saleem Shahid Siraj Sultan Yousaf").split()
GIVEN_FEMALE = ("Bibi Fatima Zarina Saima Naseema Shaheen Mahnaz Gul-Bibi Hani Sammi Zainab Amna "
                "Ruqia Sakina Halima Mehrnaz Shari Banuk Mahgul Noor-Bibi Zahida Farzana").split()
SECOND = ("Ahmed Khan Ali Jan Bakhsh Din Ullah Shah Muhammad Hussain Rahman Nabi Gul Dad "
          "Hassan Akbar Mir Iqbal").split()
TRIBES = ("Baloch Marri Bugti Mengal Raisani Zehri Langov Hoth Rind Kurd Bizenjo Lehri Jamali Magsi "
          "Shahwani Sumalani Kakar Achakzai Mandokhail Sasoli Notezai Jatoi Gichki Dashti Kalmati "
          "Nausherwani Sanjrani Musiani Badini Mohammad-Hasni").split()
DISTRICTS = [f"PK2{n:02d}" for n in range(1, 36)]


def _zipf(items: list[str], s: float = 1.0) -> tuple[list[str], list[float]]:
    return items, [1 / (rank ** s) for rank in range(1, len(items) + 1)]


_VARIANTS_OF: dict[str, list[str]] = {}
for _canonical, _variants in matching.VARIANTS.items():
    latin = [v for v in (_canonical, *_variants) if v.isascii() and " " not in v]
    for _v in latin:
        _VARIANTS_OF[_v] = latin


class Population:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.male = _zipf(GIVEN_MALE, 0.5)
        self.female = _zipf(GIVEN_FEMALE, 0.5)
        self.second = _zipf(SECOND, 0.6)
        self.tribes = _zipf(TRIBES, 0.6)

    def pick(self, pool: tuple[list[str], list[float]]) -> str:
        return self.rng.choices(pool[0], weights=pool[1])[0].replace("-", " ")

    def person(self, pid: int, case_id: int) -> matching.PersonRecord:
        rng = self.rng
        sex = "male" if rng.random() < 0.88 else "female"
        words = []
        if sex == "male" and rng.random() < 0.3:
            words.append("Muhammad")
        words.append(self.pick(self.male if sex == "male" else self.female))
        if rng.random() < 0.7:
            words.append(self.pick(self.second))
        if rng.random() < 0.8:
            words.append(self.pick(self.tribes))
        father = [self.pick(self.male)]
        if rng.random() < 0.5:
            father.append(self.pick(self.second))
        cnic = ("5" + "".join(rng.choices(string.digits, k=12))) if rng.random() < 0.7 else None
        age = rng.randint(14, 65) if rng.random() < 0.85 else None
        start = date(2010, 1, 1) + timedelta(days=rng.randint(0, 15 * 365))
        return matching.PersonRecord(
            id=pid, case_id=case_id, names=[" ".join(words)], father_name=" ".join(father),
            cnic=cnic, sex=sex, age=age, events=[(start, start)],
            districts=frozenset({rng.choice(DISTRICTS)}))

    def _respell(self, name: str, typo: bool) -> str:
        rng = self.rng
        words = name.split()
        out = []
        for word in words:
            options = _VARIANTS_OF.get(word.lower())
            if options and rng.random() < 0.7:
                word = rng.choice(options).capitalize()
            out.append(word)
        if typo:
            index = rng.randrange(len(out))
            out[index] = self._typo(out[index])
        return " ".join(out)

    def _typo(self, word: str) -> str:
        rng = self.rng
        if len(word) < 4:
            return word
        i = rng.randrange(1, len(word) - 1)
        kind = rng.choice(("drop", "swap", "vowel", "double"))
        if kind == "drop":
            return word[:i] + word[i + 1:]
        if kind == "swap":
            return word[:i] + word[i + 1] + word[i] + word[i + 2:]
        if kind == "vowel":
            return word[:i] + rng.choice("aeiou") + word[i + 1:]
        return word[:i] + word[i] + word[i:]

    def duplicate(self, base: matching.PersonRecord, pid: int, case_id: int) -> matching.PersonRecord:
        rng = self.rng
        name = base.names[0]
        words = name.split()
        if words[0] == "Muhammad" and rng.random() < 0.3:
            name = " ".join(words[1:])
        elif words[0] != "Muhammad" and base.sex == "male" and rng.random() < 0.1:
            name = "Mohd " + name
        if len(name.split()) > 2 and name.split()[-1] in TRIBES and rng.random() < 0.2:
            name = " ".join(name.split()[:-1])
        name = self._respell(name, typo=rng.random() < 0.33)
        father = None if rng.random() < 0.2 else self._respell(base.father_name or "",
                                                             typo=rng.random() < 0.1)
        cnic = base.cnic if rng.random() < 0.6 else None
        age = None if base.age is None or rng.random() < 0.2 else base.age + rng.randint(-2, 2)
        start, _ = base.events[0]
        if rng.random() < 0.3:  # known only to the month
            first = start.replace(day=1)
            nxt = (first + timedelta(days=32)).replace(day=1)
            window = (first, nxt - timedelta(days=1))
        else:
            shifted = start + timedelta(days=rng.randint(-10, 10))
            window = (shifted, shifted)
        districts = base.districts if rng.random() < 0.9 else frozenset({rng.choice(DISTRICTS)})
        return matching.PersonRecord(id=pid, case_id=case_id, names=[name], father_name=father,
                                     cnic=cnic, sex=base.sex, age=age, events=[window],
                                     districts=districts)

    def namesake(self, base: matching.PersonRecord, pid: int, case_id: int) -> matching.PersonRecord:
        """Same name, another person: a different father, age and CNIC (a hard negative)."""
        other = self.person(pid, case_id)
        other.names = list(base.names)
        other.sex = base.sex
        return other


def labelled_set(persons: int, duplicates: int, namesakes: int, seed: int):
    pop = Population(seed)
    records = [pop.person(i, i // 3) for i in range(persons - duplicates - namesakes)]
    truth = set()
    next_id = len(records)
    bases = pop.rng.sample(records, duplicates + namesakes)
    for n, base in enumerate(bases):
        case_id = 10_000_000 + next_id
        if n < duplicates:
            records.append(pop.duplicate(base, next_id, case_id))
            truth.add((min(base.id, next_id), max(base.id, next_id)))
        else:
            records.append(pop.namesake(base, next_id, case_id))
        next_id += 1
    pop.rng.shuffle(records)
    return records, truth


def evaluate(persons: int, duplicates: int, namesakes: int, seed: int,
             threshold: int = matching.THRESHOLD) -> dict[str, Any]:
    records, truth = labelled_set(persons, duplicates, namesakes, seed)
    matches, stats = matching.find_candidates(records, threshold=threshold)
    found = {(min(m.a, m.b), max(m.a, m.b)) for m in matches}
    true_positive = len(found & truth)
    return {"persons": len(records), "true pairs": len(truth), "proposed": len(found),
            "precision": true_positive / len(found) if found else 1.0,
            "recall": true_positive / len(truth) if truth else 1.0,
            "pairs compared": stats.compared, "seconds": stats.seconds,
            "oversized blocks": stats.oversized_blocks, "threshold": threshold}


def timing(persons: int, seed: int) -> dict[str, Any]:
    started = time.perf_counter()
    records, truth = labelled_set(persons, persons // 10, persons // 100, seed)
    generated = time.perf_counter() - started
    cpu = time.process_time()
    matches, stats = matching.find_candidates(records)
    cpu = time.process_time() - cpu
    found = {(min(m.a, m.b), max(m.a, m.b)) for m in matches}
    return {"persons": len(records), "true pairs": len(truth), "proposed": len(found),
            "precision": len(found & truth) / len(found) if found else 1.0,
            "recall": len(found & truth) / len(truth) if truth else 1.0,
            "pairs compared": stats.compared, "blocks": stats.blocks,
            "oversized blocks": stats.oversized_blocks, "seconds": stats.seconds,
            "cpu seconds": cpu, "generation seconds": generated}


class Duplicates(Benchmark):
    name = "duplicates"
    title = "Duplicate detection (in memory): precision/recall on a labelled set, time at scale"
    columns = ("set", "persons", "true pairs", "proposed", "precision", "recall",
               "pairs compared", "oversized blocks", "seconds", "cpu seconds")
    _done = False  # database-independent: measured once per run, not once per database

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--dup-persons", type=int, default=3000, metavar="N",
                            help="people in the labelled set")
        parser.add_argument("--dup-injected", type=int, default=300, metavar="N",
                            help="injected duplicates in the labelled set")
        parser.add_argument("--dup-scale", type=int, default=300_000, metavar="N",
                            help="people in the timing run; 0 skips it")
        parser.add_argument("--dup-seeds", type=int, default=3, metavar="N",
                            help="labelled sets (different seeds) to average over")

    def run(self, ctx: Any = None) -> list[dict[str, Any]]:
        if Duplicates._done:
            return []
        Duplicates._done = True
        return measure(self.args)

    def notes(self) -> list[str]:
        return [f"labelled set: {self.args.dup_persons} people incl. {self.args.dup_injected} "
                "injected duplicates and 100 namesakes (same name, different person); threshold "
                f"{matching.THRESHOLD}; no database involved (the db column is where it ran)."]


def _fmt(row: dict[str, Any], label: str) -> dict[str, Any]:
    return {"set": label, **{k: (f"{v:.3f}" if isinstance(v, float) else v) for k, v in row.items()}}


def measure(args: argparse.Namespace) -> list[dict[str, Any]]:
    rows = []
    for seed in range(1, args.dup_seeds + 1):
        result = evaluate(args.dup_persons, args.dup_injected, 100, seed)
        rows.append(_fmt(result, f"labelled seed {seed}"))
        print(f"  labelled seed {seed}: precision {result['precision']:.3f} recall "
              f"{result['recall']:.3f} ({result['seconds']:.2f} s)", flush=True)
    if args.dup_scale:
        result = timing(args.dup_scale, 99)
        rows.append(_fmt(result, f"timing {args.dup_scale:,}"))
        print(f"  timing {args.dup_scale:,}: {result['seconds']:.1f} s wall, "
              f"{result['cpu seconds']:.1f} s CPU, "
              f"{result['pairs compared']:,} pairs compared, precision {result['precision']:.3f} "
              f"recall {result['recall']:.3f}", flush=True)
    return rows


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.duplicates")
    Duplicates.add_arguments(parser)
    parser.add_argument("--threshold-sweep", action="store_true")
    args = parser.parse_args(argv)
    if args.threshold_sweep:
        for threshold in (45, 50, 55, 60, 65, 70, 75):
            r = evaluate(args.dup_persons, args.dup_injected, 100, 1, threshold)
            print(f"threshold {threshold}: precision {r['precision']:.3f} recall {r['recall']:.3f}")
        return 0
    for row in measure(args):
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
