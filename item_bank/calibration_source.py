"""The item bank's side of calibration: the logged responses to calibrate, the record of a
calibration run, and accepting calibrated parameters into the bank.

RULE: SPEC.md "Item lifecycle" — pretest items are calibrated from the response logs and linked
to the existing scale through the operational items that appear with them; accepting moves
them pretest -> operational through :data:`item_bank.models.ITEM_TRANSITIONS` (a retired item
is terminal and never comes back).  The estimation itself is :func:`calibration.calibrate`;
this module only reads and writes the bank.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from .db import db_now, lock_one
from .errors import InvalidInput, NotFound
from .models import (
    Attempt,
    AttemptState,
    AuditLog,
    CalibrationJob,
    IrtModel,
    Item,
    ItemParameters,
    ItemStatus,
    JobState,
    Materi,
    Program,
    Response,
    parameters_set_by,
    validate_item_fields,
)
from .tx import transactional

# Only finished attempts count: a running attempt's answers are still coming in.
FINAL_STATES = (AttemptState.SUBMITTED, AttemptState.EXPIRED)
# Pretest items are estimated; operational ones are the anchors.  Draft, reviewed and retired
# items are left out (retired ones may have been withdrawn for drift or leaking).
CALIBRATED_STATUSES = (ItemStatus.PRETEST, ItemStatus.OPERATIONAL)
# calibration model name -> the bank's IrtModel (Rasch items are 1PL items with a = 1; a
# common a other than 1 cannot be stored, so the calibration "1pl" is not offered).
BANK_MODEL = {"rasch": IrtModel.ONE_PL, "2pl": IrtModel.TWO_PL, "3pl": IrtModel.THREE_PL}
RUN_ACTION = "calibration_run"


@dataclass(frozen=True)
class LoggedResponses:
    """Aligned arrays of shape (n_answers,): participant id, item id (as text, the id the
    calibration reports back), 0/1; plus the operational items among them as anchor records
    ``{"id", "a", "b", "c"}`` and the ids of the pretest items among them."""

    persons: np.ndarray
    items: np.ndarray
    correct: np.ndarray
    anchors: list[dict[str, Any]]
    pretest_ids: list[int]


def _logged(*columns: Any, program_id: int) -> Any:
    """``columns`` of the answers given in the program's finished attempts (submitted or
    expired: a running attempt's answers are still coming in), with their item joined; what
    calibration, its job and the leak monitor read."""
    return (select(*columns).join(Attempt, Attempt.id == Response.attempt_id)
            .join(Item, Item.id == Response.item_id)
            .where(Attempt.program_id == program_id, Attempt.state.in_(FINAL_STATES),
                   Response.choice.is_not(None)))


def logged_responses(session: Session, *, program_id: int,
                     materi_id: int | None = None) -> LoggedResponses:
    """The answers given in submitted or expired attempts of a program (optionally only to
    the items of one materi) to its pretest and operational items."""
    if session.get(Program, program_id) is None:
        raise NotFound("program_not_found")
    stmt = _logged(Attempt.participant_id, Response.item_id, Response.correct,
                   program_id=program_id).where(Item.status.in_(CALIBRATED_STATUSES))
    if materi_id is not None:
        materi = session.get(Materi, materi_id)
        if materi is None or materi.program_id != program_id:
            raise NotFound("materi_not_found", materi=materi_id)
        stmt = stmt.where(Item.materi_id == materi_id)
    rows = session.execute(stmt.order_by(Response.id)).all()
    persons = np.array([r[0] for r in rows], dtype=np.int64)
    item_ids = np.array([r[1] for r in rows], dtype=np.int64)
    items = session.scalars(select(Item).where(Item.id.in_(np.unique(item_ids).tolist()))).all()
    # RULE: docs/item_bank.md "Cold start" — provisional parameters are estimated with the
    # pretest items, never held as anchors: without a calibrated item in the data the run is
    # a concurrent calibration on the scale of its group (theta ~ N(0, 1)).
    anchors = [{"id": str(i.id), "a": i.a, "b": i.b, "c": i.c or 0.0} for i in items
               if i.status == ItemStatus.OPERATIONAL and not i.provisional]
    return LoggedResponses(
        persons=persons, items=item_ids.astype(str),
        correct=np.array([int(bool(r[2])) for r in rows], dtype=np.int8), anchors=anchors,
        pretest_ids=sorted(i.id for i in items if i.status == ItemStatus.PRETEST
                           or i.provisional))


@dataclass(frozen=True)
class PretestReadiness:
    """Where one pretest item stands: its answers so far (in finished attempts, as the
    calibration counts them), the answers it needs (``pretest_ready_responses``) and, from
    the pace of the last :data:`READINESS_WINDOW`, when it will have them (None: ready, or no
    answers lately)."""

    item_id: int
    code: str
    materi: str
    answers: int
    needed: int
    ready_by: dt.datetime | None
    provisional: bool = False  # an operational item of a cold start (docs "Cold start")

    @property
    def ready(self) -> bool:
        return self.answers >= self.needed


READINESS_WINDOW = dt.timedelta(days=7)


def pretest_readiness(session: Session, *, program_id: int,
                      now: dt.datetime) -> list[PretestReadiness]:
    """Every pretest item of the program, and every operational item whose parameters are
    provisional (a cold start), with its answers and when it will be ready for calibration,
    by materi and code."""
    program = session.get(Program, program_id)
    if program is None:
        raise NotFound("program_not_found")
    needed = program.settings.pretest_ready_responses
    since = now - READINESS_WINDOW
    answered = (_logged(Response.item_id, func.count().label("answers"),
                        func.count().filter(Response.answered_at >= since).label("lately"),
                        program_id=program_id)
                .where(_TO_CALIBRATE)
                .group_by(Response.item_id).subquery())
    rows = session.execute(
        select(Item.id, Item.code, Materi.code, func.coalesce(answered.c.answers, 0),
               func.coalesce(answered.c.lately, 0), Item.provisional)
        .join(Materi, Materi.id == Item.materi_id)
        .outerjoin(answered, answered.c.item_id == Item.id)
        .where(Item.program_id == program_id, _TO_CALIBRATE)
        .order_by(Materi.code, Item.code)).all()
    out = []
    for item_id, code, materi, answers, lately, provisional in rows:
        ready_by = None
        if answers < needed and lately:
            per_second = lately / READINESS_WINDOW.total_seconds()
            ready_by = now + dt.timedelta(seconds=(needed - answers) / per_second)
        out.append(PretestReadiness(item_id, code, materi, int(answers), needed, ready_by,
                                    bool(provisional)))
    return out


# The items a calibration estimates: pretest items and provisional operational ones.
_TO_CALIBRATE = (Item.status == ItemStatus.PRETEST) | (
    (Item.status == ItemStatus.OPERATIONAL) & Item.provisional.is_(True))


@dataclass(frozen=True)
class MateriDue:
    """Whether a materi's pretest items call for a calibration now: ``ready`` of its
    ``pretest`` items have their answers, and ``waiting_run`` is the newest recorded run that
    estimated every ready one (its estimates wait for a writer to accept them), None without."""

    materi_id: int
    materi: str
    pretest: int
    ready: int
    waiting_run: int | None

    @property
    def due(self) -> bool:
        return self.ready > 0 and self.waiting_run is None


def calibration_due(session: Session, *, program_id: int,
                    now: dt.datetime) -> list[MateriDue]:
    """Per materi with pretest items, by code: is a calibration due (:class:`MateriDue`)?

    RULE: docs/item_bank.md "Calibration when items are ready" — a materi is due once one of
    its pretest items has ``pretest_ready_responses`` answers and no recorded run of the
    materi (or of the whole program) has estimated it from that many; a run that did waits
    for the writers, so asking again runs nothing more.
    """
    rows = pretest_readiness(session, program_id=program_id, now=now)
    materi_ids = dict(session.execute(select(Materi.code, Materi.id).where(
        Materi.program_id == program_id)).all())
    needed = rows[0].needed if rows else 0
    # Per run, the pretest items it estimated from their full answers (``fit.n``, the answers
    # it saw): a run before an item was ready does not cover it.
    runs = [(r.id, r.details.get("materi_id"),
             {int(x["id"]) for x in r.details.get("records", ())
              if not x.get("anchor") and (x.get("fit") or {}).get("n", 0) >= needed})
            for r in session.scalars(select(AuditLog).where(
                AuditLog.action == RUN_ACTION, AuditLog.subject == f"program:{program_id}")
                .order_by(AuditLog.id.desc()))]
    by_materi: dict[str, list[PretestReadiness]] = {}
    for row in rows:
        by_materi.setdefault(row.materi, []).append(row)
    out = []
    for code, items in by_materi.items():
        materi_id = materi_ids[code]
        ready = {r.item_id for r in items if r.ready}
        waiting = next((run_id for run_id, run_materi, estimated in runs
                        if run_materi in (None, materi_id) and ready and ready <= estimated),
                       None)
        out.append(MateriDue(materi_id, code, len(items), len(ready), waiting))
    return out


@dataclass(frozen=True)
class MonitoredAnswers:
    """The scored answers of finished attempts to a program's operational items, in the order
    they were given, each with the attempt and the parameters its item was shown with."""

    item_ids: np.ndarray
    attempts: np.ndarray
    correct: np.ndarray
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    codes: dict[int, str]


def monitored_answers(session: Session, *, program_id: int) -> MonitoredAnswers:
    """What the leak monitor reads (docs/item_bank.md "Leak monitoring"): every scored answer
    of a finished attempt in the program, with the parameters of its response's version
    (the item's current ones for an answer stored before versions existed); the items that
    are operational now."""
    if session.get(Program, program_id) is None:
        raise NotFound("program_not_found")
    shown = ItemParameters
    rows = session.execute(
        _logged(Response.item_id, Response.attempt_id, Response.correct,
                func.coalesce(shown.a, Item.a), func.coalesce(shown.b, Item.b),
                func.coalesce(shown.c, Item.c, 0.0), program_id=program_id)
        .outerjoin(shown, (shown.item_id == Response.item_id)
                   & (shown.version == Response.param_version))
        .where(Response.pretest.is_(False), Item.status == ItemStatus.OPERATIONAL)
        .order_by(Response.answered_at, Response.id)).all()
    columns = list(zip(*rows, strict=True)) if rows else [()] * 6
    item_ids = np.array(columns[0], dtype=np.int64)
    codes = dict(session.execute(select(Item.id, Item.code).where(
        Item.id.in_(np.unique(item_ids).tolist()))).all()) if rows else {}
    return MonitoredAnswers(
        item_ids=item_ids, attempts=np.array(columns[1], dtype=np.int64),
        correct=np.array([int(bool(x)) for x in columns[2]], dtype=np.int8),
        a=np.array([1.0 if x is None else x for x in columns[3]], dtype=np.float64),
        b=np.array(columns[4], dtype=np.float64), c=np.array(columns[5], dtype=np.float64),
        codes=codes)


# A running job whose worker has been silent this long died with it (a killed or restarted
# worker): it is taken again.  Calibrations of a program take seconds to a few minutes.
JOB_STALE_AFTER = dt.timedelta(minutes=30)


@transactional
def queue_job(session: Session, *, program_id: int, materi_id: int | None, model: str,
              actor: str, models: Iterable[str], now: dt.datetime | None = None) -> int:
    """Ask for a calibration; returns the job id.  The same calibration (program, materi,
    model) already waiting or running is that job: asking twice queues nothing more."""
    models = tuple(models)
    if model not in models:
        raise InvalidInput("unknown_model", model=model, models=", ".join(models))
    if session.get(Program, program_id) is None:
        raise NotFound("program_not_found")
    if materi_id is not None:
        materi = session.get(Materi, materi_id)
        if materi is None or materi.program_id != program_id:
            raise NotFound("materi_not_found", materi=materi_id)
    answered = _logged(Response.id, program_id=program_id).where(
        Item.status == ItemStatus.PRETEST)
    if materi_id is not None:
        answered = answered.where(Item.materi_id == materi_id)
    if session.scalar(answered.limit(1)) is None:
        raise InvalidInput("nothing_to_calibrate")
    lock_one(session, Program, program_id)  # one asker at a time per program
    waiting = session.scalar(select(CalibrationJob.id).where(
        CalibrationJob.program_id == program_id, CalibrationJob.materi_id.is_(None)
        if materi_id is None else CalibrationJob.materi_id == materi_id,
        CalibrationJob.model == model,
        CalibrationJob.state.in_((JobState.QUEUED, JobState.RUNNING))))
    if waiting is not None:
        return waiting
    job = CalibrationJob(program_id=program_id, materi_id=materi_id, model=model, actor=actor,
                         state=JobState.QUEUED, error="",
                         created_at=db_now(session) if now is None else now)
    session.add(job)
    session.flush()
    return job.id


@transactional
def claim_job(session: Session, *, now: dt.datetime | None = None) -> dict[str, Any] | None:
    """Take the oldest waiting job (or one whose worker died) for this worker: a conditional
    update, so two workers never take the same one.  None when there is none."""
    now = db_now(session) if now is None else now
    candidates = session.scalars(select(CalibrationJob.id).where(
        (CalibrationJob.state == JobState.QUEUED)
        | ((CalibrationJob.state == JobState.RUNNING)
           & (CalibrationJob.started_at < now - JOB_STALE_AFTER)))
        .order_by(CalibrationJob.id).limit(5)).all()
    for job_id in candidates:
        taken = session.execute(
            update(CalibrationJob).where(
                CalibrationJob.id == job_id,
                (CalibrationJob.state == JobState.QUEUED)
                | (CalibrationJob.started_at < now - JOB_STALE_AFTER))
            .values(state=JobState.RUNNING, started_at=now)).rowcount
        if taken == 1:
            job = session.get(CalibrationJob, job_id)
            return {"id": job.id, "program_id": job.program_id, "materi_id": job.materi_id,
                    "model": job.model, "actor": job.actor}
    return None


@transactional
def finish_job(session: Session, job_id: int, *, run_id: int | None = None,
               error: dict[str, Any] | None = None, now: dt.datetime | None = None) -> None:
    """The job's outcome: the recorded run, or the refusal that ended it."""
    job = lock_one(session, CalibrationJob, job_id)
    if job is None:
        raise NotFound("calibration_job_not_found", job=job_id)
    job.state = JobState.DONE if error is None else JobState.FAILED
    job.run_id, job.error = run_id, "" if error is None else json.dumps(error)
    job.finished_at = db_now(session) if now is None else now


def calibration_job(session: Session, job_id: int) -> CalibrationJob:
    job = session.get(CalibrationJob, job_id)
    if job is None:
        raise NotFound("calibration_job_not_found", job=job_id)
    return job


@transactional
def record_run(session: Session, *, actor: str, program_id: int, materi_id: int | None,
               model: str, records: list[dict[str, Any]], summary: dict[str, Any]) -> int:
    """Store a calibration run (its estimates, fit and drift) in the append-only audit log so
    that what the writer accepts is exactly what they were shown; returns the run id."""
    row = AuditLog(actor=actor, action=RUN_ACTION, subject=f"program:{program_id}",
                   details={"program_id": program_id, "materi_id": materi_id, "model": model,
                            "records": records, "summary": summary})
    session.add(row)
    session.flush()
    return row.id


def calibration_run(session: Session, run_id: int) -> dict[str, Any]:
    """A stored run: ``details`` of :func:`record_run` plus ``id``, ``at`` and ``actor``."""
    row = session.get(AuditLog, run_id)
    if row is None or row.action != RUN_ACTION:
        raise NotFound("calibration_run_not_found", run=run_id)
    return {"id": row.id, "at": row.at, "actor": row.actor, **row.details}


def recent_runs(session: Session, limit: int = 20) -> list[dict[str, Any]]:
    """The latest runs, newest first (without their per-item records)."""
    rows = session.scalars(select(AuditLog).where(AuditLog.action == RUN_ACTION)
                           .order_by(AuditLog.id.desc()).limit(limit)).all()
    return [{"id": r.id, "at": r.at, "actor": r.actor, "program_id": r.details["program_id"],
             "materi_id": r.details["materi_id"], "model": r.details["model"],
             "summary": r.details["summary"]} for r in rows]


@transactional
def accept_run(session: Session, *, run_id: int, item_ids: Iterable[int],
               actor: str) -> tuple[list[Item], dict[str, str]]:
    """Write the run's a, b, c and standard errors into the chosen pretest items and move them
    pretest -> operational (provisional operational items: their parameters are calibrated
    now), one audit entry per item.

    Items that are no longer pretest (already accepted, retired meanwhile) are left untouched
    and returned in ``skipped`` (code -> status).  InvalidInput when an id is not a freshly
    estimated item of the run or its estimates are outside the bank's plausible ranges.
    """
    run = calibration_run(session, run_id)
    estimates: Mapping[str, dict[str, Any]] = {
        r["id"]: r for r in run["records"] if not r["anchor"]}
    model = BANK_MODEL[run["model"]]
    accepted, skipped = [], {}
    for item_id in sorted(set(item_ids)):
        record = estimates.get(str(item_id))
        if record is None:
            raise InvalidInput("item_not_estimated", item=item_id, run=run_id)
        item = lock_one(session, Item, item_id)
        if item is None:
            raise NotFound("item_not_found", item=item_id)
        cold = item.status == ItemStatus.OPERATIONAL and item.provisional
        if item.status != ItemStatus.PRETEST and not cold:
            skipped[item.code] = item.status.value
            continue
        before = {"a": item.a, "b": item.b, "c": item.c, "model": item.model.value}
        c = record["c"] if model == IrtModel.THREE_PL else None
        try:
            validate_item_fields(options=item.options, key=item.key, model=model.value,
                                 a=record["a"], b=record["b"], c=c,
                                 status=ItemStatus.OPERATIONAL.value)
        except ValueError as exc:
            raise InvalidInput("item_parameters_refused", item=item.code,
                               detail=str(exc)) from exc
        parameters_set_by(item, actor, run_id)  # their history entry names the run
        item.model, item.a, item.b, item.c = model, record["a"], record["b"], c
        item.se_a, item.se_b, item.se_c = record["se_a"], record["se_b"], record["se_c"]
        if cold:
            item.provisional = False  # calibrated: the writer's rating has done its job
            item.version += 1
        else:
            item.transition(ItemStatus.OPERATIONAL)
        session.add(AuditLog(actor=actor, action="item_calibrated", subject=f"item:{item.code}",
                             details={"item_id": item.id, "run_id": run_id, "before": before,
                                      "after": {k: record[k] for k in
                                                ("a", "b", "c", "se_a", "se_b", "se_c")}}))
        accepted.append(item)
    session.flush()
    return accepted, skipped
