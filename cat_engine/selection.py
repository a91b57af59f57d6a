"""Next-item selection: maximum Fisher information with exposure control and content balance.

The exact argmax of item information over the eligible items is found without evaluating the
whole bank.  Items are grouped once per bank into blocks of ``BLOCK`` items with similar ``a``
and ``b`` (sorted by ``a`` into groups, then by ``b`` within a group).  For a block with
``a`` in ``[a_lo, a_hi]``, ``b`` in ``[b_lo, b_hi]`` and ``c >= c_lo``, every item obeys

.. math:: I(\\theta) = a^2 (1 - c) L^2 (1 - L) / P \\le (1 - c_{lo})\\, a^2 L (1 - L)
          = (1 - c_{lo}) \\frac{a^2}{4 \\cosh^2(a d / 2)}

(``L`` the logistic part, ``P >= L``), with ``d = max(0, b_lo - theta, theta - b_hi)`` the
distance of ``theta`` from the block's ``b`` range.  As a function of ``a`` the right-hand side
rises up to ``a d / 2 = x*`` (``x* tanh x* = 1``, ``x* = 1.19968``) and falls after it, so the
block bound is its value at ``a = clip(2 x* / d, a_lo, a_hi)``.  Selection computes the exact
information in the few blocks with the highest bounds, takes the k-th best value ``v`` found,
and then evaluates exactly every block whose bound reaches ``v``: no item outside those blocks
can beat ``v``, so the result is the exact top-k (tested against brute force).  With 50,000
items this touches a few hundred items instead of all of them.

Bounding 800 blocks still costs as much as evaluating them, so large banks also keep, per theta
cell ``[t_j, t_j + h]`` of ``[-6, 6]`` (``h = 0.05``), the ``M = 256`` items with the highest
*cell bound* ``U_ij = max over the cell of I_i``, best first, and ``T_j``, the highest bound of the
items left out.  Information is unimodal in theta with its peak at ``theta_i* = b_i + ln((1 +
sqrt(1 + 8 c_i)) / 2) / a_i`` (Lord, 1980, eq. 10-4), so ``U_ij = I_i(clip(theta_i*, t_j, t_j +
h))``.  A selection at theta in cell ``j`` evaluates the ``M`` listed items exactly; when the k-th
best eligible value ``v`` exceeds ``T_j`` no item left out can reach it, and that is the exact
top-k.  Otherwise (most of the list excluded or priced away) the block search above runs.

Priced selection (exposure prices ``lambda_i >= 0``, :func:`cat_engine.exposure_calibration.
calibrate_exposure_prices`) ranks items by ``I_i(theta) - lambda_i`` instead of ``I_i(theta)``.
Since ``I_i - lambda_i <= I_i``, the block bound above still bounds the priced value, so the
same pruning gives the exact priced top-k.

:func:`select_item` applies a :class:`cat_engine.config.SelectionRule` in a fixed order, each
step only narrowing the eligible items: the hard exclusions (seen before, retired, already in
this test; never relaxed), the running exposure cap of the exam window (progressive over the
test's positions when the rule has a ramp), least exposed first per content tag, then content
balance (the tag of largest deficit that still has an eligible item, the whole bank as the
fallback) and finally the method among what is left (:mod:`cat_engine.exposure` defines the
exposure rules).

References
----------
Lord, F. M. (1980). *Applications of Item Response Theory to Practical Testing Problems*.
Erlbaum.
Kingsbury, G. G. & Zara, A. R. (1989). Procedures for selecting items for computerized
adaptive tests. *Applied Measurement in Education*, 2(4), 359-375 (randomesque).
Sympson, J. B. & Hetter, R. D. (1985). Controlling item-exposure rates in computerized adaptive
testing. *Proceedings of the 27th annual meeting of the Military Testing Association*.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .config import ExposureWindow, SelectionRule, check_prices
from .exposure import _capped, _least_exposed, progressive_cap
from .grid import THETA_MAX, THETA_MIN
from .irt import ItemBank, _information, max_information

__all__ = [
    "select_item",
    "exposure_exclusion",
    "most_informative",
    "content_shares",
    "content_quotas",
    "choose_tag_order",
]

BLOCK = 64
_X_STAR = 1.1996786402577337  # root of x tanh(x) = 1: the a maximizing a^2 / cosh^2(a d / 2)
_SEED_BLOCKS = 4  # blocks evaluated first to find a good lower bound v
_DIRECT_BLOCKS = 16  # up to this many blocks (1,024 items) every item is evaluated directly
_SH_CHUNK = 16  # Sympson-Hetter candidates drawn per round
_CELL_WIDTH = 0.05  # theta cells of the listed items; narrow cells keep the bounds tight
_CELL_ITEMS = 256  # items listed per cell (M): evaluating them costs about one block bound pass
_CELL_CHUNK = 16  # cells whose bounds are computed together when the lists are built


@dataclass(frozen=True, eq=False)
class _CellLists:
    """Per theta cell, the items with the highest information bound over the cell (module doc).

    ``index`` ``(n_cells, M)`` bank indices by decreasing bound; ``a``, ``b``, ``c`` their
    parameters (same shape); ``tail`` ``(n_cells,)`` the highest bound among the items not
    listed.
    """

    index: np.ndarray
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    tail: np.ndarray

    @classmethod
    def build(cls, bank: ItemBank, members: np.ndarray) -> _CellLists:
        n_cells = int(round((THETA_MAX - THETA_MIN) / _CELL_WIDTH))
        edges = np.linspace(THETA_MIN, THETA_MAX, n_cells + 1)
        a, b, c = bank.a[members], bank.b[members], bank.c[members]
        peak = max_information(a, b, c)[0]
        m = _CELL_ITEMS  # built only beyond the direct search's 1,024 items: more than M
        index = np.empty((n_cells, m), dtype=np.intp)
        tail = np.empty(n_cells)
        for start in range(0, n_cells, _CELL_CHUNK):  # chunks bound the memory: 16 x n floats
            cells = np.arange(start, min(start + _CELL_CHUNK, n_cells))
            at = np.clip(peak, edges[cells][:, None], edges[cells + 1][:, None])
            # The slack covers rounding in the peak and in the exact values compared to it.
            bound = (1.0 + 1e-9) * _information(at, a, b, c)
            part = np.argpartition(-bound, m, axis=1)
            tail[cells] = np.take_along_axis(bound, part[:, m:], axis=1).max(axis=1)
            part = part[:, :m]
            order = np.argsort(-np.take_along_axis(bound, part, axis=1), axis=1, kind="stable")
            index[cells] = members[np.take_along_axis(part, order, axis=1)]
        return cls(index=index, a=bank.a[index], b=bank.b[index], c=bank.c[index], tail=tail)

    def top(self, theta: float, excluded: np.ndarray, k: int, prices) -> np.ndarray | None:
        """The exact top-k (as :meth:`_BlockIndex.top`), or None when the cell's list cannot
        prove it (theta outside the cells, or too few listed items eligible above the tail)."""
        if not THETA_MIN <= theta <= THETA_MAX:
            return None
        # theta = THETA_MAX belongs to the last cell
        j = min(int((theta - THETA_MIN) / _CELL_WIDTH), self.tail.size - 1)
        idx = self.index[j]
        info = _information(theta, self.a[j], self.b[j], self.c[j])
        if prices is not None:
            info -= prices[idx]
        info[excluded[idx]] = -np.inf
        if k > info.size:
            return None
        v = info.max() if k == 1 else np.partition(info, info.size - k)[info.size - k]
        if not v > self.tail[j]:  # also when v = -inf: fewer than k listed items eligible
            return None
        return _best(idx, info, k)


@dataclass(frozen=True, eq=False)
class _BlockIndex:
    """Items of a bank (or of one content tag) arranged in padded ``(n_blocks, BLOCK)`` blocks."""

    index: np.ndarray  # (n_blocks, BLOCK) int, bank index of each slot (0 for padding)
    valid: np.ndarray  # (n_blocks, BLOCK) bool, False for padding slots
    a: np.ndarray  # (n_blocks, BLOCK) parameters per slot (padding: a = 1, b = 0, c = 0)
    b: np.ndarray
    c: np.ndarray
    a_lo: np.ndarray  # (n_blocks,) block summaries for the upper bound
    a_hi: np.ndarray
    b_lo: np.ndarray
    b_hi: np.ndarray
    one_minus_c: np.ndarray  # (n_blocks,) 1 - min c
    cells: _CellLists | None  # theta-cell lists of banks searched by blocks (None: direct)

    @classmethod
    def build(cls, bank: ItemBank, members: np.ndarray) -> _BlockIndex:
        n_blocks_total = -(-members.size // BLOCK)
        n_groups = max(1, int(round(np.sqrt(n_blocks_total) / 2)))
        by_a = members[np.argsort(bank.a[members], kind="stable")]
        rows = []
        for group in np.array_split(by_a, n_groups):  # a dozen groups, once per bank
            group = group[np.argsort(bank.b[group], kind="stable")]
            pad = (-group.size) % BLOCK
            rows.append(np.concatenate([group, np.full(pad, -1)]).reshape(-1, BLOCK))
        slots = np.vstack(rows)
        valid = slots >= 0
        index = np.where(valid, slots, 0)
        a = np.where(valid, bank.a[index], 1.0)
        b = np.where(valid, bank.b[index], 0.0)
        c = np.where(valid, bank.c[index], 0.0)
        return cls(
            index=index,
            valid=valid,
            a=a,
            b=b,
            c=c,
            a_lo=np.where(valid, a, np.inf).min(axis=1),
            a_hi=np.where(valid, a, -np.inf).max(axis=1),
            b_lo=np.where(valid, b, np.inf).min(axis=1),
            b_hi=np.where(valid, b, -np.inf).max(axis=1),
            one_minus_c=1.0 - np.where(valid, c, np.inf).min(axis=1),
            cells=_CellLists.build(bank, members) if n_blocks_total > _DIRECT_BLOCKS else None,
        )

    def upper_bounds(self, theta: float) -> np.ndarray:
        """``(n_blocks,)`` upper bounds of item information at ``theta`` (see module doc)."""
        d = np.maximum(np.maximum(self.b_lo - theta, theta - self.b_hi), 0.0)
        with np.errstate(divide="ignore"):
            a = np.clip(2.0 * _X_STAR / d, self.a_lo, self.a_hi)
        half = 0.5 * a * d
        # The slack covers rounding: for a 2PL item at d = 0 the bound is attained exactly.
        return (1.0 + 1e-9) * self.one_minus_c * a * a / (4.0 * np.cosh(half) ** 2)

    def _values(self, theta: float, blocks: np.ndarray | None, excluded: np.ndarray, prices):
        """Exact (priced) information of the items in ``blocks`` (None: every block);
        ``-inf`` for excluded or padding."""
        # Every block: the ravelled arrays are views, so no gather at all.
        pick = slice(None) if blocks is None else blocks
        idx = self.index[pick].ravel()
        info = _information(theta, self.a[pick].ravel(), self.b[pick].ravel(),
                            self.c[pick].ravel())
        if prices is not None:
            info -= prices[idx]
        info[excluded[idx] | ~self.valid[pick].ravel()] = -np.inf
        return idx, info

    def top(self, theta: float, excluded: np.ndarray, k: int, prices=None) -> np.ndarray:
        """Bank indices of the ``k`` eligible items of highest ``I_i(theta) - prices_i``
        (``prices`` None: of highest information), best first."""
        if self.index.shape[0] <= _DIRECT_BLOCKS:
            # A small bank (an exam pool of a few hundred items): one pass over every item
            # costs less than bounding the blocks and evaluating them twice.
            return _best(*self._values(theta, None, excluded, prices), k)
        if self.cells is not None:
            found = self.cells.top(theta, excluded, k, prices)
            if found is not None:
                return found
        ub = self.upper_bounds(theta)
        n_seed = min(_SEED_BLOCKS + k // BLOCK, ub.size)
        seed = np.argpartition(-ub, n_seed - 1)[:n_seed] if n_seed < ub.size else np.arange(
            ub.size)
        _, seed_info = self._values(theta, seed, excluded, prices)
        if seed_info.size >= k:
            v = np.partition(seed_info, seed_info.size - k)[seed_info.size - k]
        else:
            v = -np.inf
        # Every block that might hold an item at least as informative as v.
        cand = np.flatnonzero(ub >= v) if np.isfinite(v) else np.arange(ub.size)
        return _best(*self._values(theta, cand, excluded, prices), k)


def _best(idx: np.ndarray, info: np.ndarray, k: int) -> np.ndarray:
    """The bank indices ``idx`` of the ``k`` highest finite ``info``, best first."""
    if k == 1:  # maximum information: a max and a tie check instead of partition and sort
        best = info.max()
        # Ties go to the smaller bank index, as below.
        return idx[info == best].min(keepdims=True) if best > -np.inf else np.empty(0, np.intp)
    n_ok = int(np.isfinite(info).sum())
    k = min(k, n_ok)
    if k == 0:
        return np.empty(0, dtype=np.intp)
    # Every item tied with the k-th value competes for the last places (argpartition would
    # keep an arbitrary one); best first, ties to the smaller bank index as numpy's argmax.
    best = np.flatnonzero(info >= np.partition(info, info.size - k)[info.size - k])
    best = best[np.lexsort((idx[best], -info[best]))[:k]]
    return idx[best]


_INDEX_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _index_for(bank: ItemBank, tag: str | None) -> _BlockIndex:
    """The block index of the whole bank (``tag=None``) or of one content tag, cached."""
    per_bank = _INDEX_CACHE.setdefault(bank, {})
    if tag not in per_bank:
        members = np.arange(len(bank)) if tag is None else np.flatnonzero(bank.content == tag)
        per_bank[tag] = _BlockIndex.build(bank, members) if members.size else None
    return per_bank[tag]


def _check_excluded(bank: ItemBank, excluded) -> np.ndarray:
    if excluded is None:
        return np.zeros(len(bank), dtype=bool)
    excluded = np.asarray(excluded)
    if excluded.dtype != bool:
        raise ValueError("excluded must be a boolean mask over the bank")
    if excluded.shape != (len(bank),):
        raise ValueError(
            f"mismatched lengths: excluded mask has {excluded.size} entries for "
            f"{len(bank)} items"
        )
    return excluded


def most_informative(
    bank: ItemBank, theta: float, excluded=None, k: int = 1, tag: str | None = None,
    prices=None,
) -> np.ndarray:
    """Bank indices of the ``k`` most informative eligible items at ``theta``, best first.

    Parameters
    ----------
    bank : ItemBank
    theta : float
    excluded : (n,) bool mask or None; True = not eligible
    k : how many (fewer are returned when fewer are eligible)
    tag : restrict to items with this content tag
    prices : (n,) exposure prices ``lambda_i >= 0`` or None; items are then ranked by the
        priced information ``I_i(theta) - lambda_i``

    Exact: equal to ``argsort(-(information(theta, a, b, c) - prices))`` over eligible items.
    """
    if not np.isfinite(theta):
        raise ValueError("theta must be finite")
    if k < 1:
        raise ValueError(f"k must be >= 1 (got {k})")
    excluded = _check_excluded(bank, excluded)
    if prices is not None:
        prices = check_prices(prices, len(bank))
    return _top(bank, float(theta), excluded, int(k), tag, prices)


def _top(bank: ItemBank, theta: float, excluded: np.ndarray, k: int, tag: str | None,
         prices: np.ndarray | None) -> np.ndarray:
    """:func:`most_informative` on arguments already checked (select_item checks them once,
    then ranks per content tag and, for Sympson-Hetter, in rounds)."""
    index = _index_for(bank, tag)
    if index is None:
        return np.empty(0, dtype=np.intp)
    return index.top(theta, excluded, k, prices)


def content_quotas(shares: Mapping[str, float], length: int) -> dict[str, int]:
    """Integer item counts per tag summing to ``length`` (largest-remainder rounding).

    ``shares`` are non-negative and are normalized to sum to 1.
    """
    if not shares:
        raise ValueError("content shares are empty")
    tags = list(shares)
    s = np.array([float(shares[t]) for t in tags])
    if not np.isfinite(s).all() or (s < 0).any() or s.sum() <= 0:
        raise ValueError("content shares must be non-negative numbers with a positive sum")
    exact = s / s.sum() * length
    counts = np.floor(exact).astype(int)
    remainder = length - counts.sum()
    counts[np.argsort(-(exact - counts), kind="stable")[:remainder]] += 1
    return dict(zip(tags, counts.tolist(), strict=True))


def choose_tag_order(
    content_targets: Mapping[str, float], content_counts: Mapping[str, int] | None
) -> list[str]:
    """Tags ordered by deficit ``share * (n + 1) - count`` (largest first), ``n`` items so far."""
    counts = dict(content_counts or {})
    total = float(sum(float(v) for v in content_targets.values()))
    if total <= 0 or any(float(v) < 0 for v in content_targets.values()):
        raise ValueError("content targets must be non-negative shares with a positive sum")
    n_next = sum(counts.values()) + 1
    deficit = {
        tag: float(share) / total * n_next - counts.get(tag, 0)
        for tag, share in content_targets.items()
    }
    return sorted(deficit, key=lambda t: -deficit[t])


def _select_in(
    bank: ItemBank, theta: float, excluded: np.ndarray, rng: np.random.Generator, method: str,
    k: int, sh_params, tag: str | None, prices,
) -> int | None:
    """One selection among eligible items (optionally of one tag); None when none is eligible."""
    if method == "mfi":
        top = _top(bank, theta, excluded, 1, tag, prices)
        return int(top[0]) if top.size else None
    if method == "randomesque":
        top = _top(bank, theta, excluded, k, tag, prices)
        return int(top[rng.integers(top.size)]) if top.size else None
    # Sympson-Hetter: walk down the information order; administer item i with probability
    # K_i; a rejected item is passed over.  If every eligible item is rejected, give the best.
    seen = excluded.copy()
    first = None
    while True:
        top = _top(bank, theta, seen, _SH_CHUNK, tag, prices)
        if top.size == 0:
            return first
        if first is None:
            first = int(top[0])
        accepted = np.flatnonzero(rng.random(top.size) < sh_params[top])
        if accepted.size:
            return int(top[accepted[0]])
        seen[top] = True


def exposure_exclusion(
    bank: ItemBank,
    rule: SelectionRule,
    *,
    excluded: np.ndarray,
    window: ExposureWindow | None,
    position: int = 0,
) -> np.ndarray:
    """``(n,)`` bool: ``excluded`` plus the items the exposure rules of ``rule`` hold back.

    In order: the running cap ``capped_exclusion(excluded, window.counts, window.n_tests,
    progressive_cap(rule.max_exposure, position, rule.cap_ramp))`` when ``max_exposure < 1``
    (falling back to the least exposed items outside ``excluded`` when none meets the cap),
    then, when ``rule.exposure_slack`` is set, :func:`cat_engine.exposure.
    least_exposed_exclusion` per content tag among the items the cap left.  ``excluded`` (a
    checked ``(n,)`` bool mask) is never relaxed.

    Raises
    ------
    ValueError
        ``window`` missing while a rule needs it, or of another length than the bank.
    """
    if rule.max_exposure == 1 and rule.exposure_slack is None:
        return excluded
    if window is None:
        raise ValueError("the running exposure cap and the least-exposed rule need the exam "
                         "window's exposure (window=ExposureWindow(counts, n_tests))")
    if window.counts.size != len(bank):
        raise ValueError(f"mismatched lengths: {window.counts.size} exposure counts for "
                         f"{len(bank)} items")
    # The window, the rule and the mask are checked already (ExposureWindow, SelectionRule,
    # the callers): the steps run on them as they are.
    if rule.max_exposure < 1:
        excluded = _capped(excluded, window.counts, window.n_tests,
                           progressive_cap(rule.max_exposure, position, rule.cap_ramp))
    if rule.exposure_slack is not None:
        excluded = _least_exposed(excluded, window.counts, bank.content_codes[1],
                                  rule.exposure_slack)
    return excluded


def _check_lengths(bank: ItemBank, rule: SelectionRule) -> None:
    """The rule's per-item arrays (values checked by the rule) must fit the bank."""
    for values, what in ((rule.sh_params, "Sympson-Hetter parameters"),
                         (rule.prices, "exposure prices")):
        if values is not None and values.size != len(bank):
            raise ValueError(f"mismatched lengths: {values.size} {what} for {len(bank)} items")


def select_item(
    bank: ItemBank,
    theta: float,
    rule: SelectionRule,
    *,
    excluded,
    rng: np.random.Generator,
    content_counts: Mapping[str, int] | None = None,
    window: ExposureWindow | None = None,
    position: int = 0,
) -> int:
    """Choose the next item by ``rule`` (see module doc for the order of the steps).

    Parameters
    ----------
    bank : ItemBank
    theta : current ability estimate
    rule : the selection method, its exposure control and content balance
    excluded : (n,) bool or None; True = never choose (seen before, retired, already in this
        test)
    rng : numpy Generator for the random parts (randomesque, Sympson-Hetter)
    content_counts : {tag: items of that tag given so far in this test}
    window : the exam window's exposure before this test; needed when ``rule.max_exposure < 1``
        or ``rule.exposure_slack`` is set
    position : items already given in this test (0 for the first item): the position of the
        progressive cap

    Returns
    -------
    int
        Index into ``bank``.  Never an excluded item.

    Raises
    ------
    ValueError
        Mismatched mask, window or per-item arrays, a content tag not in the bank, a
        non-finite theta, a negative position, or no eligible item.
    """
    excluded = _check_excluded(bank, excluded)
    _check_lengths(bank, rule)
    if not math.isfinite(theta):
        raise ValueError("theta must be finite")
    if position < 0:
        raise ValueError(f"the item position must be >= 0 (got {position})")
    excluded = exposure_exclusion(bank, rule, excluded=excluded, window=window,
                                  position=position)
    tags: list[str | None] = []
    if rule.content_targets:
        unknown = set(rule.content_targets).difference(bank.content_codes[0])
        if unknown:
            raise ValueError(f"content target tag(s) not in the bank: {', '.join(sorted(unknown))}")
        tags = list(choose_tag_order(rule.content_targets, content_counts))
    for tag in [*tags, None]:  # the whole bank is the fallback when every tag is exhausted
        chosen = _select_in(bank, float(theta), excluded, rng, rule.method, rule.k,
                            rule.sh_params, tag, rule.prices)
        if chosen is not None:
            return chosen
    raise ValueError("no eligible item: the bank is fully excluded")


def content_shares(bank: ItemBank) -> dict[str, float]:
    """Share of each content tag in the bank, ``{tag: n_tag / n}``, tags sorted (the order of
    ``bank.content_codes``): the content-balance targets that keep the bank's proportions."""
    tags, codes = bank.content_codes
    counts = np.bincount(codes, minlength=len(tags)).tolist()
    return {t: float(n) / len(bank) for t, n in zip(tags, counts, strict=True)}
