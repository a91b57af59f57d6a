"""The writers' search of the bank: filters, sort and pages in one query.

:func:`search_items` builds the statement with SQLAlchemy from a vetted :class:`ItemQuery`
(no text is ever pasted into SQL: the search text is a bound LIKE pattern with its wildcards
escaped).  "Times shown" is the exposure counter the live exams keep (``item_exposure``, one
row per exam and item, summed), the figure exposure control works with.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from sqlalchemy import Select, case, func, or_, select
from sqlalchemy.orm import Session

from .errors import InvalidInput
from .messages import Notice
from .models import IrtModel, Item, ItemExposure, ItemStatus

PER_PAGE = 50

# The sort keys a writer may choose, in the order the page offers them.
SORT_KEYS = ("code", "status", "b", "exposure", "changed")


@dataclass(frozen=True)
class ItemQuery:
    """What a writer searches for; empty or None fields do not filter.

    ``q`` is looked for in the stem, the code and the template name (``Item.family``;
    case-insensitive, literally: ``%`` and
    ``_`` are no wildcards); ``shown_min`` and ``shown_max`` bound the times shown;
    ``sort`` is one of :data:`SORT_KEYS`, ``order`` ``asc`` or ``desc``; ``page`` counts
    from 1.
    """

    q: str = ""
    program_id: int | None = None
    materi_id: int | None = None
    content_tag_id: int | None = None
    status: str = ""
    model: str = ""
    shown_min: int | None = None
    shown_max: int | None = None
    sort: str = "code"
    order: str = "asc"
    page: int = 1

    @property
    def descending(self) -> bool:
        return self.order == "desc"

    def problems(self) -> list[Notice]:
        """Every value the search cannot use, each as a notice (empty: the query is good)."""
        found = []
        for field, value, choices in (
                ("status", self.status, [s.value for s in ItemStatus]),
                ("model", self.model, [m.value for m in IrtModel]),
                ("sort", self.sort, list(SORT_KEYS)), ("order", self.order, ["asc", "desc"])):
            if value and value not in choices:
                found.append(Notice("search_value_unknown", {
                    "field": field, "value": value, "choices": ", ".join(choices)}))
        if self.shown_min is not None and self.shown_max is not None \
                and self.shown_min > self.shown_max:
            found.append(Notice("search_shown_order", {"low": self.shown_min,
                                                       "high": self.shown_max}))
        return found

    def filters(self) -> dict[str, str | int]:
        """The fields that differ from the defaults but the page, by their query-string names:
        what a link to another page of the same search carries."""
        default = ItemQuery()
        return {f.name: getattr(self, f.name) for f in fields(self)
                if f.name != "page" and getattr(self, f.name) != getattr(default, f.name)}


@dataclass(frozen=True)
class ItemPage:
    """One page of a search: ``rows`` are ``(item, times shown)``, ``total`` counts every
    item that matches."""

    query: ItemQuery
    rows: list[tuple[Item, int]]
    total: int
    per_page: int = PER_PAGE

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    def page_numbers(self, around: int = 2) -> list[int | None]:
        """The page numbers to link: the first, the last and ``around`` either side of the
        current one; None where numbers are left out."""
        current, last = self.query.page, self.pages
        wanted = sorted({1, last, *range(max(1, current - around),
                                         min(last, current + around) + 1)})
        numbers: list[int | None] = []
        for n in wanted:
            if numbers and n - numbers[-1] > 1:
                numbers.append(None)
            numbers.append(n)
        return numbers


def _like(text: str) -> str:
    """``text`` as a LIKE pattern that matches it literally, anywhere (escape ``\\``)."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _statement(query: ItemQuery) -> tuple[Select, object]:
    shown = (select(ItemExposure.item_id, func.sum(ItemExposure.count).label("shown"))
             .group_by(ItemExposure.item_id).subquery())
    times_shown = func.coalesce(shown.c.shown, 0)
    stmt = select(Item, times_shown).outerjoin(shown, shown.c.item_id == Item.id)
    if query.q:
        pattern = _like(query.q)
        stmt = stmt.where(or_(Item.stem.ilike(pattern, escape="\\"),
                              Item.code.ilike(pattern, escape="\\"),
                              Item.family.ilike(pattern, escape="\\")))
    for column, value in ((Item.program_id, query.program_id),
                          (Item.materi_id, query.materi_id),
                          (Item.content_tag_id, query.content_tag_id)):
        if value is not None:
            stmt = stmt.where(column == value)
    if query.status:
        stmt = stmt.where(Item.status == ItemStatus(query.status))
    if query.model:
        stmt = stmt.where(Item.model == IrtModel(query.model))
    if query.shown_min is not None:
        stmt = stmt.where(times_shown >= query.shown_min)
    if query.shown_max is not None:
        stmt = stmt.where(times_shown <= query.shown_max)
    return stmt, times_shown


def search_items(session: Session, query: ItemQuery, *,
                 per_page: int = PER_PAGE) -> ItemPage:
    """The items matching ``query``, one page of them in its order (ties by code, then id:
    a page never repeats or skips an item), and how many match in all.

    Statuses sort in lifecycle order (draft first), items without b after those with one in
    either direction.  InvalidInput for the first of :meth:`ItemQuery.problems`.
    """
    problems = query.problems()
    if problems:
        raise InvalidInput(problems[0].code, **problems[0].params)
    stmt, times_shown = _statement(query)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    lifecycle = case({s: n for n, s in enumerate(ItemStatus)}, value=Item.status)
    key = {"code": Item.code, "status": lifecycle, "b": Item.b, "exposure": times_shown,
           "changed": Item.updated_at}[query.sort or "code"]
    order = [Item.b.is_(None)] if query.sort == "b" else []
    order.append(key.desc() if query.descending else key.asc())
    order += [Item.code, Item.id]
    rows = session.execute(stmt.order_by(*order).offset((query.page - 1) * per_page)
                           .limit(per_page)).all()
    return ItemPage(query=query, rows=[(item, int(n)) for item, n in rows], total=total,
                    per_page=per_page)
