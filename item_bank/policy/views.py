"""What the policy returns: frozen values the server serializes, built from loaded facts.

A participant's view of an item (:class:`ItemPresentation`) has no key and no parameters by
construction: it is built from the stem, the options in shown order and the attempt's clock.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from ..messages import Notice
from ..models import Assembly, AttemptState, ExamKind, ProgramSettings
from .facts import AttemptFacts, ExamFacts, Standing
from .rules import BELUM_KOMPETEN, KOMPETEN, exam_rules, gate, next_step


@dataclass(frozen=True)
class AttemptView:
    attempt_id: int
    exam_id: int
    exam_code: str
    kind: str
    assembly: str
    number: int
    state: str
    started_at: dt.datetime
    deadline: dt.datetime
    seconds_left: float
    answered: int
    min_items: int  # answers needed before Finish counts none as wrong (LOFT: the form)
    max_items: int
    resumed: bool = False


@dataclass(frozen=True)
class ItemPresentation:
    """What a participant's browser may see: no key, no parameters, options in shown order."""

    attempt_id: int
    item_id: int
    position: int  # 1-based
    stem: str
    options: list[str]
    images: int  # images after the stem, fetched by position (server: the attempt's route)
    deadline: dt.datetime
    seconds_left: float
    answered: int
    min_items: int
    max_items: int


@dataclass(frozen=True)
class AttemptResult:
    attempt_id: int
    exam_id: int
    kind: str
    number: int
    state: str
    answered: int
    imputed: int  # unanswered items counted as wrong up to the minimum length
    score: float | None
    passed: bool | None
    cut_score: float
    theta: float | None
    se: float | None
    stop_reason: str | None
    category: str | None  # ujikom: "kompeten" / "belum kompeten"
    certificate_number: str | None
    attempts_left: int
    next_step: Notice
    exam_title: str = ""
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    timezone: str = "Asia/Jakarta"  # the program's: where its times are written for people
    scored_by: str = "domain"  # "proportion": the share of right answers (the cold start)


@dataclass(frozen=True)
class AttemptSummary:
    """One finished attempt, for the participant's history."""

    attempt_id: int
    number: int
    state: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    score: float | None
    passed: bool | None
    stop_reason: str | None


@dataclass(frozen=True)
class AnswerOutcome:
    attempt_id: int
    item_id: int
    stored: bool  # False when the same answer was already stored (idempotent repeat)
    finished: bool
    next_item: ItemPresentation | None
    result: AttemptResult | None


@dataclass(frozen=True)
class ExamStatus:
    exam_id: int
    code: str
    title: str
    kind: str
    materi_code: str | None
    attempts_used: int
    max_attempts: int
    passed: bool
    best_score: float | None
    running_attempt_id: int | None
    available: bool
    locked_reason: Notice | None
    available_from: dt.datetime | None
    # The exam's rules, for the page shown before it starts.
    min_items: int
    max_items: int
    duration_s: int
    cut_score: float
    history: list[AttemptSummary] = field(default_factory=list)  # finished attempts, oldest first


@dataclass(frozen=True)
class ProgramStatus:
    program_id: int
    program_code: str
    program_name: str
    exams: list[ExamStatus] = field(default_factory=list)
    assignments_done: int = 0
    assignments_total: int = 0
    category: str | None = None
    certificate_number: str | None = None
    next_step: Notice = field(default_factory=lambda: Notice("next_nothing"))
    timezone: str = "Asia/Jakarta"


def _needed(exam: ExamFacts, settings: ProgramSettings) -> int:
    """Answers the result is computed from alone: fewer count the rest as wrong (a CAT's
    minimum length; a LOFT form's every item)."""
    rules = exam_rules(exam, settings)
    return rules.max_items if exam.assembly == Assembly.LOFT else rules.min_items


def seconds_left(attempt: AttemptFacts, now: dt.datetime) -> float:
    if not attempt.running:
        return 0.0
    return max(0.0, (attempt.deadline - now).total_seconds())


def attempt_view(attempt: AttemptFacts, exam: ExamFacts, settings: ProgramSettings,
                 answered: int, now: dt.datetime, *, resumed: bool = False,
                 extra: int = 0) -> AttemptView:
    """The attempt as its participant sees it; ``extra``: its pretest items (counted like the
    others: decide.pretest_extra)."""
    rules = exam_rules(exam, settings)
    return AttemptView(
        attempt_id=attempt.id, exam_id=exam.id, exam_code=exam.code, kind=exam.kind.value,
        assembly=exam.assembly.value, number=attempt.number, state=attempt.state.value,
        started_at=attempt.started_at, deadline=attempt.deadline,
        seconds_left=seconds_left(attempt, now), answered=answered,
        min_items=_needed(exam, settings) + extra, max_items=rules.max_items + extra,
        resumed=resumed)


def presentation(attempt: AttemptFacts, exam: ExamFacts, settings: ProgramSettings, *,
                 item_id: int, position: int, shown_order: tuple[int, ...],
                 text: tuple[str, list, int], answered: int,
                 now: dt.datetime, extra: int = 0) -> ItemPresentation:
    stem, options, images = text
    rules = exam_rules(exam, settings)
    return ItemPresentation(
        attempt_id=attempt.id, item_id=item_id, position=position, stem=stem,
        options=[options[i] for i in shown_order], images=images, deadline=attempt.deadline,
        seconds_left=seconds_left(attempt, now), answered=answered,
        min_items=_needed(exam, settings) + extra, max_items=rules.max_items + extra)


def attempt_result(attempt: AttemptFacts, exam: ExamFacts, standing: Standing, answered: int,
                   now: dt.datetime) -> AttemptResult:
    rules = exam_rules(exam, standing.settings)
    used = len(standing.slot_attempts(exam.slot))
    final = not attempt.running
    category = None
    if exam.kind == ExamKind.UJIKOM and final:
        category = KOMPETEN if attempt.passed else BELUM_KOMPETEN
    certificate = standing.certificate
    return AttemptResult(
        attempt_id=attempt.id, exam_id=exam.id, kind=exam.kind.value, number=attempt.number,
        state=attempt.state.value, answered=answered, imputed=len(attempt.imputed),
        score=attempt.score if final else None, passed=attempt.passed if final else None,
        cut_score=rules.cut_score, theta=attempt.theta, se=attempt.se,
        stop_reason=attempt.stop_reason, category=category,
        certificate_number=(certificate.number if certificate is not None
                            and certificate.attempt_id == attempt.id else None),
        attempts_left=max(0, rules.max_attempts - used),
        next_step=next_step(standing, now), exam_title=exam.title or exam.code,
        started_at=attempt.started_at, finished_at=attempt.finished_at if final else None,
        timezone=standing.settings.timezone, scored_by=attempt.scored_by)


def program_status(standing: Standing, *, program_id: int, program_code: str,
                   program_name: str, now: dt.datetime) -> ProgramStatus:
    """Where the participant stands in the program: every exam, its gate and the next step."""
    exams = []
    for exam in standing.exams:
        rules = exam_rules(exam, standing.settings)
        attempts = standing.slot_attempts(exam.slot)
        running = next((a for a in attempts if a.running), None)
        reason, until = (None, None) if running else gate(standing, exam, rules, now)
        scores = [a.score for a in attempts if a.score is not None]
        exams.append(ExamStatus(
            exam_id=exam.id, code=exam.code, title=exam.title, kind=exam.kind.value,
            materi_code=exam.materi_code, attempts_used=len(attempts),
            max_attempts=rules.max_attempts, passed=standing.passed(exam.slot),
            best_score=max(scores) if scores else None,
            running_attempt_id=running.id if running else None,
            available=running is not None or reason is None, locked_reason=reason,
            available_from=until, min_items=_needed(exam, standing.settings),
            max_items=rules.max_items, duration_s=rules.duration_s,
            cut_score=rules.cut_score,
            history=[AttemptSummary(attempt_id=a.id, number=a.number, state=a.state.value,
                                    started_at=a.started_at, finished_at=a.finished_at,
                                    score=a.score, passed=a.passed, stop_reason=a.stop_reason)
                     for a in attempts if not a.running]))
    category = None
    ujikom = standing.slot_attempts(ExamKind.UJIKOM.value)
    if standing.passed(ExamKind.UJIKOM.value):
        category = KOMPETEN
    elif ujikom and all(a.state != AttemptState.STARTED for a in ujikom):
        category = BELUM_KOMPETEN
    return ProgramStatus(
        program_id=program_id, program_code=program_code, program_name=program_name,
        exams=exams, assignments_done=standing.assignments_done,
        assignments_total=standing.assignments_total, category=category,
        certificate_number=standing.certificate.number if standing.certificate else None,
        next_step=next_step(standing, now), timezone=standing.settings.timezone)
