"""Logging in participants (NIP) and staff (username), behind the login throttle.

The throttle (:mod:`item_bank.login_throttle`) lives in the database so that it holds
across worker processes and hosts: every try is written and committed *before* the password
is checked and then judged against every stored failure, so parallel tries all see each
other.  A refused try is 429 with ``Retry-After`` and a message saying how long to wait; the
password of a refused try is never checked (no oracle for a locked-out attacker).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TypeVar

from flask import Response, after_this_request, current_app, request

from server import bank
from server.config import login_rule
from server.errors import BadInput
from server.extensions import db
from server.i18n import N_
from server.inputs import check_text
from server.policy_args import policy_now

T = TypeVar("T")


class LoginRefused(BadInput):
    """Unknown NIP and wrong password look the same (no account enumeration); ``message``
    is an English source text of the catalog."""

    def __init__(self, message: str) -> None:
        super().__init__(message, 401, "login_failed")


class Throttled(BadInput):
    """429: wait ``seconds`` (the message says it in seconds, or minutes when long)."""

    def __init__(self, seconds: int) -> None:
        minutes = math.ceil(seconds / 60)
        message = (N_("Too many failed logins. Try again in %(seconds)s seconds.")
                   if seconds < 120 else
                   N_("Too many failed logins. Try again in %(minutes)s minutes."))
        super().__init__(message, 429, "too_many_attempts", seconds=seconds, minutes=minutes)


def client_address() -> str:
    return request.remote_addr or "unknown"


def _throttled_check(account: str, check: Callable[[], T | None]) -> T | None:
    """Record and judge the try (429 when throttled), else run ``check`` (None = wrong)."""
    session = db.session
    decision = bank.login_throttle.judge_try(
        session, login_rule(current_app.config), account=account, address=client_address(),
        now=policy_now())
    if decision.retry_after is not None:
        retry_after = str(decision.retry_after)

        # The login views render the refusal themselves (a page) or through the error
        # handler (JSON): either way the header joins the response that is finally sent.
        @after_this_request
        def _retry_after(response: Response) -> Response:
            response.headers["Retry-After"] = retry_after
            return response

        raise Throttled(decision.retry_after)
    principal = check()
    if principal is not None:
        bank.login_throttle.login_succeeded(session, decision)
    return principal


def login_participant(nip: str, password: str):
    """The participant whose NIP and password match, else :class:`LoginRefused` / 429."""
    if not isinstance(nip, str) or not isinstance(password, str):
        raise BadInput(N_("NIP and password must be strings."), 422, "invalid_input")
    # No account has a NIP longer than the column, and the throttle's key must fit its own.
    nip = check_text(nip.strip(), "nip", bank.Participant.nip)
    principal = _throttled_check(
        f"nip:{nip}", lambda: bank.authenticate_participant(db.session, nip, password))
    if principal is None:
        raise LoginRefused(N_("Invalid NIP or password."))
    return principal


def login_staff(username: str, password: str):
    if not isinstance(username, str) or not isinstance(password, str):
        raise BadInput(N_("Username and password must be strings."), 422, "invalid_input")
    username = check_text(username.strip(), "username", bank.StaffUser.username)
    principal = _throttled_check(
        f"staff:{username}", lambda: bank.authenticate_staff(db.session, username, password))
    if principal is None:
        raise LoginRefused(N_("Invalid username or password."))
    return principal
