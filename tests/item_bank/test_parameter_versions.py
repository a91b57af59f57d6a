"""Parameter versions: every set of parameters an item has had is kept (who, when, which
run), the item names the one in force, and each response the one it was shown with."""

from __future__ import annotations

from item_bank_helpers import build_world, enrolled_participants
from sqlalchemy import select

from item_bank import authoring, policy
from item_bank.models import Item, ItemParameters, Response


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
