r"""Exposure and overlap metrics, and the eligibility rules of an exam window.

For ``N`` tests (lists of bank indices) over a bank of ``n`` items, with ``n_i`` the number of
tests item ``i`` appeared in and ``L`` the mean test length:

* exposure rate ``r_i = n_i / N``; ``max_exposure = max_i r_i``;
* mean overlap: the mean, over all ``N (N - 1) / 2`` pairs of examinees, of the number of items
  the two tests share, divided by the mean test length:

  .. math:: \\bar O = \\frac{\\sum_i n_i (n_i - 1)}{N (N - 1) L}

  (Chen, Ankenmann & Spray, 2003).  For fixed-length tests it is exactly the expected share of
  items two random examinees have in common; 0 means disjoint tests, 1 identical tests.  The
  pair sum is computed from the counts, in ``O(n)``, not over pairs.

Running exposure cap ("restricted maximum information", Revuelta & Ponsoda, 1998): with
``n_i`` the number of the ``T`` tests started so far in the exam window (in a simulation: the
examinees simulated so far) that contained item ``i``, the item is eligible for the next test
only while

.. math:: \\frac{n_i + 1}{T + 1} \\le r_{max}

i.e. while giving it once more keeps its rate, counting the current test, at most ``r_max``.
Then no item's rate ever exceeds ``r_max`` once it is counted over the tests started.  Early in
a window (``T + 1 < 1 / r_max``) no item meets the cap; :func:`capped_exclusion` then falls back
to the least exposed eligible items, which makes the first ``1 / r_max`` tests (nearly) disjoint
rather than failing.  The exclusion mask (seen before, retired, already given) stays a hard
guarantee: the fallback never reaches into it.

Progressive cap (position-dependent eligibility).  Applied at every item alike, the cap lets
the first items of every test, chosen while theta is still poorly known (all tests start at the
prior mean), use up the quota of the items that are most informative near the middle of the
scale, so examinees whose estimate later lands there find them capped.  The progressive cap
reserves part of each item's quota for later positions: the item at position ``s`` (0-based,
items already given in this test) may use only

.. math:: r_s = r_{max} \min\left(1,\; f + (1 - f) \frac{s}{S}\right)

(``f`` the starting fraction, ``S`` the ramp length in items), so early items come from the
items with spare quota and the heavily demanded ones are kept for when theta is known.  It is
the idea of Revuelta & Ponsoda's (1998) progressive-restricted method (little weight on
information early, full weight late) and of Chang & Ying's (1999) a-stratification (save the
most discriminating items for the end), expressed as eligibility, so randomesque still picks at
random among the ``k`` most informative eligible items.  Since ``r_s <= r_max`` the overall
bound is unchanged.  Measured on 1,000-item 3PL banks (docs/cat_engine.md), it lowers mean
overlap by a quarter but does not recover the precision the cap costs: that cost comes from
the cap's capacity, not from when the items are used.

Least exposed first (per content tag).  Within each content tag ``g`` only the items exposed
at most ``s`` (the slack) times more than the least exposed eligible item of the tag stay
eligible:

.. math:: n_i \le \min_{j \in g,\ j \text{ eligible}} n_j + s

so an exam window goes through the whole bank before it repeats an item (``s = 0``: strictly
in turn).  Per tag, so that content balance keeps every tag available; a tag with no eligible
item excludes nothing more.  It is what defeats item harvesting: the cap alone lets a few dozen
highly informative items circulate among everyone, each at a rate just under ``r_max``
(bench/bench_harvest.py measures how much of a later test a group of colluders has seen).
It costs precision, since items are taken in turn rather than by information alone.

References
----------
Chang, H.-H. & Ying, Z. (1999). a-Stratified multistage computerized adaptive testing.
*Applied Psychological Measurement*, 23(3), 211-222.
Chen, S.-Y., Ankenmann, R. D. & Spray, J. A. (2003). The relationship between item exposure and
test overlap in computerized adaptive testing. *Journal of Educational Measurement*, 40(2).
Revuelta, J. & Ponsoda, V. (1998). A comparison of item exposure control methods in
computerized adaptive testing. *Journal of Educational Measurement*, 35(4), 311-327.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["exposure_counts", "exposure_rates", "max_exposure", "mean_overlap",
           "exposure_eligible", "capped_exclusion", "least_exposed_exclusion",
           "progressive_cap", "check_cap_ramp", "check_counts", "DEFAULT_CAP_RAMP"]


def exposure_counts(tests: Sequence[np.ndarray], n_items: int) -> np.ndarray:
    """``(n_items,)`` number of tests each item appeared in."""
    if not tests:
        raise ValueError("no tests given")
    flat = np.concatenate([np.asarray(t, dtype=np.intp) for t in tests])
    if flat.size and (flat.min() < 0 or flat.max() >= n_items):
        raise ValueError("a test holds an item index outside the bank")
    return np.bincount(flat, minlength=n_items)


def exposure_rates(tests: Sequence[np.ndarray], n_items: int) -> np.ndarray:
    """``(n_items,)`` share of tests each item appeared in."""
    return exposure_counts(tests, n_items) / len(tests)


def max_exposure(tests: Sequence[np.ndarray], n_items: int) -> float:
    """The highest exposure rate of any item."""
    return float(exposure_rates(tests, n_items).max())


def mean_overlap(tests: Sequence[np.ndarray], n_items: int) -> float:
    """Mean share of items two random examinees have in common (see module doc)."""
    if len(tests) < 2:
        raise ValueError("mean overlap needs at least two tests")
    counts = exposure_counts(tests, n_items).astype(np.float64)
    n = len(tests)
    mean_length = np.mean([len(t) for t in tests])
    return float((counts * (counts - 1)).sum() / (n * (n - 1) * mean_length))


def exposure_eligible(counts, n_tests: int, r_max: float) -> np.ndarray:
    """``(n,)`` bool: items still under the running exposure cap (see module doc).

    Parameters
    ----------
    counts : (n,) int, tests of the window so far that contained each item
    n_tests : tests started in the window before the current one (``counts <= n_tests``)
    r_max : the cap on the exposure rate, in (0, 1]; 1 makes every item eligible

    Returns
    -------
    np.ndarray
        ``(counts + 1) / (n_tests + 1) <= r_max`` per item.
    """
    counts = check_counts(counts, n_tests)
    if not (0 < r_max <= 1):
        raise ValueError(f"max exposure r_max must be in (0, 1] (got {r_max})")
    return _eligible(counts, n_tests, r_max)


def _eligible(counts: np.ndarray, n_tests: int, r_max: float) -> np.ndarray:
    # Multiplied out, with a relative slack so that e.g. 0.25 * 4 counts as 1 exactly.
    return counts + 1 <= r_max * (n_tests + 1) * (1 + 1e-12)


def capped_exclusion(excluded, counts, n_tests: int, r_max: float) -> np.ndarray:
    """``(n,)`` bool exclusion mask: ``excluded`` plus the items over the exposure cap.

    When the cap would leave no item outside ``excluded``, the items outside ``excluded`` with
    the fewest exposures stay eligible instead (the early phase of a window, or a small bank).
    ``excluded`` itself is never relaxed.
    """
    excluded = np.asarray(excluded, dtype=bool)
    counts = check_counts(counts, n_tests)
    if not (0 < r_max <= 1):
        raise ValueError(f"max exposure r_max must be in (0, 1] (got {r_max})")
    if excluded.shape != counts.shape:
        raise ValueError(
            f"mismatched lengths: excluded mask has {excluded.size} entries for "
            f"{counts.size} exposure counts"
        )
    return _capped(excluded, counts, n_tests, r_max)


def _capped(excluded: np.ndarray, counts: np.ndarray, n_tests: int,
            r_max: float) -> np.ndarray:
    """:func:`capped_exclusion` of checked arrays (the selection's step, checked once by its
    ``ExposureWindow``)."""
    capped = excluded | ~_eligible(counts, n_tests, r_max)
    if not capped.all() or excluded.all():
        return capped
    return excluded | (counts > counts[~excluded].min())


def least_exposed_exclusion(excluded, counts, tags, slack: int) -> np.ndarray:
    """``(n,)`` bool exclusion mask: ``excluded`` plus, within each content tag, the items
    exposed more than ``slack`` times above the least exposed item of the tag outside
    ``excluded`` (least exposed first, see module doc).

    Parameters
    ----------
    excluded : (n,) bool, True = not eligible (the hard exclusions and the running cap)
    counts : (n,) int, tests of the window so far that contained each item
    tags : (n,) int, each item's content tag as a code ``0..T-1``
        (``ItemBank.content_codes[1]``)
    slack : int >= 0; 0 = only the least exposed items of each tag

    Returns
    -------
    np.ndarray
        ``excluded | (counts > floor[tags] + slack)`` with ``floor[g]`` the least count among
        the eligible items of tag ``g`` (a tag without one: the largest count, which excludes
        nothing more).  ``excluded`` itself is never relaxed.
    """
    excluded = np.asarray(excluded, dtype=bool)
    counts = np.asarray(counts)
    tags = np.asarray(tags)
    if not (excluded.shape == counts.shape == tags.shape) or excluded.ndim != 1:
        raise ValueError(
            f"mismatched lengths: excluded mask has {excluded.size} entries, "
            f"{counts.size} exposure counts, {tags.size} content tags"
        )
    if not np.issubdtype(counts.dtype, np.integer) or not np.issubdtype(tags.dtype, np.integer):
        raise ValueError("exposure counts and content tag codes must be integers")
    if isinstance(slack, bool) or not isinstance(slack, int | np.integer) or slack < 0:
        raise ValueError(f"the least-exposed slack must be an integer >= 0 (got {slack!r})")
    if tags.size and tags.min() < 0:
        raise ValueError("content tag codes must be >= 0")
    return _least_exposed(excluded, counts, tags, slack)


def _least_exposed(excluded: np.ndarray, counts: np.ndarray, tags: np.ndarray,
                   slack: int) -> np.ndarray:
    """:func:`least_exposed_exclusion` of checked arrays (the selection's step)."""
    free = ~excluded
    if not free.any():
        return excluded
    floor = np.full(int(tags.max()) + 1, counts.max())
    np.minimum.at(floor, tags[free], counts[free])
    return excluded | (counts > floor[tags] + slack)


#: Default progressive cap: 20% of r_max at the first item, rising linearly to r_max at item
#: 21.  Measured (docs/cat_engine.md): same precision as the flat cap, overlap 0.16 instead of
#: 0.21 on a 1,000-item bank; a steeper ramp (0.1, 30) lowers overlap further but costs SE.
DEFAULT_CAP_RAMP = (0.2, 20)


def check_cap_ramp(cap_ramp) -> tuple[float, int] | None:
    """Validate a progressive-cap ramp ``(f, S)``: ``f`` in (0, 1], ``S`` an int >= 1 (or None)."""
    if cap_ramp is None:
        return None
    try:
        start, items = cap_ramp
    except (TypeError, ValueError):
        raise ValueError("cap_ramp must be a pair (start fraction, ramp items)") from None
    if not (0 < float(start) <= 1):
        raise ValueError(f"cap_ramp start fraction must be in (0, 1] (got {start})")
    if int(items) != items or items < 1:
        raise ValueError(f"cap_ramp length must be an integer >= 1 (got {items})")
    return float(start), int(items)


def progressive_cap(r_max: float, position: int, cap_ramp: tuple[float, int] | None) -> float:
    """The cap ``r_s`` for the item at ``position`` (0-based) of a test (see module doc).

    ``cap_ramp = (f, S)``; None gives ``r_max`` at every position.
    """
    if position < 0:
        raise ValueError(f"the item position must be >= 0 (got {position})")
    if cap_ramp is None or r_max >= 1:
        return r_max
    start, items = cap_ramp
    return r_max * min(1.0, start + (1.0 - start) * position / items)


def check_counts(counts, n_tests: int) -> np.ndarray:
    """Validate exposure counts: ``(n,)`` integers in ``[0, n_tests]``, ``n_tests >= 0``."""
    counts = np.asarray(counts)
    if counts.ndim != 1 or not np.issubdtype(counts.dtype, np.integer):
        raise ValueError("exposure counts must be a 1-D array of integers")
    if n_tests < 0:
        raise ValueError(f"the number of tests must be >= 0 (got {n_tests})")
    if counts.size and (counts.min() < 0 or counts.max() > n_tests):
        raise ValueError(f"exposure counts must be in [0, n_tests = {n_tests}]")
    return counts
