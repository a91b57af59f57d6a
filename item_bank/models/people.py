"""Participants (peserta), enrolments and the staff/service accounts of the server."""

from __future__ import annotations

import datetime as dt
import enum
import re
from typing import Any

from sqlalchemy import Enum, ForeignKey, Index, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from .base import Base
from .program import Program

NIP_PATTERN = re.compile(r"[0-9]{18}")


def validate_nip(nip: str) -> str:
    """Return the NIP stripped of surrounding blanks; ValueError unless exactly 18 digits."""
    value = str(nip).strip()
    if not NIP_PATTERN.fullmatch(value):
        raise ValueError(f"NIP {nip!r} must be exactly 18 digits")
    return value


class Participant(Base):
    """A civil servant on the register, identified by NIP."""

    __tablename__ = "participant"

    id: Mapped[int] = mapped_column(primary_key=True)
    nip: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # Stored in a session at login and compared on every request: raising it ends every
    # older session of the account (logout, password change, "end sessions").
    session_version: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())

    @validates("nip")
    def _check_nip(self, _key: str, nip: str) -> str:
        return validate_nip(nip)

    @validates("name")
    def _check_name(self, _key: str, name: str) -> str:
        if not name or not name.strip():
            raise ValueError("participant name must not be empty")
        return name.strip()


class Enrolment(Base):
    __tablename__ = "enrolment"
    __table_args__ = (UniqueConstraint("participant_id", "program_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id"), index=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("program.id"), index=True)
    enrolled_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())

    participant: Mapped[Participant] = relationship()
    program: Mapped[Program] = relationship()


class StaffRole(enum.StrEnum):
    WRITER = "writer"
    ADMIN = "admin"


class StaffUser(Base):
    """A question writer or administrator of the server."""

    __tablename__ = "staff_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    role: Mapped[StaffRole] = mapped_column(
        Enum(StaffRole, native_enum=False, length=16,
             values_callable=lambda e: [m.value for m in e]))
    password_hash: Mapped[str] = mapped_column(String(255))
    session_version: Mapped[int] = mapped_column(default=0, server_default="0")  # as above
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


# What a service token may do, chosen when it is created: pull certificates and results (the
# certification service), read programs and results, enrol participants and mark assignments
# done (an LMS or the personnel system, through the administration API).
SERVICE_SCOPES = ("certificates:read", "admin:read", "admin:write")


class ServiceToken(Base):
    """A bearer token of another system; only its SHA-256 hash is stored.  ``scopes`` (of
    :data:`SERVICE_SCOPES`) say which API routes it may call."""

    __tablename__ = "service_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    scopes: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    revoked_at: Mapped[dt.datetime | None]


class ServiceTokenUse(Base):
    """When a service token was last accepted (to the minute: item_bank.accounts), beside the
    token so that checking a token writes at most once a minute and never its own row."""

    __tablename__ = "service_token_use"

    token_id: Mapped[int] = mapped_column(ForeignKey("service_token.id"), primary_key=True)
    last_used_at: Mapped[dt.datetime]


class LoginAttempt(Base):
    """One failed login try (or one being checked right now), for throttling: which account
    (``nip:<nip>`` or ``staff:<username>``), from which client address, when.  A try that
    succeeds or is refused is deleted again (item_bank.login_throttle)."""

    __tablename__ = "login_attempt"
    __table_args__ = (Index("ix_login_attempt_account_at", "account", "at"),
                      Index("ix_login_attempt_address_at", "address", "at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    account: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(100))
    at: Mapped[dt.datetime] = mapped_column(server_default=func.now(), index=True)
