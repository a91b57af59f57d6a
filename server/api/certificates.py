"""``/api/v1/certificates``: the certification service pulls certificates and results.

The cursor is opaque to clients; it encodes the (issued_at, id) of the last row sent.  Rows
younger than ``CERTIFICATE_SETTLE_SECONDS`` on the database clock are held back: a
certificate whose transaction took its id and timestamp earlier but committed later would
otherwise land behind a cursor that has already moved past it and be missed; the strict
"greater than the cursor" order means nothing is ever sent twice.
"""

from __future__ import annotations

import base64
import datetime as dt
import json

from flask import current_app, jsonify, request

from server import bank
from server.api import api
from server.errors import BadInput
from server.extensions import db
from server.i18n import N_
from server.inputs import query_int
from server.security import access

# The largest id the certificate table can hold: a larger one in a cursor overflows the
# database's comparison instead of naming a position.
MAX_CERTIFICATE_ID = bank.int_range(bank.Certificate.__table__.c.id.type)[1]
# A cursor this server gives out is about 60 characters; anything much longer is not one,
# and is refused before it is decoded.
MAX_CURSOR_LENGTH = 200


def encode_cursor(position: tuple[str, int]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(position)).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.datetime, int] | None:
    """The ``(issued_at, id)`` of a cursor of :func:`encode_cursor`: an aware UTC datetime
    and an id within the range of the id column, else BadInput ``bad_cursor`` (400)."""
    if not cursor:
        return None
    try:
        if len(cursor) > MAX_CURSOR_LENGTH:
            raise ValueError("too long")
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        position = json.loads(raw)
        if not isinstance(position, list) or len(position) != 2:
            raise ValueError("not a pair")
        issued_at, row_id = position
        if not isinstance(issued_at, str) or type(row_id) is not int \
                or not 0 <= row_id <= MAX_CERTIFICATE_ID:
            raise ValueError("not a timestamp and an id")
        at = dt.datetime.fromisoformat(issued_at)
        # The server writes aware timestamps in isoformat(); the parser also takes variants.
        if at.tzinfo is None or at.isoformat() != issued_at:
            raise ValueError("not a timestamp of this server")
        return at.astimezone(dt.UTC), row_id
    except (ValueError, TypeError, OverflowError) as exc:
        raise BadInput(N_("The cursor is not one this server gave out."),
                       code="bad_cursor") from exc


@api.get("/certificates")
@access("service", scope="certificates:read")
def list_certificates():
    since = decode_cursor(request.args.get("since", ""))
    limit = query_int("limit", current_app.config["CERTIFICATE_PAGE_SIZE"], low=1, high=1000,
                      status=400)
    rows, last = bank.certificates_page(
        db.session, since=since, limit=limit,
        settle_seconds=current_app.config["CERTIFICATE_SETTLE_SECONDS"])
    next_cursor = encode_cursor(last) if last else request.args.get("since", "")
    return jsonify(certificates=rows, next=next_cursor, more=len(rows) == limit)


@api.get("/certificates/<number>")
@access("service", scope="certificates:read")
def get_certificate(number: str):
    return jsonify(bank.certificate_json(db.session, number))
