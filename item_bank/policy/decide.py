"""The decision: from the loaded facts of one request and its event to the effects.

Pure: no session, no cursor, no clock, no randomness of its own (the event carries the
attempt seed and the certificate token).  Both stores load the same facts and write the same
effects, so every rule of an attempt exists here once:

* owner, state, deadline and grace, current item, choice range (:func:`answer`);
* the engine's CAT step for the next item (``cat_engine.assembly.replay`` / ``next_item``
  with ``step_rng(seed, position)``), LOFT forms at start (``assemble_form``);
* the stopping rule, grading, the short-attempt rule and the certificate route
  (:func:`_finish`).

**Short attempts.**  RULE: SPEC.md "Scores" / docs/item_bank.md "Scoring an attempt that ends
early" — a CAT that ends (Finish, deadline, abandoned) with fewer answers than the exam's
minimum length is graded as if the missing answers up to the minimum were wrong, on the items
the CAT would have given next: first the item on the screen, then the items the engine
selects after each of those wrong answers, with the same random streams
(``step_rng(seed, position)``) and eligibility as a live item at that position.  Without it
EAP's prior does the scoring: two right answers and Finish put theta near +0.9, which
passed a materi exam at cut 70.  The imputed items are stored with the attempt (never shown,
never counted as seen or exposed), so the grade can be reproduced.  A LOFT form counts every
unanswered item of the form as wrong.

**Unfinished CATs.**  RULE: docs/item_bank.md — a CAT that ends before its own stopping rule
(by Finish or by the clock, however many answers it has) is scored at the lower end of the 95%
interval of theta, ``theta - z SE`` (the stopping rule's ``z``): it passes only when the
evidence so far already decides the pass, which is exactly when the CAT would have stopped
and passed it there.  Scored at the point estimate, stopping early pays a participant below
the cut: the estimate of a shorter test is noisier, and pressing Finish the moment the
minimum was reached passed 18.5 % of examinees at true domain score 60 against 12.5 % who
answered to the end (``bench/bench_gaming.py``).  Theta and its SE are stored as estimated.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from cat_engine.assembly import AttemptState as EngineState
from cat_engine.assembly import (
    assemble_form,
    next_item,
    record_response,
    replay,
    start_attempt,
    step_rng,
)
from cat_engine.config import CatConfig, ExposureWindow
from cat_engine.irt import ItemBank

from ..errors import BankExhausted, Conflict, DomainError, Forbidden, InvalidInput, Locked
from ..models import Assembly, AttemptState, ProgramSettings
from ..pools import Pool
from .facts import (
    NOTHING,
    AnswerWrite,
    AttemptLoad,
    AuditEntry,
    CertificateIssue,
    Effects,
    ExamFacts,
    Finished,
    NewAttempt,
    Presented,
    ResponseFacts,
    StartLoad,
)
from .rules import (
    CERTIFYING,
    ExamRules,
    cat_config,
    exam_rules,
    gate,
    is_due,
    marks,
    past_deadline,
)

# The endings that are not the CAT's own stopping rule: the participant's Finish, the clock,
# an invigilator's end.
UNFINISHED = frozenset({"submitted", "time", "ended"})

# --------------------------------------------------------------------------- events


@dataclass(frozen=True)
class Start:
    """Start an attempt of the loaded exam, with this random seed."""

    seed: int


@dataclass(frozen=True)
class Answer:
    item_id: int
    choice: int  # the 0-based position of the option as shown
    token: str  # for a certificate number, should the answer end the attempt with one


@dataclass(frozen=True)
class Finish:
    confirmed: bool  # the participant confirmed finishing with fewer answers than needed
    token: str


@dataclass(frozen=True)
class Look:
    """A view of a running attempt (its item, its state, its result): past the deadline it
    ends the attempt first."""

    token: str


@dataclass(frozen=True)
class Sweep:
    """The deadline sweeper: ends an attempt once no answer can be in flight any more."""

    token: str


@dataclass(frozen=True)
class End:
    """An invigilator ends the attempt: graded as the participant's Finish is (with the
    short-attempt rule, confirmation implied), or as expired once its time is over."""

    token: str
    actor: str


Event = Start | Answer | Finish | Look | Sweep | End


def decide(load: AttemptLoad | StartLoad, event: Event, now: dt.datetime) -> Effects:
    """The effects of ``event`` on the loaded facts at ``now``; DomainError refuses it."""
    if isinstance(event, Start):
        assert isinstance(load, StartLoad)
        return start(load, event.seed, now)
    assert isinstance(load, AttemptLoad)
    if isinstance(event, Answer):
        return answer(load, event.item_id, event.choice, now, event.token)
    if isinstance(event, Finish):
        return finish(load, now, confirmed=event.confirmed, token=event.token)
    if isinstance(event, Look):
        return expire(load, now, event.token, due=past_deadline(load.attempt.deadline, now))
    if isinstance(event, End):
        return end(load, now, event.token, event.actor)
    return expire(load, now, event.token,
                  due=is_due(load.attempt.deadline, load.settings, now))


# --------------------------------------------------------------------------- the CAT


@dataclass(frozen=True, eq=False)
class _Cat:
    """The attempt in the engine's terms: the bank (the pool, plus any item of the attempt
    retired since), the configuration, the index of each item of the attempt and the
    exclusions of a next item."""

    bank: ItemBank
    config: CatConfig
    index: dict[int, int]  # item id -> bank index
    excluded: np.ndarray  # (n,) bool: of a family seen by the participant, or not in the pool
    window: ExposureWindow


def _cat(load: AttemptLoad) -> _Cat:
    pool = load.pool
    rules = exam_rules(load.exam, load.settings)
    ids = [r.item_id for r in load.scored]
    if pool is None:
        index: dict[int, int] = {}
        n = 0
    else:
        positions, hit = pool.locate(ids)
        index = {i: int(p) for i, p, h in zip(ids, positions, hit, strict=True) if h}
        n = len(pool)
    outside = [i for i in ids if i not in index]
    if outside:
        # Items retired during the attempt: still scored with their own parameters, never
        # selected again.
        extra = np.array([load.outside[i] for i in outside], dtype=np.float64)
        parts = [] if pool is None else [pool.bank]
        bank = ItemBank(ids=np.concatenate([*(b.ids for b in parts),
                                            [f"outside:{i}" for i in outside]]),
                        a=np.concatenate([*(b.a for b in parts), extra[:, 0]]),
                        b=np.concatenate([*(b.b for b in parts), extra[:, 1]]),
                        c=np.concatenate([*(b.c for b in parts), extra[:, 2]]),
                        content=np.concatenate([*(b.content for b in parts),
                                                [""] * len(outside)]))
        index.update({i: n + k for k, i in enumerate(outside)})
    else:
        assert pool is not None
        bank = pool.bank
    excluded = np.zeros(len(bank), dtype=bool)
    if pool is not None:
        # RULE: SPEC.md flow 4 — no item of a family the participant has seen.
        excluded[:n] = pool.seen_mask(load.seen)
    excluded[n:] = True
    return _Cat(bank=bank, config=cat_config(rules, load.settings, pool), index=index,
                excluded=excluded, window=_window(load, len(bank), starting=False))


def _window(load: AttemptLoad | StartLoad, size: int, *, starting: bool) -> ExposureWindow:
    """The exposure window as the engine reads it: counts of the tests before this one.

    ``attempts_started`` counts committed starts, this attempt's own once it has committed
    (every request after the start).  The stored counts include this attempt's own items
    (excluded anyway) and, on PostgreSQL, may include a start committed between two reads of
    the ORM store: clipped to the tests before this one, where such an item is at the ceiling
    whatever its count.
    """
    pool = load.pool
    exposure = load.exposure
    n_tests = max(exposure.attempts_started - (0 if starting else 1), 0)
    counts = np.zeros(size, dtype=np.intp)
    if pool is not None:
        counts[:len(pool)] = pool.counts(exposure.item_ids, exposure.counts)
    np.minimum(counts, n_tests, out=counts)
    counts.setflags(write=False)  # ours alone: the window takes it without a copy
    return ExposureWindow(counts=counts, n_tests=n_tests)


def _engine_state(cat: _Cat, responses: list[ResponseFacts]) -> EngineState:
    items = [cat.index[r.item_id] for r in responses]
    return replay(cat.config, cat.bank, items, [int(bool(r.correct)) for r in responses])


def _select(cat: _Cat, state: EngineState, seed: int,
            position: int) -> tuple[int, np.random.Generator] | None:
    """The bank index of the item at ``position`` and its random stream (the option shuffle
    continues it), or None when the engine stops or no item is eligible."""
    rng = step_rng(seed, position)
    try:
        index = next_item(state, cat.bank, cat.config, rng=rng, excluded=cat.excluded,
                          window=cat.window)
    except ValueError:  # no eligible item: the bank ran out for this participant
        return None
    return None if index is None else (index, rng)


def _shuffle(rng: np.random.Generator, n_options: int) -> tuple[int, ...]:
    # RULE: SPEC.md "Anti-cheating" — option order shuffled per participant and stored.
    return tuple(int(i) for i in rng.permutation(n_options))


def _presented(cat: _Cat, load: AttemptLoad | StartLoad, index: int, rng: np.random.Generator,
               position: int, now: dt.datetime) -> Presented:
    pool = load.pool
    assert pool is not None
    return Presented(item_id=int(pool.item_ids[index]), position=position,
                     shown_order=_shuffle(rng, int(pool.n_options[index])), presented_at=now,
                     param_version=pool.param_version(index), family=pool.family(index))


# --------------------------------------------------------------------------- pretest seeding

# The schedule's own random stream, apart from the CAT's (step_rng): "pret".
_PRETEST_STREAM = 0x70726574


def pretest_schedule(seed: int, rules: ExamRules) -> frozenset[int]:
    """The numbers of scored answers after which a pretest item comes in a CAT attempt.

    RULE: SPEC.md "Item lifecycle" / docs/item_bank.md "Pretest seeding" — ``pretest_items``
    distinct counts drawn from 1 .. ``min_items`` - 1 with the attempt's seed: a pretest item
    is never first (one scored answer comes before it) and never last (the CAT cannot stop
    before its minimum length, so a scored item follows it).  A CAT with a minimum length of
    1 seeds none.
    """
    return _schedule(seed, min(rules.pretest_items, rules.min_items - 1), rules.min_items)


@functools.lru_cache(maxsize=4096)
def _schedule(seed: int, k: int, min_items: int) -> frozenset[int]:
    # Cached: an answer's decision and its reply's counts both ask for it.
    if k <= 0:
        return frozenset()
    rng = np.random.default_rng([seed, _PRETEST_STREAM])
    return frozenset((rng.choice(min_items - 1, size=k, replace=False) + 1).tolist())


def _open_pretest(pool: Pool, seen: np.ndarray,
                  responses: Sequence[ResponseFacts]) -> np.ndarray:
    """(pretest items,) bool: those the participant has never seen, in this attempt or
    before, nor any item of their family."""
    return ~(pool.seen_mask(seen, pretest=True)
             | np.isin(pool.pretest_ids, [r.item_id for r in responses]))


def pretest_extra(exam: ExamFacts, settings: ProgramSettings, pool: Pool | None,
                  seen: np.ndarray, seed: int, responses: Sequence[ResponseFacts]) -> int:
    """The pretest items an attempt has shown (``responses``) and its schedule still holds
    while unseen pretest items remain: the participant's counts (answers needed, at most)
    include them, so that nothing tells a pretest item from the others."""
    shown = sum(1 for r in responses if r.pretest)
    if exam.assembly != Assembly.CAT or pool is None or not pool.pretest_ids.size:
        return shown
    scored = sum(1 for r in responses if not r.pretest and r.answered_at is not None)
    ahead = sum(1 for t in pretest_schedule(seed, exam_rules(exam, settings)) if t > scored)
    if ahead:
        ahead = min(ahead, int(_open_pretest(pool, seen, responses).sum()))
    return shown + ahead


def _pretest_fits(load: AttemptLoad, rules: ExamRules, scored: int, answered: int,
                  now: dt.datetime) -> bool:
    """RULE: a pretest item never makes an attempt miss its deadline: it is seeded only when
    the time left covers it and every scored item still possible (up to the maximum length)
    at the participant's own pace so far (their mean time per answer in this attempt)."""
    attempt = load.attempt
    pace = (now - attempt.started_at).total_seconds() / max(answered, 1)
    left = (attempt.deadline - now).total_seconds()
    return left >= (rules.max_items - scored + 1) * pace


def _seed_pretest(load: AttemptLoad, scored: int, answered: int, position: int,
                  now: dt.datetime) -> Presented | None:
    """The pretest item to show at ``position`` after the ``scored``-th scored answer, if the
    schedule puts one there, the time allows it and one is left for the participant.

    RULE: the least shown pretest item of the pool that the participant has never seen (ties
    drawn with the step's random stream), so that every pretest item collects answers at the
    same pace across the exam window and every worker: the counts are the window's exposure
    counts as committed, read with the attempt.
    """
    pool = load.pool
    if pool is None or not pool.pretest_ids.size:
        return None
    rules = exam_rules(load.exam, load.settings)
    if scored not in pretest_schedule(load.attempt.seed, rules):
        return None
    if not _pretest_fits(load, rules, scored, answered, now):
        return None
    eligible = _open_pretest(pool, load.seen, load.responses)
    if not eligible.any():
        return None
    counts = pool.pretest_counts(load.exposure.item_ids, load.exposure.counts)
    least = np.flatnonzero(eligible & (counts == counts[eligible].min()))
    rng = step_rng(load.attempt.seed, position)
    index = int(least[rng.integers(least.size)])
    return Presented(item_id=int(pool.pretest_ids[index]), position=position,
                     shown_order=_shuffle(rng, int(pool.pretest_n_options[index])),
                     presented_at=now, pretest=True,
                     param_version=pool.param_version(index, pretest=True),
                     family=pool.family(index, pretest=True))


# --------------------------------------------------------------------------- start


def start(load: StartLoad, seed: int, now: dt.datetime) -> Effects:
    """A new attempt and its first item (CAT) or its whole form (LOFT)."""
    exam = load.exam
    if not load.enrolled:
        raise Forbidden("not_enrolled")
    standing = load.standing
    rules = exam_rules(exam, standing.settings)
    reason, _until = gate(standing, exam, rules, now)
    if reason is not None:
        raise Locked(reason.code, **reason.params)
    pool = load.pool
    if pool is not None:
        excluded = pool.seen_mask(load.seen)
    # A test takes at most one item of a family: the families left are the items left.
    unseen = 0 if pool is None else pool.bank.family_count(~excluded)
    if unseen < rules.max_items:
        # RULE: SPEC.md flow 4 — never fail mid-way: refuse at start when too few unseen items.
        raise BankExhausted("bank_exhausted", exam=exam.code, needed=rules.max_items,
                            available=unseen)
    assert pool is not None
    if exam.assembly == Assembly.CAT and pool.cold:
        # RULE: docs/item_bank.md "Cold start" — a pool with provisional parameters serves
        # LOFT forms only, scored by proportion correct, until a calibration replaces them.
        raise Conflict("bank_not_calibrated", exam=exam.code)
    number = len(standing.slot_attempts(exam.slot)) + 1
    deadline = now + dt.timedelta(seconds=rules.duration_s)
    if exam.window_closes_at is not None:
        deadline = min(deadline, exam.window_closes_at)
    attempt = NewAttempt(participant_id=load.participant_id, program_id=exam.program_id,
                         exam_id=exam.id, slot=exam.slot, number=number, started_at=now,
                         deadline=deadline, seed=seed)
    window = _window(load, len(pool), starting=True)
    config = cat_config(rules, standing.settings, pool)
    if exam.assembly == Assembly.LOFT:
        # LOFT: one fixed form, assembled now and stored; every item counts as seen.
        rng = np.random.default_rng(seed)
        try:
            form = assemble_form(pool.bank, rules.max_items, config.selection, rng=rng,
                                 excluded=excluded, window=window)
        except ValueError:
            raise BankExhausted("bank_exhausted", exam=exam.code, needed=rules.max_items,
                                available=unseen) from None
        present = tuple(Presented(item_id=int(pool.item_ids[i]), position=p,
                                  shown_order=_shuffle(rng, int(pool.n_options[i])),
                                  presented_at=now, param_version=pool.param_version(i),
                                  family=pool.family(i))
                        for p, i in enumerate(form.tolist(), 1))
    else:
        rng = step_rng(seed, 1)
        first = next_item(start_attempt(config), pool.bank, config, rng=rng, excluded=excluded,
                          window=window)
        assert first is not None  # min_items >= 1 and unseen items exist
        present = (Presented(item_id=int(pool.item_ids[first]), position=1,
                             shown_order=_shuffle(rng, int(pool.n_options[first])),
                             presented_at=now, param_version=pool.param_version(first),
                             family=pool.family(first)),)
    audit = AuditEntry(f"participant:{load.nip}", "attempt_started", None,
                       {"exam": exam.code, "number": number})
    return Effects(new_attempt=attempt, present=present, audit=(audit,))


# --------------------------------------------------------------------------- answers


def answer(load: AttemptLoad, item_id: int, choice: int, now: dt.datetime,
           token: str) -> Effects:
    """Store the answer ``choice`` to the current item, then stop or present the next item."""
    attempt = load.attempt
    response = next((r for r in load.responses if r.item_id == item_id), None)
    if response is None:
        raise Conflict("item_not_in_attempt")
    if response.answered:
        # Idempotent: the same answer again (a retry after a lost reply) changes nothing.
        if response.shown_choice == choice:
            return NOTHING
        raise Conflict("answered_with_other_option")
    if not attempt.running:
        raise Conflict("attempt_finished")
    if is_due(attempt.deadline, load.settings, now):
        expired = _finish(load, AttemptState.EXPIRED, "time", now, token)
        return Effects(finish=expired.finish, certificate=expired.certificate,
                       audit=expired.audit, refusal=Conflict("time_up"))
    if response is not load.pending:
        raise Conflict("not_current_item")
    if not 0 <= choice < len(response.shown_order):
        raise InvalidInput("choice_out_of_range", choice=choice,
                           last=len(response.shown_order) - 1)
    original = response.shown_order[choice]
    write = AnswerWrite(response_id=response.id, shown_choice=choice, choice=original,
                        correct=original == load.pending_key, answered_at=now)
    answered = [*load.answered, _answered(response, write)]  # the answers with this one
    if past_deadline(attempt.deadline, now):
        # An answer in flight at the deadline is taken, and it is the last one.
        return _with_answer(write, _finish(load, AttemptState.EXPIRED, "time", now, token,
                                           answered=answered))
    if load.exam.assembly == Assembly.LOFT:
        if len(answered) == len(load.responses):
            return _with_answer(write, _finish(load, AttemptState.SUBMITTED, "max_items", now,
                                               token, answered=answered))
        return Effects(answer=write)
    cat = _cat(load)
    scored = [r for r in answered if not r.pretest]
    state = _engine_state(cat, scored)
    # RULE: SPEC.md "Stopping" — SE target, decision at the cut certain, min and max length.
    if state.stop_reason is not None:
        return _with_answer(write, _finish(load, AttemptState.SUBMITTED, state.stop_reason, now,
                                           token, answered=answered, cat=(cat, state)))
    position = len(load.responses) + 1
    if not response.pretest:
        seeded = _seed_pretest(load, len(scored), len(answered), position, now)
        if seeded is not None:
            return Effects(answer=write, present=(seeded,))
    chosen = _select(cat, state, attempt.seed, position)
    if chosen is None:
        return _with_answer(write, _finish(load, AttemptState.SUBMITTED, "bank", now, token,
                                           answered=answered, cat=(cat, state)))
    index, rng = chosen
    return Effects(answer=write, present=(_presented(cat, load, index, rng, position, now),))


def _answered(response: ResponseFacts, write: AnswerWrite) -> ResponseFacts:
    return response._replace(shown_choice=write.shown_choice, choice=write.choice,
                             correct=write.correct, answered_at=write.answered_at)


def _with_answer(write: AnswerWrite, finished: Effects) -> Effects:
    return Effects(answer=write, finish=finished.finish, certificate=finished.certificate,
                   audit=finished.audit)


# --------------------------------------------------------------------------- the end


def finish(load: AttemptLoad, now: dt.datetime, *, confirmed: bool, token: str) -> Effects:
    """The participant's Finish: submitted (expired once past the deadline); idempotent."""
    attempt = load.attempt
    if not attempt.running:
        return NOTHING
    if past_deadline(attempt.deadline, now):
        return _finish(load, AttemptState.EXPIRED, "time", now, token)
    if load.exam.assembly == Assembly.LOFT:
        answered = len(load.answered)
        length = len(load.responses)
        if answered < length and not confirmed:
            raise Conflict("finish_loft_needs_confirmation", answered=answered, length=length,
                           missing=length - answered)
    else:
        scored = sum(1 for r in load.scored if r.answered)
        minimum = exam_rules(load.exam, load.settings).min_items
        if scored < minimum and not confirmed:
            # RULE: the short-attempt rule (module doc) is said before it applies, in the
            # participant's counts (pretest items included, as the exam page counts them).
            attempt = load.attempt
            extra = pretest_extra(load.exam, load.settings, load.pool, load.seen, attempt.seed,
                                  load.responses)
            answered = len(load.answered)
            missing = minimum - scored + extra - sum(1 for r in load.answered if r.pretest)
            raise Conflict("finish_needs_confirmation", answered=answered,
                           min_items=answered + missing, missing=missing)
    return _finish(load, AttemptState.SUBMITTED, "submitted", now, token)


def end(load: AttemptLoad, now: dt.datetime, token: str, actor: str) -> Effects:
    """An invigilator's end of a running attempt (nothing once it is final): the grading of
    :func:`finish` with stop reason ``ended``, plus an audit entry naming ``actor``."""
    attempt = load.attempt
    if not attempt.running:
        return NOTHING
    if past_deadline(attempt.deadline, now):
        ended = _finish(load, AttemptState.EXPIRED, "time", now, token)
    else:
        ended = _finish(load, AttemptState.SUBMITTED, "ended", now, token)
    entry = AuditEntry(actor, "attempt_ended", f"attempt:{attempt.id}",
                       {"participant": attempt.participant_id})
    return replace(ended, audit=(*ended.audit, entry))


def expire(load: AttemptLoad, now: dt.datetime, token: str, *, due: bool) -> Effects:
    """End a running attempt whose time is over (``due``); nothing otherwise."""
    if load.attempt.running and due:
        return _finish(load, AttemptState.EXPIRED, "time", now, token)
    return NOTHING


def _finish(load: AttemptLoad, state: AttemptState, reason: str, now: dt.datetime, token: str,
            *, answered: list[ResponseFacts] | None = None,
            cat: tuple[_Cat, EngineState] | None = None) -> Effects:
    """Grade and end the attempt, with the certificate when it earns one.

    ``answered``: the answered responses including the one being stored now; ``cat``: the
    engine's state after their scored ones when the caller has just computed it.  Pretest
    items count for nothing: neither answered nor missing.
    """
    answered = [r for r in (load.answered if answered is None else answered) if not r.pretest]
    exam = load.exam
    rules = exam_rules(exam, load.settings)
    if cat is None:
        cat = (c := _cat(load)), _engine_state(c, answered)
    engine, final = cat
    imputed: tuple[int, ...] = ()
    if exam.assembly == Assembly.LOFT:
        # RULE: a LOFT form is fixed: its unanswered items count as wrong.
        answered_ids = {r.item_id for r in answered}
        for r in load.scored:
            if r.item_id not in answered_ids:
                final = record_response(final, engine.bank, engine.index[r.item_id], 0,
                                        engine.config)
    elif len(answered) < rules.min_items:
        final, imputed = _impute(load, engine, final, answered, rules.min_items)
    # The reference pool; should every item of the exam have left it during the attempt, the
    # items given.
    reference = engine.bank if load.pool is None else load.pool.bank
    # RULE: unfinished CATs (module doc) are scored at what their evidence guarantees.
    z = engine.config.stopping.z if (exam.assembly == Assembly.CAT
                                     and reason in UNFINISHED) else None
    theta, se, score, passed = marks(final.estimate, (reference.a, reference.b, reference.c),
                                     rules.cut_score, lower_z=z)
    scored_by = "domain"
    if exam.assembly == Assembly.LOFT and load.pool is not None and load.pool.cold:
        # RULE: docs/item_bank.md "Cold start" — provisional parameters are a writer's guess:
        # the form is scored by its share of right answers (unanswered items wrong), which
        # estimates the same 0-100 domain score, and the result says so.
        right = sum(1 for r in answered if r.correct)
        score = 100.0 * right / max(len(load.scored), 1)
        passed, scored_by = bool(score >= rules.cut_score), "proportion"
    finished = Finished(state=state, finished_at=now, stop_reason=reason, theta=theta, se=se,
                        score=score, passed=passed, imputed=imputed, scored_by=scored_by)
    attempt = load.attempt
    audit = [AuditEntry(f"participant:{attempt.participant_id}", "attempt_finished",
                        f"attempt:{attempt.id}",
                        {"state": state.value, "score": score, "passed": passed})]
    certificate = None
    route = CERTIFYING.get(exam.kind)
    if passed and route is not None and not load.certified:
        number = f"{load.program_code}-{now:%Y}-{token}"
        certificate = CertificateIssue(number=number, route=route, score=score, issued_at=now)
        audit.append(AuditEntry("system", "certificate_issued", f"certificate:{number}",
                                {"attempt": attempt.id, "route": route.value}))
    return Effects(finish=finished, certificate=certificate, audit=tuple(audit))


def _impute(load: AttemptLoad, cat: _Cat, state: EngineState, answered: list[ResponseFacts],
            minimum: int) -> tuple[EngineState, tuple[int, ...]]:
    """The short-attempt rule (module doc): wrong answers up to ``minimum``, first to the item
    on the screen, then to the items the CAT would have given next."""
    imputed: list[int] = []
    answered_ids = {r.item_id for r in answered}
    shown = [r for r in load.scored if r.item_id not in answered_ids]
    position = len(load.responses)
    while len(state.items) < minimum:
        if shown:
            item_id = shown.pop(0).item_id
            index = cat.index[item_id]
        else:
            position += 1
            chosen = _select(cat, state, load.attempt.seed, position)
            if chosen is None:
                break  # the bank ran out: grade what there is
            index = chosen[0]
            item_id = int(cat.bank.ids[index])
        imputed.append(item_id)
        state = record_response(state, cat.bank, index, 0, cat.config)
    return state, tuple(imputed)


__all__ = ["Answer", "DomainError", "End", "Event", "Finish", "Look", "Start", "Sweep", "answer",
           "decide", "end", "expire", "finish", "start"]
