"""Logging in participants (NIP) and staff (username), with a database-backed rate limit.

The limit lives in the database so that it holds across worker processes and hosts: every
try is written (as a failure) and committed *before* the password is checked, then the
failures in the window are counted.  Parallel tries therefore all see each other once
committed, and the one that pushes the count past the limit is refused with 429 whatever the
interleaving; a successful try is turned into a success afterwards.
"""

from __future__ import annotations

from flask import current_app, request

from server import bank
from server.errors import BadInput
from server.extensions import db
from server.i18n import N_
from server.inputs import check_text


class LoginRefused(BadInput):
    """Unknown NIP and wrong password look the same (no account enumeration); ``message``
    is an English source text of the catalog."""

    def __init__(self, message: str) -> None:
        super().__init__(message, 401, "login_failed")


class Throttled(BadInput):
    def __init__(self) -> None:
        super().__init__(N_("Too many failed logins; wait a minute and try again."), 429,
                         "too_many_attempts")


def client_address() -> str:
    return request.remote_addr or "unknown"


def _throttled_check(identity: str, check) -> object:
    """Record the try, refuse when over the limit, else run ``check`` (None = wrong)."""
    session = db.session
    limit = current_app.config["LOGIN_LIMIT"]
    window = current_app.config["LOGIN_WINDOW_SECONDS"]
    address = client_address()
    attempt_id = bank.record_login_try(session, identity=identity, address=address)
    failures = bank.count_login_failures(session, identity=identity, address=address,
                                         window_seconds=window)
    if failures > limit:
        raise Throttled()
    principal = check()
    if principal is not None:
        bank.mark_login_success(session, attempt_id)
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
