"""The plain answer path of PostgreSQL (``item_bank.policy._answer_plain_case``, raw SQL)
against the general ORM path: the same participants answering the same way must be shown the
same items in the same option order, be graded the same and leave the same rows."""

from __future__ import annotations

import bench_load as load
import pytest
from sqlalchemy import select

from item_bank import policy
from item_bank.db import make_engine, session_factory
from item_bank.models import Attempt, ItemExposure, Participant, Response, SeenItem

pytestmark = pytest.mark.postgres


def _take_all(db_url: str, nips: list[str], exam_id: int) -> tuple[list, list, list]:
    """Every participant in turn takes the exam, choosing by item id; returns what they saw
    and what the database holds afterwards."""
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
                    outcome = policy.record_answer(
                        s, participant_id=pid, attempt_id=attempt.attempt_id,
                        item_id=item.item_id, choice=item.item_id % len(item.options))
                    seen.append((pid, item.item_id, item.position, tuple(item.options),
                                 outcome.stored, outcome.finished, item.answered))
                    item = outcome.next_item
            responses = s.execute(
                select(Attempt.participant_id, Response.position, Response.item_id,
                       Response.shown_order, Response.choice, Response.shown_choice,
                       Response.correct, Response.answered_at.is_not(None))
                .join(Attempt, Attempt.id == Response.attempt_id)
                .order_by(Attempt.participant_id, Response.position)).all()
            graded = s.execute(select(Attempt.participant_id, Attempt.state, Attempt.theta,
                                      Attempt.se, Attempt.score, Attempt.stop_reason)
                               .order_by(Attempt.participant_id)).all()
            exposure = s.execute(select(ItemExposure.item_id, ItemExposure.count)
                                 .order_by(ItemExposure.item_id)).all()
            seen_items = s.execute(select(SeenItem.participant_id, SeenItem.item_id)
                                   .order_by(SeenItem.participant_id, SeenItem.item_id)).all()
    finally:
        engine.dispose()
    return seen, [tuple(r) for r in responses], [tuple(r) for r in graded + exposure
                                                 + seen_items]


def test_plain_path_equals_general_path(pg, monkeypatch):
    # Attempt seeds are random in production; fixed here so both runs draw the same streams.
    monkeypatch.setattr(policy.secrets, "randbits", lambda _bits: 424242)
    runs = []
    for plain in (True, False):
        db = pg.create_database(f"paths_{'plain' if plain else 'general'}")
        prepared = load.prepare_database(db, 6, items=12)
        calls = []
        original = policy._answer_plain_case

        def spy(*args, _original=original, _calls=calls, **kwargs):
            outcome = _original(*args, **kwargs)
            _calls.append(outcome is not None)
            return outcome

        monkeypatch.setattr(policy, "_answer_plain_case",
                            spy if plain else (lambda *a, **k: None))
        runs.append(_take_all(db, prepared.nips, prepared.exam_id))
        if plain:
            # Every answer but the last of each attempt took the plain path.
            assert calls.count(True) == 6 * 11 and calls.count(False) == 6
    (seen_plain, rows_plain, rest_plain), (seen_general, rows_general, rest_general) = runs
    assert len(seen_plain) == 6 * 12 and len(rows_plain) == 6 * 12
    assert seen_plain == seen_general
    assert rows_plain == rows_general
    assert rest_plain == rest_general
