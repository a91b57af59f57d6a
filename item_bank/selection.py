"""How the exam policy picks items, independent of the database.

The policy (live exams) and the harvest simulation (bench and ``bank check`` advice) both call
these functions, so the figures the simulation prints are those of the real selection rule.

Exposure control is two-layered:

* randomesque (Kingsbury & Zara, 1989): the next CAT item is drawn at random among the
  ``k`` most informative eligible items, so participants of similar ability get different items;
* an exposure ceiling per exam window: an item is eligible only while
  ``count + 1 <= max_exposure * attempts`` (``attempts`` started in this exam so far,
  including the current one), so no item is shown to more than ``max_exposure`` of the
  window's attempts once the window has more than ``1 / max_exposure`` attempts.  During the
  first few attempts no item can meet the ceiling; the least exposed eligible items are used;
* least-exposed-first (``exposure_slack``, default 0): within each content tag only the items
  shown at most ``slack`` times more than the least shown one are eligible, so a window uses
  the whole bank before it repeats an item.  This is what defeats item harvesting: the
  ceiling alone lets a few dozen highly informative items circulate among everyone (with
  3,000 items and 20 colluders, 74% of a later CAT was in the colluders' pool under the
  ceiling alone versus 0% least-exposed-first; see bench/bench_harvest.py).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from cat_engine.assembly import assemble_loft
from cat_engine.exposure import capped_exclusion
from cat_engine.irt import ItemBank
from cat_engine.selection import select_item


def ceiling_excluded(base: np.ndarray, counts: np.ndarray, attempts: int,
                     max_exposure: float, *, tags: np.ndarray | None = None,
                     slack: int | None = None) -> np.ndarray:
    """``base`` (seen / unusable) plus the items at the exposure ceiling, plus (when ``slack``
    is given) every item exposed more than ``slack`` times above the least exposed eligible
    item of its content tag.

    Parameters
    ----------
    base : (n,) bool, True = never eligible (seen before in the program, already in this test)
    counts : (n,) int, attempts of this exam window that were shown each item
    attempts : attempts started in the window, the current one included
    max_exposure : ceiling on ``count / attempts``
    tags : (n,) int, each item's content tag as a code ``0..T-1`` (``ItemBank.content_codes``);
        the least-exposed rule is applied per tag so that content balance keeps every tag
        available.  None = one tag.
    slack : None = ceiling only; 0 = least exposed items only (spread the bank evenly)
    """
    # cat_engine counts the earlier tests only; ``attempts`` includes the current one.  Counts
    # can exceed the earlier tests: the current test's items (in ``base`` anyway) and, on
    # PostgreSQL, a start committed between reading the attempt count and the exposure rows.
    # Either way such an item is at the ceiling, which the clipped count still says.
    n_tests = max(attempts - 1, 0)
    capped = capped_exclusion(base, np.minimum(counts, n_tests), n_tests, max_exposure)
    if slack is None or capped.all():
        return capped
    tags = np.zeros(counts.size, dtype=np.intp) if tags is None else tags
    free = ~capped
    # The least count among each tag's eligible items; a tag without one keeps the largest
    # count, which excludes nothing that is not excluded already.
    floor = np.full(int(tags.max()) + 1, counts.max())
    np.minimum.at(floor, tags[free], counts[free])
    return capped | (counts > floor[tags] + slack)


def next_cat_item(bank: ItemBank, theta: float, *, base: np.ndarray, counts: np.ndarray,
                  attempts: int, max_exposure: float, k: int, slack: int | None,
                  content_shares: Mapping[str, float], content_counts: Mapping[str, int],
                  rng: np.random.Generator) -> int:
    """Index of the next CAT item: randomesque MFI under the ceiling, among the least exposed
    items (``slack``), with content balance."""
    excluded = ceiling_excluded(base, counts, attempts, max_exposure,
                                tags=bank.content_codes[1], slack=slack)
    return select_item(bank, theta, excluded=excluded, rng=rng, method="randomesque", k=k,
                       content_targets=content_shares, content_counts=content_counts)


def loft_form(bank: ItemBank, length: int, *, base: np.ndarray, counts: np.ndarray,
              attempts: int, max_exposure: float, slack: int | None,
              content_shares: Mapping[str, float], rng: np.random.Generator) -> np.ndarray:
    """Indices of a LOFT form of ``length`` items under the ceiling.

    Content quotas and the information target are goals: when a participant has seen too
    much of one tag for exact quotas they are relaxed in turn rather than refuse an attempt
    whose item count was already checked.  ValueError when no form can be built at all.
    """
    # The least-exposed set may be smaller than a form; widen it until the assembler has
    # room (twice the length) to meet the information target.
    widen = [None] if slack is None else [slack, slack + 1, slack + 2, None]
    for step in widen:
        excluded = ceiling_excluded(base, counts, attempts, max_exposure,
                                    tags=bank.content_codes[1], slack=step)
        if (~excluded).sum() >= 2 * length:
            break
    if (~excluded).sum() < length:
        excluded = base
    last_error: ValueError | None = None
    for shares, tolerance in ((content_shares, 0.10), (None, 0.10), (None, 1e9)):
        try:
            return assemble_loft(bank, length, rng=rng, excluded=excluded,
                                 content_shares=shares, tolerance=tolerance)
        except ValueError as exc:
            last_error = exc
    raise ValueError(f"cannot assemble a form of {length} items: {last_error}")


def content_shares(bank: ItemBank) -> dict[str, float]:
    """Share of each content tag in the bank (the content-balance targets)."""
    tags, codes = bank.content_codes
    counts = np.bincount(codes, minlength=len(tags)).tolist()
    return {t: float(n) / len(bank) for t, n in zip(tags, counts, strict=True)}
