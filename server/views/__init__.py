"""Server-rendered pages, one blueprint per audience."""

from __future__ import annotations

from flask import Response

from server import bank
from server.extensions import db


def logo_response(program_id: int) -> Response:
    """The program's certificate logo as stored (the re-encoded PNG), never cached (a new
    logo shows at once); 404 without one."""
    logo = bank.program_logo(db.session, program_id)
    if logo is None:
        raise bank.NotFound("program_logo_not_found")
    response = Response(logo.data, mimetype=logo.media_type)
    response.headers["Cache-Control"] = "no-store"
    return response
