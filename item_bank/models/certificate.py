"""Certificates and the append-only audit log."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import Enum, ForeignKey, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base
from .people import Participant
from .program import Program


class CertificateRoute(enum.StrEnum):
    PRE_ASSESSMENT = "pre_assessment"
    UJIKOM = "ujikom"


class Certificate(Base):
    """RULE: SPEC.md "Certificates" — one per participant and program, unique number."""

    __tablename__ = "certificate"
    __table_args__ = (UniqueConstraint("participant_id", "program_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id"), index=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("program.id"))
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempt.id"), unique=True)
    route: Mapped[CertificateRoute] = mapped_column(
        Enum(CertificateRoute, native_enum=False, length=16,
             values_callable=lambda e: [m.value for m in e]))
    score: Mapped[float]
    issued_at: Mapped[dt.datetime]

    participant: Mapped[Participant] = relationship()
    program: Mapped[Program] = relationship()


class AuditLog(Base):
    """Append-only: database triggers refuse UPDATE and DELETE (see the initial migration)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(server_default=func.now(), index=True)
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(60), index=True)
    subject: Mapped[str] = mapped_column(String(120), default="")
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
