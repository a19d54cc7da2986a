"""Dates as people give them: "11 March 2025", "March 2025", "2019", "around Eid 2024".

A PartialDate keeps the ISO value cut to its precision, the precision, what was said, and the
earliest and latest day it can mean, so searches can match imprecise dates honestly.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

PRECISIONS = ("day", "month", "year", "approximate", "unknown")
_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
_MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
_MONTHS["sept"] = 9
_APPROX = re.compile(r"^(around|about|approx\.?|approximately|circa|c\.|~|early|mid|late|"
                     r"before|after|near)\s*", re.IGNORECASE)


class DateError(ValueError):
    """The text could not be read as a date; the message says what forms are understood."""


@dataclass(frozen=True)
class PartialDate:
    value: str | None  # "2025", "2025-03" or "2025-03-11"; None when unknown
    precision: str
    as_given: str | None = None

    @property
    def earliest(self) -> date | None:
        return _bounds(self.value)[0] if self.value else None

    @property
    def latest(self) -> date | None:
        return _bounds(self.value)[1] if self.value else None

    @property
    def is_exact(self) -> bool:
        return self.precision == "day"

    def display(self) -> str:
        """As given when we have it; else the ISO value with a hint of its precision."""
        if self.as_given:
            return self.as_given
        if self.value is None:
            return "unknown"
        return f"~{self.value}" if self.precision == "approximate" else self.value


def _bounds(value: str) -> tuple[date, date]:
    parts = [int(p) for p in value.split("-")]
    if len(parts) == 1:
        return date(parts[0], 1, 1), date(parts[0], 12, 31)
    if len(parts) == 2:
        last = calendar.monthrange(parts[0], parts[1])[1]
        return date(parts[0], parts[1], 1), date(parts[0], parts[1], last)
    day = date(parts[0], parts[1], parts[2])
    return day, day


def _check(year: int, month: int | None = None, day: int | None = None) -> None:
    if not 1900 <= year <= date.today().year + 1:
        raise DateError(f"The year {year} is out of range.")
    if month is not None and not 1 <= month <= 12:
        raise DateError(f"There is no month {month}.")
    if day is not None:
        date(year, month or 1, day)  # raises ValueError for 31 February


def from_parts(value: str | None, precision: str, as_given: str | None = None) -> PartialDate:
    """Build from stored/imported parts, checking that the value is cut to its precision."""
    if precision not in PRECISIONS:
        raise DateError(f"Unknown date precision {precision!r}.")
    if as_given is not None and ("\x00" in as_given or len(as_given) > 80):
        raise DateError("The date as given must be text of at most 80 characters.")
    if value in (None, ""):
        if precision != "unknown":
            raise DateError("A date with a precision needs a value.")
        return PartialDate(None, "unknown", as_given)
    assert value is not None
    expected = {"day": 3, "month": 2, "year": 1}.get(precision)
    pieces = value.split("-")
    if not all(p.isdigit() for p in pieces) or len(pieces) > 3 or len(pieces[0]) != 4:
        raise DateError(f"{value!r} is not an ISO date such as 2025, 2025-03 or 2025-03-11.")
    if expected is not None and len(pieces) != expected:
        raise DateError(f"{value!r} does not match precision {precision!r}.")
    try:
        _check(*[int(p) for p in pieces])
    except ValueError as error:
        raise DateError(str(error)) from None
    return PartialDate(value, precision, as_given)


def parse(text: str | None) -> PartialDate:
    """Read what a caseworker typed. Raises DateError with a helpful message."""
    raw = (text or "").strip()
    if "\x00" in raw or len(raw) > 80:
        raise DateError("Write a date like 2025-03-11, 11 March 2025, March 2025 or 2019.")
    if not raw or raw.lower() in {"unknown", "not known", "?"}:
        return PartialDate(None, "unknown", raw or None)
    approximate = bool(_APPROX.match(raw))
    body = _APPROX.sub("", raw).strip()
    try:
        value, precision = _read(body)
    except ValueError:
        raise DateError(
            "Write a date like 2025-03-11, 11 March 2025, March 2025 or 2019; "
            "add 'around' if it is approximate."
        ) from None
    if approximate:
        precision = "approximate"
    # Keep what was said only when it adds something beyond the ISO value.
    as_given = raw if raw != value else None
    return PartialDate(value, precision, as_given)


def _month(name: str) -> int:
    try:
        return _MONTHS[name.lower()]
    except KeyError:
        raise ValueError(name) from None


def _read(body: str) -> tuple[str, str]:
    body = re.sub(r"[,]", " ", body).strip()
    if m := re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", body):
        y, mo, d = (int(g) for g in m.groups())
        _check(y, mo, d)
        return f"{y:04d}-{mo:02d}-{d:02d}", "day"
    if m := re.fullmatch(r"(\d{1,2})[/.](\d{1,2})[/.](\d{4})", body):  # day/month/year
        d, mo, y = (int(g) for g in m.groups())
        _check(y, mo, d)
        return f"{y:04d}-{mo:02d}-{d:02d}", "day"
    if m := re.fullmatch(r"(\d{4})-(\d{1,2})", body):
        y, mo = int(m.group(1)), int(m.group(2))
        _check(y, mo)
        return f"{y:04d}-{mo:02d}", "month"
    if m := re.fullmatch(r"(\d{1,2})\s+([A-Za-z]+)\s+(\d{4})", body):
        d, mo, y = int(m.group(1)), _month(m.group(2)), int(m.group(3))
        _check(y, mo, d)
        return f"{y:04d}-{mo:02d}-{d:02d}", "day"
    if m := re.fullmatch(r"([A-Za-z]+)\s+(\d{1,2})\s+(\d{4})", body):
        mo, d, y = _month(m.group(1)), int(m.group(2)), int(m.group(3))
        _check(y, mo, d)
        return f"{y:04d}-{mo:02d}-{d:02d}", "day"
    if (m := re.fullmatch(r"([A-Za-z]+)\s+(\d{4})", body)) and m.group(1).lower() in _MONTHS:
        mo, y = _MONTHS[m.group(1).lower()], int(m.group(2))
        _check(y, mo)
        return f"{y:04d}-{mo:02d}", "month"
    if m := re.search(r"(\d{4})$", body):
        # "2019", or an event we cannot place within the year ("Eid 2024"): year precision.
        y = int(m.group(1))
        _check(y)
        return f"{y:04d}", "year" if body == m.group(1) else "approximate"
    raise ValueError(body)


def overlaps(partial: PartialDate, start: date | None, end: date | None) -> bool:
    """Could this date fall within [start, end]? Imprecise dates match if any day they cover does."""
    if partial.value is None:
        return False
    lo, hi = _bounds(partial.value)
    return (start is None or hi >= start) and (end is None or lo <= end)
