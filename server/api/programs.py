"""``/api/v1/programs``: the participant's programs and where they stand in each."""

from __future__ import annotations

from server import bank
from server.api import api, json_response
from server.extensions import db
from server.policy_args import participant_args
from server.security import access


@api.get("/programs")
@access("participant")
def list_programs():
    statuses = bank.participant_programs(db.session, **participant_args())
    return json_response({"programs": statuses})


@api.get("/programs/<int:program_id>")
@access("participant")
def program_status(program_id: int):
    status = bank.policy.program_status(db.session, program_id=program_id,
                                        **participant_args())
    return json_response(status)
