"""``/api/v1/session``: log in and out with a session cookie."""

from __future__ import annotations

from flask import jsonify, session

from server import bank
from server.api import api, field, json_body
from server.auth import login_participant
from server.extensions import db
from server.security import access, current_role, log_out, start_session


@api.post("/session")
@access("anonymous")
def login():
    data = json_body()
    participant = login_participant(field(data, "nip", str), field(data, "password", str))
    start_session(participant.session_version, participant_id=participant.id)
    return jsonify(participant=bank.participant_json(participant))


@api.delete("/session")
@access("anonymous")
def logout():
    log_out()
    return jsonify(ok=True)


@api.get("/session")
@access("participant")
def whoami():
    participant = bank.get_participant(db.session, session["participant_id"])
    return jsonify(role=current_role(), participant=bank.participant_json(participant))
