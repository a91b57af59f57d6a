"""Parameter versions: every set of parameters an item has had is kept (who, when, which
run), the item names the one in force, and each response the one it was shown with."""

from __future__ import annotations

import datetime as dt

from item_bank_helpers import build_world, enrolled_participants, take
from sqlalchemy import func, select

from item_bank import authoring, policy
from item_bank.calibration_source import pretest_readiness
from item_bank.models import Item, ItemParameters, Response
from item_bank.reports import bank_check


def _history(session, item_id: int) -> list[tuple]:
    return [(h.version, h.a, h.b, h.actor, h.run_id) for h in session.scalars(
        select(ItemParameters).where(ItemParameters.item_id == item_id)
        .order_by(ItemParameters.version))]


def test_an_edit_of_the_parameters_adds_a_version_and_keeps_the_old_one(session):
    world = build_world(session, items_per_materi=12, n_materi=1, with_pre=False)
    item = session.scalars(select(Item).order_by(Item.id)).first()
    first = (item.a, item.b)
    assert item.param_version == 1
    assert _history(session, item.id) == [(1, *first, "", None)]
    # A change of the text only is no new parameter version.
    authoring.update_item(session, item_id=item.id, stem="Soal baru?", options=item.options,
                          key=item.key, model="2pl", a=item.a, b=item.b, c=0.0)
    assert session.get(Item, item.id).param_version == 1
    authoring.update_item(session, item_id=item.id, stem="Soal baru?", options=item.options,
                          key=item.key, model="2pl", a=1.5, b=-0.25, c=0.0)
    assert session.get(Item, item.id).param_version == 2
    assert [h[:3] for h in _history(session, item.id)] == [(1, *first), (2, 1.5, -0.25)]

    # The responses name the version they were shown with.
    (pid,) = enrolled_participants(session, world.program, 1)
    view = policy.start_attempt(session, participant_id=pid, exam_id=world.materi_exams[0].id)
    shown = session.scalars(select(Response).where(Response.attempt_id == view.attempt_id)).all()
    assert shown and all(r.param_version == session.get(Item, r.item_id).param_version
                         for r in shown)


def test_an_item_without_parameters_has_no_version_until_it_gets_some(session):
    build_world(session, items_per_materi=3, n_materi=1, pretest_per_materi=1, with_pre=False)
    item = session.scalar(select(Item).where(Item.status == "pretest"))
    assert item.param_version is None and _history(session, item.id) == []


def test_pretest_readiness_counts_answers_and_says_when_the_rest_will_be_ready(session):



    t0 = dt.datetime(2026, 6, 1, 1, 0, tzinfo=dt.UTC)
    world = build_world(session, items_per_materi=40, n_materi=1, pretest_per_materi=3,
                        with_pre=False, settings={"min_items": 4, "max_items": 5,
                                                  "pretest_items_materi": 2,
                                                  "pretest_ready_responses": 4})
    for k, pid in enumerate(enrolled_participants(session, world.program, 4)):
        take(session, pid, world.materi_exams[0].id, right=True,
             now=t0 + dt.timedelta(days=k))
    now = t0 + dt.timedelta(days=4)
    rows = pretest_readiness(session, program_id=world.program.id, now=now)
    counted = dict(session.execute(
        select(Response.item_id, func.count()).where(Response.pretest.is_(True))
        .group_by(Response.item_id)).all())
    assert [r.answers for r in rows] == [counted.get(r.item_id, 0) for r in rows]
    assert sum(r.answers for r in rows) == 4 * 2
    for r in rows:
        assert r.ready == (r.answers >= 4)
        if not r.ready:
            # 7 days' pace: r.answers answers in 7 days, (4 - answers) still to come.
            days = (4 - r.answers) * 7 / r.answers
            assert abs((r.ready_by - now).total_seconds() - days * 86400) < 1
    report = bank_check(session, program_code=world.program.code, simulate=False).render()
    assert "M1: 3 pretest item(s)" in report and "of 4 needed for calibration" in report
