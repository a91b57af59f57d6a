"""The pool version (migration 0004) and the pool cache keyed on it, on SQLite and PostgreSQL.

The version must move with every committed change to what a pool is made of, once per
transaction on PostgreSQL, in commit order, without deadlocks between item editors; and
exam_pool must give a new pool exactly when it moved.
"""

from __future__ import annotations

import random
import threading

import pytest
from alembic import command
from item_bank_helpers import build_world
from sqlalchemy import func, inspect, select, text, update
from sqlalchemy.exc import IntegrityError

from item_bank import admin
from item_bank.db import alembic_config
from item_bank.models import ContentTag, Item, ItemStatus, Materi, PoolVersion
from item_bank.pools import exam_pool, pool_version

# Overrides the db_url fixture's parameters: these tests need PostgreSQL's concurrency.
postgres_only = pytest.mark.parametrize(
    "db_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)


def _moved_by(session, change) -> int:
    """How far ``change(session)``, committed, moves the version."""
    before = pool_version(session)
    session.commit()
    change(session)
    session.commit()
    after = pool_version(session)
    session.commit()
    return after - before


def _one(session, model, **where):
    return session.scalars(select(model).filter_by(**where).order_by(model.id).limit(1)).one()


def _operational(session):
    return _one(session, Item, status=ItemStatus.OPERATIONAL)


def test_every_kind_of_pool_change_moves_the_version_and_reading_does_not(session):
    world = build_world(session, n_materi=1, items_per_materi=6, with_pre=False)
    mat, exam = world.materi[0], world.materi_exams[0]
    session.commit()

    def insert(s):
        s.add(admin.new_item(world.program, mat, code="NEW-1", stem="New question",
                             options=["x", "y"], key=0))

    def new_b(s):
        _operational(s).b = 0.25

    def retire(s):
        _operational(s).transition("retired")

    def new_stem(s):
        _operational(s).stem = "Edited question"

    def delete(s):
        s.delete(_one(s, Item, code="NEW-1"))

    def rename_tag(s):
        _one(s, ContentTag, code="T1").code = "T1-renamed"

    def rename_materi(s):
        _one(s, Materi, code="M1").code = "M1-renamed"

    def read(s):
        assert exam_pool(s, exam) is not None
        s.scalars(select(Item)).all()
        s.scalars(select(ContentTag)).all()

    # One row changed each time: one bump on either backend.
    moves = {change.__name__: _moved_by(session, change) for change in
             (insert, new_b, retire, new_stem, delete, rename_tag, rename_materi, read)}
    assert moves == {"insert": 1, "new_b": 1, "retire": 1, "new_stem": 1, "delete": 1,
                     "rename_tag": 1, "rename_materi": 1, "read": 0}


def test_one_transaction_over_many_items(session, db_url):
    world = build_world(session, n_materi=1, items_per_materi=40, with_pre=False)

    def recalibrate(s):
        s.execute(update(Item).where(Item.program_id == world.program.id)
                  .values(b=Item.b + 0.1))

    # PostgreSQL: once per transaction.  SQLite bumps per row (one writer at a time, so the
    # order is still the commit order).
    assert _moved_by(session, recalibrate) == (1 if db_url.startswith("postgresql") else 40)


def test_a_rolled_back_change_leaves_the_version(session):
    build_world(session, n_materi=1, items_per_materi=3, with_pre=False)
    before = pool_version(session)
    session.commit()
    _operational(session).b = 1.75
    session.flush()
    session.rollback()
    assert pool_version(session) == before


def test_the_version_row_is_the_only_one(session):
    assert session.scalars(select(PoolVersion.id)).all() == [1]
    session.add(PoolVersion(id=2, version=1))
    with pytest.raises(IntegrityError):
        session.flush()


def test_exam_pool_is_cached_until_the_version_moves(session):
    world = build_world(session, n_materi=1, items_per_materi=8, with_pre=False)
    exam = world.materi_exams[0]
    session.commit()
    first = exam_pool(session, exam)
    version = pool_version(session)
    assert exam_pool(session, exam) is first
    assert exam_pool(session, exam, version=version) is first
    assert set(first.bank.content) == {"T1", "T2"}

    item = _operational(session)
    item.b = 2.5
    session.commit()
    second = exam_pool(session, exam)
    assert second is not first
    assert second.bank.b[second.positions([item.id])[0]] == 2.5
    assert first.bank.b[first.positions([item.id])[0]] != 2.5
    assert exam_pool(session, exam) is second

    _one(session, ContentTag, code="T2").code = "T2-renamed"
    session.commit()
    # A version that the caller read before the rename (here: one never cached) misses; the
    # pool is read with the version of its rows and cached under that one.
    third = exam_pool(session, exam, version=version + 1000)
    assert set(third.bank.content) == {"T1", "T2-renamed"}
    assert exam_pool(session, exam) is third

    empty = admin.add_materi(session, world.program, code="M9", name="Empty",
                             content_tags=["T1"])
    no_items = admin.add_exam(session, world.program, code="EX-M9", kind="materi", materi=empty)
    session.commit()
    assert exam_pool(session, no_items) is None


def _old_signature(session, exam) -> tuple:
    """The aggregate the pool cache was keyed on before migration 0004."""
    return tuple(session.execute(
        select(func.count(Item.id), func.sum(Item.id), func.max(Item.updated_at))
        .where(Item.program_id == exam.program_id, Item.materi_id == exam.materi_id,
               Item.status == ItemStatus.OPERATIONAL)).one())


@postgres_only
def test_overlapping_edits_committed_out_of_start_order_reach_the_pool(Session, session):  # noqa: N803
    world = build_world(session, n_materi=1, items_per_materi=10, with_pre=False)
    exam = world.materi_exams[0]
    x_id, y_id = session.scalars(select(Item.id).order_by(Item.id).limit(2)).all()
    session.commit()
    old = exam_pool(session, exam)
    old_x = old.bank.b[old.positions([x_id])[0]]
    session.commit()
    with Session() as t1, Session() as t2:
        t1.get(Item, x_id).b = 1.5
        t1.flush()  # T1 started first: its updated_at = now() is the earlier time
        # Were the counter locked before commit, T2 would wait for T1 here for ever (one
        # thread): fail instead.
        t2.execute(text("SET LOCAL lock_timeout = '10s'"))
        t2.get(Item, y_id).b = -1.5
        t2.commit()  # T2 started later and commits first
        between = exam_pool(session, exam)
        session.commit()
        assert between.bank.b[between.positions([y_id])[0]] == -1.5
        assert between.bank.b[between.positions([x_id])[0]] == old_x
        signature = _old_signature(session, exam)
        session.commit()
        t1.commit()
    # The old key (count, id sum, last update) does not see T1's commit: a pool cached under
    # it would have kept x's old b for good.
    assert _old_signature(session, exam) == signature
    after = exam_pool(session, exam)
    assert after is not between
    assert after.bank.b[after.positions([x_id])[0]] == 1.5
    assert after.bank.b[after.positions([y_id])[0]] == -1.5


@postgres_only
def test_concurrent_item_editors_neither_deadlock_nor_lose_a_bump(Session, session):  # noqa: N803
    threads, rounds = 6, 5
    build_world(session, n_materi=1, items_per_materi=3 * threads + 1, with_pre=False)
    ids = session.scalars(select(Item.id).order_by(Item.id)).all()
    start = pool_version(session)
    session.commit()
    barrier = threading.Barrier(threads)
    errors: list[Exception] = []

    def bump_b(s, item_id: int) -> None:
        s.execute(update(Item).where(Item.id == item_id).values(b=Item.b + 0.01))

    def editor(i: int) -> None:
        try:
            # A chain: thread i edits items i and i + 1, in id order (so the item locks alone
            # cannot deadlock), all first edits done before any second one.  Thread i then
            # waits for thread i + 1's commit.  An immediate counter trigger would deadlock
            # here: the thread that took the counter with its first edit waits for its
            # neighbour's item, and the neighbour waits for the counter.
            with Session() as s:
                bump_b(s, ids[i])
                barrier.wait(timeout=30)
                bump_b(s, ids[i + 1])
                s.commit()
            # Then edits of the thread's own two items, in random order, racing the others
            # for the counter at commit.
            own = [ids[threads + 1 + 2 * i], ids[threads + 2 + 2 * i]]
            rng = random.Random(i)
            for _ in range(rounds):
                with Session() as s:
                    for item_id in rng.sample(own, 2):
                        bump_b(s, item_id)
                    s.commit()
        except Exception as exc:  # collected and asserted on below
            errors.append(exc)

    workers = [threading.Thread(target=editor, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not errors, errors[:3]
    assert pool_version(session) == start + threads * (1 + rounds)


def _pool_triggers(session) -> set[str]:
    if session.get_bind().dialect.name == "postgresql":
        sql = "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
    else:
        sql = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
    return {name for (name,) in session.execute(text(sql)) if "pool_version" in name}


def test_downgrade_removes_the_counter_and_its_triggers(db_url, engine, Session):  # noqa: N803
    with Session() as session:
        expected = {"item_pool_version", "content_tag_pool_version", "materi_pool_version"}
        if session.get_bind().dialect.name == "sqlite":
            expected = {f"{table}_pool_version_{event}"
                        for table, events in (("item", ("insert", "update", "delete")),
                                              ("content_tag", ("update", "delete")),
                                              ("materi", ("update", "delete")))
                        for event in events}
        assert _pool_triggers(session) == expected
    engine.dispose()
    command.downgrade(alembic_config(db_url), "0003")
    assert "pool_version" not in inspect(engine).get_table_names()
    with Session() as session:
        assert _pool_triggers(session) == set()
        if session.get_bind().dialect.name == "postgresql":
            assert session.scalar(text(
                "SELECT count(*) FROM pg_proc WHERE proname = 'pool_version_bump'")) == 0
        # Items can still be written without the counter (in SQL: the models are the head
        # revision's, whose later columns a schema at 0003 does not have).
        program = session.execute(text(
            "INSERT INTO program (code, name, is_open, settings) VALUES ('OLD', 'Lama', "
            ":open, '{}') RETURNING id"), {"open": True}).scalar_one()
        materi = session.execute(text(
            "INSERT INTO materi (program_id, code, name) VALUES (:program, 'M1', 'Materi') "
            "RETURNING id"), {"program": program}).scalar_one()
        session.execute(text(
            "INSERT INTO item (program_id, code, materi_id, stem, options, answer_key, model, "
            "a, b, c, status, version, author, created_at, updated_at) VALUES (:program, "
            "'OLD-1', :materi, 'Berapa 2 + 2?', '[\"4\", \"5\"]', 0, '2pl', 1.0, 0.0, 0.0, "
            "'operational', 1, '', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"),
            {"program": program, "materi": materi})
        session.commit()
    engine.dispose()
    command.upgrade(alembic_config(db_url), "head")
    with Session() as session:
        assert pool_version(session) == 1
        assert _moved_by(session, lambda s: setattr(_operational(s), "b", 0.5)) == 1
