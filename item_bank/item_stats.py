"""One item's statistics for its writers: counts, curves, distractors, exposure, history.

- The item characteristic and information curves come from the item's current parameters
  through :mod:`cat_engine.irt` (the functions the exams select and score with), on
  :data:`THETA`.
- The distractor table: the finished attempts (submitted or expired) that answered the item,
  ranked by their final θ and cut into :data:`GROUPS` groups of (nearly) equal size, lowest
  first; for each group the number choosing each option, in the item's own option order (the
  order each participant saw was shuffled).
- Exposure over time: the times the item was put in front of someone and answered, per day in
  the program's time zone, or per week (from Monday) once the showings span
  :data:`DAILY_SPAN_DAYS` days or more.
- The parameter history: every version in ``item_parameters``, newest first.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from cat_engine.irt import information, probability

from .calibration_source import _logged
from .errors import NotFound
from .models import Attempt, IrtModel, Item, ItemExposure, ItemParameters, Response

THETA = np.arange(-40, 41) / 10  # -4.0 .. 4.0 in steps of 0.1, exact at whole numbers
GROUPS = 3
DAILY_SPAN_DAYS = 42


@dataclass(frozen=True)
class Curves:
    """``probability`` and ``information`` of the item at each ``theta``."""

    theta: np.ndarray
    probability: np.ndarray
    information: np.ndarray

    def at(self, points: tuple[float, ...] = (-3, -2, -1, 0, 1, 2, 3)) -> list[tuple]:
        """``(θ, P, I)`` at the grid points ``points`` (the table beside the plots)."""
        index = {round(float(t), 1): k for k, t in enumerate(self.theta)}
        return [(float(t), float(self.probability[index[t]]), float(self.information[index[t]]))
                for t in points]


@dataclass(frozen=True)
class AbilityGroup:
    """A group of the distractor table: ``number`` 1 has the lowest final θ."""

    number: int
    theta_low: float
    theta_high: float
    counts: tuple[int, ...]  # per option, in the item's option order

    @property
    def answers(self) -> int:
        return sum(self.counts)

    @property
    def shares(self) -> tuple[float, ...]:
        return tuple(n / self.answers for n in self.counts)


@dataclass(frozen=True)
class ExposurePeriod:
    start: dt.datetime  # the period's first midnight, in the program's zone
    shown: int
    answered: int


@dataclass(frozen=True)
class ItemReport:
    item: Item
    shown: int                  # the exposure counter of the live exams, over every exam
    answers: int                # answers given, in any attempt
    p_correct: float | None     # share of those answers that are right
    curves: Curves | None       # None: the item has no parameters yet
    groups: list[AbilityGroup]  # empty: no finished attempt with a θ answered it
    period: str                 # "day" or "week"
    exposure: list[ExposurePeriod]
    history: list[ItemParameters]
    timezone: str


def item_curves(item: Item, theta: np.ndarray = THETA) -> Curves | None:
    """The item's ICC and information on ``theta`` from its current parameters (1PL: a = 1;
    1PL and 2PL: c = 0); None without b, or without a for a 2PL or 3PL item."""
    model = IrtModel(item.model or IrtModel.TWO_PL)
    a = 1.0 if model == IrtModel.ONE_PL else item.a
    if item.b is None or a is None:
        return None
    c = (item.c or 0.0) if model == IrtModel.THREE_PL else 0.0
    return Curves(theta=theta, probability=probability(theta, [a], [item.b], [c])[:, 0],
                  information=information(theta, [a], [item.b], [c])[:, 0])


def ability_groups(thetas: list[float], choices: list[int], n_options: int,
                   groups: int = GROUPS) -> list[AbilityGroup]:
    """The distractor table of answers ``choices`` given by examinees of final θ ``thetas``
    (in the order given, which breaks ties of θ: the caller orders them by attempt): the
    answer of rank ``r`` (0-based, lowest θ first) of ``n`` falls in group ``r * groups // n``;
    groups without an answer are left out."""
    if not thetas:
        return []
    order = sorted(range(len(thetas)), key=lambda k: thetas[k])  # stable: ties keep order
    members: list[list[int]] = [[] for _ in range(groups)]
    for rank, k in enumerate(order):
        members[rank * groups // len(order)].append(k)
    return [AbilityGroup(number=g + 1, theta_low=min(thetas[k] for k in ks),
                         theta_high=max(thetas[k] for k in ks),
                         counts=tuple(sum(choices[k] == j for k in ks)
                                      for j in range(n_options)))
            for g, ks in enumerate(members) if ks]


def exposure_periods(shown: list[tuple[dt.datetime, bool]], zone: ZoneInfo,
                     daily_span_days: int = DAILY_SPAN_DAYS) -> tuple[str, list[ExposurePeriod]]:
    """``(period, rows)``: the showings ``(presented_at, answered)`` counted per day of
    ``zone`` (naive times are UTC), or per week from Monday once they span
    ``daily_span_days`` days or more; every period from the first to the last, empty ones
    included."""
    if not shown:
        return "day", []
    days = [(t if t.tzinfo else t.replace(tzinfo=dt.UTC)).astimezone(zone).date()
            for t, _answered in shown]
    first, last = min(days), max(days)
    weekly = (last - first).days >= daily_span_days
    step = dt.timedelta(weeks=1) if weekly else dt.timedelta(days=1)

    def start(day: dt.date) -> dt.date:
        return day - dt.timedelta(days=day.weekday()) if weekly else day

    counts: dict[dt.date, list[int]] = {}
    for day, (_t, answered) in zip(days, shown, strict=True):
        row = counts.setdefault(start(day), [0, 0])
        row[0] += 1
        row[1] += bool(answered)
    rows, day = [], start(first)
    while day <= last:
        shown_n, answered_n = counts.get(day, (0, 0))
        rows.append(ExposurePeriod(start=dt.datetime.combine(day, dt.time(), tzinfo=zone),
                                   shown=shown_n, answered=answered_n))
        day += step
    return ("week" if weekly else "day"), rows


def item_exposure(session: Session, item: Item) -> tuple[str, list[ExposurePeriod]]:
    """:func:`exposure_periods` of every showing of ``item``, in its program's zone."""
    return exposure_periods(
        [(t, answered) for t, answered in session.execute(
            select(Response.presented_at, Response.choice.is_not(None))
            .where(Response.item_id == item.id))], item.materi.program.settings.zone())


def item_report(session: Session, item_id: int) -> ItemReport:
    """Everything the item's page shows about how it works (see the module's docstring);
    NotFound for an unknown item."""
    item = session.get(Item, item_id)
    if item is None:
        raise NotFound("item_not_found", item=item_id)
    answers, right = session.execute(
        select(func.count(Response.id), func.sum(case((Response.correct, 1), else_=0)))
        .where(Response.item_id == item_id, Response.choice.is_not(None))).one()
    shown = session.scalar(select(func.sum(ItemExposure.count))
                           .where(ItemExposure.item_id == item_id))
    finished = session.execute(
        _logged(Attempt.theta, Response.choice, program_id=item.program_id)
        .where(Response.item_id == item_id, Attempt.theta.is_not(None))
        .order_by(Attempt.id)).all()
    zone = item.materi.program.settings.zone()
    period, exposure = item_exposure(session, item)
    return ItemReport(
        item=item, shown=shown or 0, answers=answers or 0,
        p_correct=(right or 0) / answers if answers else None, curves=item_curves(item),
        groups=ability_groups([t for t, _c in finished], [c for _t, c in finished],
                              len(item.options)),
        period=period, exposure=exposure,
        history=list(session.scalars(select(ItemParameters).where(
            ItemParameters.item_id == item_id).order_by(ItemParameters.version.desc()))),
        timezone=str(zone.key))
