"""Who is asking, what they may do, and the headers every response carries.

Every view is declared with :func:`access`, naming the roles allowed; the decorator stores
the set on the view so that the test suite can walk every route as every role.  Roles:
``anonymous`` (anyone), ``participant``, ``writer``, ``admin`` and ``service`` (the bearer
token of another system: the certification service, an LMS).  A route open to ``service``
names the token scope it needs (``scope=``, of ``bank.SERVICE_SCOPES``): a token without it
gets 403 ``missing_scope``.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import secrets
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import Flask, Response, current_app, g, render_template, request, session
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import BadSignature

from server import bank
from server.errors import error_response
from server.extensions import db
from server.i18n import gettext

ROLES = ("anonymous", "participant", "writer", "admin", "service")


def current_role(*, check_version: bool = True) -> str:
    """The role of this request (a bearer token wins over a session cookie).

    ``check_version=False`` leaves the session's version to the policy call of the view
    (:func:`access`'s ``policy_checks_session``)."""
    if "role" in g:
        return g.role
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        token = header[7:].strip()
        row = bank.service_token(db.session, token) if token else None
        g.role = "anonymous" if row is None else "service"
        g.service_scopes = frozenset(row.scopes) if row is not None else frozenset()
        g.service_name = row.name if row is not None else ""
        return g.role
    return session_role(check_version=check_version)


def session_clock() -> int:
    """Seconds since the epoch for session lifetimes: the ``CLOCK`` setting when there is one
    (tests move it), else this host's clock; a database round trip per request is not worth
    it for lifetimes of minutes and hours, which a few seconds between hosts do not change."""
    clock = current_app.config["CLOCK"]
    return int(time.time() if clock is None else clock().timestamp())


def _session_account() -> tuple[str, bank.accounts.Account, Any] | None:
    """(role, account table, id) of the logged-in session, None for an anonymous one."""
    if session.get("participant_id") is not None:
        return "participant", bank.Participant, session["participant_id"]
    if session.get("staff_role") in ("writer", "admin"):
        return session["staff_role"], bank.StaffUser, session.get("staff_id")
    return None


def session_role(*, check_version: bool = True) -> str:
    """The role of the session cookie, checked once per request: "anonymous" when nobody is
    logged in or the session has ended (idle or absolute lifetime over, or its account's
    session version moved on: logout, password change, an administrator's "end sessions"),
    and such a session is emptied.  The idle stamp is renewed at most every
    ``SESSION_REFRESH_SECONDS``, so most requests send no new cookie.

    ``check_version=False`` skips the read of the account's session version: the view's
    policy call compares it under the participant's lock instead (:func:`session_version`
    is then what the call gets), which spares a round trip on every answer.  Any later
    call in the request with the default reads it all the same.
    """
    if "session_role" not in g:
        g.session_role, g.session_version_checked = _cookie_role(), False
    if g.session_role != "anonymous" and check_version and not g.session_version_checked:
        account = _session_account()
        assert account is not None
        if bank.accounts.session_version(db.session, account[1], account[2]) != session["sv"]:
            _empty_session()
            g.session_role = "anonymous"
        g.session_version_checked = True
    return g.session_role


def _cookie_role() -> str:
    """The role the session cookie claims while within its lifetimes (version unchecked)."""
    account = _session_account()
    if account is not None:
        now, config = session_clock(), current_app.config
        issued, seen = session.get("iat"), session.get("seen")
        if (isinstance(issued, int) and isinstance(seen, int)
                and isinstance(session.get("sv"), int)
                and now - issued <= config["SESSION_ABSOLUTE_SECONDS"]
                and now - seen <= config["SESSION_IDLE_SECONDS"]):
            if now - seen >= config["SESSION_REFRESH_SECONDS"]:
                session["seen"] = now
            return account[0]
        _empty_session()
    return "anonymous"


def session_version() -> int | None:
    """The session version a policy call must check under its lock: the session's own when
    the role was granted without reading it, else None (already checked)."""
    if g.get("session_version_checked", True):
        return None
    return session["sv"]


def access(*roles: str, scope: str | None = None,
           policy_checks_session: bool = False) -> Callable:
    """Allow only ``roles``; others get 401 (not logged in) or 403 (wrong role).

    ``scope``: what a service token needs for the route (required when ``service`` is among
    the roles); a token without it gets 403 ``missing_scope`` naming it.

    ``policy_checks_session``: the view passes :func:`session_version` to a policy call that
    checks it under the participant's lock (``SessionEnded`` when it moved on, answered by
    :func:`login_required` like any ended session), so no read of its own is made here.
    """
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")
    allowed = frozenset(roles)
    if ("service" in allowed) != (scope is not None) or scope not in (None, *bank.SERVICE_SCOPES):
        raise ValueError(f"a service route needs one scope of {bank.SERVICE_SCOPES}, "
                         f"and only a service route has one (got {scope!r})")

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any):
            role = current_role(check_version=not policy_checks_session)
            if role == "service" and "service" in allowed and scope not in g.service_scopes:
                return error_response(403, "forbidden", gettext(
                    "This token lacks the scope %(scope)s.", scope=scope),
                    code="missing_scope", params={"scope": scope})
            if "anonymous" in allowed or role in allowed:
                return view(*args, **kwargs)
            if role == "anonymous":
                return login_required(allowed)
            return error_response(403, "forbidden",
                                  gettext("Your role may not use this page."))

        wrapper.access = allowed  # type: ignore[attr-defined]
        wrapper.scope = scope  # type: ignore[attr-defined]
        return wrapper

    return decorate


def login_required(allowed: frozenset[str]) -> Response:
    """The answer to a request that needs one of ``allowed`` from nobody logged in: 401, and
    on a page the login form that comes back to it."""
    if request.path.startswith("/api/"):
        return error_response(401, "unauthorized", gettext("Log in first."))
    target = "writer" if allowed & {"writer", "admin"} else "participant"
    return Response(render_template("login.html", audience=target, next=request.full_path),
                    status=401)


def session_ended(_exc: Exception) -> Response:
    """A policy call found the session's version moved on: it is empty from now on, and the
    request is answered as from nobody logged in."""
    _empty_session()
    g.session_role, g.session_version_checked = "anonymous", True
    return login_required(frozenset({"participant"}))


def start_session(version: int, **values: Any) -> None:
    """Log in: a new session (new id and CSRF token) so a planted session is worth nothing,
    holding the account's session ``version`` and its start time (the lifetimes count from
    there)."""
    _empty_session()
    session.update(values)
    now = session_clock()
    session.update(sid=secrets.token_urlsafe(24), sv=version, iat=now, seen=now)
    session.permanent = False


def _empty_session() -> None:
    """Nobody logged in any more; the chosen language stays."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang


def log_out() -> None:
    """End every session of the logged-in account, here and in every worker (its session
    version moves on), and empty this one.  A session that already ended changes nothing."""
    account = _session_account()
    if account is not None and session_role() != "anonymous":
        bank.accounts.end_sessions(db.session, model=account[1], account_id=account[2])
    _empty_session()


class _SessionInterface(SecureCookieSessionInterface):
    """Session cookies marked Secure whenever the request came over HTTPS, verified once.

    Flask checks a cookie's signature on every request (about 90 us here: a new serializer,
    HMAC, base64 and JSON), and a participant sends the same cookie with every answer.  So a
    cookie that verified is remembered with its contents and signing time, per secret key:
    the next request with the very same cookie gets a copy of them, as long as it has not
    outlived the session lifetime.  A cookie that did not verify is never remembered.
    """

    _VERIFIED_MAX = 20_000

    def __init__(self) -> None:
        self._verified: dict[tuple, tuple[dict[str, Any], float]] = {}

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config.get("SESSION_COOKIE_SECURE")) or request.is_secure

    def open_session(self, app: Flask, request: Any) -> SecureCookieSession | None:
        value = request.cookies.get(self.get_cookie_name(app))
        if not value or not app.secret_key:
            return super().open_session(app, request)
        key = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()), value)
        max_age = app.permanent_session_lifetime.total_seconds()
        found = self._verified.get(key)
        if found is not None and time.time() - found[1] <= max_age:
            return self.session_class(_copy(found[0]))
        try:
            data, signed = self.get_signing_serializer(app).loads(  # type: ignore[union-attr]
                value, max_age=int(max_age), return_timestamp=True)
        except BadSignature:
            return self.session_class()
        if len(self._verified) >= self._VERIFIED_MAX:
            self._verified.clear()
        self._verified[key] = (_copy(data), signed.timestamp())
        return self.session_class(data)

    def save_session(self, app: Flask, session: Any, response: Response) -> None:
        # What Flask does for a session that is neither changed nor empty (nearly every
        # request), without first reading the seven cookie settings it then does not use.
        if session and not self.should_set_cookie(app, session):
            if session.accessed:
                response.vary.add("Cookie")
            return
        super().save_session(app, session, response)


_SCALARS = (str, int, float, bool, type(None))


def _copy(data: dict[str, Any]) -> dict[str, Any]:
    """A copy of session ``data`` that no change of the copy reaches: a plain dict copy when
    every value is a scalar (a session here holds ids, stamps and tokens, and ``deepcopy``
    walks each of them, about 13 calls per request), else a deep copy."""
    if all(type(v) in _SCALARS for v in data.values()):
        return dict(data)
    return copy.deepcopy(data)


def safe_next(target: Any, home: str) -> str:
    """``target`` when it is a path of this site, else ``home``: the page to go to after a
    login, which comes from the client and must not bounce a phishing link to another site.

    Refused: anything not starting with one ``/`` (``//host``, ``///host``, schemes), any
    whitespace or control character (browsers drop tabs and newlines, so ``/<TAB>/host`` would
    become ``//host``), backslashes (browsers read ``/\\host`` as ``//host``), and a path
    that decodes to one of these (``/%2F/host``, ``/%5Chost``, ``/%09/host``).
    """
    if (not isinstance(target, str) or not target.startswith("/") or target.startswith("//")
            or not _plain(target)):
        return home
    parts = urlsplit(target)
    path = unquote(parts.path)
    if parts.scheme or parts.netloc or path.startswith("//") or not _plain(path):
        return home
    return target


def _plain(text: str) -> bool:
    """No whitespace, control or other non-printable character and no backslash."""
    return text.isprintable() and not any(c.isspace() or c == "\\" for c in text)


CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")

_HEADERS = (("X-Content-Type-Options", "nosniff"), ("Content-Security-Policy", CSP),
            ("X-Frame-Options", "DENY"), ("Referrer-Policy", "same-origin"))


def init_app(app: Flask) -> None:
    app.session_interface = _SessionInterface()
    app.register_error_handler(bank.SessionEnded, session_ended)
    # No signed cookie outlives a session's absolute lifetime (Flask's default is 31 days).
    app.permanent_session_lifetime = dt.timedelta(seconds=app.config["SESSION_ABSOLUTE_SECONDS"])
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax")

    @app.after_request
    def _headers(response: Response) -> Response:
        # Added, not set: no view sets these, and setting scans every header for each.
        headers = response.headers
        for name, value in _HEADERS:
            headers.add(name, value)
        if not request.path.startswith("/static/"):
            # Exam pages, results and API answers must never come back from a shared cache or
            # the back button after logout.
            response.headers["Cache-Control"] = "no-store"
        if request.is_secure:
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        return response
