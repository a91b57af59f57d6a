"""Races over a real threaded HTTP server: duplicate answers, parallel finishes, parallel
failed logins (the rate limit lives in the database, so it holds across workers)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from server import bank
from server.extensions import Database


def call(base: str, method: str, path: str, body=None, cookie: str = "",
         address: str | None = None) -> tuple[int, dict, str]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if cookie:
        request.add_header("Cookie", cookie)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read()), \
                response.headers.get("Set-Cookie", "")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), ""


def login(base: str, nip: str, password: str) -> str:
    status, _body, set_cookie = call(base, "POST", "/api/v1/session",
                                     {"nip": nip, "password": password})
    assert status == 200
    return set_cookie.split(";", 1)[0]


def parallel(n: int, fn):
    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda _i: fn(), range(n)))


def test_same_answer_ten_times_in_parallel_is_stored_once(app, any_demo, live_server, driver):
    nip, _, pw = any_demo.accounts.participants[0]
    cookie = login(live_server, nip, pw)
    status, view, _ = call(live_server, "POST", f"/api/v1/exams/{driver.exam_id('PRA')}/attempts",
                           {}, cookie)
    assert status == 201
    attempt = view["attempt_id"]
    _, current, _ = call(live_server, "GET", f"/api/v1/attempts/{attempt}/item", cookie=cookie)
    item = current["item"]["item_id"]
    answers = parallel(10, lambda: call(live_server, "POST", f"/api/v1/attempts/{attempt}/answers",
                                        {"item_id": item, "choice": 2}, cookie))
    statuses = {a[0] for a in answers}
    assert statuses == {200}, answers
    # every reply is the same, apart from the seconds left ticking between them
    def strip(body):
        body = dict(body)
        body.pop("stored")
        if body["next_item"]:
            body["next_item"] = {k: v for k, v in body["next_item"].items()
                                 if k != "seconds_left"}
        return json.dumps(body, sort_keys=True)
    assert len({strip(a[1]) for a in answers}) == 1
    assert sum(a[1]["stored"] for a in answers) == 1
    with Database.factory(app)() as s:
        rows = s.scalars(select(bank.Response).where(bank.Response.attempt_id == attempt,
                                                     bank.Response.item_id == item)).all()
        assert len(rows) == 1 and rows[0].shown_choice == 2
        answered = s.scalar(select(func.count()).select_from(bank.Response).where(
            bank.Response.attempt_id == attempt, bank.Response.answered_at.is_not(None)))
        assert answered == 1
    # changing the answer of an answered item is a conflict and changes nothing
    status, body, _ = call(live_server, "POST", f"/api/v1/attempts/{attempt}/answers",
                           {"item_id": item, "choice": 1}, cookie)
    assert status == 409 and body["error"] == "conflict"
    with Database.factory(app)() as s:
        assert s.scalar(select(bank.Response.shown_choice).where(
            bank.Response.attempt_id == attempt, bank.Response.item_id == item)) == 2


def test_twenty_parallel_last_answers_give_one_result_and_one_certificate(
        app, any_demo, live_server, driver):
    nip, _, pw = any_demo.accounts.participants[2]
    with Database.factory(app)() as s:  # a fixed-length pre-assessment: the 15th answer ends it
        exam = s.scalar(select(bank.Exam).where(bank.Exam.code == "PRA"))
        exam.min_items = exam.max_items = 15
        s.commit()
    driver.login(nip, pw)
    state = driver.take("PRA", correct=True, n_answers=14)
    attempt, item = state["attempt_id"], state["item"]
    last = {"item_id": item["item_id"], "choice": driver.key_position(attempt, item["item_id"])}
    cookie = login(live_server, nip, pw)
    replies = parallel(20, lambda: call(live_server, "POST", f"/api/v1/attempts/{attempt}/answers",
                                        last, cookie))
    assert {r[0] for r in replies} == {200}, replies
    assert sum(r[1]["stored"] for r in replies) == 1  # stored once, the others are repeats
    results = {json.dumps(r[1]["result"], sort_keys=True) for r in replies}
    assert len(results) == 1
    result = replies[0][1]["result"]
    assert result["state"] == "submitted" and result["answered"] == 15
    # Without a pass there would be no certificate to issue twice: the count below would
    # prove nothing.
    assert result["passed"] is True and result["certificate_number"], result
    with Database.factory(app)() as s:
        numbers = s.scalars(select(bank.Certificate.number)).all()
    assert numbers == [result["certificate_number"]]


def test_twenty_parallel_finishes_give_one_result(app, any_demo, live_server, driver):
    nip, _, pw = any_demo.accounts.participants[3]
    driver.login(nip, pw)
    attempt = driver.take("PRA", correct=True, n_answers=10)["attempt_id"]
    cookie = login(live_server, nip, pw)
    replies = parallel(20, lambda: call(live_server, "POST", f"/api/v1/attempts/{attempt}/finish",
                                        {}, cookie))
    assert {r[0] for r in replies} == {200}, replies
    assert len({json.dumps(r[1], sort_keys=True) for r in replies}) == 1
    assert replies[0][1]["state"] == "submitted" and replies[0][1]["answered"] == 10


def test_eleventh_failed_login_in_parallel_gets_429(app, any_demo, live_server):
    nip = any_demo.accounts.participants[3][0]
    replies = parallel(11, lambda: call(live_server, "POST", "/api/v1/session",
                                        {"nip": nip, "password": "wrong-password"}))
    statuses = sorted(r[0] for r in replies)
    assert statuses.count(429) >= 1 and statuses.count(401) <= 10, statuses
    assert set(statuses) <= {401, 429}
