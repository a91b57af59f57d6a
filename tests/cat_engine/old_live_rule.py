"""The live exams' item rule as item_bank/selection.py spelled it before it moved into the engine.

A reference implementation for the tests, copied verbatim (``ceiling_excluded``,
``next_cat_item``, ``loft_form``) but for the calls into the engine, which go to today's API
with no exposure control of its own: ``select_item`` with a rule of method and content targets
only, ``assemble_loft`` (unchanged).  The engine's ``select_item`` with ``exposure_slack`` and
its ``assemble_form`` must reproduce these, draw for draw.
"""

import numpy as np

from cat_engine.assembly import assemble_loft
from cat_engine.config import SelectionRule
from cat_engine.exposure import capped_exclusion
from cat_engine.selection import select_item


def old_ceiling_excluded(base, counts, attempts, max_exposure, *, tags=None, slack=None):
    n_tests = max(attempts - 1, 0)
    capped = capped_exclusion(base, np.minimum(counts, n_tests), n_tests, max_exposure)
    if slack is None or capped.all():
        return capped
    tags = np.zeros(counts.size, dtype=np.intp) if tags is None else tags
    free = ~capped
    floor = np.full(int(tags.max()) + 1, counts.max())
    np.minimum.at(floor, tags[free], counts[free])
    return capped | (counts > floor[tags] + slack)


def old_next_cat_item(bank, theta, *, base, counts, attempts, max_exposure, k, slack,
                      content_shares, content_counts, rng):
    excluded = old_ceiling_excluded(base, counts, attempts, max_exposure,
                                    tags=bank.content_codes[1], slack=slack)
    rule = SelectionRule(method="randomesque", k=k, content_targets=content_shares)
    return select_item(bank, theta, rule, excluded=excluded, rng=rng,
                       content_counts=content_counts)


def old_loft_form(bank, length, *, base, counts, attempts, max_exposure, slack,
                  content_shares, rng):
    widen = [None] if slack is None else [slack, slack + 1, slack + 2, None]
    for step in widen:
        excluded = old_ceiling_excluded(base, counts, attempts, max_exposure,
                                        tags=bank.content_codes[1], slack=step)
        if (~excluded).sum() >= 2 * length:
            break
    if (~excluded).sum() < length:
        excluded = base
    last_error = None
    for shares, tolerance in ((content_shares, 0.10), (None, 0.10), (None, 1e9)):
        try:
            return assemble_loft(bank, length, rng=rng, excluded=excluded,
                                 content_shares=shares, tolerance=tolerance)
        except ValueError as exc:
            last_error = exc
    raise ValueError(f"cannot assemble a form of {length} items: {last_error}")
