"""Attempts, responses and the per-program set of items each participant has seen."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    false,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base
from .exam import Exam
from .item import Item


class AttemptState(enum.StrEnum):
    STARTED = "started"
    SUBMITTED = "submitted"
    EXPIRED = "expired"


# Terminal states never go back: a submitted or expired attempt is final.
ATTEMPT_TRANSITIONS: dict[AttemptState, frozenset[AttemptState]] = {
    AttemptState.STARTED: frozenset({AttemptState.SUBMITTED, AttemptState.EXPIRED}),
    AttemptState.SUBMITTED: frozenset(),
    AttemptState.EXPIRED: frozenset(),
}


class Attempt(Base):
    __tablename__ = "attempt"
    __table_args__ = (
        # RULE: SPEC.md flow 1-3 — attempts are numbered per participant, program and slot
        # (pre_assessment / materi:<id> / ujikom); the database refuses a duplicate number.
        UniqueConstraint("participant_id", "program_id", "slot", "number"),
        CheckConstraint("number >= 1", name="number_positive"),
        CheckConstraint("(state = 'started') = (finished_at IS NULL)", name="finished_iff_final"),
        # At most one running attempt per slot, even if two requests race past the checks.
        Index("uq_attempt_one_running", "participant_id", "program_id", "slot", unique=True,
              sqlite_where=text("state = 'started'"),
              postgresql_where=text("state = 'started'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id"), index=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("program.id"))
    exam_id: Mapped[int] = mapped_column(ForeignKey("exam.id"), index=True)
    slot: Mapped[str] = mapped_column(String(40))
    number: Mapped[int]
    state: Mapped[AttemptState] = mapped_column(
        Enum(AttemptState, native_enum=False, length=16,
             values_callable=lambda e: [m.value for m in e]),
        default=AttemptState.STARTED,
    )
    started_at: Mapped[dt.datetime]
    deadline: Mapped[dt.datetime]
    finished_at: Mapped[dt.datetime | None]
    seed: Mapped[int] = mapped_column(default=0)
    theta: Mapped[float | None]
    se: Mapped[float | None]
    score: Mapped[float | None]
    passed: Mapped[bool | None]
    stop_reason: Mapped[str | None] = mapped_column(String(20))
    # RULE: docs/item_bank.md "Cold start" — "proportion" when the score is the share of right
    # answers (a LOFT form of provisional items), "domain" for the domain score of theta.
    scored_by: Mapped[str] = mapped_column(String(12), default="domain",
                                           server_default="domain")
    # Items counted as wrong answers up to the minimum length (item_bank.policy.decide).
    imputed_items: Mapped[list[Any]] = mapped_column(default=list,
                                                     server_default=text("'[]'"))

    exam: Mapped[Exam] = relationship()
    responses: Mapped[list[Response]] = relationship(
        back_populates="attempt", order_by="Response.position")

    def transition(self, new_state: AttemptState) -> None:
        if new_state not in ATTEMPT_TRANSITIONS[self.state]:
            raise ValueError(f"attempt {self.id}: {self.state.value} -> {new_state.value} "
                             "is not allowed")
        self.state = new_state


class AttemptExtension(Base):
    """An invigilator's extension of a running attempt's time: who, when, why, how much.

    The extension itself is in the attempt's ``deadline`` (moved by ``seconds`` when this row
    is written, item_bank.policy.invigilation): every reader of the deadline (both policy
    stores, the sweeper, the participant's remaining time) honours it without knowing of
    extensions; these rows are the record and the bound on their total.
    """

    __tablename__ = "attempt_extension"
    __table_args__ = (CheckConstraint("seconds > 0", name="seconds_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempt.id"), index=True)
    seconds: Mapped[int]
    reason: Mapped[str] = mapped_column(String(500))
    actor: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime]


class Response(Base):
    """One item put in front of a participant; answered once ``answered_at`` is set."""

    __tablename__ = "response"
    __table_args__ = (
        UniqueConstraint("attempt_id", "item_id"),
        UniqueConstraint("attempt_id", "position"),
        CheckConstraint("(answered_at IS NULL) = (choice IS NULL)", name="answered_iff_choice"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # attempt_id leads both unique keys, which serve its lookups: no index of its own (one
    # index entry less to write per answer).
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempt.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"), index=True)
    position: Mapped[int]
    # shown_order[k] = index of the original option displayed at position k
    shown_order: Mapped[list[Any]]
    choice: Mapped[int | None]          # original option index chosen
    shown_choice: Mapped[int | None]    # position the participant clicked
    correct: Mapped[bool | None]
    presented_at: Mapped[dt.datetime]
    answered_at: Mapped[dt.datetime | None]
    # RULE: SPEC.md "Item lifecycle" — a pretest item seeded into the attempt to collect data:
    # shown like any other, never scored (docs/item_bank.md "Pretest seeding").
    pretest: Mapped[bool] = mapped_column(default=False, server_default=false())
    # The item's parameter version (ItemParameters) it was selected and scored with.
    param_version: Mapped[int | None]

    attempt: Mapped[Attempt] = relationship(back_populates="responses")
    item: Mapped[Item] = relationship()


class SeenItem(Base):
    """RULE: SPEC.md flow 4 — a participant never sees an item again within a program, nor a
    second item of its family (docs/item_bank.md "Item families").

    The UNIQUE constraints make the database refuse a second showing.
    """

    __tablename__ = "seen_item"
    __table_args__ = (UniqueConstraint("participant_id", "program_id", "item_id"),
                      UniqueConstraint("participant_id", "program_id", "family_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    # participant_id leads the unique key, which serves its lookups.
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id"))
    program_id: Mapped[int] = mapped_column(ForeignKey("program.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"))
    # The item's family when it was shown (Item.family_id, its own id when alone).
    family_id: Mapped[int]
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempt.id"))
    seen_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
