"""The answer path's cost and the pool cache: SQL statements per answer do not grow with the
length of the test, and a cached pool never serves an item retired since it was built."""

from __future__ import annotations

import uuid

import pytest
from item_bank_helpers import answer, build_world, enrolled_participants
from sqlalchemy import event, make_url, select

from item_bank import policy
from item_bank.db import make_engine, session_factory
from item_bank.models import Item, Response
from item_bank.policy.store_pg import PgStore

LONG = {"min_items": 20, "max_items": 20, "se_target": 0.01}


def test_statements_per_answer_do_not_grow_with_the_test(session, engine, monkeypatch):
    """Counted on both databases: through SQLAlchemy (the ORM store, and the test's own key
    look-ups) and through the PostgreSQL store's driver cursor."""
    world = build_world(session, n_materi=1, items_per_materi=80, settings=LONG, seed=3,
                        with_pre=False)
    (pid,) = enrolled_participants(session, world.program, 1)
    view = policy.start_attempt(session, participant_id=pid, exam_id=world.materi_exams[0].id)
    item = policy.current_item(session, participant_id=pid, attempt_id=view.attempt_id)
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    per_answer = []
    driver = PgStore._execute

    def counted(store, sql, params):
        statements.append(sql)
        return driver(store, sql, params)

    monkeypatch.setattr(PgStore, "_execute", counted)
    event.listen(engine, "before_cursor_execute", count)
    try:
        for position in range(1, 20):
            session.commit()
            statements.clear()
            outcome = answer(session, pid, view.attempt_id, item.item_id, position % 2 == 0)
            # answer() first looks the key up with two statements of its own.
            per_answer.append(len(statements) - 2)
            item = outcome.next_item
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert not outcome.finished and item.position == 20
    # Constant from the second answer on (the first may do one-off work): a per-response lazy
    # load would add one statement per earlier item (answer 19 would cost 17 more than answer 2).
    assert max(per_answer[1:]) == min(per_answer[1:]), per_answer
    # PostgreSQL: lock and read (one function call), and the write that also reads the new
    # item's text (once per item and pool version); SQLite: BEGIN, the lock, 7 reads, 4 writes
    # and the text.
    assert per_answer[1] == (2 if engine.dialect.name == "postgresql" else 14), per_answer


def test_cached_pool_never_serves_an_item_retired_mid_attempt(session):
    world = build_world(session, n_materi=1, items_per_materi=60, settings=LONG, seed=4,
                        with_pre=False)
    pid, other = enrolled_participants(session, world.program, 2)
    exam_id = world.materi_exams[0].id
    # Another attempt first, so that the pool is built and cached before the retirement.
    policy.start_attempt(session, participant_id=other, exam_id=exam_id)
    view = policy.start_attempt(session, participant_id=pid, exam_id=exam_id)
    item = policy.current_item(session, participant_id=pid, attempt_id=view.attempt_id)
    retired = set(session.scalars(select(Item.id).where(
        Item.id != item.item_id, Item.materi_id == world.materi[0].id).limit(40)))
    for row in session.scalars(select(Item).where(Item.id.in_(retired))):
        row.transition("retired")
    session.commit()
    while item is not None:
        outcome = answer(session, pid, view.attempt_id, item.item_id, True)
        item = outcome.next_item
    given = set(session.scalars(select(Response.item_id).where(
        Response.attempt_id == view.attempt_id)))
    # 20 items: the first one (shown before the retirement) and the 19 left operational.
    assert len(given) == 20 and not given & retired


@pytest.mark.postgres
def test_without_the_temporary_privilege_an_answer_takes_one_round_trip_more(
        postgres_database, postgres_template, monkeypatch):
    """A database user that may not create temporary objects (an operator revoked TEMPORARY
    from PUBLIC) cannot have the store's lock-and-read function: its answers lock and read in
    two statements and are stored all the same."""
    url = postgres_database("t", template=postgres_template)
    role = f"no_temp_{uuid.uuid4().hex[:8]}"
    admin = make_engine(url)
    with admin.begin() as c:
        database = c.exec_driver_sql("SELECT current_database()").scalar_one()
        for sql in (f'CREATE ROLE "{role}" LOGIN',
                    f'REVOKE TEMPORARY ON DATABASE "{database}" FROM PUBLIC',
                    f'GRANT USAGE ON SCHEMA public TO "{role}"',
                    "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public "
                    f'TO "{role}"',
                    f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "{role}"'):
            c.exec_driver_sql(sql)
    engine = make_engine(make_url(url).set(username=role).render_as_string(hide_password=False))
    statements: list[str] = []
    driver = PgStore._execute

    def counted(store, sql, params):
        statements.append(sql)
        return driver(store, sql, params)

    monkeypatch.setattr(PgStore, "_execute", counted)
    try:
        with session_factory(engine)() as session:
            world = build_world(session, n_materi=1, items_per_materi=40, settings=LONG, seed=5,
                                with_pre=False)
            (pid,) = enrolled_participants(session, world.program, 1)
            view = policy.start_attempt(session, participant_id=pid,
                                        exam_id=world.materi_exams[0].id)
            item = policy.current_item(session, participant_id=pid, attempt_id=view.attempt_id)
            per_answer = []
            for position in range(1, 6):
                statements.clear()
                outcome = answer(session, pid, view.attempt_id, item.item_id, position % 2 == 0)
                per_answer.append(len(statements))
                item = outcome.next_item
            session.expire_all()
            stored = session.scalars(select(Response).where(
                Response.attempt_id == view.attempt_id, Response.answered_at.is_not(None)))
            assert len(stored.all()) == 5
    finally:
        engine.dispose()
        admin.dispose()
    # The first answer also tried to create the function; then lock, read and write.
    assert per_answer[1:] == [3, 3, 3, 3], per_answer
