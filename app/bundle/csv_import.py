"""A spreadsheet of missing persons (the list NGOs really keep) turned into cases.

Each CSV column is mapped to a target field or ignored; each row becomes a bundle case holding a
person and an enforced_disappearance act, and the whole list goes through the bundle importer, so
the same validation, services, encryption and audit apply, all rows or none. Problems are reported
by spreadsheet row number (the header is row 1) and column name.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _

from app.bundle.importer import ImportSummary, import_bundle
from app.bundle.validate import BundleInvalid, max_bytes, validate_bundle
from app.domain import dates
from app.models.users import User
from app.services.vocabularies import districts

TARGETS = ("full_name", "father_name", "other_names", "sex", "age", "cnic", "phone",
           "district", "date_missing", "place", "circumstances", "ignore")
REPEATABLE = frozenset({"other_names", "ignore"})
OTHER_NAMES_SEPARATOR = ";"
MAX_ROWS = 5000
SEX_WORDS = {"m": "male", "male": "male", "man": "male", "boy": "male", "f": "female",
             "female": "female", "woman": "female", "girl": "female", "other": "other",
             "unknown": "unknown", "?": "unknown"}
# Header words that suggest a target, for the first guess on the mapping page.
GUESSES = (
    ("father", "father_name"), ("walad", "father_name"), ("s/o", "father_name"),
    ("other", "other_names"), ("alias", "other_names"), ("spelling", "other_names"),
    ("name", "full_name"), ("sex", "sex"), ("gender", "sex"), ("age", "age"),
    ("cnic", "cnic"), ("nic", "cnic"), ("id card", "cnic"), ("phone", "phone"),
    ("mobile", "phone"), ("contact", "phone"), ("district", "district"),
    ("date", "date_missing"), ("when", "date_missing"), ("place", "place"),
    ("location", "place"), ("where", "place"), ("circumstance", "circumstances"),
    ("detail", "circumstances"), ("description", "circumstances"), ("happen", "circumstances"),
)


@dataclass(frozen=True)
class Problem:
    row: int | None  # spreadsheet row (header = 1); None for the whole file or mapping
    column: str | None
    message: str

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(_("row %(n)d", n=self.row))
        if self.column:
            where.append(_("column \"%(c)s\"", c=self.column))
        return f"{', '.join(where)}: {self.message}" if where else self.message


class CsvInvalid(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass
class Table:
    header: list[str]
    rows: list[tuple[int, list[str]]]  # (spreadsheet row number, cells)


def read_csv(raw: bytes | str) -> Table:
    """Decode (UTF-8, with or without BOM; UTF-16 as Excel writes it), sniff the delimiter."""
    size = len(raw) if isinstance(raw, bytes) else len(raw.encode("utf-8"))
    if size > max_bytes():
        raise CsvInvalid([Problem(None, None, _("The file is larger than %(n)s bytes.",
                                                n=f"{max_bytes():,}"))])
    if isinstance(raw, bytes):
        try:
            if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
                text = raw.decode("utf-16")
            else:
                text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise CsvInvalid([Problem(None, None, _(
                "The file is not UTF-8 text. In your spreadsheet, save it as \"CSV UTF-8\"."))]) \
                from None
    else:
        text = raw
    text = text.replace("\r\n", "\n")
    if not text.strip():
        raise CsvInvalid([Problem(None, None, _("The file is empty."))])
    # The delimiter is read from the header row only: cells (other names separated by ";")
    # would mislead a sniffer, header names rarely hold one.
    first = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=lambda d: (first.count(d), d == ","))
    try:
        lines = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    except csv.Error as error:
        raise CsvInvalid([Problem(None, None, _("The CSV cannot be read: %(e)s", e=str(error)))]) \
            from None
    header = [h.strip() for h in lines[0]]
    if not any(header):
        raise CsvInvalid([Problem(1, None, _("The first row must name the columns."))])
    seen: set[str] = set()
    for index, name in enumerate(header):
        if not name:
            header[index] = name = _("column %(n)d", n=index + 1)
        if name in seen:
            raise CsvInvalid([Problem(1, name, _("Two columns have this name; rename one."))])
        seen.add(name)
    rows = [(n, cells) for n, cells in enumerate(lines[1:], start=2)
            if any(c.strip() for c in cells)]
    if len(rows) > MAX_ROWS:
        raise CsvInvalid([Problem(None, None, _("More than %(n)d rows: split the list.",
                                                n=MAX_ROWS))])
    return Table(header, rows)


def guess_target(column: str) -> str:
    words = column.lower()
    for hint, target in GUESSES:
        if hint in words:
            return target
    return "ignore"


def guess_mapping(header: list[str]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for column in header:
        target = guess_target(column)
        if target in used and target not in REPEATABLE:
            target = "ignore"
        used.add(target)
        mapping[column] = target
    return mapping


def target_of(column: str, mapping: dict[str, str]) -> str:
    return mapping.get(column, "ignore")


def check_mapping(header: list[str], mapping: dict[str, str]) -> list[Problem]:
    problems = []
    unknown = [c for c in mapping if c not in header]
    for column in unknown:
        problems.append(Problem(None, column, _("There is no such column in the file.")))
    counts: dict[str, list[str]] = {}
    for column in header:
        counts.setdefault(target_of(column, mapping), []).append(column)
    for target, columns in counts.items():
        if target not in TARGETS:
            problems.append(Problem(None, columns[0], _("Unknown field %(f)s.", f=target)))
        elif len(columns) > 1 and target not in REPEATABLE:
            problems.append(Problem(None, ", ".join(columns), _(
                "Only one column can be mapped to %(f)s.", f=target)))
    if "full_name" not in counts:
        problems.append(Problem(None, None, _("Map one column to full_name: every row is a "
                                              "person.")))
    return problems


def _district_lookup() -> dict[str, str]:
    lookup: dict[str, str] = {}
    for district in districts():
        lookup[district.code.casefold()] = district.code
        lookup[district.name.casefold()] = district.code
        lookup[re.sub(r"[^a-z]", "", district.name.casefold())] = district.code
    return lookup


# Where each bundle field of a row's case came from, to report bundle issues by row and column.
FIELD_PATHS = {
    "full_name": ("people", 0, "full_name"), "father_name": ("people", 0, "father_name"),
    "other_names": ("people", 0, "other_names"), "sex": ("people", 0, "sex"),
    "age": ("people", 0, "age"), "cnic": ("people", 0, "cnic"), "phone": ("people", 0, "phone"),
    "district": ("acts", 0, "district"), "date_missing": ("acts", 0, "start"),
    "place": ("acts", 0, "place_as_reported"),
    "circumstances": ("acts", 0, "disappearance", "circumstances"),
}


def rows_to_bundle(table: Table, mapping: dict[str, str], *, status: str = "open"
                   ) -> tuple[dict[str, Any], list[Problem], list[int]]:
    """A bundle with one case per row, the problems found reading the cells, and the row number
    of each case (bundle case index -> spreadsheet row)."""
    problems = check_mapping(table.header, mapping)
    if problems:
        return {}, problems, []
    columns = {target: [c for c in table.header if target_of(c, mapping) == target]
               for target in TARGETS}
    position = {c: i for i, c in enumerate(table.header)}
    lookup = _district_lookup()
    cases, row_numbers = [], []
    for number, cells in table.rows:
        def cell(target: str, cells: list[str] = cells) -> tuple[str | None, str | None]:
            for column in columns[target]:
                index = position[column]
                value = cells[index].strip() if index < len(cells) else ""
                if value:
                    return value, column
            return None, (columns[target][0] if columns[target] else None)

        person: dict[str, Any] = {"id": "p1"}
        act: dict[str, Any] = {"id": "a1", "type": "enforced_disappearance", "victim": "p1",
                               "status_of_victim": "still_missing"}
        for target in ("full_name", "father_name", "cnic", "phone"):
            value, _column = cell(target)
            if value:
                person[target] = value
        others: list[str] = []
        for column in columns["other_names"]:
            index = position[column]
            raw = cells[index] if index < len(cells) else ""
            others += [n.strip() for n in raw.split(OTHER_NAMES_SEPARATOR) if n.strip()]
        if others:
            person["other_names"] = list(dict.fromkeys(others))
        value, column = cell("sex")
        if value:
            sex = SEX_WORDS.get(value.casefold())
            if sex is None:
                problems.append(Problem(number, column, _(
                    "\"%(v)s\" is not a sex this import understands (male, female, other, "
                    "unknown, M, F).", v=value)))
            else:
                person["sex"] = sex
        value, column = cell("age")
        if value:
            try:
                person["age"] = int(value)
            except ValueError:
                problems.append(Problem(number, column, _("\"%(v)s\" is not an age in years.",
                                                          v=value)))
        value, column = cell("district")
        if value:
            code = lookup.get(value.casefold()) or lookup.get(re.sub(r"[^a-z]", "",
                                                                     value.casefold()))
            if code is None:
                problems.append(Problem(number, column, _(
                    "Unknown district \"%(v)s\": use its name or code, e.g. Kech or PK211.",
                    v=value)))
            else:
                act["district"] = code
        value, column = cell("date_missing")
        if value:
            try:
                partial = dates.parse(value)
            except dates.DateError as error:
                problems.append(Problem(number, column, str(error)))
            else:
                act["start"] = {k: v for k, v in (("date", partial.value),
                                                  ("precision", partial.precision),
                                                  ("as_given", partial.as_given)) if v}
        value, _column = cell("place")
        if value:
            act["place_as_reported"] = value
        details: dict[str, Any] = {"whereabouts": "unknown"}
        value, _column = cell("circumstances")
        if value:
            details["circumstances"] = value
        act["disappearance"] = details
        name = person.get("full_name")
        if not name:
            problems.append(Problem(number, columns["full_name"][0], _("The name is empty.")))
        title = (_("Disappearance of %(name)s", name=name) if name
                 else _("Disappearance (row %(n)d)", n=number))
        cases.append({"id": f"row{number}", "title": title[:300], "status": status,
                      "people": [person], "acts": [act]})
        row_numbers.append(number)
    bundle = {"format": "amanat-bundle", "version": 1, "cases": cases}
    return bundle, problems, row_numbers


def _problem_from_issue(path: str, message: str, row_numbers: list[int],
                        mapping: dict[str, str], header: list[str]) -> Problem:
    match = re.match(r"^\$\.cases\[(\d+)\](.*)$", path)
    if not match:
        return Problem(None, None, message)
    row = row_numbers[int(match.group(1))]
    rest = match.group(2)
    for target, parts in FIELD_PATHS.items():
        prefix = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)
        if rest == prefix or rest.startswith(prefix + ".") or rest.startswith(prefix + "["):
            columns = [c for c in header if target_of(c, mapping) == target]
            return Problem(row, ", ".join(columns) or target, message)
    return Problem(row, None, message)


def import_rows(actor: User, table: Table, mapping: dict[str, str], *, status: str = "open",
                dry_run: bool = False) -> ImportSummary:
    """Import every row or none; raise CsvInvalid with every problem (row and column)."""
    bundle, problems, row_numbers = rows_to_bundle(table, mapping, status=status)
    if not bundle:  # the mapping itself is wrong
        raise CsvInvalid(problems)
    if not bundle["cases"]:
        raise CsvInvalid([Problem(None, None, _("The file has no rows below its header."))])
    problems += [_problem_from_issue(i.path, i.message, row_numbers, mapping, table.header)
                 for i in validate_bundle(bundle, actor)]
    if problems:
        raise CsvInvalid(sorted(problems, key=lambda p: (p.row or 0, p.column or "")))
    try:
        return import_bundle(actor, bundle, dry_run=dry_run, source="csv")
    except BundleInvalid as error:
        raise CsvInvalid([_problem_from_issue(i.path, i.message, row_numbers, mapping,
                                              table.header) for i in error.issues]) from None
