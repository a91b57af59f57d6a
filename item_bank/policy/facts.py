"""The vocabulary between the decision and the stores: what a store loads, what it writes.

A store (:mod:`.store_orm`, :mod:`.store_pg`) loads the facts of one request into these frozen
values, :mod:`.decide` turns them and an event into :class:`Effects` without any I/O, and the
store writes the effects.  Nothing here knows a database.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from ..errors import DomainError
from ..models import Assembly, AttemptState, CertificateRoute, ExamKind, ProgramSettings, exam_slot
from ..pools import Pool


@dataclass(frozen=True)
class ExamFacts:
    """What the rules read of an exam window."""

    id: int
    program_id: int
    kind: ExamKind
    materi_id: int | None
    code: str
    title: str
    assembly: Assembly
    cut_score: float | None
    max_attempts: int | None
    duration_s: int | None
    waiting_period_s: int | None
    min_items: int | None
    max_items: int | None
    se_target: float | None
    window_opens_at: dt.datetime | None
    window_closes_at: dt.datetime | None
    materi_code: str | None = None

    @property
    def slot(self) -> str:
        return exam_slot(self.kind, self.materi_id)


@dataclass(frozen=True)
class AttemptFacts:
    """One attempt as stored."""

    id: int
    participant_id: int
    program_id: int
    exam_id: int
    slot: str
    number: int
    state: AttemptState
    started_at: dt.datetime
    deadline: dt.datetime
    finished_at: dt.datetime | None
    seed: int
    theta: float | None
    se: float | None
    score: float | None
    passed: bool | None
    stop_reason: str | None
    imputed: tuple[int, ...] = ()
    scored_by: str = "domain"  # or "proportion" (docs/item_bank.md "Cold start")

    @property
    def running(self) -> bool:
        return self.state == AttemptState.STARTED


class ResponseFacts(NamedTuple):
    """One item put in front of the participant; answered once ``answered_at`` is set.

    A named tuple, not a dataclass: an answer loads a few dozen of them, and building tuples
    costs half as much."""

    id: int
    item_id: int
    position: int
    shown_order: tuple[int, ...]
    shown_choice: int | None
    choice: int | None
    correct: bool | None
    answered_at: dt.datetime | None
    pretest: bool = False  # seeded to collect data: never scored

    @property
    def answered(self) -> bool:
        return self.answered_at is not None


@dataclass(frozen=True)
class CertificateFacts:
    number: str
    route: CertificateRoute
    attempt_id: int


@dataclass(frozen=True)
class Standing:
    """Everything the gates and the result read about one participant in one program."""

    settings: ProgramSettings
    exams: tuple[ExamFacts, ...]
    attempts: tuple[AttemptFacts, ...]  # in number order
    assignments_total: int
    assignments_done: int
    certificate: CertificateFacts | None

    def slot_attempts(self, slot: str) -> list[AttemptFacts]:
        return [a for a in self.attempts if a.slot == slot]

    def passed(self, slot: str) -> bool:
        return any(a.passed for a in self.attempts if a.slot == slot)

    def pre_assessment_exists(self) -> bool:
        return any(e.kind == ExamKind.PRE_ASSESSMENT for e in self.exams)

    def materi_slots(self) -> list[str]:
        return sorted({e.slot for e in self.exams if e.kind == ExamKind.MATERI})


@dataclass(frozen=True, eq=False)
class Exposure:
    """The exam window's exposure counts as stored: ``(ids, counts)`` pairs, and the number of
    attempts the window has started (committed) so far."""

    item_ids: np.ndarray
    counts: np.ndarray
    attempts_started: int


@dataclass(frozen=True, eq=False)
class AttemptLoad:
    """What an event on one attempt needs: the attempt, its exam and program, its responses,
    the participant's seen items, the window's exposure and the exam's pool."""

    attempt: AttemptFacts
    exam: ExamFacts
    program_code: str
    settings: ProgramSettings
    responses: tuple[ResponseFacts, ...]  # in position order
    pending_key: int | None  # the answer key of the current (first unanswered) item
    seen: np.ndarray  # families of the items the participant has seen in the program
    exposure: Exposure
    pool: Pool | None
    # (a, b, c) of the attempt's items that are no longer in the pool (retired since)
    outside: Mapping[int, tuple[float, float, float]] = field(default_factory=dict)
    certified: bool = False  # the participant already holds this program's certificate

    @functools.cached_property
    def pending(self) -> ResponseFacts | None:
        """The current item: the first one not answered."""
        return next((r for r in self.responses if r.answered_at is None), None)

    @functools.cached_property
    def answered(self) -> tuple[ResponseFacts, ...]:
        return tuple(r for r in self.responses if r.answered_at is not None)

    @functools.cached_property
    def scored(self) -> tuple[ResponseFacts, ...]:
        """The responses that count: every one but the pretest items'."""
        return tuple(r for r in self.responses if not r.pretest)


@dataclass(frozen=True, eq=False)
class StartLoad:
    """What a start needs: the exam, the participant's standing, seen items, exposure, pool."""

    participant_id: int
    nip: str
    exam: ExamFacts
    program_code: str
    enrolled: bool
    standing: Standing
    seen: np.ndarray
    exposure: Exposure
    pool: Pool | None
    running: int | None  # the participant's running attempt in this exam's slot


# --------------------------------------------------------------------------- effects


@dataclass(frozen=True)
class NewAttempt:
    participant_id: int
    program_id: int
    exam_id: int
    slot: str
    number: int
    started_at: dt.datetime
    deadline: dt.datetime
    seed: int


@dataclass(frozen=True)
class AnswerWrite:
    response_id: int
    shown_choice: int
    choice: int
    correct: bool
    answered_at: dt.datetime


@dataclass(frozen=True)
class Presented:
    """An item put in front of the participant: a response row, a seen item, an exposure."""

    item_id: int
    position: int
    shown_order: tuple[int, ...]
    presented_at: dt.datetime
    pretest: bool = False  # a pretest item seeded into the attempt, never scored
    param_version: int | None = None  # the item's parameters it is selected and scored with
    # The item's family (Item.family_id, its own id when alone): the seen-item set is UNIQUE
    # per family, so no second item of it is ever shown to the participant.
    family: int | None = None

    @property
    def seen_family(self) -> int:
        """The family its seen-item row stores (the item's own id when none was given)."""
        return self.item_id if self.family is None else self.family


@dataclass(frozen=True)
class Finished:
    state: AttemptState
    finished_at: dt.datetime
    stop_reason: str
    theta: float | None
    se: float | None
    score: float
    passed: bool
    imputed: tuple[int, ...]  # items counted as wrong answers up to the minimum length
    scored_by: str = "domain"  # "proportion": the share of right answers (the cold start)


@dataclass(frozen=True)
class CertificateIssue:
    number: str
    route: CertificateRoute
    score: float
    issued_at: dt.datetime


@dataclass(frozen=True)
class AuditEntry:
    actor: str
    action: str
    subject: str | None  # None: the attempt these effects create
    details: Mapping[str, Any]


@dataclass(frozen=True)
class Effects:
    """What one event changes; a store writes exactly this.

    ``refusal``: the event is refused, but what it changed stays (an answer after the grace
    expires the attempt): the store writes the effects, commits, and the refusal is raised.
    """

    new_attempt: NewAttempt | None = None
    answer: AnswerWrite | None = None
    present: tuple[Presented, ...] = ()
    finish: Finished | None = None
    certificate: CertificateIssue | None = None
    audit: tuple[AuditEntry, ...] = ()
    refusal: DomainError | None = None

    @property
    def writes(self) -> bool:
        return bool(self.new_attempt or self.answer or self.present or self.finish
                    or self.certificate or self.audit)


NOTHING = Effects()


# --------------------------------------------------------------------------- rows to facts
# Both stores read the same columns in the same order (the PostgreSQL store as JSON arrays,
# where timestamps are ISO 8601 text and 85.0 may come as 85) and build the facts with these.

EXAM_COLUMNS = ("id", "program_id", "kind", "materi_id", "code", "title", "assembly",
                "cut_score", "max_attempts", "duration_s", "waiting_period_s", "min_items",
                "max_items", "se_target", "window_opens_at", "window_closes_at")
ATTEMPT_COLUMNS = ("id", "participant_id", "program_id", "exam_id", "slot", "number", "state",
                   "started_at", "deadline", "finished_at", "seed", "theta", "se", "score",
                   "passed", "stop_reason", "imputed_items", "scored_by")
RESPONSE_COLUMNS = ("id", "item_id", "position", "shown_order", "shown_choice", "choice",
                    "correct", "answered_at", "pretest")


def timestamp(value: dt.datetime | str | None) -> dt.datetime | None:
    """A timestamp as the ORM gives it: aware, in UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    # PostgreSQL in UTC writes +00:00, which fromisoformat gives as the UTC singleton.
    return value if value.tzinfo is dt.UTC else value.astimezone(dt.UTC)


def _float(value: float | None) -> float | None:
    return None if value is None else float(value)


def exam_facts(row: Sequence[Any], materi_code: str | None = None) -> ExamFacts:
    (id_, program_id, kind, materi_id, code, title, assembly, cut_score, max_attempts,
     duration_s, waiting_period_s, min_items, max_items, se_target, opens, closes) = row
    return ExamFacts(id_, program_id, ExamKind(kind), materi_id, code, title or "",
                     Assembly(assembly), _float(cut_score), max_attempts, duration_s,
                     waiting_period_s, min_items, max_items, _float(se_target),
                     timestamp(opens), timestamp(closes), materi_code)


def attempt_facts(row: Sequence[Any]) -> AttemptFacts:
    (id_, participant_id, program_id, exam_id, slot, number, state, started_at, deadline,
     finished_at, seed, theta, se, score, passed, stop_reason, imputed, scored_by) = row
    return AttemptFacts(id_, participant_id, program_id, exam_id, slot, number,
                        AttemptState(state), timestamp(started_at), timestamp(deadline),
                        timestamp(finished_at), seed, _float(theta), _float(se), _float(score),
                        passed, stop_reason, tuple(imputed or ()), scored_by or "domain")


def response_facts(row: Sequence[Any]) -> ResponseFacts:
    id_, item_id, position, shown_order, shown_choice, choice, correct, answered_at, pretest = row
    return ResponseFacts(id_, item_id, position, tuple(shown_order), shown_choice, choice,
                         correct, timestamp(answered_at), bool(pretest))


def outside_ids(pool: Pool | None, item_ids: list[int]) -> list[int]:
    """The item ids that are not in the pool (retired during their attempt)."""
    if pool is None:
        return list(item_ids)
    _positions, hit = pool.locate(item_ids)
    return [] if hit.all() else [i for i, h in zip(item_ids, hit, strict=True) if not h]


def outside_params(rows: Sequence[Sequence[Any]]) -> dict[int, tuple[float, float, float]]:
    """{id: (a, b, c)} of (id, a, b, c) rows, with a 1PL's a = 1 and a missing c = 0."""
    return {i: (a if a is not None else 1.0, b if b is not None else 0.0, c or 0.0)
            for i, a, b, c in rows}
