"""Bank capacity check (``smartcat bank check``) and the per-exam overlap report."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cat_engine.exposure import mean_overlap

from .admin import get_program
from .calibration_source import pretest_readiness
from .db import db_now
from .harvest import COLLUDERS, simulate_window
from .models import Attempt, Enrolment, Exam, ExamKind, Response
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

    Per exam and per content tag, the items needed are the larger of

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
        available = 0 if pool is None else len(pool)
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
            have = int(round(share * available))
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
    by_materi: dict[str, list] = {}
    for row in pretest_readiness(session, program_id=program_id, now=now):
        by_materi.setdefault(row.materi, []).append(row)
    out = []
    for materi, rows in by_materi.items():
        answers = [r.answers for r in rows]
        ready = sum(r.ready for r in rows)
        line = (f"{materi}: {len(rows)} pretest item(s), {min(answers)}-{max(answers)} "
                f"answers of {rows[0].needed} needed for calibration, {ready} ready")
        waiting = [r for r in rows if not r.ready]
        if waiting and all(r.ready_by is not None for r in waiting):
            last = max(r.ready_by for r in waiting)
            line += f"; all ready by about {last:%Y-%m-%d} at the pace of the last 7 days"
        elif waiting:
            line += "; some have had no answers in the last 7 days"
        out.append(line)
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
