"""Public pages: certificate verification (anyone may check a number), health and metrics."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from sqlalchemy import text

from server import bank
from server.extensions import db
from server.metrics import exposition
from server.security import access

bp = Blueprint("public", __name__)


@bp.get("/verify")
@access("anonymous")
def verify_form():
    number = request.args.get("number", "").strip()
    if number:
        return verify(number)
    return render_template("public/verify.html", cert=None, number="")


@bp.get("/verify/<number>")
@access("anonymous")
def verify(number: str):
    record = bank.public_certificate(db.session, number)
    return render_template("public/verify.html", cert=record, number=number), (
        200 if record else 404)


@bp.get("/healthz")
@access("anonymous")
def health():
    """200 when the database answers; otherwise the 503 JSON of server.errors."""
    db.session.execute(text("SELECT 1"))
    return {"status": "ok", "database": "ok"}


@bp.get("/metrics")
@access("anonymous")
def metrics():
    """Prometheus text format, for the scraper only (its token is checked by server.metrics
    before this view and its role lookup)."""
    return exposition()
