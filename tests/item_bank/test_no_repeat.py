"""No participant ever sees an item twice in a program (acceptance 1, last part).

Every simulated participant takes the whole remedial path: the pre-assessment (failed), four
failed materi attempts and a passed fifth, then three failed ujikom attempts: 9 attempts.
Scale: ``SMARTCAT_NOREPEAT_N`` participants (default 40 in the suite; the figure for 1,000
is in docs/item_bank.md) with 3-item tests so the run stays short; four threads run
participants concurrently.  The check reads the response rows, not the seen-item table that
enforces the rule.
"""

from __future__ import annotations

import os

import pytest
from item_bank_helpers import build_world, enrolled_participants, run_concurrently, take
from sqlalchemy import func, select

from item_bank import admin
from item_bank.models import Attempt, Response

N = int(os.environ.get("SMARTCAT_NOREPEAT_N", "40"))
WORKERS = 4


def _remedial_path(session, world, pid):
    take(session, pid, world.pre.id, right=False)
    exam = world.materi_exams[0]
    for _ in range(4):
        assert not take(session, pid, exam.id, right=False).passed
    assert take(session, pid, exam.id, right=True).passed
    admin.mark_assignment_done(session, assignment_id=world.assignments[0].id, participant_id=pid)
    for _ in range(3):
        assert take(session, pid, world.ujikom.id, right=False).category == "belum kompeten"


@pytest.mark.slow
def test_no_item_twice_over_all_attempts(Session, session):  # noqa: N803
    world = build_world(session, n_materi=1, items_per_materi=240,
                        settings={"min_items": 3, "max_items": 3, "materi_pass_score": 50})
    pids = enrolled_participants(session, world.program, N)
    session.commit()
    run_concurrently(Session, pids, lambda s, pid: _remedial_path(s, world, pid), WORKERS)
    assert session.scalar(select(func.count(Attempt.id))) == 9 * N
    repeats = session.execute(
        select(Attempt.participant_id, Response.item_id, func.count())
        .join(Attempt, Response.attempt_id == Attempt.id)
        .group_by(Attempt.participant_id, Response.item_id)
        .having(func.count() > 1)).all()
    assert repeats == []
    assert session.scalar(select(func.count(Response.id))) == 9 * 3 * N
