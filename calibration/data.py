"""Response data for calibration: who answered which item, and how.

Responses are stored as two indicator matrices of shape (persons, items): ``correct`` (1 where
the person answered the item correctly) and ``wrong`` (1 where the answer was wrong).  A cell
that is 0 in both was not administered: missing is never scored as wrong.  The matrices are
``scipy.sparse`` CSR when the data are sparse (adaptive tests, pretest seeding), so memory and
time grow with the number of answers; they are dense numpy arrays when most cells are filled,
where BLAS products are much faster than sparse ones.  Both support ``@`` and ``.T``, so the
estimation code does not care which one it gets.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

# Above this share of filled cells (and below DENSE_MAX_CELLS cells) the matrices are kept dense.
DENSE_MIN_DENSITY = 0.25
DENSE_MAX_CELLS = 50_000_000

LONG_HEADER = ("person", "item", "response")
PERSON_COLUMNS = ("person", "person_id", "participant", "id")


@dataclass(frozen=True)
class ResponseData:
    """Scored responses of ``n_persons`` persons to ``n_items`` items.

    Attributes
    ----------
    person_ids : ndarray of str, shape (n_persons,)
    item_ids : ndarray of str, shape (n_items,)
    correct, wrong : CSR matrix or ndarray of float64, shape (n_persons, n_items)
        Indicator matrices; a cell is 1 in at most one of them.
    """

    person_ids: np.ndarray
    item_ids: np.ndarray
    correct: sp.csr_matrix | np.ndarray
    wrong: sp.csr_matrix | np.ndarray

    @classmethod
    def from_long(cls, persons, items, responses) -> ResponseData:
        """Build from three aligned arrays (person id, item id, 0/1 response), one per answer.

        Item order is the order of first appearance.  Raises ValueError for a response that is
        not 0/1, misaligned arrays, no answers at all, or the same person answering an item twice.
        """
        persons = np.asarray(persons).astype(str)
        items = np.asarray(items).astype(str)
        responses = np.asarray(responses)
        if not (persons.shape == items.shape == responses.shape) or persons.ndim != 1:
            raise ValueError("persons, items and responses must be 1-D arrays of the same length")
        if persons.size == 0:
            raise ValueError("no responses: the data are empty")
        x = _as_binary(responses)
        person_ids, p_idx = _codes(persons)
        item_ids, i_idx = _codes(items)
        return cls.from_indices(p_idx, i_idx, x, person_ids, item_ids)

    @classmethod
    def from_indices(
        cls, person_index, item_index, responses, person_ids, item_ids
    ) -> ResponseData:
        """Build from integer positions into ``person_ids`` / ``item_ids`` and 0/1 responses."""
        p_idx = np.asarray(person_index, dtype=np.int64)
        i_idx = np.asarray(item_index, dtype=np.int64)
        x = _as_binary(responses)
        person_ids, item_ids = np.asarray(person_ids).astype(str), np.asarray(item_ids).astype(str)
        key = p_idx * len(item_ids) + i_idx
        uniq, counts = np.unique(key, return_counts=True)
        if np.any(counts > 1):
            k = uniq[np.argmax(counts > 1)]
            p, i = divmod(int(k), len(item_ids))
            raise ValueError(
                f"person {person_ids[p]!r} answered item {item_ids[i]!r} more than once"
            )
        shape = (len(person_ids), len(item_ids))
        right, wrong = x == 1, x == 0
        correct = sp.csr_matrix((np.ones(int(right.sum())), (p_idx[right], i_idx[right])), shape)
        wrong = sp.csr_matrix((np.ones(int(wrong.sum())), (p_idx[wrong], i_idx[wrong])), shape)
        return cls(person_ids, item_ids, correct, wrong)._storage()

    @classmethod
    def from_matrix(cls, matrix, item_ids=None, person_ids=None) -> ResponseData:
        """Build from a (persons, items) array of 0/1 with NaN for "not answered"."""
        m = np.asarray(matrix, dtype=float)
        if m.ndim != 2 or m.size == 0:
            raise ValueError("the response matrix must be 2-D and not empty")
        answered = ~np.isnan(m)
        if not answered.any():
            raise ValueError("no responses: every cell is empty")
        _as_binary(m[answered])
        n, j = m.shape
        item_ids = np.array([f"item{k + 1}" for k in range(j)] if item_ids is None else item_ids)
        person_ids = np.array([str(k + 1) for k in range(n)] if person_ids is None else person_ids)
        if item_ids.shape != (j,) or person_ids.shape != (n,):
            raise ValueError("item_ids / person_ids do not match the matrix shape")
        if len(set(item_ids.tolist())) != j:
            raise ValueError("item ids are not unique")
        correct = sp.csr_matrix(np.where(answered, m == 1, False).astype(float))
        wrong = sp.csr_matrix(np.where(answered, m == 0, False).astype(float))
        return cls(person_ids.astype(str), item_ids.astype(str), correct, wrong)._storage()

    # ----------------------------------------------------------------- properties
    @property
    def n_persons(self) -> int:
        return len(self.person_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def n_answers(self) -> int:
        return int(_nnz(self.correct) + _nnz(self.wrong))

    @property
    def is_dense(self) -> bool:
        return isinstance(self.correct, np.ndarray)

    @property
    def is_complete(self) -> bool:
        """True when every person answered every item."""
        return self.n_answers == self.n_persons * self.n_items

    def answered(self):
        """Indicator (persons, items) of answered cells, same storage as ``correct``."""
        return self.correct + self.wrong

    def item_counts(self) -> tuple[np.ndarray, np.ndarray]:
        """(number answered, number correct) per item, each shape (n_items,)."""
        n_right = np.asarray(self.correct.sum(axis=0)).ravel()
        n_wrong = np.asarray(self.wrong.sum(axis=0)).ravel()
        return n_right + n_wrong, n_right

    def to_matrix(self) -> np.ndarray:
        """Dense (persons, items) float array: 1, 0, or NaN when not answered."""
        right = _dense(self.correct)
        out = np.where(_dense(self.answered()) > 0, right, np.nan)
        return out

    def subset_items(self, keep: np.ndarray) -> ResponseData:
        """Only the items where ``keep`` (bool, shape (n_items,)) is True; persons left with
        no answer are dropped (they carry no information and would bias the population
        estimates towards the prior)."""
        keep = np.asarray(keep, dtype=bool)
        correct, wrong = self.correct[:, keep], self.wrong[:, keep]
        has_answer = np.asarray((correct + wrong).sum(axis=1)).ravel() > 0
        return ResponseData(
            self.person_ids[has_answer],
            self.item_ids[keep],
            correct[has_answer],
            wrong[has_answer],
        )._storage()

    def _storage(self) -> ResponseData:
        """Copy stored dense or sparse depending on the fill rate (see module docstring)."""
        cells = self.n_persons * self.n_items
        return self.with_storage(
            dense=cells <= DENSE_MAX_CELLS and self.n_answers >= DENSE_MIN_DENSITY * cells
        )

    def with_storage(self, dense: bool) -> ResponseData:
        """The same responses held as dense arrays (``dense=True``) or CSR matrices."""
        convert = _dense if dense else sp.csr_matrix
        return ResponseData(
            self.person_ids, self.item_ids, convert(self.correct), convert(self.wrong)
        )


def read_responses(path: str | Path) -> ResponseData:
    """Read a CSV file in long form (``person,item,response``) or wide form.

    Wide form: a header row of item ids, one row per person, 0/1 or empty (not answered); an
    optional first column named ``person`` (or ``person_id``, ``participant``, ``id``) holds the
    person ids.  Raises ValueError naming the line for anything else.
    """
    path = Path(path)
    with path.open(newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise ValueError(f"{path}: the file is empty")
    header = [h.strip() for h in rows[0]]
    body = rows[1:]
    if not body:
        raise ValueError(f"{path}: no responses after the header line")
    if tuple(h.lower() for h in header) == LONG_HEADER:
        return _read_long(path, body)
    return _read_wide(path, header, body)


def _read_long(path: Path, body: list[list[str]]) -> ResponseData:
    for lineno, row in enumerate(body, start=2):
        if len(row) != 3:
            raise ValueError(f"{path}:{lineno}: expected 3 fields person,item,response")
    persons = np.array([r[0].strip() for r in body])
    items = np.array([r[1].strip() for r in body])
    raw = np.array([r[2].strip() for r in body])
    bad = ~np.isin(raw, ("0", "1"))
    if bad.any():
        k = int(np.argmax(bad))
        raise ValueError(f"{path}:{k + 2}: response {str(raw[k])!r} is not 0 or 1")
    return ResponseData.from_long(persons, items, raw.astype(int))


def _read_wide(path: Path, header: list[str], body: list[list[str]]) -> ResponseData:
    has_person = header[0].lower() in PERSON_COLUMNS
    item_ids = header[1:] if has_person else header
    if not item_ids or any(not h for h in item_ids):
        raise ValueError(f"{path}:1: the header must name every item column")
    width = len(header)
    for lineno, row in enumerate(body, start=2):
        if len(row) != width:
            raise ValueError(f"{path}:{lineno}: {len(row)} fields, the header has {width}")
    cells = np.array([[c.strip() for c in r] for r in body])
    person_ids = cells[:, 0] if has_person else np.array([str(k + 1) for k in range(len(body))])
    values = cells[:, 1:] if has_person else cells
    bad = ~np.isin(values, ("0", "1", ""))
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise ValueError(
            f"{path}:{r + 2}: response {str(values[r, c])!r} for item {item_ids[c]!r} is not 0, 1 "
            "or empty"
        )
    matrix = np.where(values == "", np.nan, np.where(values == "1", 1.0, 0.0))
    if len(set(person_ids.tolist())) != len(person_ids):
        raise ValueError(f"{path}: person ids in the first column are not unique")
    return ResponseData.from_matrix(matrix, np.array(item_ids), person_ids)


def _as_binary(values: np.ndarray) -> np.ndarray:
    v = np.asarray(values)
    if v.dtype.kind in "US":
        ok = np.isin(v, ("0", "1"))
        numeric = np.where(ok, v, "0").astype(int)
    else:
        with np.errstate(invalid="ignore"):
            ok = (v == 0) | (v == 1)
        numeric = np.where(ok, v, 0).astype(int)
    if not ok.all():
        raise ValueError(f"response {v[np.argmin(ok)].item()!r} is not 0 or 1")
    return numeric


def _codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unique values in order of first appearance, and each value's index into them."""
    uniq, first, inverse = np.unique(values, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return uniq[order], rank[inverse.ravel()]


def _nnz(m) -> int:
    return m.nnz if sp.issparse(m) else int(np.count_nonzero(m))


def _dense(m) -> np.ndarray:
    return m.toarray() if sp.issparse(m) else np.asarray(m)
