"""Bar charts as static SVG, drawn on the server: no script, no library, no outside service.

Each chart carries a <title> and <desc> (named by aria-labelledby), every bar its own <title>,
and the page puts the same numbers in a table beside it. Colours come from the stylesheet
(classes), with presentation attributes as a fallback; no inline style, so the CSP holds.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

from app.analysis.dashboard import Cell

WIDTH = 640
BAR_COLOUR = "#0b5563"
INK = "#1b1f24"


def _n(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def bar_chart(chart_id: str, title: str, description: str, cells: Sequence[Cell]) -> Markup:
    """Horizontal bars, one row per cell. Labels up to 32 characters sit in a column before the
    bars; longer ones above their bar. A suppressed cell ("<5") gets no bar, only its text."""
    longest = max((len(c.label) for c in cells), default=0)
    short = longest <= 32  # labels fit in a column before the bars (about 7 units a character)
    row = 24 if short else 40
    label_width = min(230, 7 * longest + 4) if short else 0
    value_room = 60
    bar_left = label_width + (8 if short else 0)
    bar_room = WIDTH - bar_left - value_room
    top = 8
    height = top * 2 + max(len(cells), 1) * row
    visible = [c.count for c in cells if not c.suppressed]
    biggest = max(visible) if visible else 0
    ident = escape(chart_id)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" role="img" direction="ltr" '
        f'aria-labelledby="{ident}-title {ident}-desc" preserveAspectRatio="xMinYMin meet">',
        f'<title id="{ident}-title">{escape(title)}</title>',
        f'<desc id="{ident}-desc">{escape(description)}</desc>',
    ]
    if not cells:
        parts.append(f'<text x="0" y="{top + 16}" class="chart-label" fill="{INK}">—</text>')
    for index, cell in enumerate(cells):
        y = top + index * row
        bar_y = y + (4 if short else 20)
        bar_h = row - 8 if short else 14
        width = 0.0 if cell.suppressed or biggest == 0 else bar_room * cell.count / biggest
        if cell.count and not cell.suppressed:
            width = max(width, 2.0)
        text_y = bar_y + bar_h - 3
        parts.append(f'<g class="chart-row"><title>{escape(cell.label)}: {escape(cell.shown)}</title>')
        label_y = text_y if short else y + 14
        parts.append(f'<text x="0" y="{_n(label_y)}" class="chart-label" fill="{INK}">'
                     f'{escape(cell.label)}</text>')
        if width:
            parts.append(f'<rect x="{bar_left}" y="{_n(bar_y)}" width="{_n(width)}" '
                         f'height="{_n(bar_h)}" class="chart-bar" fill="{BAR_COLOUR}"/>')
        parts.append(f'<text x="{_n(bar_left + width + 6)}" y="{_n(text_y)}" '
                     f'class="chart-value" fill="{INK}">{escape(cell.shown)}</text></g>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every piece of text above is escaped
