"""Dashboard counts: alleged acts documented, by month, district, type, perpetrator, victim status
and allegation status. Counts only; analysts see "<5" for small cells.

Monthly chart rule (stated on the page): an act is counted in the month of its start date when
the date is known to the day or to the month. Dates known only to the year, or approximately, go
to one "date less precise than a month" bar, and acts with no date to a "date unknown" bar, so no
act is placed in a month it may not belong to and every act is counted once.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass

from flask_babel import gettext as _

from app.analysis.counts_cache import counts_for
from app.analysis.facts import IMPRECISE, NO_DATE, NOT_RECORDED, month_label, month_range
from app.analysis.scope import AnalysisFilters, small_count
from app.domain.vocab import ALLEGATION_STATUS, label
from app.extensions import db
from app.models.users import User
from app.models.vocab import District

CORROBORATED_OR_BETTER = ("corroborated", "verified", "finding")
CHART_KEYS = ("by_month", "by_district", "by_act_type", "by_perpetrator_type",
              "by_victim_status", "by_allegation_status")


@dataclass(frozen=True)
class Cell:
    code: str
    label: str
    count: int
    shown: str
    suppressed: bool


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    basis: str
    cells: list[Cell]
    note: str | None = None


@dataclass(frozen=True)
class Dashboard:
    total: int
    total_shown: str
    share: str | None  # "62%", or None when there is nothing to show
    share_counts: tuple[str, str]  # (corroborated or better, all), as shown
    charts: list[Chart]
    any_suppressed: bool

    def chart(self, key: str) -> Chart:
        return next(c for c in self.charts if c.key == key)


def basis_text() -> str:
    return _("Counts of alleged acts documented, not of violations committed.")


def build_dashboard(user: User, filters: AnalysisFilters) -> Dashboard:
    counts = counts_for(user, filters)  # counted in the database, kept until anything changes
    total = counts.total
    names = {d.code: d.name for d in db.session.query(District)}

    def cells(counter: Counter, order: list[str] | None = None,
              labeller=label) -> list[Cell]:  # type: ignore[no-untyped-def]
        keys = order if order is not None else sorted(
            counter, key=lambda code: (-counter[code], str(labeller(code))))
        result = []
        for code in keys:
            shown, hidden = small_count(counter[code], user)
            result.append(Cell(code, str(labeller(code)), counter[code], shown, hidden))
        return result

    by_month, month_order = _by_month(counts.by_month)
    perpetrators = counts.by_perpetrator_type
    statuses = counts.by_allegation_status
    basis = basis_text()
    charts = [
        Chart("by_month", _("Alleged acts documented, by month the act began"), basis,
              cells(by_month, month_order, _month_labeller),
              _("Counted in the month of the start date when it is known to the day or the "
                "month. Dates known only to the year or approximately are counted once, in "
                "\"date less precise than a month\"; acts with no date in \"date unknown\".")),
        Chart("by_district", _("Alleged acts documented, by district"), basis,
              cells(counts.by_district, labeller=lambda c: names.get(c) or _plain(c))),
        Chart("by_act_type", _("Alleged acts documented, by type of act"), basis,
              cells(counts.by_act_type, labeller=_plain)),
        Chart("by_perpetrator_type", _("Alleged acts documented, by type of alleged perpetrator"),
              basis, cells(perpetrators, labeller=_plain),
              _("An act with alleged perpetrators of several types is counted under each, so "
                "the bars can add up to more than the number of acts.")),
        Chart("by_victim_status", _("Alleged acts documented, by status of the victim"), basis,
              cells(counts.by_victim_status, labeller=_plain)),
        Chart("by_allegation_status", _("Alleged acts documented, by allegation status"), basis,
              cells(statuses, [s for s in ALLEGATION_STATUS if statuses[s]], _plain),
              _("Corroborated: two or more independent sources. Verified: source, item and "
                "content checked. Below a finding, every act remains an allegation.")),
    ]
    total_shown, total_hidden = small_count(total, user)
    better = sum(statuses[s] for s in CORROBORATED_OR_BETTER)
    better_shown, better_hidden = small_count(better, user)
    share = None
    if total and not (better_hidden or total_hidden):
        share = f"{round(100 * better / total)}%"
    suppressed = total_hidden or better_hidden or any(c.suppressed for ch in charts for c in ch.cells)
    return Dashboard(total, total_shown, share, (better_shown, total_shown), charts,
                     suppressed)


def _plain(code: str) -> str:
    if code == NOT_RECORDED:
        return _("not recorded")
    return label(code)


def _month_labeller(code: str) -> str:
    if code == IMPRECISE:
        return _("date less precise than a month")
    if code == NO_DATE:
        return _("date unknown")
    return month_label(code)


def _by_month(counter: Counter) -> tuple[Counter, list[str]]:
    months = sorted(k for k in counter if k not in (IMPRECISE, NO_DATE))
    order = month_range(months[0], months[-1]) if months else []
    order += [k for k in (IMPRECISE, NO_DATE) if counter[k]]
    return counter, order


def chart_csv(chart: Chart) -> str:
    """One chart's numbers as CSV, as shown on the page (small cells stay "<5")."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["chart", "basis", "code", "label", "alleged_acts_documented"])
    for cell in chart.cells:
        writer.writerow([safe_cell(chart.key), safe_cell(chart.basis), safe_cell(cell.code),
                         safe_cell(cell.label), cell.shown])
    return out.getvalue()


def safe_cell(value: object) -> str:
    """No spreadsheet formula injection: a cell never starts with = + - @ or a control."""
    text = "" if value is None else str(value)
    if text and (text[0] in "=+-@" or text[0] in "\t\r"):
        return "'" + text
    return text
