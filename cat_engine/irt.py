"""Dichotomous IRT models (1PL, 2PL, 3PL; logistic, D = 1), the item bank and its grid table.

The three-parameter logistic model gives the probability of a correct response to item
``i`` at ability ``theta`` as

.. math:: P_i(\\theta) = c_i + (1 - c_i) / (1 + e^{-a_i(\\theta - b_i)})

with discrimination ``a > 0``, difficulty ``b`` and pseudo-guessing ``c`` in ``[0, 1)``.
The 2PL is ``c = 0`` and the 1PL (Rasch) is ``c = 0, a = 1``.  Every function is vectorized
over the whole bank: ``a, b, c`` are ``(n,)`` arrays.

A bank tabulates ``log P_i`` and ``log Q_i = log(1 - P_i)`` of all its items on the ability grid
(:class:`GridTable`, ``ItemBank.grid_table``), so that a CAT's log-likelihood is a sum of rows.

References
----------
Lord, F. M. (1980). *Applications of Item Response Theory to Practical Testing Problems*.
Baker, F. B. & Kim, S.-H. (2004). *Item Response Theory: Parameter Estimation Techniques*.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import special

from .grid import GRID, Estimate, check_prior, eap_from_log_likelihood

__all__ = [
    "ItemBank",
    "GridTable",
    "load_bank",
    "save_bank",
    "probability",
    "information",
    "test_information",
    "log_likelihood",
    "max_information",
    "check_params",
    "check_responses",
]


def check_params(a, b, c) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate and convert item parameters to float64 arrays of one shape ``(n,)``.

    Raises
    ------
    ValueError
        Naming the problem: mismatched lengths, NaN or infinite values, ``a <= 0``,
        ``c`` outside ``[0, 1)``.
    """
    a = np.atleast_1d(np.asarray(a, dtype=np.float64))
    b = np.atleast_1d(np.asarray(b, dtype=np.float64))
    c = np.atleast_1d(np.asarray(c, dtype=np.float64))
    if a.ndim != 1 or b.ndim != 1 or c.ndim != 1:
        raise ValueError("item parameters a, b, c must be one-dimensional")
    if not (a.shape == b.shape == c.shape):
        raise ValueError(
            f"mismatched lengths of item parameters: a has {a.size}, b has {b.size}, "
            f"c has {c.size}"
        )
    for name, values in (("a", a), ("b", b), ("c", c)):
        bad = ~np.isfinite(values)
        if bad.any():
            raise ValueError(
                f"item parameter {name} is NaN or infinite at position {int(np.argmax(bad))}"
            )
    if (a <= 0).any():
        i = int(np.argmax(a <= 0))
        raise ValueError(f"discrimination a must be > 0 (a = {a[i]} at position {i})")
    bad_c = (c < 0) | (c >= 1)
    if bad_c.any():
        i = int(np.argmax(bad_c))
        raise ValueError(f"guessing c must be in [0, 1) (c = {c[i]} at position {i})")
    return a, b, c


def check_responses(responses, n_items: int) -> np.ndarray:
    """Validate a response vector: only 0/1, length equal to the number of items.

    Returns the responses as a float64 array of shape ``(n_items,)``.
    """
    u = np.atleast_1d(np.asarray(responses, dtype=np.float64))
    if u.ndim != 1:
        raise ValueError("responses must be a one-dimensional sequence of 0/1")
    if u.size != n_items:
        raise ValueError(
            f"mismatched lengths: {u.size} responses for {n_items} items"
        )
    if not ((u == 0.0) | (u == 1.0)).all():
        raise ValueError("responses must be 0 or 1 (found another value)")
    return u


@dataclass(frozen=True, eq=False)
class ItemBank:
    """An immutable, validated item bank: parallel ``(n,)`` arrays.

    Attributes
    ----------
    ids : (n,) str array, unique item identifiers
    a, b, c : (n,) float64 arrays of 3PL parameters (``a > 0``, ``b`` finite, ``0 <= c < 1``)
    content : (n,) str array, content tag (sub-materi), ``""`` when none
    family : (n,) int array or None, the item family (variants of one template, or items
        marked as enemies: one gives away the other).  A test holds at most one item of a
        family and exposure counts the family as one item; None = every item its own family.
    """

    ids: np.ndarray
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    content: np.ndarray
    family: np.ndarray | None = None

    def __post_init__(self) -> None:
        a, b, c = check_params(self.a, self.b, self.c)
        ids = np.asarray(self.ids, dtype=str)
        content = np.asarray(self.content, dtype=str)
        if ids.shape != a.shape or content.shape != a.shape:
            raise ValueError(
                f"mismatched lengths: {ids.size} ids, {content.size} content tags, "
                f"{a.size} items"
            )
        if a.size == 0:
            raise ValueError("the item bank is empty")
        if np.unique(ids).size != ids.size:
            raise ValueError("item ids must be unique (duplicate id in the bank)")
        for name, value in (("ids", ids), ("a", a), ("b", b), ("c", c), ("content", content)):
            value.setflags(write=False)
            object.__setattr__(self, name, value)
        if self.family is not None:
            family = np.array(self.family, dtype=np.int64)
            if family.shape != a.shape:
                raise ValueError(f"mismatched lengths: {family.size} families for {a.size} items")
            family.setflags(write=False)
            object.__setattr__(self, "family", family)

    @classmethod
    def from_records(cls, records: Iterable[Mapping]) -> ItemBank:
        """Build a bank from dicts with keys ``id``, ``a``, ``b``, ``c`` and optional ``content``
        and ``family``.

        A missing ``c`` means 0 (2PL); a missing ``a`` means 1 (1PL).  Items with the same
        ``family`` (any JSON scalar) are one family; an item without one is alone.
        """
        records = list(records)
        if not records:
            raise ValueError("the item bank is empty")
        ids, a, b, c, content = [], [], [], [], []
        for pos, rec in enumerate(records):
            if not isinstance(rec, Mapping):
                raise ValueError(f"bank item at position {pos} is not an object")
            if "id" not in rec or "b" not in rec:
                raise ValueError(f"bank item at position {pos} lacks 'id' or 'b'")
            try:
                a.append(float(rec.get("a", 1.0)))
                b.append(float(rec["b"]))
                c.append(float(rec.get("c", 0.0)))
            except (TypeError, ValueError):
                raise ValueError(
                    f"bank item {rec['id']!r}: parameters a, b, c must be numbers"
                ) from None
            ids.append(str(rec["id"]))
            content.append(str(rec.get("content") or ""))
        family = None
        if any(rec.get("family") is not None for rec in records):
            codes: dict[tuple, int] = {}
            family = np.array([codes.setdefault(
                ("item", i) if rec.get("family") is None else ("family", str(rec["family"])),
                len(codes)) for i, rec in zip(ids, records, strict=True)])
        return cls(
            ids=np.array(ids, dtype=str),
            a=np.array(a),
            b=np.array(b),
            c=np.array(c),
            content=np.array(content, dtype=str),
            family=family,
        )

    def to_records(self) -> list[dict]:
        """The bank as a list of dicts (the JSON bank format); ``content`` only when set,
        ``family`` only for an item that shares its family."""
        out = []
        shared = (None if self.family_codes is None
                  else np.bincount(self.family_codes) > 1)
        for i in range(len(self)):
            rec = {
                "id": str(self.ids[i]),
                "a": float(self.a[i]),
                "b": float(self.b[i]),
                "c": float(self.c[i]),
            }
            if self.content[i]:
                rec["content"] = str(self.content[i])
            if self.family_codes is not None and shared[self.family_codes[i]]:
                rec["family"] = int(self.family[i])
            out.append(rec)
        return out

    def subset(self, index: np.ndarray) -> ItemBank:
        """A new bank of the items at ``index`` (integer indices or a boolean mask)."""
        index = np.asarray(index)
        return ItemBank(
            ids=self.ids[index],
            a=self.a[index],
            b=self.b[index],
            c=self.c[index],
            content=self.content[index],
            family=None if self.family is None else self.family[index],
        )

    def __len__(self) -> int:
        return int(self.a.size)

    def tags(self) -> list[str]:
        """The distinct content tags, sorted."""
        return list(self.content_codes[0])

    @functools.cached_property
    def content_codes(self) -> tuple[tuple[str, ...], np.ndarray]:
        """``(tags, codes)``: the distinct content tags, sorted, and each item's index into
        them (``(n,)`` intp), computed once per bank: sorting the tag strings again on every
        answer would cost more than the rest of an item selection."""
        tags, codes = np.unique(self.content, return_inverse=True)
        codes = codes.reshape(-1).astype(np.intp)
        codes.setflags(write=False)
        return tuple(tags.tolist()), codes

    @functools.cached_property
    def family_codes(self) -> np.ndarray | None:
        """Each item's family as an index ``0 .. F-1`` (``(n,)`` intp), None without families."""
        if self.family is None:
            return None
        codes = np.unique(self.family, return_inverse=True)[1].reshape(-1).astype(np.intp)
        codes.setflags(write=False)
        return codes

    def family_count(self, among: np.ndarray | None = None) -> int:
        """How many families the items ``among`` ((n,) bool; None: all) belong to: the most
        items a test can take from them."""
        if self.family_codes is None:
            return len(self) if among is None else int(np.count_nonzero(among))
        codes = self.family_codes if among is None else self.family_codes[among]
        return int(np.unique(codes).size)

    def same_family(self, items) -> np.ndarray:
        """``(n,)`` bool: the items of the families of bank indices ``items`` (those items
        included)."""
        mask = np.zeros(len(self), dtype=bool)
        items = np.asarray(items, dtype=np.intp)
        if self.family_codes is None:
            mask[items] = True
            return mask
        taken = np.zeros(int(self.family_codes.max()) + 1, dtype=bool)
        taken[self.family_codes[items]] = True
        return taken[self.family_codes]

    @functools.cached_property
    def grid_table(self) -> GridTable:
        """The bank's :class:`GridTable`, built on first use (``2 Q`` floats, about 1.9 kB,
        per item): a CAT adds one of its rows per answer instead of evaluating the model."""
        return GridTable.of(self.a, self.b, self.c)


@dataclass(frozen=True, eq=False)
class GridTable:
    """Log-probabilities of a wrong and of a right answer to every item of a bank on ``GRID``.

    The log-likelihood of ``k`` responses on the grid is then a gather of ``k`` rows and a sum,
    ``log L(x_q) = sum_i [u_i log P_i(x_q) + (1 - u_i) log Q_i(x_q)]``, instead of ``k * Q``
    log-sigmoids; :meth:`eap` equals :func:`cat_engine.estimation.estimate` ``(method="eap")``
    on the same items up to the order of the ``k`` additions (a few ulp).

    Attributes
    ----------
    rows : (2 n, Q) float64; row ``i`` is ``log Q_i`` on ``GRID`` and row ``n + i`` is
        ``log P_i``, so the row of response ``u`` to item ``i`` is ``i + n u``.  ``2 Q`` floats
        per item (about 1.9 kB).
    """

    rows: np.ndarray

    @classmethod
    def of(cls, a, b, c) -> GridTable:
        """The table of the items ``a, b, c`` (each ``(n,)``, checked like everywhere)."""
        a, b, c = check_params(a, b, c)
        right, wrong = _log_probabilities(GRID[:, None], a, b, c)  # (Q, n) each
        rows = np.concatenate([wrong.T, right.T])
        rows.setflags(write=False)
        return cls(rows=rows)

    def __len__(self) -> int:
        return self.rows.shape[0] // 2

    def eap(self, positions, responses, prior_mean: float = 0.0,
            prior_sd: float = 1.0) -> Estimate:
        """EAP estimate from ``responses`` (``(k,)`` 0/1) to the items at ``positions``
        (``(k,)`` indices into the table's bank); see
        :func:`cat_engine.grid.eap_from_log_likelihood`."""
        n = len(self)
        pos = np.asarray(positions, dtype=np.intp)
        if pos.ndim != 1 or (pos.size and not (0 <= pos.min() and pos.max() < n)):
            raise ValueError(f"positions must be a (k,) array of item indices in [0, {n})")
        u = check_responses(responses, pos.size)
        check_prior(prior_mean, prior_sd)
        rows = self.rows[pos + n * u.astype(np.intp)]
        return eap_from_log_likelihood(rows.sum(axis=0), prior_mean, prior_sd)


def load_bank(path) -> ItemBank:
    """Read a JSON bank file: a list of ``{"id", "a", "b", "c", "content"?}`` objects."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"bank file {path} is not valid JSON: {exc.msg} (line {exc.lineno})"
        ) from None
    if not isinstance(data, list):
        raise ValueError(f"bank file {path} must hold a JSON list of items")
    return ItemBank.from_records(data)


def save_bank(bank: ItemBank, path) -> None:
    """Write ``bank`` as a JSON bank file."""
    Path(path).write_text(json.dumps(bank.to_records(), indent=1) + "\n", encoding="utf-8")


def _broadcast(theta, a, b, c):
    """Shape ``theta`` so that scalar -> (n,) and (m,) -> (m, n) results come out."""
    a, b, c = check_params(a, b, c)
    theta = np.asarray(theta, dtype=np.float64)
    if np.isnan(theta).any():
        raise ValueError("theta is NaN")
    if theta.ndim == 1:
        theta = theta[:, None]
    elif theta.ndim > 1:
        raise ValueError("theta must be a scalar or a one-dimensional array")
    return theta, a, b, c


def _probability(theta, a, b, c):
    """Unchecked 3PL probability (internal hot path); broadcasting as numpy does."""
    return c + (1.0 - c) / (1.0 + np.exp(-a * (theta - b)))


def _information(theta, a, b, c):
    """Unchecked 3PL Fisher information (internal hot path).

    With the logistic ``L = 1 / (1 + exp(-a(theta - b)))``, ``P = c + (1 - c) L`` and
    ``I = a^2 (1 - c) L^2 (1 - L) / P``, equal to the textbook
    ``a^2 (Q / P) ((P - c) / (1 - c))^2`` (Lord, 1980, eq. 5-9) but without cancellation.
    """
    logistic = 1.0 / (1.0 + np.exp(-a * (theta - b)))
    p = c + (1.0 - c) * logistic
    return a * a * (1.0 - c) * logistic * logistic * (1.0 - logistic) / p


def probability(theta, a, b, c) -> np.ndarray:
    """Probability of a correct response, ``P(theta) = c + (1 - c) / (1 + exp(-a (theta - b)))``.

    Parameters
    ----------
    theta : float or (m,) array
    a, b, c : (n,) arrays

    Returns
    -------
    (n,) array for scalar ``theta``; (m, n) array for a vector of abilities.
    """
    theta, a, b, c = _broadcast(theta, a, b, c)
    return _probability(theta, a, b, c)


def information(theta, a, b, c) -> np.ndarray:
    """Item Fisher information ``I(theta) = P'(theta)^2 / (P (1 - P))``.

    For the 3PL ``I = a^2 (Q/P) ((P - c)/(1 - c))^2``; for the 2PL it reduces to ``a^2 P Q``.
    Shapes as :func:`probability`.
    """
    theta, a, b, c = _broadcast(theta, a, b, c)
    return _information(theta, a, b, c)


def test_information(theta, a, b, c):
    """Test information: the sum of item information over the items ``a, b, c``.

    Returns a float for scalar ``theta`` and an ``(m,)`` array for ``(m,)`` abilities.
    """
    info = information(theta, a, b, c).sum(axis=-1)
    return float(info) if np.ndim(info) == 0 else info


# pytest would otherwise collect test_information as a test when it is imported in a test module.
test_information.__test__ = False


def log_likelihood(theta, responses, a, b, c):
    """Log-likelihood ``sum_i u_i log P_i(theta) + (1 - u_i) log(1 - P_i(theta))``.

    Parameters
    ----------
    theta : float or (m,) array
    responses : (k,) 0/1 responses to the items ``a, b, c`` (each (k,))

    Returns
    -------
    float for scalar ``theta``; (m,) array otherwise.
    """
    theta, a, b, c = _broadcast(theta, a, b, c)
    u = check_responses(responses, a.size)
    ll = _log_likelihood(theta, u, a, b, c)
    return float(ll) if np.ndim(ll) == 0 else ll


def _log_likelihood(theta, u, a, b, c):
    """Unchecked log-likelihood of 0/1 responses ``u``, summed over the last axis.

    Computed stably in log space with one log-sigmoid per element, which is what makes EAP
    cheap enough to redo on every answer:
    ``log Q = log(1 - c) + log sigma(-z)`` for a wrong answer and
    ``log P = log(c + (1 - c) sigma(z)) = logaddexp(log c, log(1 - c) + log sigma(z))`` for a
    right one (``z = a (theta - b)``; the ``logaddexp`` only where ``c > 0``).
    """
    right = np.asarray(u) == 1
    c = np.atleast_1d(c)
    z = a * (theta - b)
    out = np.log1p(-c) + special.log_expit(np.where(right, z, -z))
    guessing = np.flatnonzero(right & (c > 0))
    if guessing.size:
        out[..., guessing] = np.logaddexp(np.log(c[guessing]), out[..., guessing])
    return out.sum(axis=-1)


def _log_probabilities(theta, a, b, c) -> tuple[np.ndarray, np.ndarray]:
    """Unchecked ``(log P, log Q)`` of every item at every ``theta`` (broadcast shapes).

    The element formulas of :func:`_log_likelihood`, for both answers at once:
    ``log P = logaddexp(log c, log(1 - c) + log sigma(z))`` (the ``logaddexp`` only where
    ``c > 0``) and ``log Q = log(1 - c) + log sigma(-z)``.
    """
    c = np.atleast_1d(c)
    z = a * (theta - b)
    log_1mc = np.log1p(-c)
    right = log_1mc + special.log_expit(z)
    guessing = np.flatnonzero(c > 0)
    if guessing.size:
        right[..., guessing] = np.logaddexp(np.log(c[guessing]), right[..., guessing])
    return right, log_1mc + special.log_expit(-z)


def max_information(a, b, c) -> tuple[np.ndarray, np.ndarray]:
    """Location and height of each item's information peak (3PL closed form).

    ``theta_max = b + ln((1 + sqrt(1 + 8c)) / 2) / a`` and
    ``I_max = a^2 (1 - 20c - 8c^2 + (1 + 8c)^{3/2}) / (8 (1 - c)^2)`` (Lord, 1980, eq. 10-4).
    """
    a, b, c = check_params(a, b, c)
    root = np.sqrt(1.0 + 8.0 * c)
    theta_max = b + np.log((1.0 + root) / 2.0) / a
    i_max = a * a * (1.0 - 20.0 * c - 8.0 * c * c + root**3) / (8.0 * (1.0 - c) ** 2)
    return theta_max, i_max

