"""Bank capacity check (``smartcat bank check``), the per-exam overlap report and the
administrator's report of a program (:func:`program_report`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from cat_engine.exposure import mean_overlap

from .admin import get_program, program_by_id
from .calibration_source import pretest_readiness
from .db import db_now
from .errors import InvalidInput, NotFound
from .harvest import COLLUDERS, simulate_window
from .models import (
    Attempt,
    AttemptState,
    Certificate,
    Enrolment,
    Exam,
    ExamKind,
    Item,
    ItemStatus,
    Materi,
    Participant,
    Response,
)
from .policy import exam_rules
from .pools import exam_pool

# A ring of 20 colluders sees at most 20 x L items; the harvest bench shows that with
# least-exposed-first selection a later participant's share stays near 0 while the window's
# administrations (cohort x L) fit in the bank, and rises once the bank must be recycled.
HARVEST_SHARE_TARGET = 0.20


@dataclass(frozen=True)
class CapacityLine:
    exam: str
    tag: str  # "" = the whole pool of the exam
    available: int
    needed: int

    @property
    def missing(self) -> int:
        return max(0, self.needed - self.available)


@dataclass(frozen=True)
class CapacityReport:
    program: str
    cohort: int
    lines: list[CapacityLine]
    advice: list[str]
    pretest: list[str] = field(default_factory=list)  # where the pretest items stand

    @property
    def ok(self) -> bool:
        return all(line.missing == 0 for line in self.lines)

    def render(self) -> str:
        out = [f"bank check for program {self.program} (cohort {self.cohort})",
               f"{'exam':<14}{'content':<10}{'operational':>12}{'needed':>8}{'missing':>9}"]
        for line in self.lines:
            out.append(f"{line.exam:<14}{line.tag or '(all)':<10}{line.available:>12}"
                       f"{line.needed:>8}{line.missing:>9}")
        out.append("OK: every exam can be served" if self.ok else
                   "NOT ENOUGH ITEMS: exams would be refused at start where items are missing")
        out.extend(self.advice)
        out.extend(self.pretest)
        return "\n".join(out)


def bank_check(session: Session, *, program_code: str, cohort: int | None = None,
               simulate: bool = True) -> CapacityReport:
    """Do the operational items suffice for cohort x attempts x length?

    Per exam and per content tag, the items available are its families (items of one family
    count once), and the items needed are the larger of

    * no-repeat: one participant using every attempt needs ``attempts x length`` items they
      have not seen (``attempts x length x share`` of a tag, share = the tag's share of the
      pool, which content balancing follows); the pre-assessment and the ujikom draw from the
      whole program, so each materi also supplies its share of those;
    * exposure: with each item shown to at most ``max_exposure`` of the window's attempts,
      ``length / max_exposure`` items (per tag: times its share).

    With ``simulate`` the item-harvest simulation runs on each exam's real pool and the advice
    gives the share of a later participant's items found in a 20-colluder pool.
    """
    if cohort is not None and cohort < 1:
        raise ValueError("cohort must be >= 1")
    program = get_program(session, program_code)
    settings = program.settings
    if cohort is None:
        cohort = session.scalar(select(func.count(Enrolment.id)).where(
            Enrolment.program_id == program.id)) or 1
    exams = list(session.scalars(select(Exam).where(Exam.program_id == program.id)
                                 .order_by(Exam.id)))
    if not exams:
        raise ValueError(f"program {program.code} has no exams")
    program_wide = [e for e in exams if e.kind != ExamKind.MATERI]
    lines: list[CapacityLine] = []
    advice: list[str] = []
    for exam in exams:
        rules = exam_rules(exam, settings)
        pool = exam_pool(session, exam)
        # RULE: docs/item_bank.md "Item families" — a participant gets one item of a family,
        # so the items a pool has for them are its families.
        available = 0 if pool is None else pool.bank.family_count()
        shares = {} if pool is None else pool.content_shares
        per_participant = rules.max_attempts * rules.max_items
        if exam.kind == ExamKind.MATERI:
            # The program-wide exams also take this materi's share of their items from it.
            per_participant += _program_wide_share(session, exam, program_wide, settings)
        exposure_need = int(np.ceil(rules.max_items / settings.max_exposure))
        lines.append(CapacityLine(exam.code, "", available, max(per_participant, exposure_need)))
        for tag, share in sorted(shares.items()):
            if not tag:
                continue
            need = int(np.ceil(share * max(per_participant, exposure_need)))
            have = pool.bank.family_count(pool.bank.content == tag)
            lines.append(CapacityLine(exam.code, tag, have, need))
        if simulate and pool is not None and available >= rules.max_items:
            result = simulate_window(pool.bank, assembly=exam.assembly.value,
                                     later=max(1, (exam.expected_cohort or cohort) - COLLUDERS),
                                     settings=settings, cut_score=rules.cut_score, seed=exam.id)
            window = (exam.expected_cohort or cohort) * rules.max_items
            verdict = "OK" if result.share_mean <= HARVEST_SHARE_TARGET else "TOO HIGH"
            advice.append(
                f"{exam.code}: item harvest by {COLLUDERS} colluders -> "
                f"{100 * result.share_mean:.0f}% of a later participant's items known "
                f"({verdict}, target <= {100 * HARVEST_SHARE_TARGET:.0f}%); "
                f"max exposure {result.max_exposure:.2f}; "
                f"to avoid reusing items within the window aim for >= {window} items.")
    return CapacityReport(program=program.code, cohort=cohort, lines=lines, advice=advice,
                          pretest=_pretest_lines(session, program.id))


def _pretest_lines(session: Session, program_id: int) -> list[str]:
    """Per materi: its pretest items, their answers against the answers needed for
    calibration, how many are ready and when the rest will be at the recent pace."""
    now = db_now(session)
    by_materi: dict[tuple[str, bool], list] = {}
    for row in pretest_readiness(session, program_id=program_id, now=now):
        by_materi.setdefault((row.materi, row.provisional), []).append(row)
    out = []
    for (materi, cold), rows in by_materi.items():
        answers = [r.answers for r in rows]
        ready = sum(r.ready for r in rows)
        kind = ("uncalibrated (cold start): LOFT scored by proportion correct, "
                f"{len(rows)} item(s) with writer ratings" if cold
                else f"{len(rows)} pretest item(s)")
        line = (f"{materi}: {kind}, {min(answers)}-{max(answers)} "
                f"answers of {rows[0].needed} needed for calibration, {ready} ready")
        waiting = [r for r in rows if not r.ready]
        if waiting and all(r.ready_by is not None for r in waiting):
            last = max(r.ready_by for r in waiting)
            line += f"; all ready by about {last:%Y-%m-%d} at the pace of the last 7 days"
        elif waiting:
            line += "; some have had no answers in the last 7 days"
        out.append(line)
    cold = {materi for materi, provisional in by_materi if provisional}
    calibrated = session.execute(
        select(Materi.code, func.count(Item.id)).join(Item, Item.materi_id == Materi.id)
        .where(Materi.program_id == program_id, Item.status == ItemStatus.OPERATIONAL,
               Item.provisional.is_(False))
        .group_by(Materi.code).order_by(Materi.code)).all()
    out += [f"{materi}: ready for CAT ({n} calibrated operational items)"
            for materi, n in calibrated if materi not in cold]
    return out


def _program_wide_share(session: Session, exam: Exam, program_wide: list[Exam],
                        settings) -> int:
    """Items of ``exam``'s materi that the pre-assessment and ujikom need per participant."""
    total = 0
    for other in program_wide:
        pool = exam_pool(session, other)
        if pool is None:
            continue
        materi_code = exam.materi.code
        share = float(np.mean(pool.bank.content == materi_code))
        rules = exam_rules(other, settings)
        total += int(np.ceil(share * rules.max_attempts * rules.max_items))
    return total


@dataclass(frozen=True)
class OverlapReport:
    exam: str
    attempts: int
    mean_length: float
    mean_overlap: float  # mean over pairs of |A and B| / mean length
    max_exposure: float  # max over items of share of the exam's attempts shown the item


def exam_overlap(session: Session, exam_id: int) -> OverlapReport:
    """Overlap between participants' tests of one exam, from the stored responses."""
    exam = session.get(Exam, exam_id)
    if exam is None:
        raise ValueError(f"unknown exam {exam_id}")
    rows = session.execute(select(Response.attempt_id, Response.item_id)
                           .join(Attempt, Response.attempt_id == Attempt.id)
                           .where(Attempt.exam_id == exam_id)).all()
    if not rows:
        return OverlapReport(exam.code, 0, 0.0, 0.0, 0.0)
    item_ids = sorted({item for _a, item in rows})
    index = {item: i for i, item in enumerate(item_ids)}
    tests: dict[int, list[int]] = {}
    for attempt_id, item_id in rows:
        tests.setdefault(attempt_id, []).append(index[item_id])
    arrays = [np.array(t) for t in tests.values()]
    counts = np.bincount(np.concatenate(arrays), minlength=len(item_ids))
    return OverlapReport(exam=exam.code, attempts=len(arrays),
                         mean_length=float(np.mean([a.size for a in arrays])),
                         mean_overlap=(mean_overlap(arrays, len(item_ids))
                                       if len(arrays) > 1 else 0.0),
                         max_exposure=float(counts.max() / len(arrays)))


# --- the administrator's report of a program ------------------------------------------------

# The score histogram's bins: ten points wide over 0..100 (100 falls in the last bin).
SCORE_BINS = tuple(range(0, 101, 10))
FINISHED = (AttemptState.SUBMITTED, AttemptState.EXPIRED)


@dataclass(frozen=True)
class NumberLine:
    """The finished attempts of one attempt number (1 = first try, 2 = first remedial...)."""

    number: int
    attempts: int
    passed: int

    @property
    def rate(self) -> float:
        return self.passed / self.attempts


@dataclass(frozen=True)
class Spread:
    """Median and quartiles (numpy's linear interpolation) of some values."""

    q1: float
    median: float
    q3: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread | None:
        if not values:
            return None
        q1, median, q3 = np.percentile(np.asarray(values, dtype=float), [25, 50, 75])
        return cls(float(q1), float(median), float(q3))


@dataclass(frozen=True)
class SlotLine:
    """One slot of the program (the pre-assessment, one materi's exams, the ujikom): its
    finished attempts as stored (score and pass flag of each, never graded again)."""

    slot: str
    kind: ExamKind
    materi_code: str   # "" for the pre-assessment and the ujikom
    materi_name: str
    cut_scores: tuple[float, ...]  # the pass marks in force (one, unless exams differ)
    participants: int         # with a finished attempt
    participants_passed: int  # with a passed one
    attempts: int
    attempts_passed: int
    by_number: tuple[NumberLine, ...]
    histogram: tuple[int, ...]  # attempts per SCORE_BINS bin
    score: Spread | None
    minutes: Spread | None      # time taken, started to finished

    @property
    def pass_rate(self) -> float | None:
        """The share of the participants who tried that passed (None: nobody tried)."""
        return self.participants_passed / self.participants if self.participants else None


@dataclass(frozen=True)
class ExamLine:
    """One exam (a window) of the program and its finished attempts in the report."""

    exam_id: int
    code: str
    title: str
    kind: ExamKind
    materi_code: str
    cut_score: float
    opens_at: dt.datetime | None
    closes_at: dt.datetime | None
    attempts: int
    attempts_passed: int
    running: int


@dataclass(frozen=True)
class ExposureLine:
    """Items of one materi shown in the report's attempts.  An item's exposure rate is the
    share of an exam's attempts that were shown it (what ``max_exposure`` bounds), per exam."""

    materi_code: str
    materi_name: str
    operational: int    # operational items of the materi now
    used: int           # distinct items shown (scored and pretest)
    max_rate: float | None
    mean_rate: float | None  # over the (exam, item) pairs shown at least once
    never_shown: int    # operational items that no attempt of the report showed


@dataclass(frozen=True)
class CertificateLine:
    number: str
    nip: str
    name: str
    route: str
    score: float
    issued_at: dt.datetime


@dataclass(frozen=True)
class ProgramReport:
    """What :func:`program_report` finds: figures only, for a page or a file to write."""

    program_id: int
    code: str
    name: str
    timezone: str
    first_day: dt.date | None
    last_day: dt.date | None
    exam: ExamLine | None  # the exam the report is limited to
    exam_choices: tuple[tuple[int, str, str], ...]  # every exam of the program: id, code, title
    enrolled: int
    participants: int  # with a finished attempt in the report
    attempts: int
    running: int
    max_exposure: float
    slots: tuple[SlotLine, ...]
    exams: tuple[ExamLine, ...]
    exposure: tuple[ExposureLine, ...]
    certificates: tuple[CertificateLine, ...]

    @property
    def empty(self) -> bool:
        """Nothing to report yet: no attempt finished and no certificate issued."""
        return not self.attempts and not self.certificates


def _day_start(day: dt.date, zone) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=zone).astimezone(dt.UTC)


def program_report(session: Session, program_id: int, *, first_day: dt.date | None = None,
                   last_day: dt.date | None = None,
                   exam_id: int | None = None) -> ProgramReport:
    """The program's participants, attempts, pass rates per slot and attempt number, score
    histograms, time taken, item exposure and certificates.

    Attempts count by when they started, certificates by when they were issued, between
    ``first_day`` 00:00 and the end of ``last_day`` in the program's time zone (either end
    open when None); ``exam_id`` limits the report to the attempts of that exam and the
    certificates they earned.  Scores and pass flags are the stored results of finished
    (submitted or expired) attempts.  NotFound for an unknown program or an exam of another
    program; InvalidInput when ``last_day`` is before ``first_day``.
    """
    program = program_by_id(session, program_id)
    if first_day is not None and last_day is not None and last_day < first_day:
        raise InvalidInput("report_days_reversed", first=first_day, last=last_day)
    settings = program.settings
    zone = settings.zone()
    exams = list(session.scalars(select(Exam).where(Exam.program_id == program.id)
                                 .order_by(Exam.id)))
    if exam_id is not None and exam_id not in {e.id for e in exams}:
        raise NotFound("exam_not_found")
    since = None if first_day is None else _day_start(first_day, zone)
    until = None if last_day is None else _day_start(last_day + dt.timedelta(days=1), zone)

    def within(column, stmt):
        if since is not None:
            stmt = stmt.where(column >= since)
        if until is not None:
            stmt = stmt.where(column < until)
        return stmt

    def scope(stmt):
        """``stmt`` limited to the report's attempts (it selects from or joins Attempt)."""
        stmt = within(Attempt.started_at, stmt.where(Attempt.program_id == program.id))
        return stmt if exam_id is None else stmt.where(Attempt.exam_id == exam_id)

    attempts_stmt = scope(select(
        Attempt.id, Attempt.participant_id, Attempt.exam_id, Attempt.slot, Attempt.number,
        Attempt.state, Attempt.score, Attempt.passed, Attempt.started_at, Attempt.finished_at))
    rows = session.execute(attempts_stmt).all()
    finished = [r for r in rows if r.state in FINISHED]
    exam_lines = tuple(_exam_line(e, settings, [r for r in rows if r.exam_id == e.id])
                       for e in exams if exam_id is None or e.id == exam_id)
    cert_stmt = within(Certificate.issued_at, select(Certificate, Participant)
                       .join(Participant, Participant.id == Certificate.participant_id)
                       .where(Certificate.program_id == program.id)
                       .order_by(Certificate.issued_at, Certificate.id))
    if exam_id is not None:
        cert_stmt = cert_stmt.join(Attempt, Attempt.id == Certificate.attempt_id).where(
            Attempt.exam_id == exam_id)
    certificates = tuple(
        CertificateLine(number=c.number, nip=p.nip, name=p.name, route=c.route.value,
                        score=c.score, issued_at=c.issued_at)
        for c, p in session.execute(cert_stmt).all())
    return ProgramReport(
        program_id=program.id, code=program.code, name=program.name, timezone=settings.timezone,
        first_day=first_day, last_day=last_day,
        exam=next((line for line in exam_lines if line.exam_id == exam_id), None),
        exam_choices=tuple((e.id, e.code, e.title) for e in exams),
        enrolled=session.scalar(select(func.count(Enrolment.id)).where(
            Enrolment.program_id == program.id)) or 0,
        participants=len({r.participant_id for r in finished}), attempts=len(finished),
        running=len(rows) - len(finished), max_exposure=settings.max_exposure,
        slots=_slot_lines(exams, settings, finished), exams=exam_lines,
        exposure=_exposure_lines(session, program.id, finished, scope(
            select(Attempt.exam_id, Response.item_id, Item.materi_id, func.count())
            .select_from(Response).join(Attempt, Attempt.id == Response.attempt_id)
            .join(Item, Item.id == Response.item_id)
            .where(Attempt.state.in_(FINISHED)))
            .group_by(Attempt.exam_id, Response.item_id, Item.materi_id)),
        certificates=certificates)


def _exam_line(exam: Exam, settings, rows: list) -> ExamLine:
    done = [r for r in rows if r.state in FINISHED]
    return ExamLine(exam_id=exam.id, code=exam.code, title=exam.title, kind=exam.kind,
                    materi_code=exam.materi.code if exam.materi else "",
                    cut_score=exam_rules(exam, settings).cut_score,
                    opens_at=exam.window_opens_at, closes_at=exam.window_closes_at,
                    attempts=len(done), attempts_passed=sum(bool(r.passed) for r in done),
                    running=len(rows) - len(done))


def _slot_lines(exams: list[Exam], settings, finished: list) -> tuple[SlotLine, ...]:
    """One line per slot with an exam, in the flow's order: pre-assessment, materi, ujikom."""
    order = {ExamKind.PRE_ASSESSMENT: 0, ExamKind.MATERI: 1, ExamKind.UJIKOM: 2}
    slots: dict[str, list[Exam]] = {}
    for exam in sorted(exams, key=lambda e: (order[e.kind], e.materi_id or 0, e.id)):
        slots.setdefault(exam.slot, []).append(exam)
    lines = []
    for slot, slot_exams in slots.items():
        first = slot_exams[0]
        rows = [r for r in finished if r.slot == slot]
        numbers = sorted({r.number for r in rows})
        passed_people = {r.participant_id for r in rows if r.passed}
        # (a finished attempt always has a score; rows written by hand might not)
        scores = [r.score for r in rows if r.score is not None]
        lines.append(SlotLine(
            slot=slot, kind=first.kind,
            materi_code=first.materi.code if first.materi else "",
            materi_name=first.materi.name if first.materi else "",
            cut_scores=tuple(sorted({exam_rules(e, settings).cut_score for e in slot_exams})),
            participants=len({r.participant_id for r in rows}),
            participants_passed=len(passed_people),
            attempts=len(rows), attempts_passed=sum(bool(r.passed) for r in rows),
            by_number=tuple(NumberLine(n, sum(r.number == n for r in rows),
                                       sum(r.number == n and bool(r.passed) for r in rows))
                            for n in numbers),
            histogram=tuple(int(c) for c in np.histogram(scores, bins=SCORE_BINS)[0]),
            score=Spread.of(scores),
            minutes=Spread.of([(r.finished_at - r.started_at).total_seconds() / 60
                               for r in rows])))
    return tuple(lines)


def _exposure_lines(session: Session, program_id: int, finished: list,
                    shown: Select) -> tuple[ExposureLine, ...]:
    """Per materi of the program: its items shown in the ``finished`` attempts (``shown``:
    exam, item, materi and showings of each pair) and their exposure rates per exam, and its
    operational items none of them showed."""
    attempts_per_exam: dict[int, int] = {}
    for r in finished:
        attempts_per_exam[r.exam_id] = attempts_per_exam.get(r.exam_id, 0) + 1
    # materi -> {(exam, item): attempts of the exam that showed the item}
    pairs: dict[int, dict[tuple[int, int], int]] = {}
    for exam_id, item_id, materi_id, count in session.execute(shown):
        pairs.setdefault(materi_id, {})[(exam_id, item_id)] = count
    operational: dict[int, set[int]] = {}
    for item_id, materi_id in session.execute(
            select(Item.id, Item.materi_id).where(Item.program_id == program_id,
                                                  Item.status == ItemStatus.OPERATIONAL)):
        operational.setdefault(materi_id, set()).add(item_id)
    lines = []
    for materi in session.scalars(select(Materi).where(Materi.program_id == program_id)
                                  .order_by(Materi.id)):
        mine = pairs.get(materi.id, {})
        rates = [n / attempts_per_exam[e] for (e, _i), n in mine.items()]
        used = {i for _e, i in mine}
        ops = operational.get(materi.id, set())
        lines.append(ExposureLine(
            materi_code=materi.code, materi_name=materi.name, operational=len(ops),
            used=len(used), max_rate=max(rates) if rates else None,
            mean_rate=float(np.mean(rates)) if rates else None,
            never_shown=len(ops - used)))
    return tuple(lines)
