"""A writer calibrates an exam's logged responses from the server and accepts the estimates:
pretest items land on the bank's scale through the operational anchors and become operational;
the lifecycle's terminal states hold; participants never see any of it."""

from __future__ import annotations

import re
from types import SimpleNamespace

import numpy as np
import pytest
from sqlalchemy import select

from server import bank
from server.extensions import Database
from server.jobs import run_pending_jobs

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

    def __init__(self, app, client, csrf) -> None:
        self.app, self.client, self.csrf = app, client, csrf

    def token(self, path: str) -> str:
        return self.csrf(self.client.get(path).get_data(as_text=True))

    def start(self, data, model="2pl"):
        """Ask for the calibration; once queued, run the background job as a worker would
        and return the job page's answer (a redirect to the run when it is done)."""
        r = self.client.post("/writer/calibration", data={
            "program_id": data.program_id, "materi_id": data.materi_id, "model": model,
            "csrf_token": self.token("/writer/calibration")})
        if r.status_code != 302:
            return r
        assert re.search(r"/writer/calibration/jobs/\d+$", r.headers["Location"])
        assert run_pending_jobs(self.app) == 1
        return self.client.get(r.headers["Location"])

    def accept(self, run_id, item_ids):
        return self.client.post(f"/writer/calibration/{run_id}/accept", data={
            "item_id": [str(i) for i in item_ids],
            "csrf_token": self.token(f"/writer/calibration/{run_id}")})


@pytest.fixture
def writer(demo, driver, csrf) -> Writer:
    driver.staff_login(*demo.accounts.writer)
    driver.client.get("/writer/calibration?lang=en")  # the staff pages are in English
    return Writer(driver.app, driver.client, csrf)


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


@pytest.mark.slow
def test_exams_seed_pretest_items_that_the_writer_then_calibrates(app, demo, writer,
                                                                   monkeypatch):
    """The item lifecycle through the product: pretest items without parameters are seeded
    into real materi exams (the policy's own answer path), collect answers at one pace, and
    the writer's calibration of those answers puts them on the bank's scale; accepting makes
    them operational with their parameter history."""
    import datetime as dt

    from item_bank import admin, policy

    n_op, n_pre, n_people = 60, 4, 300
    rng = np.random.default_rng(17)
    # The attempts' seeds from the test's own stream: the same items, answers and estimates
    # on every run (the statistical checks below hold for this draw, not by luck of the day).
    seeds = np.random.default_rng(18)
    monkeypatch.setattr(policy.secrets, "randbits", lambda bits: int(seeds.integers(2**bits)))
    a = rng.uniform(0.8, 2.0, n_op + n_pre)
    b = np.concatenate([rng.normal(0.0, 1.0, n_op), [-1.0, -0.3, 0.4, 1.1]])
    with Database.factory(app)() as s:
        program = admin.create_program(s, code="SIKLUS", name="Siklus butir", settings={
            "min_items": 6, "max_items": 8, "pretest_items_materi": 2})
        materi = admin.add_materi(s, program, code="M1", name="Materi 1", content_tags=["T1"])
        for j in range(n_op + n_pre):
            operational = j < n_op
            s.add(admin.new_item(
                program, materi, code=f"S-{j:03d}", stem=f"Soal {j}",
                options=[f"A{j}", f"B{j}", f"C{j}", f"D{j}"], key=j % 4,
                a=float(a[j]) if operational else None, b=float(b[j]) if operational else None,
                c=0.0 if operational else None,
                status="operational" if operational else "pretest",
                content_tag=materi.content_tags[0]))
        s.commit()
        exam_id = admin.add_exam(s, program, code="EX-S1", kind="materi", materi=materi).id
        people = [bank.Participant(nip=f"{197001010000000000 + i:018d}", name=f"P{i}",
                                   unit="U") for i in range(n_people)]
        s.add_all(people)
        s.flush()
        s.add_all(bank.Enrolment(participant_id=p.id, program_id=program.id) for p in people)
        s.commit()
        program_id, materi_id = program.id, materi.id
        items = {i.id: i for i in s.scalars(select(bank.Item).where(
            bank.Item.program_id == program_id))}
        truth = {i.id: (a[int(i.code[2:])], b[int(i.code[2:])]) for i in items.values()}
        pretest_ids = sorted(i.id for i in items.values() if i.status == "pretest")
        keys = {i.id: i.options[i.key] for i in items.values()}
        thetas = rng.normal(size=n_people)
        t0 = dt.datetime(2026, 6, 1, 1, 0, tzinfo=dt.UTC)
        for person, theta in zip(people, thetas, strict=True):
            now = t0
            view = policy.start_attempt(s, participant_id=person.id, exam_id=exam_id, now=now)
            item = policy.current_item(s, participant_id=person.id, attempt_id=view.attempt_id,
                                       now=now)
            while item is not None:
                ai, bi = truth[item.item_id]
                right = rng.random() < 1 / (1 + np.exp(-ai * (theta - bi)))
                key = item.options.index(keys[item.item_id])
                now += dt.timedelta(seconds=20)
                outcome = policy.record_answer(
                    s, participant_id=person.id, attempt_id=view.attempt_id,
                    item_id=item.item_id, choice=key if right else (key + 1) % 4, now=now)
                item = outcome.next_item
        rows = s.execute(select(bank.Response.attempt_id, bank.Response.item_id,
                                bank.Response.position, bank.Response.pretest,
                                bank.Response.param_version)
                         .order_by(bank.Response.attempt_id, bank.Response.position)).all()
    by_attempt: dict[int, list] = {}
    for row in rows:
        by_attempt.setdefault(row.attempt_id, []).append(row)
    assert len(by_attempt) == n_people
    for responses in by_attempt.values():
        flags = [r.pretest for r in responses]
        assert sum(flags) == 2 and not flags[0] and not flags[-1]
        assert 6 <= flags.count(False) <= 8
        assert all(r.pretest == (r.item_id in pretest_ids) for r in responses)
        # Operational items were shown with their parameters' version, pretest ones had none.
        assert all(r.param_version == (None if r.pretest else 1) for r in responses)
    answered = np.bincount([pretest_ids.index(r.item_id) for r in rows if r.pretest])
    assert answered.sum() == 2 * n_people and answered.max() - answered.min() <= 1, answered

    r = writer.start(SimpleNamespace(program_id=program_id, materi_id=materi_id))
    assert r.status_code == 302, r.get_data(as_text=True)
    run_id = int(r.headers["Location"].rsplit("/", 1)[1])
    assert writer.accept(run_id, pretest_ids).status_code == 302
    with Database.factory(app)() as s:
        accepted = [s.get(bank.Item, i) for i in pretest_ids]
        history = s.scalars(select(bank.ItemParameters).where(
            bank.ItemParameters.item_id.in_(pretest_ids))).all()
        assert all(i.status == bank.ItemStatus.OPERATIONAL and i.param_version == 1
                   for i in accepted)
        # 150 answers each: every estimate within 3.5 of its own standard error of the truth
        # (a z-score of 3.5 has a chance of 1 in 2,000), the SEs those of 150 answers.
        b_z = np.array([(i.b - truth[i.id][1]) / i.se_b for i in accepted])
        a_z = np.array([(i.a - truth[i.id][0]) / i.se_a for i in accepted])
        assert np.abs(b_z).max() < 3.5 and np.abs(a_z).max() < 3.5, (b_z, a_z)
        assert all(0.05 < i.se_b < 0.6 and 0.05 < i.se_a < 0.8 for i in accepted)
        assert sorted((h.item_id, h.version, h.run_id, h.actor) for h in history) == [
            (i, 1, run_id, demo.accounts.writer[0]) for i in pretest_ids]


def test_the_calibration_page_says_where_each_pretest_item_stands(app, demo, driver):
    driver.staff_login(*demo.accounts.writer)
    page = driver.client.get("/writer/calibration?lang=id").get_data(as_text=True)
    with Database.factory(app)() as s:
        pretest = s.scalars(select(bank.Item).where(
            bank.Item.status == bank.ItemStatus.PRETEST)).all()
        codes = [i.code for i in pretest]
    assert len(codes) >= 30  # the demo's, about ten in each materi
    assert "Butir uji coba" in page and "Siap dikalibrasi" in page
    assert all(code in page for code in codes)
    # Nobody has answered them yet: 0 of the 300 answers needed, no pace to extrapolate.
    assert page.count("0 / 300") == len(codes)
    assert page.count("tidak ada jawaban dalam 7 hari terakhir") == len(codes)


def test_a_calibration_job_waits_runs_once_and_says_why_it_failed(app, writer, log_responses,
                                                                  monkeypatch):
    a, b, statuses = _true_parameters(11)
    data = log_responses(a=a[:10], b=b[:10], statuses=statuses[:6] + ["pretest"] * 4,
                         n_persons=100, seed=11)
    form = {"program_id": data.program_id, "materi_id": data.materi_id, "model": "2pl"}
    first = writer.client.post("/writer/calibration",
                               data={**form, "csrf_token": writer.token("/writer/calibration")})
    again = writer.client.post("/writer/calibration",
                               data={**form, "csrf_token": writer.token("/writer/calibration")})
    assert first.status_code == again.status_code == 302
    assert first.headers["Location"] == again.headers["Location"]  # one job, not two
    job_path = first.headers["Location"]
    page = writer.client.get(job_path).get_data(as_text=True)
    assert 'http-equiv="refresh"' in page and "Waiting for a worker" in page

    # Two workers looking at once: one takes the job, the other finds nothing.
    with Database.factory(app)() as s1, Database.factory(app)() as s2:
        taken = [bank.claim_calibration_job(s1), bank.claim_calibration_job(s2)]
    assert taken[0] is not None and taken[1] is None
    page = writer.client.get(job_path).get_data(as_text=True)
    assert "Running since" in page

    def fails(*_args, **_kwargs):
        raise bank.InvalidInput("calibration_failed", detail="the EM did not converge")

    with Database.factory(app)() as s:  # the worker that took it died: it runs again later
        s.execute(bank.CalibrationJob.__table__.update().values(
            started_at=bank.db_now(s) - bank.calibration_source.JOB_STALE_AFTER * 2))
        s.commit()
    monkeypatch.setattr(bank, "run_calibration", fails)
    assert run_pending_jobs(app) == 1
    r = writer.client.get(job_path)
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and 'http-equiv="refresh"' not in page
    assert "The calibration failed: Calibration failed: the EM did not converge" in page
    assert run_pending_jobs(app) == 0
    assert writer.client.get("/writer/calibration/jobs/999999").status_code == 404


def _six_anchors_four_pretest(app, log_responses, seed: int):
    """A new materi of 6 operational and 4 pretest items with 300 finished attempts: (its
    logged data, program code, materi code)."""
    a, b, statuses = _true_parameters(seed)
    data = log_responses(a=a[:10], b=b[:10], statuses=statuses[:6] + ["pretest"] * 4,
                         n_persons=300, seed=seed)
    with Database.factory(app)() as s:
        return (data, s.get(bank.Program, data.program_id).code,
                s.get(bank.Materi, data.materi_id).code)


def test_smartcat_calibrate_program_records_a_run_for_the_writers(app, demo, log_responses,
                                                                  capsys):
    from smartcat.cli import main

    data, program, materi = _six_anchors_four_pretest(app, log_responses, 13)
    assert main(["calibrate", "--program", program, "--materi", materi, "--model", "2pl",
                 "--db", demo.url]) == 0
    out = capsys.readouterr().out
    run_id = int(re.search(r"calibration run (\d+) of program", out).group(1))
    with Database.factory(app)() as s:
        run = bank.calibration_run(s, run_id)
        job = s.scalar(select(bank.CalibrationJob))
    assert run["actor"] == "smartcat calibrate" and run["materi_id"] == data.materi_id
    assert {r["id"] for r in run["records"] if not r["anchor"]} == {
        str(i) for i in data.item_ids[6:]}
    assert job.state == bank.JobState.DONE and job.run_id == run_id
    # What it refuses, in one line each: no pretest answers, a wrong materi, mixed modes.
    for argv, says in (
            (["--program", program, "--materi", "NOPE"], "has no materi 'NOPE'"),
            (["--program", program, "--responses", "x.csv"], "leave out --responses"),
            (["--materi", materi], "give --responses FILE"),
            (["--program", "NOPE"], "unknown program")):
        assert main(["calibrate", "--model", "2pl", *argv, "--db", demo.url]) == 2
        assert says in capsys.readouterr().err


def test_smartcat_calibrate_when_ready_runs_once_per_materi_that_has_ready_items(
        app, demo, log_responses, capsys):
    # For cron: the new materi's 4 pretest items have 300 answers (pretest_ready_responses):
    # one run, which a second call leaves waiting for the writers; the demo's own materi,
    # whose pretest items have no answers yet, are only reported.
    from smartcat.cli import main

    data, program, materi = _six_anchors_four_pretest(app, log_responses, 21)

    def runs() -> list[int]:
        with Database.factory(app)() as s:
            return [r["id"] for r in bank.recent_calibration_runs(s)]

    argv = ["calibrate", "--program", program, "--when-ready", "--model", "2pl",
            "--db", demo.url]
    assert main(argv) == 0
    out = capsys.readouterr().out
    (run_id,) = runs()
    assert f"materi {materi}: 4 of 4 pretest items ready; calibration run {run_id} " in out
    assert "materi ETIKA: 0 of" in out and "nothing to calibrate yet" in out
    with Database.factory(app)() as s:
        run = bank.calibration_run(s, run_id)
    assert run["materi_id"] == data.materi_id and {
        r["id"] for r in run["records"] if not r["anchor"]} == {str(i) for i in data.item_ids[6:]}
    assert main(argv) == 0
    assert f"run {run_id} has estimated them and waits for a writer" in capsys.readouterr().out
    assert runs() == [run_id]
    assert main(["calibrate", "--when-ready", "--model", "2pl", "--responses", "x.csv",
                 "--out", "y.json"]) == 2
    assert "--when-ready goes with --program" in capsys.readouterr().err
