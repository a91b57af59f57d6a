"""Deadlines: the server finishes abandoned attempts, refuses late answers, and counts time on
the database clock.  Time is controlled by moving an attempt's deadline relative to the
database clock (the same as the clock moving past it), never by sleeping through a limit."""

from __future__ import annotations

import datetime as dt
import time

from sqlalchemy import select, update

from server import bank, sweeper
from server.extensions import Database


def _set_deadline(app, attempt_id: int, seconds_from_now: float) -> None:
    with Database.factory(app)() as s:
        now = bank.db_now(s)
        deadline = now + dt.timedelta(seconds=seconds_from_now)
        s.execute(update(bank.Attempt).where(bank.Attempt.id == attempt_id).values(
            deadline=deadline, started_at=min(now, deadline) - dt.timedelta(minutes=1)))
        s.commit()


def _answered(app, attempt_id: int) -> list[tuple[int, int | None]]:
    with Database.factory(app)() as s:
        return [(r.item_id, r.choice) for r in s.scalars(
            select(bank.Response).where(bank.Response.attempt_id == attempt_id)
            .order_by(bank.Response.position))]


def _start(driver, demo, who: int = 0, n_answers: int = 3) -> dict:
    nip, _name, password = demo.accounts.participants[who]
    driver.login(nip, password)
    return driver.take("PRA", correct=True, n_answers=n_answers)


def test_abandoned_attempt_is_finished_by_the_sweep_and_late_answer_refused(app, demo, driver):
    state = _start(driver, demo)
    attempt_id, pending = state["attempt_id"], state["item"]
    _set_deadline(app, attempt_id, -10)  # 10 s past, beyond the 5 s grace
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


def test_deadline_enforced_on_access_without_sweep(app, demo, driver):
    state = _start(driver, demo, n_answers=2)
    attempt_id = state["attempt_id"]
    _set_deadline(app, attempt_id, -30)
    r = driver.client.get(f"/api/v1/attempts/{attempt_id}/item")
    assert r.status_code == 200 and r.json["item"] is None
    assert r.json["result"]["state"] == "expired" and r.json["result"]["answered"] == 2
    page = driver.client.get(f"/attempts/{attempt_id}")
    assert page.status_code == 302 and page.headers["Location"].endswith("/result")


def test_answer_in_flight_accepted_within_grace_only(app, demo, driver, new_driver):
    state = _start(driver, demo, n_answers=1)
    attempt_id, item = state["attempt_id"], state["item"]
    _set_deadline(app, attempt_id, -2)  # 2 s late: inside the 5 s grace
    r = driver.client.post(f"/api/v1/attempts/{attempt_id}/answers",
                           json={"item_id": item["item_id"], "choice": 0})
    assert r.status_code == 200, r.json

    other = new_driver()
    state = _start(other, demo, who=1, n_answers=1)
    _set_deadline(app, state["attempt_id"], -6)  # 6 s late: refused
    r = other.client.post(f"/api/v1/attempts/{state['attempt_id']}/answers",
                          json={"item_id": state["item"]["item_id"], "choice": 0})
    assert r.status_code == 409


def test_sweeper_thread_finishes_attempts_without_any_request(app, demo, driver,
                                                              app_factory):
    state = _start(driver, demo, n_answers=1)
    _set_deadline(app, state["attempt_id"], -10)
    # A second app (another worker) with its sweeper thread running every second.
    worker = app_factory(TESTING=False, SWEEP_INTERVAL_SECONDS=1)
    try:
        for _ in range(50):
            with Database.factory(worker)() as s:
                if s.get(bank.Attempt, state["attempt_id"]).state != bank.AttemptState.STARTED:
                    break
            time.sleep(0.1)
        with Database.factory(worker)() as s:
            assert s.get(bank.Attempt, state["attempt_id"]).state == bank.AttemptState.EXPIRED
    finally:
        worker.extensions["smartcat_sweeper_stop"].set()


def test_remaining_time_comes_from_the_database_and_survives_reload(app, demo, driver):
    state = _start(driver, demo, n_answers=0)
    attempt_id = state["attempt_id"]
    first = driver.client.get(f"/api/v1/attempts/{attempt_id}/item").json["item"]
    with Database.factory(app)() as s:
        attempt = s.get(bank.Attempt, attempt_id)
        expected = (attempt.deadline - bank.db_now(s)).total_seconds()
    # tolerance 0.5 s: two requests on one machine
    assert abs(first["seconds_left"] - expected) < 0.5
    time.sleep(1.0)
    again = driver.client.get(f"/api/v1/attempts/{attempt_id}/item").json["item"]  # a reload
    assert again["item_id"] == first["item_id"]
    # tolerance 0.3 s around the 1 s that passed between the two reads
    assert abs((first["seconds_left"] - again["seconds_left"]) - 1.0) < 0.3


def test_deadline_is_the_earlier_of_time_limit_and_window_close(app, demo, driver):
    with Database.factory(app)() as s:
        now = bank.db_now(s)
        exam = s.scalar(select(bank.Exam).where(bank.Exam.code == "PRA"))
        exam.window_closes_at = now + dt.timedelta(seconds=120)  # before the 20 min limit
        s.commit()
    state = _start(driver, demo, n_answers=0)
    view = driver.client.get(f"/api/v1/attempts/{state['attempt_id']}").json
    # tolerance 2 s: the time between setting the window and starting
    assert 118 <= view["seconds_left"] <= 120


def test_result_page_of_a_running_attempt_leads_back_to_the_exam(app, demo, driver):
    """A running attempt has no result yet: its result page must not show a fail."""
    state = _start(driver, demo, n_answers=1)
    attempt_id = state["attempt_id"]
    page = driver.client.get(f"/attempts/{attempt_id}/result")
    assert page.status_code == 302 and page.headers["Location"].endswith(f"/attempts/{attempt_id}")
    with Database.factory(app)() as s:
        assert s.get(bank.Attempt, attempt_id).state == bank.AttemptState.STARTED
    _set_deadline(app, attempt_id, -30)
    page = driver.client.get(f"/attempts/{attempt_id}/result")
    assert page.status_code == 200
