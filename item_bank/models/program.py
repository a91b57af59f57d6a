"""Training programs (tema pelatihan), their materi and sub-materi content tags."""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import asdict, dataclass, fields
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import ForeignKey, LargeBinary, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..messages import Notice
from .base import Base

# The certificate's texts among the program settings, and their longest length.
CERTIFICATE_TEXTS = ("agency_name", "certificate_signatory", "certificate_signatory_title",
                     "certificate_place")
CERTIFICATE_TEXT_MAX = 200
# At most this many pretest items in one attempt: each costs the participant an item's time.
PRETEST_ITEMS_MAX = 10
_REFUSED_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def certificate_text_problem(value: str) -> str | None:
    """Why ``value`` (already stripped) cannot be a certificate text, in English, or None:
    longer than :data:`CERTIFICATE_TEXT_MAX` characters, or holding a control character (a
    NUL, a tab, a line or paragraph break: a certificate line is one line of print), a lone
    surrogate or a bidirectional override (text that reads otherwise than it is stored)."""
    if len(value) > CERTIFICATE_TEXT_MAX:
        return f"is longer than {CERTIFICATE_TEXT_MAX} characters ({len(value)})"
    if any(unicodedata.category(ch) in _REFUSED_CATEGORIES or ch in _BIDI_CONTROLS
           for ch in value):
        return "must not contain control characters"
    return None


@dataclass(frozen=True)
class ProgramSettings:
    """Per-program rule numbers (SPEC.md "The flow of one training program").

    Every number of the flow is a program setting; these are the SPEC defaults.  Durations are
    in seconds.  ``max_exposure`` is the ceiling on the share of an exam's attempts that may see
    one item; ``randomesque_k`` the number of most informative items drawn from at random;
    ``exposure_slack`` how many showings above the least shown item of its content tag an item
    may have to stay eligible (0 = use the whole bank evenly; see item_bank.selection).
    ``pretest_items_*`` is how many pretest items of the exam's pool (its materi, or the
    whole program) are seeded, unscored, into each attempt of that kind of exam, and
    ``pretest_ready_responses`` how many answers a pretest item needs before it is ready for
    calibration (docs/item_bank.md "Pretest seeding").
    ``timezone`` is the IANA zone in which times are written for participants (a waiting
    period's end): WIB (``Asia/Jakarta``) by default, ``Asia/Makassar`` (WITA) or
    ``Asia/Jayapura`` (WIT) for agencies elsewhere.

    The certificate's texts: ``agency_name`` (the agency issuing it, shown with its logo at
    the top), ``certificate_signatory``, ``certificate_signatory_title`` and
    ``certificate_place`` (the signature block: who signs, their position, the town it is
    issued in); empty ones leave blank lines to fill in by hand.  Each is stripped, at most
    :data:`CERTIFICATE_TEXT_MAX` characters and free of control characters.  The logo itself
    is not a setting (settings are read by every exam request): it is a :class:`ProgramLogo`.
    """

    pre_assessment_certificate_score: float = 85.0
    materi_pass_score: float = 70.0
    materi_max_attempts: int = 5
    ujikom_pass_score: float = 70.0
    ujikom_max_attempts: int = 3
    ujikom_waiting_period_s: int = 7 * 24 * 3600
    exam_duration_s: int = 90 * 60
    min_items: int = 10
    max_items: int = 30
    se_target: float = 0.30
    max_exposure: float = 0.25
    randomesque_k: int = 5
    exposure_slack: int = 0
    answer_grace_s: float = 5.0
    pretest_items_pre_assessment: int = 0
    pretest_items_materi: int = 3
    pretest_items_ujikom: int = 5
    pretest_ready_responses: int = 300
    timezone: str = "Asia/Jakarta"
    agency_name: str = ""
    certificate_signatory: str = ""
    certificate_signatory_title: str = ""
    certificate_place: str = ""

    def __post_init__(self) -> None:
        for name in CERTIFICATE_TEXTS:
            value = getattr(self, name)
            if isinstance(value, str) and value != value.strip():
                object.__setattr__(self, name, value.strip())

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> ProgramSettings:
        """Defaults overlaid with ``data``; unknown keys or wrong types raise ValueError."""
        data = dict(data or {})
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ValueError(f"unknown program setting(s): {', '.join(unknown)}")
        values: dict[str, Any] = {}
        for name, value in data.items():
            kind = type(getattr(cls(), name))
            if kind is str:
                if not isinstance(value, str):
                    raise ValueError(f"program setting {name} must be text, got {value!r}")
                values[name] = value
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"program setting {name} must be a number, got {value!r}")
            if kind is int and value != int(value):
                raise ValueError(f"program setting {name} must be a whole number, got {value!r}")
            values[name] = kind(value)
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        """ValueError naming the first of :meth:`problems`, if any."""
        problems = self.problems()
        if problems:
            raise ValueError(f"program setting {problems[0].text()}")

    def problems(self) -> list[Notice]:
        """Every setting out of its range, as notices naming the setting (the
        administrator's settings form shows them all at once)."""
        found: list[Notice] = []

        def within(name: str, low: float, high: float) -> None:
            value = getattr(self, name)
            if not low <= value <= high:
                found.append(Notice("setting_range", {"field": name, "low": low,
                                                      "high": high, "value": value}))

        def at_least(name: str, low: int) -> None:
            if getattr(self, name) < low:
                found.append(Notice("setting_at_least", {"field": name, "low": low,
                                                         "value": getattr(self, name)}))

        for name in ("pre_assessment_certificate_score", "materi_pass_score", "ujikom_pass_score"):
            within(name, 0, 100)
        for name in ("materi_max_attempts", "ujikom_max_attempts", "min_items", "max_items",
                     "exam_duration_s", "randomesque_k", "pretest_ready_responses"):
            at_least(name, 1)
        if self.min_items > self.max_items:
            found.append(Notice("min_above_max", {"low": self.min_items, "high": self.max_items}))
        if not 0 < self.max_exposure <= 1:
            found.append(Notice("setting_exposure", {"value": self.max_exposure}))
        if not 0 <= self.answer_grace_s <= 5:
            found.append(Notice("setting_grace", {"value": self.answer_grace_s}))
        at_least("exposure_slack", 0)
        for name in ("pretest_items_pre_assessment", "pretest_items_materi",
                     "pretest_items_ujikom"):
            within(name, 0, PRETEST_ITEMS_MAX)
        at_least("ujikom_waiting_period_s", 0)
        for name in CERTIFICATE_TEXTS:
            value = getattr(self, name)
            if certificate_text_problem(value) is not None:
                found.append(Notice("certificate_text_too_long", {
                    "field": name, "max": CERTIFICATE_TEXT_MAX, "length": len(value)})
                    if len(value) > CERTIFICATE_TEXT_MAX
                    else Notice("certificate_text_control", {"field": name}))
        try:
            self.zone()
        except ValueError:
            found.append(Notice("setting_timezone", {"value": self.timezone}))
        return found

    def zone(self) -> ZoneInfo:
        """The program's time zone; ValueError for a name the zone database does not know."""
        try:
            return ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("program setting timezone must be an IANA time zone such as "
                             f"Asia/Jakarta, got {self.timezone!r}") from None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Program(Base):
    __tablename__ = "program"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    is_open: Mapped[bool] = mapped_column(default=True)
    settings_json: Mapped[dict[str, Any]] = mapped_column("settings", default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    # Archived: kept with its attempts and results, hidden from participants, starts nothing.
    archived_at: Mapped[dt.datetime | None]
    # Moves on with every edit of the administrator's forms (a save from an older one is
    # refused: item_bank.admin_edit).
    version: Mapped[int] = mapped_column(default=1, server_default="1")

    materi: Mapped[list[Materi]] = relationship(back_populates="program", order_by="Materi.id")

    @property
    def settings(self) -> ProgramSettings:
        return ProgramSettings.from_json(self.settings_json)


class ProgramLogo(Base):
    """The logo of the agency running a program, printed on its certificates.

    Stored apart from the program's settings (read on every exam request) and only as the
    PNG that :func:`item_bank.admin.set_program_logo` re-encoded from the upload.
    """

    __tablename__ = "program_logo"

    program_id: Mapped[int] = mapped_column(ForeignKey("program.id"), primary_key=True,
                                            autoincrement=False)
    media_type: Mapped[str] = mapped_column(String(40))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_at: Mapped[dt.datetime]


class Materi(Base):
    """A subject of the training; each has its own per-materi exam."""

    __tablename__ = "materi"
    __table_args__ = (UniqueConstraint("program_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("program.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))

    program: Mapped[Program] = relationship(back_populates="materi")
    content_tags: Mapped[list[ContentTag]] = relationship(back_populates="materi")


class ContentTag(Base):
    """A sub-materi: the content category used for content balancing inside a materi."""

    __tablename__ = "content_tag"
    __table_args__ = (UniqueConstraint("materi_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    materi_id: Mapped[int] = mapped_column(ForeignKey("materi.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200), default="")

    materi: Mapped[Materi] = relationship(back_populates="content_tags")
