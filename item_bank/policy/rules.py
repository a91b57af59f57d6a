"""The rules of SPEC.md as small pure functions over settings and loaded facts.

Every ``# RULE:`` of the exam flow that is not about one event lives here: the effective
numbers of an exam, the gates that open or lock it, the next step of a participant, the CAT
configuration of a live exam, grading marks and the deadline.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from cat_engine.config import CatConfig, SelectionRule
from cat_engine.estimation import Estimate
from cat_engine.irt import ItemBank
from cat_engine.scoring import domain_score, theta_for_score
from cat_engine.selection import content_shares
from cat_engine.stopping import StoppingRule

from ..messages import Notice
from ..models import AttemptState, CertificateRoute, ExamKind, ProgramSettings
from ..pools import Pool
from .facts import ExamFacts, Standing

KOMPETEN = "kompeten"
BELUM_KOMPETEN = "belum kompeten"

# RULE: SPEC.md flow 1 and 3 — a certificate at >= 85 in the pre-assessment (no training) or
# for kompeten in the ujikom; exactly one per participant and program.
CERTIFYING = {ExamKind.PRE_ASSESSMENT: CertificateRoute.PRE_ASSESSMENT,
              ExamKind.UJIKOM: CertificateRoute.UJIKOM}


@dataclass(frozen=True)
class ExamRules:
    """The effective numbers of one exam: its own fields, else the program settings."""

    cut_score: float
    max_attempts: int
    duration_s: int
    waiting_period_s: int
    min_items: int
    max_items: int
    se_target: float | None
    pretest_items: int = 0  # pretest items seeded into each attempt (never scored)


# RULE: SPEC.md "Item lifecycle" — pretest items are seeded unscored into live exams; how many
# per attempt is a program setting by kind of exam.
_PRETEST_SETTING = {ExamKind.PRE_ASSESSMENT: "pretest_items_pre_assessment",
                    ExamKind.MATERI: "pretest_items_materi",
                    ExamKind.UJIKOM: "pretest_items_ujikom"}


def exam_rules(exam: ExamFacts, settings: ProgramSettings) -> ExamRules:
    """The effective rules of ``exam`` (exam fields override the program settings)."""
    if exam.kind == ExamKind.PRE_ASSESSMENT:
        # RULE: SPEC.md flow 1 — the pre-assessment has exactly one attempt, never a remedial.
        cut, attempts, waiting = settings.pre_assessment_certificate_score, 1, 0
    elif exam.kind == ExamKind.MATERI:
        # RULE: SPEC.md flow 2 — pass >= 70, at most 5 attempts per materi.
        cut, attempts, waiting = settings.materi_pass_score, settings.materi_max_attempts, 0
    else:
        # RULE: SPEC.md flow 3 — ujikom at most 3 attempts with a waiting period between.
        cut, attempts = settings.ujikom_pass_score, settings.ujikom_max_attempts
        waiting = settings.ujikom_waiting_period_s
    if exam.kind != ExamKind.PRE_ASSESSMENT and exam.max_attempts is not None:
        attempts = exam.max_attempts
    return ExamRules(
        cut_score=exam.cut_score if exam.cut_score is not None else cut,
        max_attempts=attempts,
        duration_s=exam.duration_s or settings.exam_duration_s,
        waiting_period_s=exam.waiting_period_s if exam.waiting_period_s is not None else waiting,
        min_items=exam.min_items or settings.min_items,
        max_items=exam.max_items or settings.max_items,
        se_target=exam.se_target if exam.se_target is not None else settings.se_target,
        pretest_items=getattr(settings, _PRETEST_SETTING[exam.kind]),
    )


# --------------------------------------------------------------------------- time


def past_deadline(deadline: dt.datetime, now: dt.datetime) -> bool:
    """RULE: SPEC.md flow 5 — time runs out at the deadline: no item is presented after it."""
    return now > deadline


def is_due(deadline: dt.datetime, settings: ProgramSettings, now: dt.datetime) -> bool:
    """RULE: SPEC.md flow 5 — an answer clicked just before the deadline is still taken
    within the grace (at most 5 s, network latency); after it the attempt is over for good."""
    return now > deadline + dt.timedelta(seconds=settings.answer_grace_s)


# --------------------------------------------------------------------------- CAT


def theta_cut(pool: Pool, cut_score: float) -> float | None:
    """theta whose domain score over the pool equals the cut; None when it is unreachable."""
    if cut_score not in pool.theta_cuts:
        try:
            theta = theta_for_score(cut_score, pool.bank.a, pool.bank.b, pool.bank.c)
        except ValueError:
            theta = None
        pool.theta_cuts[cut_score] = theta
    return pool.theta_cuts[cut_score]


def live_config(rules: ExamRules, settings: ProgramSettings, bank: ItemBank,
                theta_cut_: float | None) -> CatConfig:
    """The engine's configuration of a live exam over ``bank``.

    RULE: SPEC.md "Psychometric core" — EAP with a N(0, 1) prior; maximum information,
    randomesque among the ``randomesque_k`` best, under the exposure ceiling of the exam
    window (``max_exposure``, flat: no progressive ramp) and least-exposed-first within each
    content tag (``exposure_slack``), with content balance over the bank's tags; stopping at
    the SE target, at a certain decision at the cut, or at the maximum length, never before the
    minimum.  The harvest simulation (:mod:`item_bank.harvest`) runs this same configuration.
    """
    return CatConfig(
        stopping=StoppingRule(min_items=rules.min_items, max_items=rules.max_items,
                              se_target=rules.se_target, theta_cut=theta_cut_),
        selection=SelectionRule(method="randomesque", k=settings.randomesque_k,
                                content_targets=content_shares(bank),
                                max_exposure=settings.max_exposure, cap_ramp=None,
                                exposure_slack=settings.exposure_slack))


def cat_config(rules: ExamRules, settings: ProgramSettings, pool: Pool | None) -> CatConfig:
    """:func:`live_config` of the exam's pool, cached with it: every answer of an exam uses
    the same one.  Without a pool (every item of the exam retired) only the grading of what
    was answered remains."""
    if pool is None:
        return CatConfig(stopping=StoppingRule(min_items=rules.min_items,
                                               max_items=rules.max_items,
                                               se_target=rules.se_target))
    key = (rules, settings)
    config = pool.configs.get(key)
    if config is None:
        config = pool.configs[key] = live_config(rules, settings, pool.bank,
                                                 theta_cut(pool, rules.cut_score))
    return config


def marks(result: Estimate, pool_abc: tuple[np.ndarray, np.ndarray, np.ndarray],
          cut_score: float, *, lower_z: float | None = None) -> tuple[float, float, float, bool]:
    """RULE: SPEC.md "Scores on the 0-100 scale" — (theta, se, score, passed): the domain
    score over the reference pool at the final estimate, or with ``lower_z`` at the lower end
    of its interval ``theta - lower_z * se`` (an unfinished CAT, :mod:`.decide`); passed =
    score >= cut."""
    a, b, c = pool_abc
    at = result.theta if lower_z is None else result.theta - lower_z * result.se
    score = float(domain_score(at, a, b, c))
    return float(result.theta), float(result.se), score, bool(score >= cut_score)


# --------------------------------------------------------------------------- gates


def gate(standing: Standing, exam: ExamFacts, rules: ExamRules,
         now: dt.datetime) -> tuple[Notice | None, dt.datetime | None]:
    """Why ``exam`` cannot be started now (None when it can) and when it opens if waiting."""
    attempts = standing.slot_attempts(exam.slot)
    finished = [a for a in attempts if a.state != AttemptState.STARTED]
    if standing.certificate is not None:
        return Notice("certified"), None
    if exam.window_opens_at is not None and now < exam.window_opens_at:
        return (Notice("window_not_open", {"opens_at": exam.window_opens_at,
                                           "timezone": standing.settings.timezone}),
                exam.window_opens_at)
    if exam.window_closes_at is not None and now >= exam.window_closes_at:
        return Notice("window_closed"), None
    if exam.kind == ExamKind.PRE_ASSESSMENT:
        # RULE: SPEC.md flow 1 — exactly one pre-assessment attempt, ever; and it comes
        # before the training, so not after any materi exam was taken.
        if attempts:
            return Notice("pre_assessment_once"), None
        if any(standing.slot_attempts(s) for s in standing.materi_slots()):
            return Notice("pre_assessment_before_training"), None
        return None, None
    # RULE: SPEC.md flow 1-2 — the training starts after the pre-assessment (when there is one).
    if standing.pre_assessment_exists() and not any(
            a.state != AttemptState.STARTED
            for a in standing.slot_attempts(ExamKind.PRE_ASSESSMENT.value)):
        return Notice("pre_assessment_first"), None
    if standing.passed(exam.slot):
        return Notice("already_passed"), None
    if len(attempts) >= rules.max_attempts:
        # RULE: SPEC.md flow 2-3 — at most 5 materi / 3 ujikom attempts.
        code = ("ujikom_attempts_exhausted" if exam.kind == ExamKind.UJIKOM
                else "attempts_exhausted")
        return Notice(code, {"max_attempts": rules.max_attempts}), None
    if exam.kind == ExamKind.UJIKOM:
        # RULE: SPEC.md flow 3 — ujikom unlocked when every materi exam is passed and every
        # assignment is marked done.
        missing = [s for s in standing.materi_slots() if not standing.passed(s)]
        if missing:
            return Notice("materi_not_passed", {"count": len(missing)}), None
        if standing.assignments_done < standing.assignments_total:
            left = standing.assignments_total - standing.assignments_done
            return Notice("assignments_not_done", {"count": left}), None
    if finished and rules.waiting_period_s > 0:
        # RULE: SPEC.md flow 3 — a waiting period for remedial study between attempts.
        until = max(a.finished_at for a in finished) + dt.timedelta(seconds=rules.waiting_period_s)
        if now < until:
            # Written in the program's local time (WIB by default), as participants read it.
            return (Notice("waiting_period", {"until": until,
                                              "timezone": standing.settings.timezone}), until)
    return None, None


def next_step(standing: Standing, now: dt.datetime) -> Notice:
    """What comes next for the participant in the program."""
    if standing.certificate is not None:
        if standing.certificate.route == CertificateRoute.PRE_ASSESSMENT:
            return Notice("next_certified_pre_assessment")
        return Notice("next_certified_ujikom")
    for exam in standing.exams:
        if any(a.running for a in standing.slot_attempts(exam.slot)):
            return Notice("next_continue", {"exam": exam.code})
    exams = {e.slot: e for e in standing.exams}
    for slot in [ExamKind.PRE_ASSESSMENT.value, *standing.materi_slots(), ExamKind.UJIKOM.value]:
        exam = exams.get(slot)
        if exam is None or standing.passed(slot):
            continue
        if slot == ExamKind.PRE_ASSESSMENT.value:
            if not standing.slot_attempts(slot):
                return Notice("next_take_pre_assessment", {"exam": exam.code})
            continue
        rules = exam_rules(exam, standing.settings)
        reason, until = gate(standing, exam, rules, now)
        if reason is None:
            return Notice("next_take", {"exam": exam.code})
        if until is not None:
            return reason
        if len(standing.slot_attempts(slot)) >= rules.max_attempts:
            if exam.kind == ExamKind.UJIKOM:
                return Notice("next_belum_kompeten")
            return Notice("next_no_attempts", {"exam": exam.code})
        if exam.kind == ExamKind.UJIKOM:
            return reason
    return Notice("next_nothing")
