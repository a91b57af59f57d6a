"""Calibration jobs: a writer's calibration waits here until a background worker runs it."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Enum, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class JobState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class CalibrationJob(Base):
    """One calibration asked for (program, optional materi, model), run outside the request
    by :func:`server.jobs.run_pending_jobs`: queued -> running -> done (``run_id``: the
    recorded run) or failed (``error``: the refusal's code and parameters as JSON text)."""

    __tablename__ = "calibration_job"

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("program.id"))
    materi_id: Mapped[int | None] = mapped_column(ForeignKey("materi.id"))
    model: Mapped[str] = mapped_column(String(8))
    actor: Mapped[str] = mapped_column(String(120))
    state: Mapped[JobState] = mapped_column(
        Enum(JobState, native_enum=False, length=16,
             values_callable=lambda e: [m.value for m in e]), index=True)
    run_id: Mapped[int | None]
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime]
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
