"""Item families and enemies in live exams (docs/item_bank.md "Item families").

Variants of one template and items marked as enemies count as one item: a participant never
gets two of a family, in one attempt or across attempts, scored or pretest, and the database
refuses a second one.  The checks read the response rows and the items' generating template,
not the seen-item set that enforces the rule.
"""

from __future__ import annotations

import itertools
import threading

import numpy as np
import pytest
from item_bank_helpers import build_world, enrolled_participants, run_concurrently, take
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from item_bank import admin, policy
from item_bank.errors import BankExhausted, InvalidInput
from item_bank.families import enemies_of, family_ids, mark_enemies, refresh_families
from item_bank.models import Attempt, Item, Response, SeenItem
from item_bank.reports import bank_check

WORKERS = 4


def _components(n: int, names: list[str], pairs: list[tuple[int, int]]) -> list[set[int]]:
    """Connected components by breadth-first search over explicit edges (the brute force)."""
    edges = {i: set() for i in range(n)}
    for i, j in itertools.combinations(range(n), 2):
        if names[i] and names[i] == names[j]:
            edges[i].add(j)
            edges[j].add(i)
    for i, j in pairs:
        edges[i].add(j)
        edges[j].add(i)
    left, out = set(range(n)), []
    while left:
        todo, comp = [left.pop()], set()
        while todo:
            i = todo.pop()
            comp.add(i)
            todo.extend(edges[i] - comp)
        left -= comp
        out.append(comp)
    return out


def test_family_ids_are_the_components_of_names_and_enemy_marks():
    rng = np.random.default_rng(40)
    for _ in range(30):
        n = int(rng.integers(1, 40))
        names = [str(rng.choice(["", "", "T1", "T2", "T3"])) for _ in range(n)]
        pairs = [tuple(sorted(rng.choice(n, 2, replace=False).tolist()))
                 for _ in range(int(rng.integers(0, 6)))] if n > 1 else []
        got = family_ids(((i, names[i]) for i in range(n)), pairs)
        for comp in _components(n, names, pairs):
            expected = min(comp) if len(comp) > 1 else None
            assert {got[i] for i in comp} == {expected}


def _world_with_families(session, *, pretest: int = 0, **kw):
    """One materi of 60 operational items, three variants per template (20 templates), and
    ``pretest`` pretest items, each a variant of a template of the operational ones."""
    world = build_world(session, n_materi=1, items_per_materi=60, with_pre=False,
                        pretest_per_materi=pretest, **kw)
    items = session.scalars(select(Item).where(Item.program_id == world.program.id)
                            .order_by(Item.id)).all()
    operational = [i for i in items if i.status == "operational"]
    for k, item in enumerate(operational):
        item.family = f"T{k % 20:02d}"
    for k, item in enumerate(i for i in items if i.status == "pretest"):
        item.family = f"T{k % 20:02d}"
    session.flush()
    refresh_families(session, world.program.id)
    session.commit()
    return world


def _template_repeats(session) -> list:
    """(participant, template) pairs shown more than once, from the responses."""
    return session.execute(
        select(Attempt.participant_id, Item.family, func.count())
        .join(Response, Response.attempt_id == Attempt.id)
        .join(Item, Item.id == Response.item_id)
        .group_by(Attempt.participant_id, Item.family).having(func.count() > 1)).all()


def test_no_participant_gets_two_items_of_a_template_across_attempts(Session, session):  # noqa: N803
    # 20 templates, 5 attempts of 4 scored items each: every participant meets all 20
    # templates once, concurrently with the others, pretest variants included.
    world = _world_with_families(session, pretest=10,
                                 settings={"min_items": 4, "max_items": 4,
                                           "materi_pass_score": 100, "pretest_items_materi": 1})
    pids = enrolled_participants(session, world.program, 12)
    session.commit()
    exam = world.materi_exams[0]

    def four_attempts(s, pid):
        for _ in range(4):
            take(s, pid, exam.id, right=False)

    run_concurrently(Session, pids, four_attempts, WORKERS)
    assert _template_repeats(session) == []
    shown = session.scalar(select(func.count(Response.id)))
    pretest = session.scalar(select(func.count(Response.id)).where(Response.pretest))
    assert pretest > 0 and shown == 12 * 4 * 4 + pretest
    # Four attempts of 4 (plus pretest) leave at most 20 - 16 - pretest templates: a fifth
    # attempt is refused at its start when fewer than 4 remain, never cut short mid-way.
    with pytest.raises(BankExhausted) as refused:
        policy.start_attempt(session, participant_id=pids[0], exam_id=exam.id)
    assert refused.value.params["available"] < 4
    session.rollback()


def test_a_bank_counts_its_templates_not_its_items(session):
    # 60 items of 20 templates cannot give a test of 25: refused at start, nothing stored.
    world = _world_with_families(session, settings={"min_items": 25, "max_items": 25})
    (pid,) = enrolled_participants(session, world.program, 1)
    session.commit()
    with pytest.raises(BankExhausted) as refused:
        policy.start_attempt(session, participant_id=pid, exam_id=world.materi_exams[0].id)
    assert refused.value.params == {"exam": "EX-M1", "needed": 25, "available": 20}
    session.rollback()
    assert session.scalar(select(func.count(Attempt.id))) == 0


def test_a_loft_form_holds_one_item_per_template(session):
    world = _world_with_families(session, assembly="loft",
                                 settings={"min_items": 15, "max_items": 15})
    pids = enrolled_participants(session, world.program, 5)
    session.commit()
    for pid in pids:
        take(session, pid, world.materi_exams[0].id, right=True)
    assert _template_repeats(session) == []
    assert session.scalar(select(func.count(Response.id))) == 5 * 15


def test_an_enemy_marked_after_a_showing_is_never_shown_next(session):
    world = build_world(session, n_materi=1, items_per_materi=12, with_pre=False,
                        settings={"min_items": 3, "max_items": 3, "materi_pass_score": 100})
    (pid,) = enrolled_participants(session, world.program, 1)
    session.commit()
    exam = world.materi_exams[0]
    take(session, pid, exam.id, right=False)
    seen = session.scalars(select(Response.item_id)).all()
    unseen = session.scalars(select(Item).where(Item.id.not_in(seen)).order_by(Item.id)).all()
    first = session.get(Item, seen[0])
    # Every unseen item but three becomes an enemy of a seen item: three remain possible.
    for other in unseen[3:]:
        mark_enemies(session, first.id, other.code, actor="writer")
    assert {i.code for i in enemies_of(session, first)} == {i.code for i in unseen[3:]}
    take(session, pid, exam.id, right=False)
    second = set(session.scalars(select(Response.item_id)).all()) - set(seen)
    assert second == {i.id for i in unseen[:3]}
    with pytest.raises(BankExhausted):
        policy.start_attempt(session, participant_id=pid, exam_id=exam.id)
    session.rollback()


def test_enemy_marks_refuse_the_item_itself_and_unknown_codes(session):
    world = build_world(session, n_materi=1, items_per_materi=3, with_pre=False)
    item = session.scalars(select(Item).order_by(Item.id)).first()
    with pytest.raises(InvalidInput):
        mark_enemies(session, item.id, item.code, actor="writer")
    with pytest.raises(InvalidInput):
        mark_enemies(session, item.id, "NO-SUCH-ITEM", actor="writer")
    other = admin.create_program(session, code="LAIN", name="Lain", settings={})
    mat = admin.add_materi(session, other, code="M1", name="M")
    session.add(admin.new_item(other, mat, code="LAIN-1", stem="?", options=["a", "b"], key=0))
    session.commit()
    with pytest.raises(InvalidInput):  # an item of another program is not found from this one
        mark_enemies(session, item.id, "LAIN-1", actor="writer")
    assert world.program.id != other.id


def test_the_database_refuses_a_second_item_of_one_family(session):
    world = _world_with_families(session, settings={"min_items": 3, "max_items": 3})
    (pid,) = enrolled_participants(session, world.program, 1)
    session.commit()
    take(session, pid, world.materi_exams[0].id, right=False)
    row = session.execute(select(SeenItem.item_id, SeenItem.attempt_id, Item.family_id)
                          .join(Item, Item.id == SeenItem.item_id)).first()
    sibling = session.scalar(select(Item.id).where(Item.family_id == row.family_id,
                                                   Item.id != row.item_id))
    with pytest.raises(IntegrityError):
        session.execute(insert(SeenItem).values(
            participant_id=pid, program_id=world.program.id, item_id=sibling,
            family_id=row.family_id, attempt_id=row.attempt_id))
    session.rollback()


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # SQLite: one writer at once
def test_enemy_marks_made_at_once_join_one_family(Session, session):  # noqa: N803
    # Two writers mark A-B and B-C at the same moment, ten times over: every time A, B and C
    # end in one family (each refresh reads the other's mark once it holds the program).
    build_world(session, n_materi=1, items_per_materi=30, with_pre=False)
    items = session.scalars(select(Item).order_by(Item.id)).all()
    errors: list[BaseException] = []

    def mark(barrier, item_id, code):
        with Session() as s:
            try:
                barrier.wait()
                mark_enemies(s, item_id, code, actor="writer")
            except BaseException as exc:  # reported below
                errors.append(exc)

    for k in range(10):
        a, b, c = items[3 * k: 3 * k + 3]
        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=mark, args=(barrier, a.id, b.code)),
                   threading.Thread(target=mark, args=(barrier, c.id, b.code))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        session.expire_all()
        assert {session.get(Item, i.id).family_id for i in (a, b, c)} == {a.id}


def test_bank_check_counts_a_family_once(session):
    world = _world_with_families(session, settings={"min_items": 4, "max_items": 4})
    report = bank_check(session, program_code=world.program.code, simulate=False)
    (line,) = [x for x in report.lines if x.exam == "EX-M1" and not x.tag]
    assert line.available == 20  # 60 items, 20 templates
    tags = {x.tag: x.available for x in report.lines if x.exam == "EX-M1" and x.tag}
    assert tags == {"T1": 10, "T2": 10}  # the templates are tag-pure (k % 20 keeps parity)
