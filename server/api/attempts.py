"""``/api/v1/exams/<id>/attempts`` and ``/api/v1/attempts/<id>/...``: taking an exam.

Every call goes through the item_bank policy with the participant from the session, so
another participant's attempt is "not found" (404) there, never here.
"""

from __future__ import annotations

import dataclasses

from server import bank
from server.api import api, field, json_body, json_response
from server.extensions import db
from server.policy_args import participant_args
from server.security import access


@api.post("/exams/<int:exam_id>/attempts")
@access("participant", policy_checks_session=True)
def start_attempt(exam_id: int):
    view = bank.policy.start_attempt(db.session, exam_id=exam_id, **participant_args())
    return json_response(view, 201)


@api.get("/attempts/<int:attempt_id>")
@access("participant", policy_checks_session=True)
def get_attempt(attempt_id: int):
    view = bank.policy.attempt_view(db.session, attempt_id=attempt_id, **participant_args())
    return json_response(view)


@api.get("/attempts/<int:attempt_id>/item")
@access("participant", policy_checks_session=True)
def current_item(attempt_id: int):
    item = bank.policy.current_item(db.session, attempt_id=attempt_id, **participant_args())
    if item is None:
        # Finished (by the participant, the last item or the deadline): send the result.
        result = bank.policy.attempt_result(db.session, attempt_id=attempt_id, **participant_args())
        return json_response({"item": None, "result": result})
    # The stem and options as Markdown source and as the sanitised HTML the page shows.
    return json_response({"item": bank.item_text.with_html(dataclasses.asdict(item))})


@api.post("/attempts/<int:attempt_id>/answers")
@access("participant", policy_checks_session=True)
def answer(attempt_id: int):
    data = json_body()
    item_id = field(data, "item_id", (int, str))
    choice = field(data, "choice", int)
    outcome = bank.policy.record_answer(db.session, attempt_id=attempt_id, item_id=item_id,
                                        choice=choice, **participant_args())
    return json_response(outcome)


@api.post("/attempts/<int:attempt_id>/finish")
@access("participant", policy_checks_session=True)
def finish(attempt_id: int):
    confirmed = field(json_body(), "confirm", bool, required=False, default=False)
    result = bank.policy.finish_attempt(db.session, attempt_id=attempt_id, confirmed=confirmed,
                                        **participant_args())
    return json_response(result)


@api.get("/attempts/<int:attempt_id>/result")
@access("participant", policy_checks_session=True)
def result(attempt_id: int):
    res = bank.policy.attempt_result(db.session, attempt_id=attempt_id, **participant_args())
    return json_response(res)
