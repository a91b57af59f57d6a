"""Server-rendered pages, one blueprint per audience."""

from __future__ import annotations

from flask import Response

from server import bank
from server.extensions import db


def picture_response(data: bytes, media_type: str) -> Response:
    """A stored picture (a certificate logo, an item's image), never cached: a new logo shows
    at once, and an item's image belongs to the attempt that shows it, not to a cache."""
    response = Response(data, mimetype=media_type)
    response.headers["Cache-Control"] = "no-store"
    return response


def logo_response(program_id: int) -> Response:
    """The program's certificate logo as stored (the re-encoded PNG); 404 without one."""
    logo = bank.program_logo(db.session, program_id)
    if logo is None:
        raise bank.NotFound("program_logo_not_found")
    return picture_response(logo.data, logo.media_type)
