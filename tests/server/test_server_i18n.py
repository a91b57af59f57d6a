"""Why an exam is locked, on the participant's pages and in the API: in Bahasa Indonesia by
default, in English when chosen; and how a notice writes its dates and numbers.

Each case puts the first demo participant in one state of the flow (finished attempts,
assignments, certificates and exam windows written straight into the database), then renders
the programs page, the page of a refused start and the program's API status, and checks the
code the exam policy gives and its message through the catalog: Indonesian by default,
English after ``?lang=en``.
"""

from __future__ import annotations

import datetime as dt
import html

import pytest
from sqlalchemy import select, update

from item_bank.messages import Notice
from item_bank.models import CertificateRoute
from server import bank, create_app
from server.extensions import Database
from server.i18n import format_datetime_local, notice_json, notice_text

MONTHS = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus",
          "September", "Oktober", "November", "Desember")
MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August",
             "September", "October", "November", "December")
WAIT = dt.timedelta(days=7)


class World:
    """The demo program seen from one participant, with helpers that write their history."""

    def __init__(self, app, nip: str) -> None:
        self.app = app
        with self.session() as s:
            self.participant = s.scalar(select(bank.Participant.id).where(
                bank.Participant.nip == nip))
            self.program = s.scalar(select(bank.Program.id))
            self.exams = {e.code: (e.id, e.slot) for e in s.scalars(select(bank.Exam))}
            self.materi = sorted(code for code in self.exams if code.startswith("UJIAN-"))
            self.assignments = s.scalars(select(bank.Assignment.id)).all()
        self.finished_at = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)

    def session(self):
        return Database.factory(self.app)()

    def finish(self, code: str, *, passed: bool, times: int = 1) -> None:
        exam_id, slot = self.exams[code]
        at = self.finished_at
        with self.session() as s:
            done = len(s.scalars(select(bank.Attempt.id).where(
                bank.Attempt.participant_id == self.participant,
                bank.Attempt.slot == slot)).all())
            for number in range(done + 1, done + times + 1):
                s.add(bank.Attempt(
                    participant_id=self.participant, program_id=self.program, exam_id=exam_id,
                    slot=slot, number=number, state=bank.AttemptState.SUBMITTED,
                    started_at=at - dt.timedelta(minutes=10), deadline=at, finished_at=at,
                    score=90.0 if passed else 20.0, passed=passed))
            s.commit()

    def pass_training(self) -> None:
        self.finish("PRA", passed=False)
        for code in self.materi:
            self.finish(code, passed=True)

    def assignments_done(self) -> None:
        with self.session() as s:
            s.add_all(bank.AssignmentCompletion(assignment_id=a, participant_id=self.participant)
                      for a in self.assignments)
            s.commit()

    def certify(self) -> None:
        self.finish("PRA", passed=True)
        with self.session() as s:
            attempt = s.scalar(select(bank.Attempt.id).where(
                bank.Attempt.participant_id == self.participant))
            s.add(bank.Certificate(number="PELAYANAN-PUBLIK-UJI-1", route=CertificateRoute.
                                   PRE_ASSESSMENT, participant_id=self.participant,
                                   program_id=self.program, attempt_id=attempt, score=90.0,
                                   issued_at=self.finished_at))
            s.commit()

    def set_exam(self, code: str, **values) -> None:
        with self.session() as s:
            s.execute(update(bank.Exam).where(bank.Exam.id == self.exams[code][0])
                      .values(**values))
            s.commit()

    def set_waiting_period(self) -> None:
        with self.session() as s:
            program = s.get(bank.Program, self.program)
            program.settings_json = {**program.settings_json,
                                     "ujikom_waiting_period_s": int(WAIT.total_seconds())}
            s.commit()


def _waiting(w: World) -> None:
    w.set_waiting_period()
    w.pass_training()
    w.assignments_done()
    w.finish("UJIKOM", passed=False)


# Participants read times in WIB (UTC+7 all year: Indonesia has no daylight saving time).
WIB = dt.timedelta(hours=7)


def _date_id(at: dt.datetime) -> str:
    local = at + WIB
    return f"{local.day} {MONTHS[local.month - 1]} {local.year} pukul {local:%H.%M} WIB"


def _date_en(at: dt.datetime) -> str:
    local = at + WIB
    return f"{local.day} {MONTHS_EN[local.month - 1]} {local.year}, {local:%H:%M} WIB"


def _far(days: int) -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(days=days)


# A window that opens in 30 days, on a whole minute (the page shows minutes).
OPENS = _far(30).replace(second=0, microsecond=0)


# case -> (set the state up, the locked exam, the policy's code, Indonesian text, English
# text); the texts are functions of the world because the waiting period's end depends on
# the time of the test.
CASES = {
    "pre-assessment first": (
        lambda w: None, lambda w: w.materi[0], "pre_assessment_first",
        lambda w: "Kerjakan tes penilaian awal terlebih dahulu.",
        lambda w: "Take the pre-assessment first."),
    "pre-assessment taken": (
        lambda w: w.finish("PRA", passed=False), lambda w: "PRA", "pre_assessment_once",
        lambda w: "Tes penilaian awal sudah pernah diikuti; tes ini hanya dapat dikerjakan "
                  "satu kali.",
        lambda w: "The pre-assessment is taken exactly once; it cannot be repeated."),
    "pre-assessment after the training": (
        lambda w: w.finish(w.materi[0], passed=False), lambda w: "PRA",
        "pre_assessment_before_training",
        lambda w: "Tes penilaian awal hanya dapat diikuti sebelum pelatihan dimulai.",
        lambda w: "The pre-assessment comes before the training."),
    "materi attempts used up": (
        lambda w: (w.finish("PRA", passed=False), w.finish(w.materi[0], passed=False, times=5)),
        lambda w: w.materi[0], "attempts_exhausted",
        lambda w: "Kesempatan ujian sudah habis (5 dari 5).",
        lambda w: "No attempts left: all 5 attempts are used."),
    "ujikom attempts used up": (
        lambda w: (w.finish("PRA", passed=False), w.finish("UJIKOM", passed=False, times=3)),
        lambda w: "UJIKOM", "ujikom_attempts_exhausted",
        lambda w: "Kesempatan uji kompetensi sudah habis (3 dari 3); hasil: belum kompeten.",
        lambda w: "No attempts left: all 3 attempts are used (belum kompeten)."),
    "materi not passed": (
        lambda w: (w.finish("PRA", passed=False), w.finish(w.materi[0], passed=True)),
        lambda w: "UJIKOM", "materi_not_passed",
        lambda w: "Uji kompetensi terkunci sampai semua materi lulus dan tugas selesai: "
                  "2 ujian materi belum lulus.",
        lambda w: "Pass every materi exam first (2 not passed yet)."),
    "assignments not done": (
        lambda w: w.pass_training(), lambda w: "UJIKOM", "assignments_not_done",
        lambda w: "Uji kompetensi terkunci sampai semua materi lulus dan tugas selesai: "
                  "2 tugas belum dinyatakan selesai.",
        lambda w: "Complete every assignment first (2 not marked done)."),
    "ujikom waiting period": (
        _waiting, lambda w: "UJIKOM", "waiting_period",
        lambda w: f"Masa tunggu untuk belajar kembali: ujian dapat diikuti lagi pada "
                  f"{_date_id(w.finished_at + WAIT)}.",
        lambda w: f"Waiting period for remedial study until {_date_en(w.finished_at + WAIT)}."),
    "window not open": (
        lambda w: w.set_exam("PRA", window_opens_at=OPENS), lambda w: "PRA", "window_not_open",
        lambda w: f"Jadwal ujian ini dibuka pada {_date_id(OPENS)}.",
        lambda w: f"This exam window opens at {_date_en(OPENS)}."),
    "window closed": (
        lambda w: w.set_exam("PRA", window_opens_at=_far(-30), window_closes_at=_far(-1)),
        lambda w: "PRA", "window_closed",
        lambda w: "Jadwal ujian ini sudah ditutup.",
        lambda w: "This exam window has closed."),
    "certificate held": (
        lambda w: w.certify(), lambda w: w.materi[0], "certified",
        lambda w: "Anda sudah memiliki sertifikat program ini.",
        lambda w: "You already hold the certificate of this program."),
}


def _text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def _locked_reason(client, w: World, exam: str, lang: str = "") -> dict:
    status = client.get(f"/api/v1/programs/{w.program}{lang}").json
    return next(e for e in status["exams"] if e["code"] == exam)["locked_reason"]


@pytest.mark.parametrize("case", list(CASES))
def test_locked_reasons_are_in_indonesian_by_default_and_english_on_request(
        case, app, demo, driver):
    app.config["WTF_CSRF_ENABLED"] = False  # CSRF has its own tests
    setup, exam, code, indonesian, english = CASES[case]
    nip, _name, password = demo.accounts.participants[0]
    w = World(app, nip)
    setup(w)
    driver.login(nip, password)
    c = driver.client
    start = f"/exams/{w.exams[exam(w)][0]}/start"

    page = _text(c.get("/programs"))
    assert indonesian(w) in page, page
    assert english(w) not in page
    r = c.post(start)  # starting it anyway: the error page says why, in the same words
    assert r.status_code == 409 and indonesian(w) in _text(r), _text(r)
    reason = _locked_reason(c, w, exam(w))
    assert reason["code"] == code and reason["message"] == indonesian(w), reason
    r = c.post(f"/api/v1/exams/{w.exams[exam(w)][0]}/attempts", json={})
    assert r.status_code == 409 and r.json["error"] == "locked", r.json
    assert (r.json["code"], r.json["params"], r.json["message"]) == (
        code, reason["params"], indonesian(w))

    page = _text(c.get("/programs?lang=en"))
    assert english(w) in page and indonesian(w) not in page, page
    r = c.post(start)
    assert r.status_code == 409 and english(w) in _text(r), _text(r)
    reason = _locked_reason(c, w, exam(w))
    assert reason["code"] == code and reason["message"] == english(w), reason


def test_dated_reasons_carry_the_datetime_and_the_zone_as_parameters(app, demo, driver):
    nip, _name, password = demo.accounts.participants[0]
    w = World(app, nip)
    w.set_exam("PRA", window_opens_at=OPENS)
    driver.login(nip, password)
    reason = _locked_reason(driver.client, w, "PRA")
    assert reason["code"] == "window_not_open"
    assert dt.datetime.fromisoformat(reason["params"]["opens_at"]) == OPENS
    assert reason["params"]["timezone"] == "Asia/Jakarta"


def test_already_passed_and_too_few_items_are_explained_in_indonesian(app, demo, driver):
    app.config["WTF_CSRF_ENABLED"] = False
    nip, _name, password = demo.accounts.participants[0]
    w = World(app, nip)
    w.pass_training()
    driver.login(nip, password)
    c = driver.client
    # A passed exam shows "lulus" on the programs page; starting it again says why not.
    r = c.post(f"/exams/{w.exams[w.materi[0]][0]}/start")
    assert r.status_code == 409 and "Anda sudah lulus ujian ini." in _text(r)
    # The bank is short: the whole explanation is translated, numbers and all.
    w.assignments_done()
    w.set_exam("UJIKOM", min_items=5000, max_items=5000)
    ujikom = w.exams["UJIKOM"][0]
    r = c.post(f"/exams/{ujikom}/start")
    page = _text(r)
    assert r.status_code == 409, page
    assert "Soal untuk ujian UJIKOM belum mencukupi: ujian ini memerlukan 5000 soal" in page
    assert "Not enough items" not in page
    r = c.post(f"/api/v1/exams/{ujikom}/attempts", json={})
    assert r.status_code == 409 and r.json["error"] == r.json["code"] == "bank_exhausted"
    assert r.json["params"]["exam"] == "UJIKOM" and r.json["params"]["needed"] == 5000
    assert isinstance(r.json["params"]["available"], int)
    r = c.post(f"/exams/{ujikom}/start?lang=en")
    assert "Not enough items for UJIKOM" in _text(r) and "Soal untuk" not in _text(r)


def test_programs_page_shows_the_next_step(demo, driver):
    nip, _name, password = demo.accounts.participants[0]
    driver.login(nip, password)
    page = _text(driver.client.get("/programs"))
    assert "Langkah berikutnya: Kerjakan tes penilaian awal PRA." in page
    page = _text(driver.client.get("/programs?lang=en"))
    assert "Next step: Take the pre-assessment PRA." in page


def test_result_page_of_a_failed_ujikom_in_indonesian(app, demo, driver):
    """Belum kompeten after the last ujikom attempt, with no attempts left."""
    nip, _name, password = demo.accounts.participants[0]
    w = World(app, nip)
    w.pass_training()
    w.assignments_done()
    w.finish("UJIKOM", passed=False, times=3)
    with w.session() as s:
        last = s.scalar(select(bank.Attempt.id).where(
            bank.Attempt.participant_id == w.participant, bank.Attempt.slot == "ujikom",
            bank.Attempt.number == 3))
    driver.login(nip, password)
    page = _text(driver.client.get(f"/attempts/{last}/result"))
    assert "belum kompeten" in page
    assert "Kesempatan ujian sudah habis; hubungi penyelenggara." in page
    page = _text(driver.client.get(f"/attempts/{last}/result?lang=en"))
    assert "No attempts left; contact the organiser." in page


# --- how a notice is written (no database needed) ----------------------------------------

@pytest.fixture(scope="module")
def plain_app():
    return create_app({"DATABASE_URL": "sqlite://", "SECRET_KEY": "k" * 32,
                       "SWEEP_INTERVAL_SECONDS": 0, "JOB_POLL_SECONDS": 0})


AT = dt.datetime(2025, 1, 31, 1, 0, tzinfo=dt.UTC)  # 08:00 WIB, 09:00 WITA, 10:00 WIT


@pytest.mark.parametrize("zone, indonesian, english", [
    ("Asia/Jakarta", "31 Januari 2025 pukul 08.00 WIB", "31 January 2025, 08:00 WIB"),
    ("Asia/Makassar", "31 Januari 2025 pukul 09.00 WITA", "31 January 2025, 09:00 WITA"),
    ("Asia/Jayapura", "31 Januari 2025 pukul 10.00 WIT", "31 January 2025, 10:00 WIT"),
    (None, "31 Januari 2025 pukul 01.00 UTC", "31 January 2025, 01:00 UTC"),
])
def test_datetimes_are_written_in_the_notice_zone(plain_app, zone, indonesian, english):
    params = {"opens_at": AT, **({"timezone": zone} if zone else {})}
    notice = Notice("window_not_open", params)
    with plain_app.test_request_context("/"):
        assert notice_text(notice) == f"Jadwal ujian ini dibuka pada {indonesian}."
        assert format_datetime_local(AT, zone) == indonesian
    with plain_app.test_request_context("/?lang=en"):
        assert notice_text(notice) == f"This exam window opens at {english}."
        assert format_datetime_local(AT, zone) == english
    # the English source text of item_bank (logs, the CLI) keeps its own form
    assert "2025-01-31" in notice.text()


def test_notice_json_has_the_code_plain_params_and_the_localized_message(plain_app):
    notice = Notice("waiting_period", {"until": AT, "timezone": "Asia/Makassar"})
    with plain_app.test_request_context("/"):
        assert notice_json(notice) == {
            "code": "waiting_period",
            "params": {"until": "2025-01-31T01:00:00+00:00", "timezone": "Asia/Makassar"},
            "message": "Masa tunggu untuk belajar kembali: ujian dapat diikuti lagi pada "
                       "31 Januari 2025 pukul 09.00 WITA."}
    with plain_app.test_request_context("/?lang=en"):
        counted = Notice("finish_needs_confirmation",
                         {"answered": 3, "min_items": 10, "missing": 7})
        assert notice_json(counted)["params"] == {"answered": 3, "min_items": 10, "missing": 7}
        assert notice_json(counted)["message"].startswith("You have answered 3 of the at least "
                                                          "10 questions")
    with plain_app.test_request_context("/?lang=id"):
        assert notice_text(counted).startswith("Anda baru menjawab 3 dari sekurang-kurangnya "
                                               "10 soal")
