"""The arguments that every server call into the exam policy carries: who and when.

``now`` is None in production: the policy then reads the database clock once it holds the
participant's lock, so all workers and hosts agree on one clock.  The ``CLOCK`` setting (a
zero-argument callable returning an aware UTC datetime) replaces it: the tests set a fake
clock and move it, so that a deadline test states exact times whatever the machine's speed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask, current_app, session

from server.security import session_version


def policy_now(app: Flask | None = None) -> dt.datetime | None:
    """The ``now=`` of a policy call: the app's ``CLOCK``, or None for the database clock."""
    clock = (app or current_app).config["CLOCK"]
    return None if clock is None else clock()


def participant_args() -> dict[str, Any]:
    """``participant_id`` (the logged-in participant) and ``now`` of a policy call, and the
    session's ``session_version`` when the view left its check to the policy's lock."""
    args = {"participant_id": session["participant_id"], "now": policy_now()}
    version = session_version()
    if version is not None:
        args["session_version"] = version
    return args
