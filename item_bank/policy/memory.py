"""One exam window in memory: the decision's store for simulations and rule tests.

:class:`MemoryWindow` keeps what a database would (attempts, responses, seen items, exposure
counts) for one exam of one program and runs every event through the same
:func:`.decide.decide` as live exams, so a simulation of participants measures the rules that
participants meet, including how a short or abandoned attempt is graded
(``bench/bench_gaming.py``).  No locking: one caller at a time.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import replace

import numpy as np

from ..models import AttemptState, CertificateRoute, ProgramSettings
from ..pools import Pool
from .decide import Event, Start, decide
from .facts import (
    AttemptFacts,
    AttemptLoad,
    CertificateFacts,
    Effects,
    ExamFacts,
    Exposure,
    ResponseFacts,
    Standing,
    StartLoad,
)


class MemoryWindow:
    """An exam window of ``exam`` over ``pool``; item ``pool.item_ids[i]`` has the answer key
    ``keys[i]``, pretest item ``pool.pretest_ids[i]`` the key ``pretest_keys[i]``."""

    def __init__(self, exam: ExamFacts, pool: Pool, keys: np.ndarray,
                 settings: ProgramSettings, program_code: str = "SIM",
                 pretest_keys: np.ndarray | None = None) -> None:
        self.exam, self.pool, self.settings, self.program_code = exam, pool, settings, program_code
        self.keys = {int(i): int(k) for i, k in zip(pool.item_ids, keys, strict=True)}
        if pretest_keys is not None:
            self.keys.update((int(i), int(k))
                             for i, k in zip(pool.pretest_ids, pretest_keys, strict=True))
        self.attempts: dict[int, AttemptFacts] = {}
        self.responses: dict[int, list[ResponseFacts]] = {}
        self.seen: dict[int, set[int]] = {}  # participant -> families seen
        self.exposed: dict[int, int] = {}  # item id -> attempts that showed it
        self.certificates: dict[int, CertificateFacts] = {}
        self.attempts_started = 0
        self._ids = itertools.count(1)

    # ------------------------------------------------------------------ loads

    def _standing(self, participant_id: int) -> Standing:
        return Standing(settings=self.settings, exams=(self.exam,),
                        attempts=tuple(a for a in self.attempts.values()
                                       if a.participant_id == participant_id),
                        assignments_total=0, assignments_done=0,
                        certificate=self.certificates.get(participant_id))

    def _exposure(self) -> Exposure:
        ids = sorted(self.exposed)
        return Exposure(item_ids=np.array(ids, dtype=np.int64),
                        counts=np.array([self.exposed[i] for i in ids], dtype=np.int64),
                        attempts_started=self.attempts_started)

    def start_load(self, participant_id: int) -> StartLoad:
        running = next((a.id for a in self.attempts.values()
                        if a.participant_id == participant_id and a.running), None)
        return StartLoad(participant_id=participant_id, nip=f"{participant_id:018d}",
                         exam=self.exam, program_code=self.program_code, enrolled=True,
                         standing=self._standing(participant_id),
                         seen=np.array(sorted(self.seen.get(participant_id, ())),
                                       dtype=np.int64),
                         exposure=self._exposure(), pool=self.pool, running=running)

    def load(self, attempt_id: int) -> AttemptLoad:
        attempt = self.attempts[attempt_id]
        responses = tuple(self.responses[attempt_id])
        pending = next((r for r in responses if not r.answered), None)
        return AttemptLoad(
            attempt=attempt, exam=self.exam, program_code=self.program_code,
            settings=self.settings, responses=responses,
            pending_key=None if pending is None else self.keys[pending.item_id],
            seen=np.array(sorted(self.seen.get(attempt.participant_id, ())), dtype=np.int64),
            exposure=self._exposure(), pool=self.pool,
            certified=attempt.participant_id in self.certificates)

    # ------------------------------------------------------------------ events

    def start(self, participant_id: int, seed: int, now: dt.datetime) -> int:
        """A new attempt of ``participant_id`` (DomainError when a rule refuses it)."""
        load = self.start_load(participant_id)
        return self.apply(load, decide(load, Start(seed), now))

    def event(self, attempt_id: int, event: Event, now: dt.datetime) -> Effects:
        """``event`` on the attempt, written; a refusal after a write is raised after it."""
        load = self.load(attempt_id)
        effects = decide(load, event, now)
        self.apply(load, effects)
        if effects.refusal is not None:
            raise effects.refusal
        return effects

    def apply(self, load: AttemptLoad | StartLoad, effects: Effects) -> int:
        if isinstance(load, StartLoad):
            new = effects.new_attempt
            assert new is not None
            attempt_id = next(self._ids)
            self.attempts[attempt_id] = AttemptFacts(
                attempt_id, new.participant_id, new.program_id, new.exam_id, new.slot,
                new.number, AttemptState.STARTED, new.started_at, new.deadline, None, new.seed,
                None, None, None, None, None)
            self.responses[attempt_id] = []
            participant_id = new.participant_id
            self.attempts_started += 1
        else:
            attempt_id, participant_id = load.attempt.id, load.attempt.participant_id
        responses = self.responses[attempt_id]
        if effects.answer is not None:
            a = effects.answer
            responses[:] = [r._replace(shown_choice=a.shown_choice, choice=a.choice,
                                       correct=a.correct, answered_at=a.answered_at)
                            if r.id == a.response_id else r for r in responses]
        for p in effects.present:
            seen = self.seen.setdefault(participant_id, set())
            family = p.seen_family
            if family in seen:  # the database's UNIQUE seen-item set, per family
                raise AssertionError(f"item {p.item_id} (family {family}) shown twice to "
                                     f"{participant_id}")
            seen.add(family)
            responses.append(ResponseFacts(next(self._ids), p.item_id, p.position, p.shown_order,
                                           None, None, None, None, p.pretest))
            self.exposed[p.item_id] = self.exposed.get(p.item_id, 0) + 1
        if effects.finish is not None:
            f = effects.finish
            self.attempts[attempt_id] = replace(
                self.attempts[attempt_id], state=f.state, finished_at=f.finished_at,
                stop_reason=f.stop_reason, theta=f.theta, se=f.se, score=f.score,
                passed=f.passed, imputed=f.imputed, scored_by=f.scored_by)
        if effects.certificate is not None:
            c = effects.certificate
            self.certificates[participant_id] = CertificateFacts(
                c.number, CertificateRoute(c.route), attempt_id)
        return attempt_id

    # ------------------------------------------------------------------ reading

    def shown_key(self, attempt_id: int) -> tuple[int, int] | None:
        """(item id, shown position of its key) of the attempt's current item, or None."""
        pending = next((r for r in self.responses[attempt_id] if not r.answered), None)
        if pending is None or not self.attempts[attempt_id].running:
            return None
        return pending.item_id, pending.shown_order.index(self.keys[pending.item_id])
