"""A writer calibrates an exam's logged responses from the server and accepts the estimates:
pretest items land on the bank's scale through the operational anchors and become operational;
the lifecycle's terminal states hold; participants never see any of it."""

from __future__ import annotations

import re

import numpy as np
import pytest
from sqlalchemy import select

from server import bank
from server.extensions import Database

N_ANCHORS, N_PRETEST = 30, 10


def _true_parameters(seed: int):
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.8, 2.0, N_ANCHORS + N_PRETEST)
    b = np.concatenate([rng.normal(0.0, 1.0, N_ANCHORS), rng.uniform(-1.5, 1.5, N_PRETEST)])
    statuses = ["operational"] * N_ANCHORS + ["pretest"] * N_PRETEST
    return a, b, statuses


@pytest.fixture
def logged(log_responses):
    # The group is abler than the bank's reference group (θ mean 0.6): only the anchors
    # put the pretest items on the bank's scale; a free calibration would shift b by ≈ -0.6.
    a, b, statuses = _true_parameters(7)
    data = log_responses(a=a, b=b, statuses=statuses, n_persons=1500, theta_mean=0.6, seed=7)
    return data, a, b


class Writer:
    """The demo question writer on the calibration pages (forms posted with CSRF tokens)."""

    def __init__(self, client, csrf) -> None:
        self.client, self.csrf = client, csrf

    def token(self, path: str) -> str:
        return self.csrf(self.client.get(path).get_data(as_text=True))

    def start(self, data, model="2pl"):
        return self.client.post("/writer/calibration", data={
            "program_id": data.program_id, "materi_id": data.materi_id, "model": model,
            "csrf_token": self.token("/writer/calibration")})

    def accept(self, run_id, item_ids):
        return self.client.post(f"/writer/calibration/{run_id}/accept", data={
            "item_id": [str(i) for i in item_ids],
            "csrf_token": self.token(f"/writer/calibration/{run_id}")})


@pytest.fixture
def writer(demo, driver, csrf) -> Writer:
    driver.staff_login(*demo.accounts.writer)
    driver.client.get("/writer/calibration?lang=en")  # the staff pages are in English
    return Writer(driver.client, csrf)


def _items(app, ids):
    with Database.factory(app)() as s:
        rows = {i.id: i for i in s.scalars(select(bank.Item).where(bank.Item.id.in_(ids)))}
        s.expunge_all()
    return [rows[i] for i in ids]


@pytest.mark.slow
def test_writer_calibrates_and_accepts_pretest_items(app, demo, writer, logged):
    data, a_true, b_true = logged
    r = writer.start(data)
    assert r.status_code == 302, r.get_data(as_text=True)
    run_id = int(re.search(r"/writer/calibration/(\d+)$", r.headers["Location"]).group(1))

    with Database.factory(app)() as s:
        run = bank.calibration_run(s, run_id)
    records = {int(rec["id"]): rec for rec in run["records"]}
    pretest, anchors = data.item_ids[N_ANCHORS:], data.item_ids[:N_ANCHORS]
    # the running attempt (all right) is not counted: only finished attempts are calibrated
    assert run["summary"]["persons"] == data.n_persons
    assert run["summary"]["anchors"] == N_ANCHORS
    assert all(records[i]["anchor"] for i in anchors)
    assert not any(records[i]["anchor"] for i in pretest)
    # anchors are held at their bank values
    assert np.allclose([records[i]["b"] for i in anchors], b_true[:N_ANCHORS])
    b_hat = np.array([records[i]["b"] for i in pretest])
    a_hat = np.array([records[i]["a"] for i in pretest])
    err = b_hat - b_true[N_ANCHORS:]
    # 1,500 answers per item give SE(b) ≈ 0.05-0.1: each within 0.3 (≈ 3-4 SE), mean |error|
    # < 0.12 (the free-calibration shift would be ≈ 0.6); a within 0.35 (SE(a) ≈ 0.06-0.12)
    assert np.abs(err).max() < 0.3, err
    assert np.abs(err).mean() < 0.12, err
    assert np.abs(a_hat - a_true[N_ANCHORS:]).max() < 0.35
    assert run["summary"]["drift"] and not any(d["drifting"] for d in run["summary"]["drift"])

    page = writer.client.get(f"/writer/calibration/{run_id}").get_data(as_text=True)
    assert "Anchor drift" in page and "SE b" in page
    for item in _items(app, pretest):
        assert f'name="item_id" value="{item.id}"' in page  # offered for acceptance
    assert f'name="item_id" value="{anchors[0]}"' not in page

    r = writer.accept(run_id, pretest)
    assert r.status_code == 302, r.get_data(as_text=True)
    after = _items(app, pretest)
    for item in after:
        rec = records[item.id]
        assert item.status == bank.ItemStatus.OPERATIONAL
        assert (item.a, item.b, item.c) == (rec["a"], rec["b"], None)
        assert item.se_a == rec["se_a"] and item.se_b == rec["se_b"] and item.se_b > 0
        assert item.model == bank.IrtModel.TWO_PL and item.version == 2
    assert all(i.status == bank.ItemStatus.OPERATIONAL and i.se_b is None
               for i in _items(app, anchors))
    with Database.factory(app)() as s:
        audit = s.scalars(select(bank.AuditLog).where(
            bank.AuditLog.action == "item_calibrated")).all()
    assert sorted(e.details["item_id"] for e in audit) == sorted(pretest)
    assert {e.actor for e in audit} == {demo.accounts.writer[0]}


def test_accept_respects_the_lifecycle(app, writer, log_responses):
    a, b, statuses = _true_parameters(3)
    data = log_responses(a=a[:12], b=b[:12], statuses=statuses[:8] + ["pretest"] * 4,
                         n_persons=400, seed=3)
    r = writer.start(data)
    run_id = int(r.headers["Location"].rsplit("/", 1)[1])
    first, retired, *rest = data.item_ids[8:]
    with Database.factory(app)() as s:
        s.get(bank.Item, retired).transition("retired")
        s.commit()

    # an anchor is not an estimate of this run: refused, nothing changes
    r = writer.accept(run_id, [first, data.item_ids[0]])
    assert r.status_code == 422 and "was not estimated" in r.get_data(as_text=True)
    assert _items(app, [first])[0].status == bank.ItemStatus.PRETEST

    r = writer.accept(run_id, [first, retired])
    assert r.status_code == 302
    flash = writer.client.get(r.headers["Location"]).get_data(as_text=True)
    assert "Not changed, no longer pretest:" in flash and "retired" in flash
    done, gone = _items(app, [first, retired])
    assert done.status == bank.ItemStatus.OPERATIONAL
    assert gone.status == bank.ItemStatus.RETIRED and gone.a is None  # terminal, untouched

    # accepting again changes nothing (the item is no longer pretest)
    before = (done.a, done.b, done.version)
    assert writer.accept(run_id, [first]).status_code == 302
    again = _items(app, [first])[0]
    assert (again.a, again.b, again.version) == before
    assert all(i.status == bank.ItemStatus.PRETEST for i in _items(app, rest))


def test_bad_calibration_requests(app, writer, log_responses):
    a, b, statuses = _true_parameters(5)
    only_anchors = log_responses(a=a[:6], b=b[:6], statuses=statuses[:6], n_persons=50, seed=5)
    r = writer.start(only_anchors)
    assert r.status_code == 422 and "nothing to calibrate" in r.get_data(as_text=True)
    r = writer.start(only_anchors, model="4pl")
    assert r.status_code == 422 and "Unknown model" in r.get_data(as_text=True)
    token = writer.token("/writer/calibration")
    r = writer.client.post("/writer/calibration", data={"program_id": "x", "csrf_token": token})
    assert r.status_code == 422 and "whole number" in r.get_data(as_text=True)
    assert writer.client.get("/writer/calibration/999999").status_code == 404
    r = writer.client.post("/writer/calibration/999999/accept", data={"csrf_token": token})
    assert r.status_code == 422 and "Choose at least one" in r.get_data(as_text=True)


def test_participants_never_see_calibration(app, demo, writer, new_driver, log_responses):
    a, b, statuses = _true_parameters(9)
    data = log_responses(a=a[:10], b=b[:10], statuses=statuses[:6] + ["pretest"] * 4,
                         n_persons=300, seed=9)
    run_path = writer.start(data).headers["Location"]
    app.config["WTF_CSRF_ENABLED"] = False  # so that the role check, not CSRF, answers
    participant = new_driver()
    participant.login(*demo.accounts.participants[0][::2])
    for method, path in [("GET", "/writer/calibration"), ("POST", "/writer/calibration"),
                         ("GET", run_path), ("POST", f"{run_path}/accept")]:
        r = participant.client.open(path, method=method)
        assert r.status_code == 403, (method, path)
        assert "calibrat" not in r.get_data(as_text=True).lower().replace(path, "")
        assert app.test_client().open(path, method=method).status_code == 401
    assert all(i.status == bank.ItemStatus.PRETEST for i in _items(app, data.item_ids[6:]))
