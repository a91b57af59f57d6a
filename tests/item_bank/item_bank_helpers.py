"""Builders and simulated participants for the item_bank tests."""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from item_bank import admin, policy
from item_bank.models import (
    Enrolment,
    Exam,
    Item,
    ItemStatus,
    Materi,
    Participant,
    Program,
    Response,
)

# Fixed-length tests (min = max) so that a test's outcome does not hinge on early stopping.
FAST = {"min_items": 5, "max_items": 5, "ujikom_waiting_period_s": 0}


@dataclass
class World:
    program: Program
    materi: list[Materi]
    pre: Exam | None
    materi_exams: list[Exam]
    ujikom: Exam
    assignments: list[Any] = field(default_factory=list)


def build_world(session: Session, *, code: str = "LATSAR", n_materi: int = 2,
                items_per_materi: int = 60, assembly: str = "cat",
                settings: dict[str, Any] | None = None, with_pre: bool = True,
                n_assignments: int = 1, seed: int = 0, pretest_per_materi: int = 0) -> World:
    """A program with ``n_materi`` materi of operational 2PL items (a ~ U(0.8, 2), b ~ N(0, 1))
    and ``pretest_per_materi`` pretest items without parameters in each."""
    rng = np.random.default_rng(seed)
    program = admin.create_program(session, code=code, name=f"Program {code}",
                                   settings={**FAST, **(settings or {})})
    materi = []
    for m in range(n_materi):
        mat = admin.add_materi(session, program, code=f"M{m + 1}", name=f"Materi {m + 1}",
                               content_tags=["T1", "T2"])
        materi.append(mat)
        for j in range(items_per_materi):
            session.add(admin.new_item(
                program, mat, code=f"{code}-M{m + 1}-{j:04d}", stem=f"Question {m}.{j}",
                options=["alpha", "beta", "gamma", "delta"], key=int(rng.integers(4)),
                a=float(rng.uniform(0.8, 2.0)), b=float(rng.normal()), c=0.0,
                status="operational", content_tag=mat.content_tags[j % 2]))
        for j in range(pretest_per_materi):
            session.add(admin.new_item(
                program, mat, code=f"{code}-M{m + 1}-P{j:03d}", stem=f"Pretest {m}.{j}",
                options=["alpha", "beta", "gamma", "delta"], key=int(rng.integers(4)),
                status="pretest", content_tag=mat.content_tags[j % 2]))
    session.commit()
    pre = admin.add_exam(session, program, code="PRE", kind="pre_assessment",
                         assembly=assembly) if with_pre else None
    materi_exams = [admin.add_exam(session, program, code=f"EX-{mat.code}", kind="materi",
                                   materi=mat, assembly=assembly) for mat in materi]
    ujikom = admin.add_exam(session, program, code="UJIKOM", kind="ujikom", assembly=assembly)
    assignments = [admin.add_assignment(session, program, code=f"TUGAS{i + 1}")
                   for i in range(n_assignments)]
    return World(program, materi, pre, materi_exams, ujikom, assignments)


def enrolled_participants(session: Session, program: Program, n: int,
                          first: int = 0) -> list[int]:
    """``n`` registered participants enrolled in ``program`` (no password: fast)."""
    people = [Participant(nip=f"{199001010000000000 + first + i:018d}", name=f"Peserta {i}",
                          unit="BPSDM") for i in range(n)]
    session.add_all(people)
    session.flush()
    session.add_all(Enrolment(participant_id=p.id, program_id=program.id) for p in people)
    session.commit()
    return [p.id for p in people]


def shown_position_of_key(session: Session, attempt_id: int, item_id: int) -> int:
    response = session.scalar(select(Response).where(Response.attempt_id == attempt_id,
                                                     Response.item_id == item_id))
    item = session.get(Item, item_id)
    return list(response.shown_order).index(item.key)


def answer(session: Session, participant_id: int, attempt_id: int, item_id: int, right: bool,
           **kw: Any) -> policy.AnswerOutcome:
    pos = shown_position_of_key(session, attempt_id, item_id)
    choice = pos if right else (pos + 1) % 4
    return policy.record_answer(session, participant_id=participant_id, attempt_id=attempt_id,
                                item_id=item_id, choice=choice, **kw)


def take(session: Session, participant_id: int, exam_id: int, *, right: bool | None = None,
         theta: float | None = None, rng: np.random.Generator | None = None,
         now: dt.datetime | None = None) -> policy.AttemptResult:
    """Start and answer until finished: all right, all wrong, or as an examinee with ``theta``.

    The simulated examinee answers right with the 2PL probability of the item (independent
    truth: the generating parameters stored with the item).
    """
    kw = {} if now is None else {"now": now}
    view = policy.start_attempt(session, participant_id=participant_id, exam_id=exam_id, **kw)
    item = policy.current_item(session, participant_id=participant_id,
                               attempt_id=view.attempt_id, **kw)
    while item is not None:
        ok = right
        if theta is not None:
            it = session.get(Item, item.item_id)
            p = 1.0 / (1.0 + np.exp(-it.a * (theta - it.b)))
            ok = bool(rng.random() < p)
        outcome = answer(session, participant_id, view.attempt_id, item.item_id, bool(ok), **kw)
        if outcome.finished:
            return outcome.result
        item = outcome.next_item
    return policy.attempt_result(session, participant_id=participant_id,
                                 attempt_id=view.attempt_id, **kw)


def operational_params(session: Session, program_id: int,
                       materi_id: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    stmt = select(Item.a, Item.b).where(Item.program_id == program_id,
                                        Item.status == ItemStatus.OPERATIONAL)
    if materi_id is not None:
        stmt = stmt.where(Item.materi_id == materi_id)
    rows = session.execute(stmt).all()
    return np.array([r[0] for r in rows]), np.array([r[1] for r in rows])


def picture(fmt: str, size: tuple[int, int] = (3, 2),
            colour: tuple[int, int, int] = (200, 30, 40)) -> bytes:
    """A small real picture (``fmt`` "PNG", "JPEG" or "GIF") for the image checks, which
    decode what they accept."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, fmt)
    return out.getvalue()


def run_concurrently(Session, participants: list[int], path, workers: int = 4) -> None:  # noqa: N803
    """``path(session, participant)`` for every participant, ``workers`` threads at once,
    each with a session of its own; the first error of any thread is raised after all end."""
    errors: list[BaseException] = []

    def run(chunk):
        with Session() as s:
            for pid in chunk:
                try:
                    path(s, pid)
                except BaseException as exc:  # raised below
                    errors.append(exc)
                    return

    threads = [threading.Thread(target=run, args=(participants[i::workers],))
               for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
