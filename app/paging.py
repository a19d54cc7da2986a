"""Pages of a long list without counting the whole list on every view.

A list of 100,000 cases must not be counted and sorted in full to show 25 of them. `capped_page`
fetches one row more than a page (to know whether a next page exists) and counts at most
`cap` + 1 matching rows: below the cap the total is exact ("312 cases", "page 3 of 13"); above
it the page says "more than 1,000" and offers previous/next only.
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


def capped_page(query: Select, page: int, per_page: int, cap: int | None = None) -> CappedPage:
    """One page of an ordered query of entities, with an exact total up to `cap`."""
    cap = COUNT_CAP if cap is None else cap
    counted = select(func.count()).select_from(query.order_by(None).limit(cap + 1).subquery())
    found = db.session.execute(counted).scalar_one()
    total = found if found <= cap else None
    page = max(page, 1)
    if total is not None:
        page = min(page, max(1, math.ceil(total / per_page)))
    rows = list(db.session.execute(query.limit(per_page + 1).offset((page - 1) * per_page))
                .scalars())
    return CappedPage(rows[:per_page], page, per_page, total, cap, len(rows) > per_page)
