"""Exams (pre-assessment, per-materi, ujikom) and assignments (tugas)."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import CheckConstraint, Enum, ForeignKey, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base
from .program import Materi, Program


def _enum(cls: type[enum.Enum], length: int = 16) -> Enum:
    return Enum(cls, native_enum=False, length=length,
                values_callable=lambda e: [m.value for m in e])


class ExamKind(enum.StrEnum):
    PRE_ASSESSMENT = "pre_assessment"
    MATERI = "materi"
    UJIKOM = "ujikom"


class Assembly(enum.StrEnum):
    CAT = "cat"
    LOFT = "loft"


def exam_slot(kind: ExamKind, materi_id: int | None) -> str:
    """Attempts are counted per slot (pre_assessment, materi:<id>, ujikom), so several windows
    of one exam share the limit."""
    return f"materi:{materi_id}" if kind == ExamKind.MATERI else kind.value


class Exam(Base):
    """One exam window.  Unset numbers fall back to the program settings."""

    __tablename__ = "exam"
    __table_args__ = (
        UniqueConstraint("program_id", "code"),
        CheckConstraint("(kind = 'materi') = (materi_id IS NOT NULL)", name="materi_iff_kind"),
        CheckConstraint("cut_score IS NULL OR (cut_score >= 0 AND cut_score <= 100)",
                        name="cut_score_range"),
        CheckConstraint("max_attempts IS NULL OR max_attempts >= 1", name="max_attempts_pos"),
        CheckConstraint("duration_s IS NULL OR duration_s >= 1", name="duration_pos"),
        CheckConstraint("min_items IS NULL OR max_items IS NULL OR min_items <= max_items",
                        name="length_order"),
        CheckConstraint("window_closes_at IS NULL OR window_opens_at IS NULL "
                        "OR window_opens_at < window_closes_at", name="window_order"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("program.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[ExamKind] = mapped_column(_enum(ExamKind))
    materi_id: Mapped[int | None] = mapped_column(ForeignKey("materi.id"))
    assembly: Mapped[Assembly] = mapped_column(_enum(Assembly, 8), default=Assembly.CAT)
    cut_score: Mapped[float | None]
    max_attempts: Mapped[int | None]
    duration_s: Mapped[int | None]
    waiting_period_s: Mapped[int | None]
    se_target: Mapped[float | None]
    min_items: Mapped[int | None]
    max_items: Mapped[int | None]
    expected_cohort: Mapped[int | None]
    window_opens_at: Mapped[dt.datetime | None]
    window_closes_at: Mapped[dt.datetime | None]
    # Attempts started of this exam: the exposure cap's denominator (item_bank.policy), kept as
    # a counter because counting the attempts on every answer grows with the participants.
    attempts_started: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    # Archived: kept with its attempts and results, hidden from participants, starts nothing.
    archived_at: Mapped[dt.datetime | None]
    # Moves on with every edit (a save from an older form is refused: item_bank.admin_edit).
    version: Mapped[int] = mapped_column(default=1, server_default="1")

    program: Mapped[Program] = relationship()
    materi: Mapped[Materi | None] = relationship()

    @property
    def slot(self) -> str:
        return exam_slot(self.kind, self.materi_id)


class Assignment(Base):
    """A tugas of the program; the administrator marks it done per participant."""

    __tablename__ = "assignment"
    __table_args__ = (UniqueConstraint("program_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("program.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200), default="")


class AssignmentCompletion(Base):
    __tablename__ = "assignment_completion"
    __table_args__ = (UniqueConstraint("assignment_id", "participant_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignment.id"), index=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id"), index=True)
    completed_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    marked_by: Mapped[str] = mapped_column(String(80), default="")
