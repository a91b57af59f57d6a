"""Test assembly: an adaptive test step (CAT) and linear-on-the-fly forms (LOFT).

**CAT.**  An attempt is an immutable :class:`AttemptState`; :func:`record_response` returns the
next state and :func:`next_item` chooses the next item (or None when a stopping rule fires).
The log-likelihood on the quadrature grid is kept as a running sum: a response adds one row of
the bank's :class:`cat_engine.irt.GridTable`,
``log L_k(x) = log L_{k-1}(x) + u log P(x) + (1 - u) log Q(x)``, and the EAP estimate is read
from it.  MAP and WLE re-estimate from the whole pattern; MLE uses EAP until the pattern holds
both a correct and a wrong answer (its estimate is a bound before that).  :func:`replay`
rebuilds the state of a stored response pattern in one call, bit for bit the state the answers
one by one gave.

**Randomness.**  The item at position ``p`` (1-based) of an attempt with seed ``s`` is chosen
with the generator :func:`step_rng` ``(s, p)`` and nothing else, so an attempt's item sequence
is a function of its seed, its answers and the exam window's exposure: a live exam (which may
draw more from the same generator after the choice, e.g. to shuffle the options) and
:func:`cat_engine.simulation.simulate` give the same items for the same seed and answers.

**LOFT.**  :func:`assemble_loft` draws a random form with the exact content quotas, then swaps
items (within a content tag) until the form's information is within ``tolerance`` of the target
at every target ability; the swap is drawn at random among those that reach the tolerance, so
forms differ from each other (van der Linden, 2005, ch. 9, on randomized assembly).
:func:`assemble_form` builds one participant's form by a :class:`cat_engine.config.
SelectionRule` on it: the rule's exposure steps decide the eligible items, and the goals are
relaxed in turn rather than refuse an attempt.

Reference: van der Linden, W. J. (2005). *Linear Models for Optimal Test Design*. Springer.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .config import CatConfig, ExposureWindow, SelectionRule, check_sh_params
from .estimation import estimate
from .grid import GRID, Estimate, eap_from_log_likelihood
from .irt import ItemBank, _information
from .selection import content_quotas, exposure_exclusion, select_item

__all__ = ["AttemptState", "start_attempt", "record_response", "replay", "next_item",
           "step_rng", "assemble_form", "assemble_loft", "loft_target_information"]

_LOFT_MAX_SWAPS = 400
_LOFT_POOL = 2000  # candidate items considered per swap (a random subset on large banks)


@dataclass(frozen=True, eq=False)
class AttemptState:
    """One examinee's CAT so far (immutable; each response makes a new state).

    Attributes
    ----------
    items : bank indices administered, in order
    responses : their 0/1 responses
    log_likelihood : (Q,) log-likelihood of the responses on ``cat_engine.grid.GRID``
    estimate : current ability estimate
    stop_reason : why the test ended ("se", "classified", "max_items") or None
    """

    items: tuple[int, ...]
    responses: tuple[int, ...]
    log_likelihood: np.ndarray
    estimate: Estimate
    stop_reason: str | None


def start_attempt(config: CatConfig) -> AttemptState:
    """The state before any response: the prior as the estimate."""
    ll = np.zeros(GRID.size)
    ll.setflags(write=False)
    est = eap_from_log_likelihood(ll, config.prior_mean, config.prior_sd)
    return AttemptState((), (), ll, est, config.stopping.reason(0, est))


def _check_response(bank: ItemBank, items: Sequence[int], item, response) -> None:
    """``response`` to ``item`` may follow ``items`` (ValueError naming the problem)."""
    if response not in (0, 1):
        raise ValueError(f"responses must be 0 or 1 (got {response!r})")
    if not 0 <= item < len(bank):
        raise ValueError(f"item index {item} is outside the bank of {len(bank)} items")
    if item in items:
        raise ValueError(f"item {bank.ids[item]} was already administered in this attempt")


def _state(bank: ItemBank, items: tuple[int, ...], responses: tuple[int, ...], ll: np.ndarray,
           config: CatConfig) -> AttemptState:
    """The state of ``items`` answered ``responses`` with log-likelihood ``ll`` on the grid."""
    ll.setflags(write=False)
    method = config.estimator
    if method == "mle" and len(set(responses)) < 2:
        method = "eap"  # the MLE is a bound until the pattern is mixed
    if method == "eap":
        est = eap_from_log_likelihood(ll, config.prior_mean, config.prior_sd)
    else:
        idx = np.array(items)
        est = estimate(np.array(responses), bank.a[idx], bank.b[idx], bank.c[idx], method,
                       prior_mean=config.prior_mean, prior_sd=config.prior_sd)
    return AttemptState(items, responses, ll, est, config.stopping.reason(len(items), est))


def record_response(
    state: AttemptState, bank: ItemBank, item: int, response: int, config: CatConfig
) -> AttemptState:
    """Add the response to ``item`` (a bank index): update the estimate and the stop reason.

    The log-likelihood gains the bank's grid-table row of the answer,
    ``ll = state.log_likelihood + bank.grid_table.rows[item + n * response]``.
    """
    _check_response(bank, state.items, item, response)
    item, response = int(item), int(response)
    ll = state.log_likelihood + bank.grid_table.rows[item + len(bank) * response]
    return _state(bank, (*state.items, item), (*state.responses, response), ll, config)


def replay(
    config: CatConfig, bank: ItemBank, items: Sequence[int], responses: Sequence[int]
) -> AttemptState:
    """The state after ``responses`` (0/1) to ``items`` (bank indices, in the order given).

    Identical to folding :func:`record_response` over the pairs from
    :func:`start_attempt` ``(config)``, log-likelihood and estimate bit for bit: one gather of
    the answers' grid-table rows, summed in the order of the answers starting from zeros (the
    fold's additions), and one estimate at the end.  A live exam that stores only its answers
    rebuilds the engine's state with it.

    Raises
    ------
    ValueError
        Lengths differ, or the first bad pair as :func:`record_response` names it.
    """
    if len(items) != len(responses):
        raise ValueError(f"mismatched lengths: {len(responses)} responses for {len(items)} "
                         "items")
    if not items:
        return start_attempt(config)  # the fold's state: the prior, whatever the estimator
    index = np.asarray(items)
    answers = np.asarray(responses)
    if not (np.issubdtype(index.dtype, np.integer) and ((answers == 0) | (answers == 1)).all()
            and 0 <= index.min() and index.max() < len(bank)
            and len(set(index.tolist())) == index.size):
        # The first bad pair, named as record_response names it.
        for k, (item, response) in enumerate(zip(items, responses, strict=True)):
            _check_response(bank, items[:k], item, response)
    index = index.astype(np.intp)
    rows = bank.grid_table.rows[index + len(bank) * answers.astype(np.intp)]
    # Summed over the answers (axis 0) in their order, starting from zeros: numpy adds row
    # after row along the outer axis, the fold's additions exactly (tested bit for bit).
    ll = np.add.reduce(rows, axis=0, initial=0.0)
    return _state(bank, tuple(index.tolist()), tuple(answers.astype(int).tolist()), ll, config)


def step_rng(seed: int, position: int) -> np.random.Generator:
    """THE random stream of the item at ``position`` (1-based: the first item of an attempt is
    position 1) of the attempt with ``seed``: ``np.random.default_rng([seed, position])``.

    Live exams choose the item at position ``p`` with ``next_item(..., rng=step_rng(seed, p))``
    and may draw more from the same generator afterwards (e.g. to shuffle the options); the
    simulator uses the same convention, so both give the same items for the same seed.
    """
    try:
        seed, position = operator.index(seed), operator.index(position)
    except TypeError:
        raise ValueError(f"seed and position must be integers (got {seed!r}, {position!r})") \
            from None
    if seed < 0:
        raise ValueError(f"an attempt seed must be >= 0 (got {seed})")
    if position < 1:
        raise ValueError(f"item positions start at 1 (got {position})")
    return np.random.default_rng([seed, position])


def next_item(
    state: AttemptState,
    bank: ItemBank,
    config: CatConfig,
    *,
    rng: np.random.Generator,
    excluded=None,
    window: ExposureWindow | None = None,
) -> int | None:
    """The next item's bank index by ``config.selection``, or None when the attempt has stopped.

    ``excluded`` (``(n,)`` bool) marks items never to give (seen before, retired); items of this
    attempt and of their families (``bank.family``) are excluded as well.  ``window`` is the
    exam window's exposure before this attempt (needed by the running cap and the least-exposed
    rule), read with a family counted as one item (:func:`family_window`); the item's position
    for the progressive cap is ``len(state.items)``.  Content balance counts the attempt's items
    per tag.  Raises ValueError when no item is eligible.
    """
    if state.stop_reason is not None:
        return None
    mask = np.zeros(len(bank), dtype=bool) if excluded is None else np.array(excluded,
                                                                            dtype=bool)
    if mask.shape != (len(bank),):
        raise ValueError(
            f"mismatched lengths: excluded mask has {mask.size} entries for {len(bank)} items"
        )
    if state.items:
        # One item per family in a test (ItemBank.family): the given items' whole families.
        mask |= bank.same_family(list(state.items))
    window = family_window(bank, window)
    rule = config.selection
    counts = None
    if rule.content_targets:  # the attempt's items per tag, from the bank's cached tag codes
        tags, codes = bank.content_codes
        given = np.bincount(codes[list(state.items)], minlength=len(tags)).tolist()
        counts = {tag: n for tag, n in zip(tags, given, strict=True) if n}
    return select_item(bank, state.estimate.theta, rule, excluded=mask, rng=rng,
                       content_counts=counts, window=window, position=len(state.items))


def family_window(bank: ItemBank, window: ExposureWindow | None) -> ExposureWindow | None:
    """The window with each item's count replaced by its family's (ItemBank.family): the
    running cap and the least-exposed rule then count a family as one item, so that a leaked
    answer to one variant spreads no further than one item's would.  A test holds at most one
    item of a family, so a family's count is the tests that held any of it (clipped to
    ``n_tests`` for counts stored before its items became one family)."""
    if window is None or bank.family_codes is None:
        return window
    codes = bank.family_codes
    per_family = np.bincount(codes, weights=window.counts).astype(np.intp)
    return ExposureWindow(counts=np.minimum(per_family[codes], window.n_tests),
                          n_tests=window.n_tests)


def _one_per_family(bank: ItemBank, eligible: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``eligible`` narrowed to one item per family, drawn at random (ItemBank.family)."""
    if bank.family_codes is None:
        return eligible
    order = rng.permutation(np.flatnonzero(eligible))
    _, first = np.unique(bank.family_codes[order], return_index=True)
    keep = np.zeros(len(bank), dtype=bool)
    keep[order[first]] = True
    return keep


def loft_target_information(bank: ItemBank, length: int, target_thetas=(-1, 0, 1)) -> np.ndarray:
    """Default LOFT target: ``length`` times the bank's mean item information at each theta.

    That is the expected information of a form drawn at random from the bank, so forms can be
    both on target and different from each other.  Shape ``(T,)``.
    """
    thetas = np.asarray(target_thetas, dtype=np.float64)
    return length * _information(thetas[:, None], bank.a, bank.b, bank.c).mean(axis=1)


def _check_tolerance(tolerance: float | None) -> None:
    if tolerance is not None and not (0 < tolerance < 1):
        raise ValueError(f"tolerance must be in (0, 1) (got {tolerance})")


def _relative_gap(form_info: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Worst relative deviation ``max_j |F_j - T_j| / T_j`` over the last axis."""
    return np.abs(form_info / target - 1.0).max(axis=-1)


def assemble_loft(
    bank: ItemBank,
    length: int,
    *,
    rng: np.random.Generator,
    excluded=None,
    target_thetas: Sequence[float] = (-1, 0, 1),
    target_information=None,
    content_shares: Mapping[str, float] | None = None,
    tolerance: float | None = 0.10,
    sh_params=None,
) -> np.ndarray:
    """Assemble one fixed-length form for one participant.

    Parameters
    ----------
    bank : ItemBank
    length : number of items
    rng : numpy Generator (the randomness that makes forms differ)
    excluded : (n,) bool; True = never use (seen before, retired)
    target_thetas : (T,) abilities where the information is controlled
    target_information : (T,) target test information there; default
        :func:`loft_target_information`
    content_shares : {tag: share}; the form holds exactly ``content_quotas(shares, length)``
        items of each tag (largest-remainder rounding); None = no content constraint
    tolerance : allowed relative deviation ``|I_form(theta_j) / T_j - 1|`` at every
        ``theta_j``; None = no information target (the random draw with the quotas)
    sh_params : (n,) Sympson-Hetter parameters; item ``i`` takes part in this form's draw with
        probability ``K_i`` (all eligible items are used if the lottery leaves too few)

    Returns
    -------
    (length,) int array of bank indices, no repeats, at most one item of a family
    (``bank.family``), never an excluded item.

    Raises
    ------
    ValueError
        Too few eligible items (per tag), bad arguments, or no form within the tolerance.
    """
    n = len(bank)
    if length < 1:
        raise ValueError(f"form length must be >= 1 (got {length})")
    _check_tolerance(tolerance)
    eligible = np.ones(n, dtype=bool) if excluded is None else ~np.asarray(excluded, dtype=bool)
    if eligible.shape != (n,):
        raise ValueError(
            f"mismatched lengths: excluded mask has {eligible.size} entries for {n} items"
        )
    if not eligible.any():
        raise ValueError("no eligible item: the bank is fully excluded")
    eligible = _one_per_family(bank, eligible, rng)
    thetas = np.asarray(target_thetas, dtype=np.float64)
    if thetas.ndim != 1 or thetas.size == 0 or not np.isfinite(thetas).all():
        raise ValueError("target_thetas must be a non-empty list of finite abilities")
    if target_information is None:
        target = loft_target_information(bank, length, thetas)
    else:
        target = np.asarray(target_information, dtype=np.float64)
        if target.shape != thetas.shape:
            raise ValueError(
                f"mismatched lengths: {target.size} target information values for "
                f"{thetas.size} target thetas"
            )
        if not (np.isfinite(target).all() and (target > 0).all()):
            raise ValueError("target information must be positive numbers")
    if content_shares:
        unknown = set(content_shares).difference(bank.content_codes[0])
        if unknown:
            raise ValueError(f"content share tag(s) not in the bank: {', '.join(sorted(unknown))}")
        quotas = content_quotas(content_shares, length)
        group = bank.content
    else:
        quotas = {"": length}
        group = np.full(n, "")
    if sh_params is not None:
        lottery = rng.random(n) < check_sh_params(sh_params, n)
    else:
        lottery = np.ones(n, dtype=bool)

    # Initial form: a random draw with the exact quota per tag.
    form_parts = []
    for tag, quota in quotas.items():
        pool = np.flatnonzero(eligible & (group == tag))
        if pool.size < quota:
            raise ValueError(
                f"too few eligible items for content {tag or '(any)'!r}: "
                f"{pool.size} < {quota} needed"
            )
        drawn = pool[lottery[pool]]
        pool = drawn if drawn.size >= quota else pool
        form_parts.append(rng.choice(pool, size=quota, replace=False))
    form = np.concatenate(form_parts)
    if tolerance is None:
        return form
    info = _information(thetas[:, None], bank.a, bank.b, bank.c).T  # (n, T)
    current = info[form].sum(axis=0)
    usable = eligible & lottery
    if usable.sum() < length:
        usable = eligible
    for _ in range(_LOFT_MAX_SWAPS):
        if _relative_gap(current, target) <= tolerance:
            return form
        in_form = np.zeros(n, dtype=bool)
        in_form[form] = True
        outside = np.flatnonzero(usable & ~in_form)
        if outside.size > _LOFT_POOL:
            outside = rng.choice(outside, size=_LOFT_POOL, replace=False)
        # new[r, s] = current - I[form[r]] + I[outside[s]], only within one content tag.
        new = current - info[form][:, None, :] + info[outside][None, :, :]
        gap = _relative_gap(new, target)
        gap[group[form][:, None] != group[outside][None, :]] = np.inf
        ok = np.flatnonzero(gap.ravel() <= tolerance)
        flat = rng.choice(ok) if ok.size else int(np.argmin(gap))
        r, s = np.unravel_index(flat, gap.shape)
        if not np.isfinite(gap[r, s]):
            break
        current = new[r, s]
        form = form.copy()
        form[r] = outside[s]
    raise ValueError(
        f"cannot assemble a LOFT form within ±{tolerance:.0%} of the target information "
        f"{np.round(target, 3).tolist()} at theta {thetas.tolist()} from the eligible items"
    )


def assemble_form(
    bank: ItemBank,
    length: int,
    rule: SelectionRule,
    *,
    rng: np.random.Generator,
    excluded=None,
    window: ExposureWindow | None = None,
    target_thetas: Sequence[float] = (-1, 0, 1),
    target_information=None,
    tolerance: float = 0.10,
) -> np.ndarray:
    """One participant's LOFT form of ``length`` items by ``rule``, on :func:`assemble_loft`.

    The eligible items are those :func:`cat_engine.selection.select_item` would leave: the
    hard exclusions ``excluded`` (never relaxed), the running cap of ``rule.max_exposure``
    over ``window`` (flat: a form has no positions), and least exposed first with slack
    ``rule.exposure_slack``.  The least-exposed set may be smaller than a form, so it is
    widened (slack ``s``, ``s + 1``, ``s + 2``, then off) until at least ``2 length`` items are
    eligible, room for the information target; when the cap leaves fewer than ``length``,
    only ``excluded`` holds.  The content quotas (``rule.content_targets``) and the information
    target are goals: when a participant has seen too much of one tag for exact quotas, they
    are relaxed in turn (quotas and ``tolerance``; no quotas and ``tolerance``; no quotas and no
    information target) rather than refuse an attempt.  With ``"sympson-hetter"`` the rule's
    ``sh_params`` drive the draw's lottery; the other methods and the prices play no part in a
    fixed form.

    Parameters
    ----------
    bank, length : the bank and the form length
    rule : the selection rule (its exposure steps, content targets, Sympson-Hetter parameters)
    rng : numpy Generator, the form's randomness
    excluded : (n,) bool, True = never use (seen before, retired); None = none
    window : the exam window's exposure before this form; needed by the cap and the
        least-exposed rule
    target_thetas, target_information, tolerance : the information target, as
        :func:`assemble_loft`

    Returns
    -------
    (length,) int array of bank indices, no repeats, at most one item of a family, never an
    item of ``excluded``.

    Raises
    ------
    ValueError
        Bad arguments, or no form at all (``"cannot assemble a form of ..."`` with the last
        reason).
    """
    n = len(bank)
    base = np.zeros(n, dtype=bool) if excluded is None else np.asarray(excluded, dtype=bool)
    if base.shape != (n,):
        raise ValueError(f"mismatched lengths: excluded mask has {base.size} entries for {n} "
                         "items")
    _check_tolerance(tolerance)
    window = family_window(bank, window)
    slack = rule.exposure_slack
    widen = [None] if slack is None else [slack, slack + 1, slack + 2, None]
    for step in widen:
        eligible_by = dataclasses.replace(rule, cap_ramp=None, exposure_slack=step)
        mask = exposure_exclusion(bank, eligible_by, excluded=base, window=window)
        if bank.family_count(~mask) >= 2 * length:
            break
    if bank.family_count(~mask) < length:
        mask = base
    last_error: ValueError | None = None
    # Without content targets the second try is a fresh random draw of the same kind.
    for shares, tol in ((rule.content_targets, tolerance), (None, tolerance), (None, None)):
        try:
            return assemble_loft(bank, length, rng=rng, excluded=mask,
                                 target_thetas=target_thetas,
                                 target_information=target_information, content_shares=shares,
                                 tolerance=tol, sh_params=rule.sh_params)
        except ValueError as exc:
            last_error = exc
    raise ValueError(f"cannot assemble a form of {length} items: {last_error}")
