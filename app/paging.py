"""Pages of a long list without counting the whole list on every view.

A list of 100,000 cases must not be counted and sorted in full to show 25 of them. `capped_page`
reads the ordered ids of at most `cap` + 1 matching rows (a page beyond them is read with an
offset after a count that stops at the cap). Below the cap the total is exact ("312 cases",
"page 3 of 13"); above it the page says "more than 1,000" and offers previous/next only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select

from app.extensions import db

COUNT_CAP = 1000


@dataclass(frozen=True)
class CappedPage:
    items: list[Any]
    page: int
    per_page: int
    total: int | None  # None: more than `cap`
    cap: int
    has_next: bool

    @property
    def capped(self) -> bool:
        return self.total is None

    @property
    def pages(self) -> int | None:
        return None if self.total is None else max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def prev_num(self) -> int:
        return self.page - 1

    @property
    def next_num(self) -> int:
        return self.page + 1

    @property
    def shows_pager(self) -> bool:
        return self.has_prev or self.has_next


def capped_page(query: Select, entity: Any, page: int, per_page: int,
                cap: int | None = None) -> CappedPage:
    """One page of an ordered query of `entity` rows, with an exact total up to `cap`."""
    cap = COUNT_CAP if cap is None else cap
    page = max(page, 1)
    if page * per_page <= cap:
        return _within_cap(query, entity, page, per_page, cap)
    counted = select(func.count()).select_from(query.order_by(None).limit(cap + 1).subquery())
    found = db.session.execute(counted).scalar_one()
    if found <= cap:  # a page past the end of a short list: show its last page
        return _within_cap(query, entity, max(1, math.ceil(found / per_page)), per_page, cap)
    rows = list(db.session.execute(query.limit(per_page + 1).offset((page - 1) * per_page))
                .scalars())
    return CappedPage(rows[:per_page], page, per_page, None, cap, len(rows) > per_page)


def _within_cap(query: Select, entity: Any, page: int, per_page: int, cap: int) -> CappedPage:
    """One ordered read of at most cap + 1 ids answers both "how many?" and "which ones on this
    page?"; then only the page's rows are loaded in full."""
    ids = list(db.session.execute(query.with_only_columns(entity.id).limit(cap + 1)).scalars())
    total = len(ids) if len(ids) <= cap else None
    if total is not None:
        page = min(page, max(1, math.ceil(total / per_page)))
    start = (page - 1) * per_page
    wanted = ids[start:start + per_page]
    loaded = {row.id: row for row in db.session.execute(
        select(entity).where(entity.id.in_(wanted))).scalars()} if wanted else {}
    return CappedPage([loaded[i] for i in wanted if i in loaded], page, per_page, total, cap,
                      len(ids) > start + per_page)
