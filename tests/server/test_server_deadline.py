"""Deadlines: the server finishes abandoned attempts, refuses late answers, and counts time on
one clock.  The tests give the app a fake clock (the ``CLOCK`` setting, ``clock`` fixture)
and move it, so every expectation is exact whatever the machine's speed; the last test runs
without it and checks that the time then comes from the database clock."""

from __future__ import annotations

import datetime as dt
import time

from sqlalchemy import select

from server import bank, sweeper
from server.extensions import Database

PRA_SECONDS = 20 * 60  # the demo pre-assessment's time limit
GRACE = 5  # seconds: the default answer grace after the deadline


def _answered(app, attempt_id: int) -> list[tuple[int, int | None]]:
    with Database.factory(app)() as s:
        return [(r.item_id, r.choice) for r in s.scalars(
            select(bank.Response).where(bank.Response.attempt_id == attempt_id)
            .order_by(bank.Response.position))]


def _start(driver, demo, who: int = 0, n_answers: int = 3) -> dict:
    nip, _name, password = demo.accounts.participants[who]
    driver.login(nip, password)
    return driver.take("PRA", correct=True, n_answers=n_answers)


def test_abandoned_attempt_is_finished_by_the_sweep_and_late_answer_refused(app, demo, driver,
                                                                            clock):
    state = _start(driver, demo)
    attempt_id, pending = state["attempt_id"], state["item"]
    clock.advance(PRA_SECONDS + GRACE)
    assert sweeper.sweep_once(app) == 0  # at the end of the grace: not yet due
    clock.advance(1)
    before = _answered(app, attempt_id)
    assert sweeper.sweep_once(app) == 1
    assert sweeper.sweep_once(app) == 0  # finished once
    with Database.factory(app)() as s:
        attempt = s.get(bank.Attempt, attempt_id)
        assert attempt.state == bank.AttemptState.EXPIRED and attempt.score is not None
    result = driver.client.get(f"/api/v1/attempts/{attempt_id}/result").json
    assert result["state"] == "expired" and result["answered"] == 3
    # the answers given so far count: three right answers give a score above all-wrong
    assert result["score"] > 0
    r = driver.client.post(f"/api/v1/attempts/{attempt_id}/answers",
                           json={"item_id": pending["item_id"], "choice": 0})
    assert r.status_code == 409 and r.json["error"] == "conflict"
    assert _answered(app, attempt_id) == before


def test_deadline_enforced_on_access_without_sweep(app, demo, driver, clock):
    state = _start(driver, demo, n_answers=2)
    attempt_id = state["attempt_id"]
    clock.advance(PRA_SECONDS + 30)
    r = driver.client.get(f"/api/v1/attempts/{attempt_id}/item")
    assert r.status_code == 200 and r.json["item"] is None
    assert r.json["result"]["state"] == "expired" and r.json["result"]["answered"] == 2
    page = driver.client.get(f"/attempts/{attempt_id}")
    assert page.status_code == 302 and page.headers["Location"].endswith("/result")


def test_answer_in_flight_accepted_within_grace_only(app, demo, driver, new_driver, clock):
    state = _start(driver, demo, n_answers=1)
    clock.advance(PRA_SECONDS + 2)  # 2 s late: inside the 5 s grace
    r = driver.client.post(f"/api/v1/attempts/{state['attempt_id']}/answers",
                           json={"item_id": state["item"]["item_id"], "choice": 0})
    assert r.status_code == 200, r.json
    # It is the last answer: no item after the deadline, the reply carries the result.
    assert r.json["stored"] and r.json["finished"] and r.json["next_item"] is None
    assert r.json["result"]["state"] == "expired" and r.json["result"]["answered"] == 2

    other = new_driver()
    state = _start(other, demo, who=1, n_answers=1)
    clock.advance(PRA_SECONDS + 6)  # 6 s late: refused
    r = other.client.post(f"/api/v1/attempts/{state['attempt_id']}/answers",
                          json={"item_id": state["item"]["item_id"], "choice": 0})
    assert r.status_code == 409


def test_sweeper_thread_finishes_attempts_without_any_request(app, demo, driver,
                                                              app_factory, clock):
    state = _start(driver, demo, n_answers=1)
    clock.advance(PRA_SECONDS + 10)
    # A second app (another worker, same clock) with its sweeper thread running every second.
    worker = app_factory(TESTING=False, SWEEP_INTERVAL_SECONDS=1)
    for _ in range(50):  # up to 5 s of real time for the thread's first sweeps
        with Database.factory(worker)() as s:
            if s.get(bank.Attempt, state["attempt_id"]).state != bank.AttemptState.STARTED:
                break
        time.sleep(0.1)
    with Database.factory(worker)() as s:
        assert s.get(bank.Attempt, state["attempt_id"]).state == bank.AttemptState.EXPIRED


def test_remaining_time_survives_reload(app, demo, driver, clock):
    state = _start(driver, demo, n_answers=0)
    attempt_id = state["attempt_id"]
    first = driver.client.get(f"/api/v1/attempts/{attempt_id}/item").json["item"]
    assert first["seconds_left"] == PRA_SECONDS
    clock.advance(61)
    again = driver.client.get(f"/api/v1/attempts/{attempt_id}/item").json["item"]  # a reload
    assert again["item_id"] == first["item_id"]
    assert again["seconds_left"] == PRA_SECONDS - 61


def test_deadline_is_the_earlier_of_time_limit_and_window_close(app, demo, driver, clock):
    with Database.factory(app)() as s:
        exam = s.scalar(select(bank.Exam).where(bank.Exam.code == "PRA"))
        exam.window_closes_at = clock.now + dt.timedelta(seconds=120)  # before the 20 min limit
        s.commit()
    state = _start(driver, demo, n_answers=0)
    path = f"/api/v1/attempts/{state['attempt_id']}"
    assert driver.client.get(path).json["seconds_left"] == 120
    clock.advance(119)
    view = driver.client.get(path).json
    assert view["seconds_left"] == 1 and view["state"] == "started"
    # Past the window's close no item is shown any more: a view of the attempt ends it (only
    # an answer already on its way is still taken within the grace).
    clock.advance(2)
    view = driver.client.get(path).json
    assert view["seconds_left"] == 0 and view["state"] == "expired"


def test_result_page_of_a_running_attempt_leads_back_to_the_exam(app, demo, driver, clock):
    """A running attempt has no result yet: its result page must not show a fail."""
    state = _start(driver, demo, n_answers=1)
    attempt_id = state["attempt_id"]
    page = driver.client.get(f"/attempts/{attempt_id}/result")
    assert page.status_code == 302 and page.headers["Location"].endswith(f"/attempts/{attempt_id}")
    with Database.factory(app)() as s:
        assert s.get(bank.Attempt, attempt_id).state == bank.AttemptState.STARTED
    clock.advance(PRA_SECONDS + 30)
    page = driver.client.get(f"/attempts/{attempt_id}/result")
    assert page.status_code == 200


def test_without_a_clock_setting_time_comes_from_the_database(app, demo, driver):
    """No fake clock here: the policy reads the database clock, under the participant's lock."""
    state = _start(driver, demo, n_answers=0)
    attempt_id = state["attempt_id"]
    first = driver.client.get(f"/api/v1/attempts/{attempt_id}/item").json["item"]
    with Database.factory(app)() as s:
        attempt = s.get(bank.Attempt, attempt_id)
        expected = (attempt.deadline - bank.db_now(s)).total_seconds()
    # Between the two reads only one request ran.  60 s allows for a machine stalled by other
    # load and is still far below the 20 min limit: a time on another clock or time zone
    # fails, and a clock that does not move fails the next check.
    assert abs(first["seconds_left"] - expected) < 60
    time.sleep(1.0)
    again = driver.client.get(f"/api/v1/attempts/{attempt_id}/item").json["item"]
    # At least the 1 s slept (less 10 ms: SQLite's clock counts milliseconds), at most 60 s.
    assert 0.99 <= first["seconds_left"] - again["seconds_left"] < 60
