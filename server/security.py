"""Who is asking, what they may do, and the headers every response carries.

Every view is declared with :func:`access`, naming the roles allowed; the decorator stores
the set on the view so that the test suite can walk every route as every role.  Roles:
``anonymous`` (anyone), ``participant``, ``writer``, ``admin`` and ``service`` (bearer token
of the certification system).
"""

from __future__ import annotations

import copy
import functools
import secrets
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, g, render_template, request, session
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import BadSignature

from server import bank
from server.errors import error_response
from server.extensions import db
from server.i18n import gettext

ROLES = ("anonymous", "participant", "writer", "admin", "service")


def current_role() -> str:
    """The role of this request (a bearer token wins over a session cookie)."""
    if "role" in g:
        return g.role
    role = "anonymous"
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        token = header[7:].strip()
        if token and bank.service_token_valid(db.session, token):
            role = "service"
    elif session.get("participant_id") is not None:
        role = "participant"
    elif session.get("staff_role") in ("writer", "admin"):
        role = session["staff_role"]
    g.role = role
    return role


def access(*roles: str) -> Callable:
    """Allow only ``roles``; others get 401 (not logged in) or 403 (wrong role)."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")
    allowed = frozenset(roles)

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any):
            role = current_role()
            if "anonymous" in allowed or role in allowed:
                return view(*args, **kwargs)
            if role == "anonymous":
                if request.path.startswith("/api/"):
                    return error_response(401, "unauthorized", gettext("Log in first."))
                target = "writer" if allowed & {"writer", "admin"} else "participant"
                return Response(render_template("login.html", audience=target,
                                                next=request.full_path), status=401)
            return error_response(403, "forbidden",
                                  gettext("Your role may not use this page."))

        wrapper.access = allowed  # type: ignore[attr-defined]
        return wrapper

    return decorate


def start_session(**values: Any) -> None:
    """Log in: a new session (new id and CSRF token) so a planted session is worth nothing."""
    lang = session.get("lang")
    session.clear()
    session.update(values)
    session["sid"] = secrets.token_urlsafe(24)
    if lang:
        session["lang"] = lang
    session.permanent = False


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
            return self.session_class(copy.deepcopy(found[0]))
        try:
            data, signed = self.get_signing_serializer(app).loads(  # type: ignore[union-attr]
                value, max_age=int(max_age), return_timestamp=True)
        except BadSignature:
            return self.session_class()
        if len(self._verified) >= self._VERIFIED_MAX:
            self._verified.clear()
        self._verified[key] = (copy.deepcopy(data), signed.timestamp())
        return self.session_class(data)


CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def init_app(app: Flask) -> None:
    app.session_interface = _SessionInterface()
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax")

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        if not request.path.startswith("/static/"):
            # Exam pages, results and API answers must never come back from a shared cache or
            # the back button after logout.
            response.headers["Cache-Control"] = "no-store"
        if request.is_secure:
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        return response
