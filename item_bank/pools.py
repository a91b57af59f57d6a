"""The item pools of exams: which items an exam draws from, as a cat_engine ItemBank.

An exam's *reference pool* is the set of operational items of its materi (per-materi exam) or
of the whole program (pre-assessment, ujikom).  It is both the pool the exam draws items from
and the reference for the 0-100 domain score (SPEC.md "Scores on the 0-100 scale").
Content balance runs over sub-materi tags inside a materi and over materi inside a program.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cat_engine.estimation import GridTable
from cat_engine.irt import ItemBank

from .models import ContentTag, Exam, ExamKind, Item, ItemStatus, Materi
from .selection import content_shares


@dataclass(frozen=True)
class Pool:
    """An exam's operational items: database ids aligned with the cat_engine bank."""

    item_ids: np.ndarray  # (n,) int database ids, ascending
    bank: ItemBank
    theta_cuts: dict[float, float | None] = field(default_factory=dict, compare=False)

    def __len__(self) -> int:
        return int(self.item_ids.size)

    def locate(self, item_ids) -> tuple[np.ndarray, np.ndarray]:
        """(positions, in_pool) of the given database ids; ``positions[~in_pool]`` is junk."""
        ids = np.asarray(item_ids if isinstance(item_ids, list | np.ndarray) else list(item_ids),
                         dtype=np.int64)
        if not len(self):
            return np.zeros(ids.size, dtype=np.intp), np.zeros(ids.size, dtype=bool)
        pos = np.minimum(np.searchsorted(self.item_ids, ids), len(self) - 1)
        return pos, self.item_ids[pos] == ids

    def positions(self, item_ids) -> np.ndarray:
        """Indices into the pool of the given database ids (ids not in the pool are dropped)."""
        pos, hit = self.locate(item_ids)
        return pos[hit]

    def counts(self, item_ids, values) -> np.ndarray:
        """(n,) int64 per-item counts from (id, value) pairs; ids no longer in the pool (items
        retired since) are dropped."""
        counts = np.zeros(len(self), dtype=np.int64)
        pos, hit = self.locate(item_ids)
        counts[pos[hit]] = np.asarray(values, dtype=np.int64)[hit]
        return counts

    def content_counts(self, item_ids=None, *, positions=None) -> dict[str, int]:
        """How many of the given items (database ids, or pool ``positions``) carry each
        content tag; tags with none are left out."""
        tags, codes = self.bank.content_codes
        if positions is None:
            positions = self.positions(item_ids)
        n = np.bincount(codes[positions], minlength=len(tags)).tolist()
        return {tag: k for tag, k in zip(tags, n, strict=True) if k}

    @functools.cached_property
    def grid_table(self) -> GridTable:
        """The bank's EAP table (cat_engine), built on the first estimate: every answer of a
        CAT re-estimates theta from all its items, which the table makes a gather and a sum."""
        return GridTable.of(self.bank.a, self.bank.b, self.bank.c)

    def content_shares(self) -> dict[str, float]:
        return content_shares(self.bank)


# Building a bank (and cat_engine's selection index on it) costs more than reading the rows,
# so banks are reused while the pool's rows are unchanged.
_CACHE: OrderedDict[tuple, Pool] = OrderedDict()
_CACHE_SIZE = 64
_CACHE_LOCK = threading.Lock()


def pool_rows(session: Session, *, program_id: int, materi_id: int | None) -> list[tuple]:
    """(id, a, b, c, content) of the operational items, ascending id."""
    if materi_id is not None:
        stmt = (select(Item.id, Item.a, Item.b, Item.c, ContentTag.code)
                .outerjoin(ContentTag, Item.content_tag_id == ContentTag.id))
    else:
        stmt = (select(Item.id, Item.a, Item.b, Item.c, Materi.code)
                .join(Materi, Item.materi_id == Materi.id))
    stmt = _pool_statement(stmt, program_id=program_id, materi_id=materi_id)
    return [tuple(r) for r in session.execute(stmt.order_by(Item.id))]


def _pool_statement(stmt, *, program_id: int, materi_id: int | None):
    if materi_id is not None:
        stmt = stmt.where(Item.materi_id == materi_id)
    return stmt.where(Item.program_id == program_id, Item.status == ItemStatus.OPERATIONAL)


def exam_pool(session: Session, exam: Exam) -> Pool | None:
    """The exam's reference pool, or None when it has no operational item.

    One aggregate query (count, id sum, last update) tells whether the cached bank is still
    the pool; any edit, status change or new item changes it.
    """
    materi_id = exam.materi_id if exam.kind == ExamKind.MATERI else None
    signature = session.execute(_pool_statement(
        select(func.count(Item.id), func.sum(Item.id), func.max(Item.updated_at)),
        program_id=exam.program_id, materi_id=materi_id)).one()
    if not signature[0]:
        return None
    key = (exam.program_id, materi_id, *signature)
    with _CACHE_LOCK:
        pool = _CACHE.get(key)
        if pool is not None:
            _CACHE.move_to_end(key)
            return pool
    rows = pool_rows(session, program_id=exam.program_id, materi_id=materi_id)
    if not rows:
        return None
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    bank = ItemBank(
        ids=np.array([str(r[0]) for r in rows]),
        a=np.array([r[1] for r in rows], dtype=np.float64),
        b=np.array([r[2] for r in rows], dtype=np.float64),
        c=np.array([r[3] or 0.0 for r in rows], dtype=np.float64),
        content=np.array([r[4] or "" for r in rows], dtype=str),
    )
    pool = Pool(item_ids=ids, bank=bank)
    with _CACHE_LOCK:
        _CACHE[key] = pool
        if len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return pool
