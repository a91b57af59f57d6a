"""``/api/v1/certificates``: the certification service pulls certificates and results.

The cursor is opaque to clients; it encodes the (issued_at, id) of the last row sent.  Rows
younger than ``CERTIFICATE_SETTLE_SECONDS`` on the database clock are held back: a
certificate whose transaction took its id and timestamp earlier but committed later would
otherwise land behind a cursor that has already moved past it and be missed; the strict
"greater than the cursor" order means nothing is ever sent twice.
"""

from __future__ import annotations

import base64
import json

from flask import current_app, jsonify, request

from server import bank
from server.api import api
from server.errors import BadInput
from server.extensions import db
from server.i18n import N_
from server.security import access


def encode_cursor(position: tuple[str, int]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(position)).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, int] | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        issued_at, row_id = json.loads(raw)
        if not isinstance(issued_at, str) or not isinstance(row_id, int):
            raise ValueError
        return issued_at, row_id
    except (ValueError, TypeError, json.JSONDecodeError) as exc:
        raise BadInput(N_("The cursor is not one this server gave out."),
                       code="bad_cursor") from exc


@api.get("/certificates")
@access("service")
def list_certificates():
    since = decode_cursor(request.args.get("since", ""))
    try:
        limit = int(request.args.get("limit", current_app.config["CERTIFICATE_PAGE_SIZE"]))
    except ValueError as exc:
        raise BadInput(N_("limit must be a whole number."), code="invalid_input") from exc
    if not 1 <= limit <= 1000:
        raise BadInput(N_("limit must be within 1..1000."), code="invalid_input")
    rows, last = bank.certificates_page(
        db.session, since=since, limit=limit,
        settle_seconds=current_app.config["CERTIFICATE_SETTLE_SECONDS"])
    next_cursor = encode_cursor(last) if last else request.args.get("since", "")
    return jsonify(certificates=rows, next=next_cursor, more=len(rows) == limit)


@api.get("/certificates/<number>")
@access("service")
def get_certificate(number: str):
    return jsonify(bank.certificate_json(db.session, number))
