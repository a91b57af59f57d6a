"""Who is asking, what they may do, and the headers every response carries.

Every view is declared with :func:`access`, naming the roles allowed; the decorator stores
the set on the view so that the test suite can walk every route as every role.  Roles:
``anonymous`` (anyone), ``participant``, ``writer``, ``admin`` and ``service`` (bearer token
of the certification system).
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, g, render_template, request, session
from flask.sessions import SecureCookieSessionInterface

from server import bank
from server.errors import error_response
from server.extensions import db

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
                    return error_response(401, "unauthorized", "Log in first.")
                target = "writer" if allowed & {"writer", "admin"} else "participant"
                return Response(render_template("login.html", audience=target,
                                                next=request.full_path), status=401)
            return error_response(403, "forbidden", "Your role may not use this page.")

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
    """Session cookies marked Secure whenever the request came over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config.get("SESSION_COOKIE_SECURE")) or request.is_secure


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
