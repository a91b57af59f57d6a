"""Server test fixtures: the demo database (built once, copied per test), the app, clients,
a live threaded server for parallel requests, and an exam driver that answers by the key
read from the database (never from anything the browser-facing API sends)."""

from __future__ import annotations

import datetime as dt
import itertools
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select
from werkzeug.serving import make_server

from server import bank, create_app
from server.demo import DemoAccounts, build_demo
from server.extensions import Database


@dataclass
class Demo:
    url: str
    accounts: DemoAccounts


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DemoAccounts]:
    path = tmp_path_factory.mktemp("demo") / "demo.sqlite"
    return path, build_demo(f"sqlite:///{path}")


@pytest.fixture
def demo(demo_template, tmp_path: Path) -> Demo:
    path = tmp_path / "demo.sqlite"
    shutil.copyfile(demo_template[0], path)
    return Demo(url=f"sqlite:///{path}", accounts=demo_template[1])


@pytest.fixture
def make_app() -> Iterator[Callable[..., Flask]]:
    """``make_app(url, **config)``: an app with the test settings.  After the test each one
    is closed: its sweeper thread stopped and its connection pool disposed (an engine left to
    the garbage collector drops its PostgreSQL connections unclosed)."""
    made: list[Flask] = []

    def make(url: str, **config) -> Flask:
        settings = {"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "t" * 64,
                    "SWEEP_INTERVAL_SECONDS": 0, "JOB_POLL_SECONDS": 0,
                    "CERTIFICATE_SETTLE_SECONDS": 0}
        settings.update(config)
        made.append(create_app(settings))
        return made[-1]

    yield make
    for app in made:
        app.extensions["smartcat_sweeper_stop"].set()
        Database.factory(app).kw["bind"].dispose()


class FakeClock:
    """The ``CLOCK`` setting of a test: the time stands still until the test moves it."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock for the apps of the test (``app``, ``app_factory``); it starts at the
    current second, inside the demo exams' windows."""
    return FakeClock(dt.datetime.now(dt.UTC).replace(microsecond=0))


@pytest.fixture
def app_settings(request) -> dict:
    """Settings of the test's apps beyond make_app's: the fake clock if the test uses one."""
    return {"CLOCK": request.getfixturevalue("clock")} if "clock" in request.fixturenames \
        else {}


@pytest.fixture
def app(request, demo: Demo, make_app, app_settings):
    # Tests that ask for ``any_demo`` run on both databases; the others on SQLite.
    if "any_demo" in request.fixturenames:
        demo = request.getfixturevalue("any_demo")
    return make_app(demo.url, **app_settings)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def live_server(app) -> Iterator[str]:
    """The app on a real threaded HTTP server (parallel requests really overlap)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()


def staff_log_in(page, live_server: str, account: tuple[str, str], landing: str) -> None:
    """Log a writer or administrator in through the staff login form of a browser page."""
    page.goto(f"{live_server}/writer/login")
    page.fill("input[name=username]", account[0])
    page.fill("input[name=password]", account[1])
    page.click("#login-form button")
    page.wait_for_url(re.compile(landing))


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)


def read_qr(pdf: bytes, png: Path | None = None) -> str:
    """The text of the one QR code on the PDF's first page, rendered at 200 dpi by PDFium
    (the image kept as ``png`` when given) and decoded by ZXing."""
    import pypdfium2
    import zxingcpp

    document = pypdfium2.PdfDocument(pdf)
    try:
        image = document[0].render(scale=200 / 72).to_pil()
    finally:
        document.close()
    if png is not None:
        image.save(png)
    codes = [c for c in zxingcpp.read_barcodes(image) if c.format == zxingcpp.BarcodeFormat.QRCode]
    assert len(codes) == 1, codes
    return codes[0].text


# Names that would give away a key or an item parameter if a participant ever received them.
SECRET_FIELDS = {"key", "answer_key", "a", "b", "c", "se_a", "se_b", "se_c", "shown_order",
                 "correct", "model"}


def assert_no_secrets(value, where: str = "response") -> None:
    """Fail if a JSON value (recursively) holds a field that reveals keys or parameters."""
    if isinstance(value, dict):
        leaked = SECRET_FIELDS & set(value)
        assert not leaked, f"{where} sends {sorted(leaked)} to a participant"
        for k, v in value.items():
            assert_no_secrets(v, f"{where}.{k}")
    elif isinstance(value, list):
        for v in value:
            assert_no_secrets(v, where)


class Driver:
    """Takes exams through the JSON API, choosing right or wrong answers by the DB key."""

    def __init__(self, app, client) -> None:
        self.app, self.client = app, client

    def session(self):
        return Database.factory(self.app)()

    def key_position(self, attempt_id: int, item_id: int) -> int:
        """Where the correct option is displayed for this response (from the database)."""
        with self.session() as s:
            response = s.scalar(select(bank.Response).where(
                bank.Response.attempt_id == attempt_id, bank.Response.item_id == item_id))
            item = s.get(bank.Item, item_id)
            return list(response.shown_order).index(item.key)

    def get(self, url: str):
        r = self.client.get(url)
        if r.is_json:
            assert_no_secrets(r.json, url)
        return r

    def post(self, url: str, json: dict):
        r = self.client.post(url, json=json)
        assert_no_secrets(r.json, url)
        return r

    def login(self, nip: str, password: str) -> None:
        r = self.client.post("/api/v1/session", json={"nip": nip, "password": password})
        assert r.status_code == 200, r.json

    def exam_id(self, code: str) -> int:
        with self.session() as s:
            return s.scalar(select(bank.Exam.id).where(bank.Exam.code == code))

    def take(self, code: str, correct: bool, *, n_answers: int | None = None) -> dict:
        """Start ``code`` and answer until it ends (or ``n_answers`` were given)."""
        r = self.post(f"/api/v1/exams/{self.exam_id(code)}/attempts", json={})
        assert r.status_code == 201, r.json
        attempt_id = r.json["attempt_id"]
        given = 0
        while True:
            r = self.get(f"/api/v1/attempts/{attempt_id}/item")
            assert r.status_code == 200, r.json
            item = r.json["item"]
            if item is None:
                return r.json["result"]
            if n_answers is not None and given == n_answers:
                return {"attempt_id": attempt_id, "item": item}
            key = self.key_position(attempt_id, item["item_id"])
            choice = key if correct else (key + 1) % len(item["options"])
            r = self.post(f"/api/v1/attempts/{attempt_id}/answers",
                          json={"item_id": item["item_id"], "choice": choice})
            assert r.status_code == 200, r.json
            given += 1

    def staff_login(self, username: str, password: str) -> None:
        page = self.client.get("/writer/login").get_data(as_text=True)
        r = self.client.post("/writer/login", data={"username": username, "password": password,
                                                    "csrf_token": csrf_from(page)})
        assert r.status_code == 302, r.get_data(as_text=True)

    def mark_all_assignments_done(self, nip: str) -> None:
        """As the administrator, through the admin pages (with CSRF tokens)."""
        with self.session() as s:
            program = s.scalar(select(bank.Program))
            assignment_ids = s.scalars(select(bank.Assignment.id)).all()
        page = self.client.get(f"/admin/programs/{program.id}").get_data(as_text=True)
        for assignment_id in assignment_ids:
            r = self.client.post(
                f"/admin/programs/{program.id}/assignments/{assignment_id}/done",
                data={"nip": nip, "csrf_token": csrf_from(page)})
            assert r.status_code == 302, r.get_data(as_text=True)


@pytest.fixture
def driver(app, client) -> Driver:
    return Driver(app, client)


@pytest.fixture
def new_driver(app):
    """A factory of drivers with their own cookie jar (another person in another browser)."""
    return lambda: Driver(app, app.test_client())


@pytest.fixture
def app_factory(demo: Demo, make_app, app_settings):
    """Another app over the same database, with other settings."""
    return lambda **config: make_app(demo.url, **{**app_settings, **config})


@pytest.fixture
def no_secrets():
    return assert_no_secrets


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_demo(request, demo) -> Demo:
    """The demo on SQLite and on a fresh PostgreSQL database (throwaway server)."""
    if request.param == "sqlite":
        return demo
    url = request.getfixturevalue("postgres_database")("srv")
    return Demo(url=url, accounts=build_demo(url))


@dataclass
class LoggedCalibrationData:
    program_id: int
    materi_id: int
    item_ids: list[int]       # in the order of the parameters given
    n_persons: int            # persons with a finished attempt


@pytest.fixture
def log_responses(app):
    """Writes a new materi with items, and finished attempts of simulated examinees
    (θ ~ N(theta_mean, 1), 2PL with the given true a, b) answering every item, straight into
    the database, as the exam server would have logged them.  One extra *running* attempt that
    answers everything right must be ignored by calibration."""
    import numpy as np
    from sqlalchemy import insert

    counter = itertools.count()

    def log(*, a, b, statuses, n_persons, theta_mean=0.0, seed=0) -> LoggedCalibrationData:
        rng = np.random.default_rng(seed)
        k = next(counter)
        tag = f"KAL{k}"
        now = dt.datetime.now(dt.UTC)
        with Database.factory(app)() as s:
            program = s.scalar(select(bank.Program).order_by(bank.Program.id))
            materi = bank.Materi(program_id=program.id, code=tag, name="Kalibrasi")
            s.add(materi)
            s.flush()
            exam = bank.Exam(program_id=program.id, code=f"UJI-{tag}", kind=bank.ExamKind.MATERI,
                             materi_id=materi.id)
            items = [bank.Item(
                program_id=program.id, materi_id=materi.id, code=f"{tag}-{j}", stem=f"Soal {j}?",
                options=["satu", "dua", "tiga", "empat"], key=0, model=bank.IrtModel.TWO_PL,
                status=st, a=aj if st == "operational" else None,
                b=bj if st == "operational" else None)
                for j, (aj, bj, st) in enumerate(zip(a, b, statuses, strict=True))]
            base = 197000000000000000 + 100_000 * k
            people = [bank.Participant(nip=str(base + i), name=f"Peserta {i}")
                      for i in range(n_persons + 1)]
            s.add_all([exam, *items, *people])
            s.flush()
            attempts = [bank.Attempt(
                participant_id=p.id, program_id=program.id, exam_id=exam.id, slot=exam.slot,
                number=1, state=bank.AttemptState.SUBMITTED if i < n_persons
                else bank.AttemptState.STARTED, started_at=now,
                deadline=now + dt.timedelta(hours=1), finished_at=now if i < n_persons else None)
                for i, p in enumerate(people)]
            s.add_all(attempts)
            s.flush()
            theta = rng.normal(theta_mean, 1.0, n_persons + 1)
            prob = 1 / (1 + np.exp(-np.asarray(a) * (theta[:, None] - np.asarray(b))))
            right = rng.random(prob.shape) < prob
            right[-1] = True
            s.execute(insert(bank.Response), [
                {"attempt_id": att.id, "item_id": item.id, "position": j,
                 "shown_order": [0, 1, 2, 3], "choice": 0 if right[i, j] else 1,
                 "shown_choice": 0 if right[i, j] else 1, "correct": bool(right[i, j]),
                 "presented_at": now, "answered_at": now}
                for i, att in enumerate(attempts) for j, item in enumerate(items)])
            s.commit()
            return LoggedCalibrationData(program.id, materi.id, [i.id for i in items],
                                         n_persons)

    return log


@pytest.fixture
def writer(app, demo, driver):
    """The demo's writer, logged in (pages by ``writer.client``);
    ``writer.post_form(path, data)`` sends the page's CSRF token."""
    driver.staff_login(*demo.accounts.writer)

    def post(path: str, data: dict):
        token = csrf_from(driver.client.get("/writer/items").get_data(as_text=True))
        return driver.client.post(path, data={**data, "csrf_token": token})

    driver.post_form = post
    return driver


@pytest.fixture
def csrf():
    """:func:`csrf_from` for test modules (conftest is not importable by name)."""
    return csrf_from
