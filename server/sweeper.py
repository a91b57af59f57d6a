"""Finish attempts whose deadline has passed even when no browser ever comes back.

Each access to an attempt already expires it in the policy; this background thread covers
the attempts nobody touches, so results (and certificates) appear on time.  Running it in
every worker is safe: ``expire_due_attempts`` is idempotent and finishes each attempt once.
Each sweep also deletes the login tries older than the login throttle's longest window.
"""

from __future__ import annotations

import logging
import threading

from flask import Flask

from server import bank
from server.config import login_rule
from server.extensions import Database
from server.policy_args import policy_now

log = logging.getLogger(__name__)


def sweep_once(app: Flask) -> int:
    """Expire every due attempt now and prune old login tries; returns how many attempts
    were finished."""
    with Database.factory(app)() as session:
        now = policy_now(app)
        bank.login_throttle.prune(session, login_rule(app.config), now)
        return bank.policy.expire_due_attempts(session, now=now)


def _loop(app: Flask, interval: float, stop: threading.Event) -> None:
    while not stop.wait(interval):
        try:
            finished = sweep_once(app)
            if finished:
                log.info("deadline sweep finished %d attempt(s)", finished)
        except Exception:  # keep sweeping after a transient database error
            log.exception("deadline sweep failed")


def init_app(app: Flask) -> None:
    interval = app.config["SWEEP_INTERVAL_SECONDS"]
    stop = threading.Event()
    app.extensions["smartcat_sweeper_stop"] = stop
    if interval > 0 and not app.testing:
        thread = threading.Thread(target=_loop, args=(app, interval, stop),
                                  name="smartcat-deadline-sweep", daemon=True)
        thread.start()
