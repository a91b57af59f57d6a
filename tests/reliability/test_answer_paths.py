"""The plain path of PostgreSQL (``item_bank.policy._answer_plain_case`` and
``_result_plain_case``, raw SQL) against the general ORM path: the same participants answering
the same way must be shown the same items in the same option order, be graded the same, get
the same results and leave the same rows."""

from __future__ import annotations

import dataclasses

import bench_load as load
import pytest
from sqlalchemy import select

from item_bank import policy
from item_bank.db import make_engine, session_factory
from item_bank.models import (
    Attempt,
    AuditLog,
    Certificate,
    Item,
    ItemExposure,
    Participant,
    Response,
    SeenItem,
)

pytestmark = pytest.mark.postgres

PARTICIPANTS, ITEMS = 6, 12


def _choice(s, knows_keys: bool, attempt_id: int, item) -> int:
    """The first participant knows every key (and earns the pre-assessment's certificate);
    the others choose by item id."""
    if not knows_keys:
        return item.item_id % len(item.options)
    shown_order, key = s.execute(
        select(Response.shown_order, Item.key).join(Item, Item.id == Response.item_id)
        .where(Response.attempt_id == attempt_id, Response.item_id == item.item_id)).one()
    s.commit()
    return shown_order.index(key)


def _take_all(db_url: str, nips: list[str], exam_id: int) -> tuple[list, list, list]:
    """Every participant in turn takes the exam and asks for the result; returns what they
    saw and what the database holds afterwards."""
    engine = make_engine(db_url)
    seen = []
    try:
        with session_factory(engine)() as s:
            ids = list(s.scalars(select(Participant.id).where(Participant.nip.in_(nips))
                                 .order_by(Participant.id)))
            for pid in ids:
                attempt = policy.start_attempt(s, participant_id=pid, exam_id=exam_id)
                item = policy.current_item(s, participant_id=pid, attempt_id=attempt.attempt_id)
                while item is not None:
                    choice = _choice(s, pid == ids[0], attempt.attempt_id, item)
                    outcome = policy.record_answer(
                        s, participant_id=pid, attempt_id=attempt.attempt_id,
                        item_id=item.item_id, choice=choice)
                    seen.append((pid, item.item_id, item.position, tuple(item.options),
                                 outcome.stored, outcome.finished, item.answered,
                                 outcome.result))
                    item = outcome.next_item
                seen.append(policy.attempt_result(s, participant_id=pid,
                                                  attempt_id=attempt.attempt_id))
            responses = s.execute(
                select(Attempt.participant_id, Response.position, Response.item_id,
                       Response.shown_order, Response.choice, Response.shown_choice,
                       Response.correct, Response.answered_at.is_not(None))
                .join(Attempt, Attempt.id == Response.attempt_id)
                .order_by(Attempt.participant_id, Response.position)).all()
            graded = s.execute(select(Attempt.participant_id, Attempt.state, Attempt.theta,
                                      Attempt.se, Attempt.score, Attempt.passed,
                                      Attempt.stop_reason, Attempt.finished_at.is_not(None))
                               .order_by(Attempt.participant_id)).all()
            exposure = s.execute(select(ItemExposure.item_id, ItemExposure.count)
                                 .order_by(ItemExposure.item_id)).all()
            seen_items = s.execute(select(SeenItem.participant_id, SeenItem.item_id)
                                   .order_by(SeenItem.participant_id, SeenItem.item_id)).all()
            audit = s.execute(select(AuditLog.actor, AuditLog.action, AuditLog.subject,
                                     AuditLog.details).order_by(AuditLog.id)).all()
            certificates = s.execute(select(Certificate.participant_id, Certificate.route,
                                            Certificate.score)).all()
    finally:
        engine.dispose()
    return seen, [tuple(r) for r in responses], [tuple(r) for r in graded + exposure
                                                 + seen_items + certificates] + [
        (r[0], r[1], r[2].split(":")[0], r[3]) for r in audit]  # ids differ between runs


def test_plain_path_equals_general_path(pg, monkeypatch):
    # Attempt seeds are random in production; fixed here so both runs draw the same streams.
    monkeypatch.setattr(policy.secrets, "randbits", lambda _bits: 424242)
    runs = []
    for plain in (True, False):
        db = pg.create_database(f"paths_{'plain' if plain else 'general'}")
        prepared = load.prepare_database(db, PARTICIPANTS, items=ITEMS)
        calls = {"answer": [], "result": []}
        for name, kind in (("_answer_plain_case", "answer"), ("_result_plain_case", "result")):
            original = getattr(policy, name)

            def spy(*args, _original=original, _calls=calls[kind], **kwargs):
                outcome = _original(*args, **kwargs)
                _calls.append(outcome is not None)
                return outcome

            monkeypatch.setattr(policy, name, spy if plain else (lambda *a, **k: None))
        runs.append(_take_all(db, prepared.nips, prepared.exam_id))
        if plain:
            # Every answer took the plain path but the last of the participant who earned
            # the certificate (the general path issues certificates); so did every result.
            assert calls["answer"].count(False) == 1
            assert calls["answer"].count(True) == PARTICIPANTS * ITEMS - 1
            assert calls["result"] == [True] * PARTICIPANTS
    (seen_plain, rows_plain, rest_plain), (seen_general, rows_general, rest_general) = runs
    assert len(seen_plain) == PARTICIPANTS * (ITEMS + 1)
    assert len(rows_plain) == PARTICIPANTS * ITEMS
    results = [s for s in seen_plain if isinstance(s, policy.AttemptResult)]
    assert [r.certificate_number is not None for r in results] == [True] + [False] * 5
    assert all(r.state == "submitted" and r.score is not None for r in results)
    # Certificate numbers are random: equal once blanked.
    blank = {"certificate_number": None}
    assert [_blank(s, blank) for s in seen_plain] == [_blank(s, blank) for s in seen_general]
    assert rows_plain == rows_general
    assert rest_plain == rest_general


def _blank(seen, blank: dict):
    if isinstance(seen, policy.AttemptResult):
        return dataclasses.replace(seen, **blank)
    if seen[-1] is None:
        return seen
    return (*seen[:-1], dataclasses.replace(seen[-1], **blank))
