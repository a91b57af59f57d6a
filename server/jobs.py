"""Calibrations run outside the request: a writer's request queues a job, a background
thread of every worker takes waiting jobs one at a time and records their runs.

A calibration of a program's logged answers takes from seconds to minutes, longer than a
request may (gunicorn's worker timeout is 30 s).  Jobs are rows (``calibration_job``), taken
with a conditional update, so any worker may run any job and each runs once; a job whose
worker died is taken again after ``item_bank.calibration_source.JOB_STALE_AFTER``.
``smartcat calibrate --program`` runs the waiting jobs from the command line (cron) instead.
"""

from __future__ import annotations

import logging
import threading

from flask import Flask
from sqlalchemy.orm import Session

from server import bank
from server.extensions import Database
from server.i18n import json_params

log = logging.getLogger(__name__)


def run_pending_jobs(app: Flask) -> int:
    """Run every waiting calibration job of the app's database; returns how many ran."""
    with Database.factory(app)() as session:
        return run_pending(session)


def run_pending(session: Session) -> int:
    """Run every waiting calibration job on ``session``; returns how many ran."""
    done = 0
    while (job := bank.claim_calibration_job(session)) is not None:
        try:
            run_id = bank.run_calibration(
                session, program_id=job["program_id"], materi_id=job["materi_id"],
                model=job["model"], actor=job["actor"])
        except bank.DomainError as refusal:
            session.rollback()
            bank.finish_calibration_job(session, job["id"], error={
                "code": refusal.code, "params": json_params(refusal.params)})
        except Exception as exc:  # a bug or a lost database: say so on the job page
            session.rollback()
            log.exception("calibration job %s failed", job["id"])
            bank.finish_calibration_job(session, job["id"], error={
                "code": "calibration_failed", "params": {"detail": type(exc).__name__}})
        else:
            bank.finish_calibration_job(session, job["id"], run_id=run_id)
        done += 1
    return done


def _loop(app: Flask, interval: float, stop: threading.Event) -> None:
    while not stop.wait(interval):
        try:
            run_pending_jobs(app)
        except Exception:  # keep polling after a transient database error
            log.exception("calibration job poll failed")


def init_app(app: Flask) -> None:
    interval = app.config["JOB_POLL_SECONDS"]
    stop = app.extensions["smartcat_sweeper_stop"]  # stopped with the sweeper
    if interval > 0 and not app.testing:
        threading.Thread(target=_loop, args=(app, interval, stop),
                         name="smartcat-calibration-jobs", daemon=True).start()
