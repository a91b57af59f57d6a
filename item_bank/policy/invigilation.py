"""The invigilator's actions on a running attempt: extend its time, end it.

Both run under the participant's lock, like every request of the participant: an extension
or an end racing the participant's last answer or the deadline sweeper is serialized with
it, so an answer is never lost and an attempt is never graded twice.

**Where the extension lives.**  An attempt's deadline is computed once, when it starts
(:func:`.decide.start`: start + the exam's duration, capped at the window's close), and
stored in ``attempt.deadline``; every reader takes it from there: both stores
(:mod:`.store_orm`, :mod:`.store_pg`) load it into the facts the decision reads (grace,
expiry, pretest seeding), the participant's remaining time is computed from it
(:mod:`.views`) and the deadline sweeper selects by it (:func:`item_bank.policy.
expire_due_attempts`).  An extension moves that one stored value, so all of them honour it;
the ``attempt_extension`` rows record who, when, why and how much, and bound the total.
An extension may carry the deadline past the exam window's close: it is the invigilator's
documented decision.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from ..errors import Conflict, InvalidInput, NotFound
from ..models import Attempt, AttemptExtension, AttemptState, AuditLog
from ..models.limits import text_problem
from ..tx import CommitThenRefuse, transaction
from . import _attempt_call, _token
from .decide import End, Sweep, decide
from .store_orm import OrmStore

# RULE: an invigilator gives back time lost to an incident, not a second exam: each extension
# is 1 to 120 minutes and all of an attempt's together at most 120.
MAX_EXTENSION_MINUTES = 120
REASON_MAX = 500


@dataclass(frozen=True)
class Extended:
    """The attempt's new deadline and the minutes it has been extended by in all."""

    attempt_id: int
    deadline: dt.datetime
    total_minutes: int


def _participant_of(session: Session, attempt_id: int) -> int:
    participant_id = session.scalar(select(Attempt.participant_id)
                                    .where(Attempt.id == attempt_id))
    if participant_id is None:
        raise NotFound("attempt_not_found")
    return participant_id


def extended_seconds_query(attempt_id: Any) -> Select:
    """The seconds attempt ``attempt_id`` (an id, or a column such as ``Attempt.id`` for a
    correlated subquery) has been extended by in all."""
    return (select(func.coalesce(func.sum(AttemptExtension.seconds), 0))
            .where(AttemptExtension.attempt_id == attempt_id))


def extended_seconds(session: Session, attempt_id: int) -> int:
    """The seconds the attempt's time has been extended by in all."""
    return int(session.scalar(extended_seconds_query(attempt_id)))


def extend_attempt(session: Session, *, attempt_id: int, minutes: int, reason: str,
                   actor: str, now: dt.datetime | None = None) -> Extended:
    """Extend the running attempt's time by ``minutes`` for ``reason``, audited.

    Refused (nothing stored): InvalidInput ``extension_minutes`` (not 1 to the bound left),
    ``extension_reason_required`` / ``extension_reason_invalid``; NotFound for an unknown
    attempt; Conflict ``attempt_finished`` once the attempt is final, and ``time_up`` when
    its time (and grace) is already over: then the attempt is ended and graded as the
    sweeper would, and that is committed.
    """
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("extension_reason_required")
    if text_problem(reason, REASON_MAX):
        raise InvalidInput("extension_reason_invalid", max=REASON_MAX)
    if isinstance(minutes, bool) or not 1 <= minutes <= MAX_EXTENSION_MINUTES:
        raise InvalidInput("extension_minutes", minutes=minutes, left=MAX_EXTENSION_MINUTES,
                           max=MAX_EXTENSION_MINUTES)
    participant_id = _participant_of(session, attempt_id)
    with transaction(session):
        store = OrmStore(session)
        now, load = store.locked_attempt(participant_id, attempt_id, now, lambda _v: None)
        if not load.attempt.running:
            raise Conflict("attempt_finished")
        # Past its deadline and grace the attempt is over already: it is ended as the sweeper
        # ends it (the participant's answers stand), never revived.
        effects = decide(load, Sweep(_token()), now)
        if effects.finish is not None:
            store.apply(load, effects)
            raise CommitThenRefuse(Conflict("time_up"))
        used = extended_seconds(session, attempt_id)
        left = MAX_EXTENSION_MINUTES - used // 60
        if minutes > left:
            raise InvalidInput("extension_minutes", minutes=minutes, left=left,
                               max=MAX_EXTENSION_MINUTES)
        seconds = minutes * 60
        deadline = load.attempt.deadline + dt.timedelta(seconds=seconds)
        written = session.execute(
            update(Attempt).where(Attempt.id == attempt_id,
                                  Attempt.state == AttemptState.STARTED)
            .values(deadline=deadline)).rowcount
        if written != 1:  # cannot happen under the participant's lock
            raise Conflict("attempt_finished")
        session.add(AttemptExtension(attempt_id=attempt_id, seconds=seconds, reason=reason,
                                     actor=actor, created_at=now))
        session.add(AuditLog(actor=actor, action="attempt_extended",
                             subject=f"attempt:{attempt_id}",
                             details={"minutes": minutes, "reason": reason,
                                      "deadline": deadline.isoformat()}))
        session.flush()
        return Extended(attempt_id=attempt_id, deadline=deadline,
                        total_minutes=(used + seconds) // 60)


def end_attempt(session: Session, *, attempt_id: int, actor: str,
                now: dt.datetime | None = None) -> bool:
    """End the running attempt now, graded as the product grades a finished attempt (the
    decision's :class:`.decide.End`), with an audit entry naming ``actor``.  Returns False
    when the attempt was already final (nothing changes: a second click, or the participant
    or the sweeper finished it first); NotFound for an unknown attempt."""
    participant_id = _participant_of(session, attempt_id)

    def ended(_store, _load, effects, _attempt, _responses, _now) -> bool:
        return effects.finish is not None

    return _attempt_call(session, participant_id, attempt_id,
                         End(_token(), actor), now, ended)


__all__ = ["MAX_EXTENSION_MINUTES", "Extended", "end_attempt", "extend_attempt",
           "extended_seconds", "extended_seconds_query"]
