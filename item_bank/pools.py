"""The item pools of exams: which items an exam draws from, as a cat_engine ItemBank.

An exam's *reference pool* is the set of operational items of its materi (per-materi exam) or
of the whole program (pre-assessment, ujikom).  It is both the pool the exam draws items from
and the reference for the 0-100 domain score (SPEC.md "Scores on the 0-100 scale").
Content balance runs over sub-materi tags inside a materi and over materi inside a program.
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from cat_engine.irt import ItemBank
from cat_engine.selection import content_shares

from .models import ContentTag, ExamKind, Item, ItemStatus, Materi, PoolVersion


class PoolOf(Protocol):
    """What a pool is looked up by: an exam's program, kind and materi."""

    program_id: int
    kind: ExamKind
    materi_id: int | None


@dataclass(frozen=True, eq=False)
class Pool:
    """An exam's operational items: database ids aligned with the cat_engine bank.

    Built once per pool version and shared by every request of a worker, so it also caches
    what is derived from it alone: the cut's theta, the live CAT configuration and the text of
    the items shown (a change to an item moves the pool version, hence a new Pool).
    """

    item_ids: np.ndarray  # (n,) int database ids, ascending
    bank: ItemBank
    n_options: np.ndarray  # (n,) int, options of each item (the shown order is a permutation)
    # The pretest items of the same materi (or program): seeded unscored into its attempts.
    pretest_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    pretest_n_options: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    # The parameter version (ItemParameters) of each item and of each pretest item, 0 for none:
    # every response stores the version it was selected and scored with.
    param_versions: np.ndarray | None = None
    pretest_param_versions: np.ndarray | None = None
    # The family of each item and of each pretest item (Item.family_id, the item's own id when
    # it has none): variants of a template and enemies share one, and a participant gets at
    # most one item of a family in the program (docs/item_bank.md "Item families").
    families: np.ndarray | None = None
    pretest_families: np.ndarray | None = None
    # Items whose parameters are provisional (a writer's rating, docs/item_bank.md "Cold
    # start"); None: none is.
    provisional: np.ndarray | None = None
    theta_cuts: dict[float, float | None] = field(default_factory=dict)
    configs: dict[Any, Any] = field(default_factory=dict)
    texts: dict[int, tuple[str, list, int]] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.item_ids.size)

    def locate(self, item_ids) -> tuple[np.ndarray, np.ndarray]:
        """(positions, in_pool) of the given database ids; ``positions[~in_pool]`` is junk."""
        return _locate(self.item_ids, item_ids)

    def positions(self, item_ids) -> np.ndarray:
        """Indices into the pool of the given database ids (ids not in the pool are dropped)."""
        pos, hit = self.locate(item_ids)
        return pos[hit]

    def counts(self, item_ids, values) -> np.ndarray:
        """(n,) int64 per-item counts from (id, value) pairs; ids no longer in the pool (items
        retired since) are dropped."""
        return _counts(self.item_ids, item_ids, values)

    def content_counts(self, item_ids=None, *, positions=None) -> dict[str, int]:
        """How many of the given items (database ids, or pool ``positions``) carry each
        content tag; tags with none are left out."""
        tags, codes = self.bank.content_codes
        if positions is None:
            positions = self.positions(item_ids)
        n = np.bincount(codes[positions], minlength=len(tags)).tolist()
        return {tag: k for tag, k in zip(tags, n, strict=True) if k}

    def param_version(self, index: int, *, pretest: bool = False) -> int | None:
        """The parameter version of pool item ``index`` (of pretest item ``index``), None for
        an item without parameters or a pool built without versions (simulations)."""
        versions = self.pretest_param_versions if pretest else self.param_versions
        return None if versions is None or not versions[index] else int(versions[index])

    @property
    def cold(self) -> bool:
        """Whether some item has provisional parameters: the bank is not calibrated yet."""
        return self.provisional is not None and bool(self.provisional.any())

    def _families(self, pretest: bool) -> np.ndarray:
        """The family of each item (pretest item); a pool built without them: the ids."""
        families = self.pretest_families if pretest else self.families
        if families is None:
            return self.pretest_ids if pretest else self.item_ids
        return families

    def family(self, index: int, *, pretest: bool = False) -> int:
        """The family of pool item ``index`` (of pretest item ``index``)."""
        return int(self._families(pretest)[index])

    def seen_mask(self, seen_families, *, pretest: bool = False) -> np.ndarray:
        """(items,) bool: the pool's items (pretest items) of the families the participant
        has seen."""
        distinct, codes = self._family_index[pretest]
        pos, hit = _locate(distinct, seen_families)
        taken = np.zeros(distinct.size, dtype=bool)
        taken[pos[hit]] = True
        return taken[codes]

    @functools.cached_property
    def _family_index(self) -> dict[bool, tuple[np.ndarray, np.ndarray]]:
        """{pretest: (the distinct families ascending, each item's index into them)}: a
        participant's seen families are looked up in the few distinct ones (np.isin sorts
        the whole pool on every call)."""
        out = {}
        for pretest in (False, True):
            distinct, codes = np.unique(self._families(pretest), return_inverse=True)
            out[pretest] = (distinct, codes.reshape(-1))
        return out

    def pretest_counts(self, item_ids, values) -> np.ndarray:
        """Per pretest item (aligned with ``pretest_ids``) the count of (id, value) pairs."""
        return _counts(self.pretest_ids, item_ids, values)

    @functools.cached_property
    def content_shares(self) -> dict[str, float]:
        """{tag: share of the pool}, the content-balance targets (read-only, shared)."""
        return content_shares(self.bank)


def _locate(sorted_ids: np.ndarray, item_ids) -> tuple[np.ndarray, np.ndarray]:
    """(positions, found) of ``item_ids`` in the ascending ``sorted_ids``; ``positions[~found]``
    is junk."""
    ids = np.asarray(item_ids if isinstance(item_ids, list | np.ndarray) else list(item_ids),
                     dtype=np.int64)
    if not sorted_ids.size:
        return np.zeros(ids.size, dtype=np.intp), np.zeros(ids.size, dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_ids, ids), sorted_ids.size - 1)
    return pos, sorted_ids[pos] == ids


def _counts(sorted_ids: np.ndarray, item_ids, values) -> np.ndarray:
    """Per id of ``sorted_ids`` the value of its (id, value) pair, 0 without one; pairs of
    other ids are dropped."""
    counts = np.zeros(sorted_ids.size, dtype=np.int64)
    pos, hit = _locate(sorted_ids, item_ids)
    counts[pos[hit]] = np.asarray(values, dtype=np.int64)[hit]
    return counts


# Building a bank (and cat_engine's selection index on it) costs more than reading the rows,
# so banks are reused while the pool version (PoolVersion) is unchanged.  One cache per engine:
# versions and ids only mean something within one database, and a process may talk to several
# (the tests make a database per test, which would otherwise meet each other's pools here).
_CACHES: weakref.WeakKeyDictionary[Engine, OrderedDict[tuple, Pool]] = (
    weakref.WeakKeyDictionary())
_CACHE_SIZE = 64
_CACHE_LOCK = threading.Lock()

_VERSION = select(PoolVersion.version).where(PoolVersion.id == 1)


def pool_version(session: Session) -> int:
    """The database's pool version: it moves with every committed transaction that changes an
    item, or renames or deletes a content tag or a materi (triggers of migration 0004)."""
    return session.execute(_VERSION).scalar_one()


PoolRows = tuple[int | None, Sequence[Sequence[Any]]]


def _pool_rows(session: Session, *, program_id: int, materi_id: int | None) -> PoolRows:
    """(pool version, rows (id, a, b, c, content, options, status, parameter version,
    family, provisional) of the operational and pretest items, ascending id).

    One statement, hence one snapshot under READ COMMITTED: the rows are those of that version
    exactly, never older.  No operational item: (None, []).
    """
    version = _VERSION.scalar_subquery()
    n_options = func.json_array_length(Item.options)
    family = func.coalesce(Item.family_id, Item.id)
    if materi_id is not None:
        stmt = (select(version, Item.id, Item.a, Item.b, Item.c, ContentTag.code, n_options,
                       Item.status, Item.param_version, family, Item.provisional)
                .outerjoin(ContentTag, Item.content_tag_id == ContentTag.id)
                .where(Item.materi_id == materi_id))
    else:
        stmt = (select(version, Item.id, Item.a, Item.b, Item.c, Materi.code, n_options,
                       Item.status, Item.param_version, family, Item.provisional)
                .join(Materi, Item.materi_id == Materi.id))
    stmt = stmt.where(Item.program_id == program_id,
                      Item.status.in_((ItemStatus.OPERATIONAL, ItemStatus.PRETEST)))
    rows = session.execute(stmt.order_by(Item.id)).all()
    return (rows[0][0] if rows else None), [(*r[1:7], ItemStatus(r[7]).value, *r[8:])
                                            for r in rows]


def pool_materi(exam: PoolOf) -> int | None:
    """The materi whose items make the exam's pool; None for the whole program."""
    return exam.materi_id if exam.kind == ExamKind.MATERI else None


def exam_pool(session: Session, exam: PoolOf, *, version: int | None = None) -> Pool | None:
    """The exam's reference pool, or None when it has no operational item.

    Cached by (program, materi, pool version).  ``version`` is the pool version as the caller
    read it (in its own statement, so that the pool matches what else it read); by default it
    is read here.  On a miss the pool is read with the version of its rows and cached under
    that one, which may be newer than ``version``.

    A transaction that has written items, tags or materi and not committed yet must not ask
    for a pool: it would cache rows that belong to no committed version (PostgreSQL's triggers
    bump at commit; a rollback on SQLite hands its version numbers to the next writer).
    """
    if version is None:
        version = pool_version(session)
    materi_id = pool_materi(exam)
    return cached_pool(session.get_bind().engine, (exam.program_id, materi_id), version,
                       lambda: _pool_rows(session, program_id=exam.program_id,
                                          materi_id=materi_id))


def cached_pool(engine: Engine, key: tuple[int, int | None], version: int,
                read: Callable[[], PoolRows]) -> Pool | None:
    """The pool ``key`` = (program, materi) at ``version`` from the engine's cache, else built
    from ``read()`` (the pool version and rows, as :func:`_pool_rows` gives them)."""
    with _CACHE_LOCK:
        cache = _CACHES.get(engine)
        if cache is None:
            cache = _CACHES[engine] = OrderedDict()
        pool = cache.get((*key, version))
        if pool is not None:
            cache.move_to_end((*key, version))
            return pool
    version, rows = read()
    pool = _build(rows)
    if pool is None:
        return None
    with _CACHE_LOCK:
        cache[(*key, version)] = pool
        if len(cache) > _CACHE_SIZE:
            cache.popitem(last=False)
    return pool


def _build(rows: Sequence[Sequence[Any]]) -> Pool | None:
    """The pool of (id, a, b, c, content, options, status, parameter version, family,
    provisional) rows;
    None without an operational item (pretest items alone make no exam).  The bank carries
    the families only when some family has two items or more: without, the engine's step
    costs nothing more."""
    pretest = [r for r in rows if r[6] == ItemStatus.PRETEST.value]
    rows = [r for r in rows if r[6] != ItemStatus.PRETEST.value]
    if not rows:
        return None
    families = np.array([r[8] for r in rows], dtype=np.int64)
    bank = ItemBank(
        ids=np.array([str(r[0]) for r in rows]),
        a=np.array([r[1] for r in rows], dtype=np.float64),
        b=np.array([r[2] for r in rows], dtype=np.float64),
        c=np.array([r[3] or 0.0 for r in rows], dtype=np.float64),
        content=np.array([r[4] or "" for r in rows], dtype=str),
        family=families if np.unique(families).size < families.size else None,
    )
    return Pool(item_ids=np.array([r[0] for r in rows], dtype=np.int64), bank=bank,
                n_options=np.array([r[5] for r in rows], dtype=np.int64),
                pretest_ids=np.array([r[0] for r in pretest], dtype=np.int64),
                pretest_n_options=np.array([r[5] for r in pretest], dtype=np.int64),
                param_versions=np.array([r[7] or 0 for r in rows], dtype=np.int64),
                pretest_param_versions=np.array([r[7] or 0 for r in pretest], dtype=np.int64),
                families=families,
                pretest_families=np.array([r[8] for r in pretest], dtype=np.int64),
                provisional=(np.array([bool(r[9]) for r in rows])
                             if any(r[9] for r in rows) else None))
