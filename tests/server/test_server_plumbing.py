"""The request plumbing the exam routes lean on: the API's JSON replies and the request's
database session."""

from __future__ import annotations

import datetime as dt
import enum
import json
from dataclasses import dataclass, field

import numpy as np
import pytest
from sqlalchemy import select

from server import bank
from server.api import json_response
from server.extensions import db
from server.i18n import Notice


class Colour(enum.Enum):
    RED = "red"


@dataclass(frozen=True)
class Inner:
    when: dt.datetime
    notice: Notice
    tags: frozenset[str]


@dataclass(frozen=True)
class Outer:
    id: int
    score: float
    colour: Colour
    inner: Inner
    pairs: tuple[tuple[int, str], ...]
    by_id: dict[int, str] = field(default_factory=dict)


def test_json_response_writes_views_as_plain_json(app):
    when = dt.datetime(2026, 12, 2, 14, 5, 6, 7, tzinfo=dt.UTC)
    value = Outer(id=2**62, score=np.float64(72.5), colour=Colour.RED,
                  inner=Inner(when=when, notice=Notice("time_up"), tags=frozenset({"b"})),
                  pairs=((1, "a"),), by_id={3: "c"})
    with app.test_request_context("/api/v1/programs", headers={"Accept-Language": "en"}):
        response = json_response(value, 201)
    assert response.status_code == 201 and response.mimetype == "application/json"
    body = response.get_data(as_text=True)
    assert body.endswith("}\n")
    reply = json.loads(body)
    assert list(reply) == sorted(reply)  # keys sorted, as Flask's JSON writes them
    notice = reply["inner"].pop("notice")
    assert reply == {"id": 2**62, "score": 72.5, "colour": "red",
                     "inner": {"when": "2026-12-02T14:05:06.000007+00:00", "tags": ["b"]},
                     "pairs": [[1, "a"]], "by_id": {"3": "c"}}
    assert notice["code"] == "time_up" and notice["params"] == {}
    assert notice["message"] and notice["message"] != "time_up"  # translated, not the code


def test_json_response_refuses_what_it_cannot_write(app):
    with app.test_request_context("/"), pytest.raises(TypeError, match="object"):
        json_response({"x": object()})


def test_an_untouched_session_is_kept_for_the_next_request_and_a_used_one_is_not(app):
    with app.app_context():
        first = db.session
        first.get_bind()  # what the PostgreSQL store does with it: name the engine
    with app.app_context():
        assert db.session is first
        db.session.execute(select(1))  # began a transaction
    with app.app_context():
        second = db.session
        assert second is not first
        assert not first.in_transaction()  # closed at the end of its request
        second.add(bank.Program(code="NEW", name="never stored"))
    with app.app_context():
        assert db.session is not second  # it held an object: closed, not kept
        assert not second.new
