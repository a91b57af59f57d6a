"""Facts for the pure decision, built in memory: exams, pools, standings and examinees."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

import numpy as np

from cat_engine.irt import ItemBank
from item_bank.models import Assembly, AttemptState, ExamKind, ProgramSettings
from item_bank.policy.decide import Answer, Finish
from item_bank.policy.facts import AttemptFacts, ExamFacts, Standing
from item_bank.policy.memory import MemoryWindow
from item_bank.pools import Pool

T0 = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)


def exam(kind: ExamKind = ExamKind.MATERI, *, id: int = 1, materi_id: int | None = 1,
         assembly: Assembly = Assembly.CAT, **fields: Any) -> ExamFacts:
    base = dict(id=id, program_id=1, kind=kind,
                materi_id=materi_id if kind == ExamKind.MATERI else None,
                code=f"{kind.value.upper()}-{id}", title="", assembly=assembly, cut_score=None,
                max_attempts=None, duration_s=None, waiting_period_s=None, min_items=None,
                max_items=None, se_target=None, window_opens_at=None, window_closes_at=None)
    base.update(fields)
    return ExamFacts(**base)


def pool(n: int = 300, *, seed: int = 0, tags: int = 2, first_id: int = 1000) -> Pool:
    """2PL items with a ~ U(0.8, 2), b ~ N(0, 1), ``tags`` equal content tags, 4 options."""
    rng = np.random.default_rng(seed)
    ids = np.arange(first_id, first_id + n, dtype=np.int64)
    bank = ItemBank(ids=np.array([str(i) for i in ids]), a=rng.uniform(0.8, 2.0, n),
                    b=rng.normal(0.0, 1.0, n), c=np.zeros(n),
                    content=np.array([f"T{i % tags}" for i in range(n)]))
    return Pool(item_ids=ids, bank=bank, n_options=np.full(n, 4))


def window(*, kind: ExamKind = ExamKind.MATERI, n_items: int = 300, settings: dict | None = None,
           assembly: Assembly = Assembly.CAT, seed: int = 0, **exam_fields: Any) -> MemoryWindow:
    the_pool = pool(n_items, seed=seed)
    keys = np.random.default_rng(seed + 1).integers(0, 4, n_items)
    return MemoryWindow(exam(kind, assembly=assembly, **exam_fields), the_pool, keys,
                        ProgramSettings.from_json({"ujikom_waiting_period_s": 0,
                                                   **(settings or {})}))


def answer(win: MemoryWindow, attempt_id: int, right: bool, now: dt.datetime = T0,
           token: str = "TOKEN"):
    """Answer the current item right or wrong (the shown position of the key, or the next)."""
    item_id, key = win.shown_key(attempt_id)
    return win.event(attempt_id, Answer(item_id, key if right else (key + 1) % 4, token), now)


def finish(win: MemoryWindow, attempt_id: int, now: dt.datetime = T0, *,
           confirmed: bool = False):
    return win.event(attempt_id, Finish(confirmed, "TOKEN"), now)


def p_correct(win: MemoryWindow, item_id: int, theta: float) -> float:
    i = int(np.searchsorted(win.pool.item_ids, item_id))
    a, b = win.pool.bank.a[i], win.pool.bank.b[i]
    return float(1.0 / (1.0 + np.exp(-a * (theta - b))))


def finished(participant_id: int, slot: str, number: int, *, passed: bool,
             at: dt.datetime = T0, exam_id: int = 1) -> AttemptFacts:
    return AttemptFacts(id=100 * participant_id + number, participant_id=participant_id,
                        program_id=1, exam_id=exam_id, slot=slot, number=number,
                        state=AttemptState.SUBMITTED, started_at=at - dt.timedelta(minutes=30),
                        deadline=at, finished_at=at, seed=0, theta=0.0, se=0.3,
                        score=90.0 if passed else 20.0, passed=passed, stop_reason="se")


def standing(exams: tuple[ExamFacts, ...], attempts: tuple[AttemptFacts, ...] = (), *,
             settings: dict | None = None, assignments: tuple[int, int] = (0, 0),
             certificate=None) -> Standing:
    return Standing(settings=ProgramSettings.from_json(settings or {}), exams=exams,
                    attempts=attempts, assignments_total=assignments[0],
                    assignments_done=assignments[1], certificate=certificate)


def with_standing(win: MemoryWindow, participant_id: int, standing_: Standing):
    """The window's start facts for ``participant_id`` with another standing."""
    return replace(win.start_load(participant_id), standing=standing_)
