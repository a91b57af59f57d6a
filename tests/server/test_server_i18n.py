"""Why an exam is locked, on the participant's pages: in Bahasa Indonesia by default, in
English when chosen.

Each case puts the first demo participant in one state of the flow (finished attempts,
assignments, certificates and exam windows written straight into the database), then renders
the programs page and the page of a refused start, and checks the reason the exam policy
gives (English) is shown in Indonesian, and in English after ``?lang=en``.
"""

from __future__ import annotations

import datetime as dt
import html

import pytest
from sqlalchemy import select, update

from item_bank.models import CertificateRoute
from server import bank
from server.extensions import Database

MONTHS = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus",
          "September", "Oktober", "November", "Desember")
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


def _until_id(w: World) -> str:
    until = w.finished_at + WAIT + WIB
    return f"{until.day} {MONTHS[until.month - 1]} {until.year} pukul {until:%H.%M} WIB"


def _far(days: int) -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(days=days)


def _date_id(at: dt.datetime) -> str:
    local = at + WIB
    return f"{local.day} {MONTHS[local.month - 1]} {local.year} pukul {local:%H.%M} WIB"


# A window that opens in 30 days, on a whole minute (the page shows minutes).
OPENS = _far(30).replace(second=0, microsecond=0)


# case -> (set the state up, the locked exam, Indonesian text, English text); the texts are
# functions of the world because the waiting period's end depends on the time of the test.
CASES = {
    "pre-assessment first": (
        lambda w: None, lambda w: w.materi[0],
        lambda w: "Kerjakan tes penilaian awal terlebih dahulu.",
        lambda w: "Take the pre-assessment first."),
    "pre-assessment taken": (
        lambda w: w.finish("PRA", passed=False), lambda w: "PRA",
        lambda w: "Tes penilaian awal sudah pernah diikuti; tes ini hanya dapat dikerjakan "
                  "satu kali.",
        lambda w: "The pre-assessment is taken exactly once; it cannot be repeated."),
    "pre-assessment after the training": (
        lambda w: w.finish(w.materi[0], passed=False), lambda w: "PRA",
        lambda w: "Tes penilaian awal hanya dapat diikuti sebelum pelatihan dimulai.",
        lambda w: "The pre-assessment comes before the training."),
    "materi attempts used up": (
        lambda w: (w.finish("PRA", passed=False), w.finish(w.materi[0], passed=False, times=5)),
        lambda w: w.materi[0],
        lambda w: "Kesempatan ujian sudah habis (5 dari 5).",
        lambda w: "No attempts left: all 5 attempts are used."),
    "ujikom attempts used up": (
        lambda w: (w.finish("PRA", passed=False), w.finish("UJIKOM", passed=False, times=3)),
        lambda w: "UJIKOM",
        lambda w: "Kesempatan uji kompetensi sudah habis (3 dari 3); hasil: belum kompeten.",
        lambda w: "No attempts left: all 3 attempts are used (belum kompeten)."),
    "materi not passed": (
        lambda w: (w.finish("PRA", passed=False), w.finish(w.materi[0], passed=True)),
        lambda w: "UJIKOM",
        lambda w: "Uji kompetensi terkunci sampai semua materi lulus dan tugas selesai: "
                  "2 ujian materi belum lulus.",
        lambda w: "Pass every materi exam first (2 not passed yet)."),
    "assignments not done": (
        lambda w: w.pass_training(), lambda w: "UJIKOM",
        lambda w: "Uji kompetensi terkunci sampai semua materi lulus dan tugas selesai: "
                  "2 tugas belum dinyatakan selesai.",
        lambda w: "Complete every assignment first (2 not marked done)."),
    "ujikom waiting period": (
        _waiting, lambda w: "UJIKOM",
        lambda w: f"Masa tunggu untuk belajar kembali: ujian dapat diikuti lagi pada "
                  f"{_until_id(w)}.",
        lambda w: f"Waiting period for remedial study until "
                  f"{w.finished_at + WAIT + WIB:%Y-%m-%d %H:%M} WIB."),
    "window not open": (
        lambda w: w.set_exam("PRA", window_opens_at=OPENS), lambda w: "PRA",
        lambda w: f"Jadwal ujian ini dibuka pada {_date_id(OPENS)}.",
        lambda w: f"This exam window opens at {OPENS + WIB:%Y-%m-%d %H:%M} WIB."),
    "window closed": (
        lambda w: w.set_exam("PRA", window_opens_at=_far(-30), window_closes_at=_far(-1)),
        lambda w: "PRA",
        lambda w: "Jadwal ujian ini sudah ditutup.",
        lambda w: "This exam window has closed."),
    "certificate held": (
        lambda w: w.certify(), lambda w: w.materi[0],
        lambda w: "Anda sudah memiliki sertifikat program ini.",
        lambda w: "You already hold the certificate of this program."),
}


def _text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


@pytest.mark.parametrize("case", list(CASES))
def test_locked_reasons_are_in_indonesian_by_default_and_english_on_request(
        case, app, demo, driver):
    app.config["WTF_CSRF_ENABLED"] = False  # CSRF has its own tests
    setup, exam, indonesian, english = CASES[case]
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

    page = _text(c.get("/programs?lang=en"))
    assert english(w) in page and indonesian(w) not in page, page
    r = c.post(start)
    assert r.status_code == 409 and english(w) in _text(r), _text(r)


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
    # A message without a translation (the bank is short: an administrator's detail) gets
    # the Indonesian meaning of its error code, with the detail under it.
    w.assignments_done()
    w.set_exam("UJIKOM", min_items=5000, max_items=5000)
    r = c.post(f"/exams/{w.exams['UJIKOM'][0]}/start")
    page = _text(r)
    assert r.status_code == 409, page
    assert "Soal untuk ujian ini belum mencukupi; hubungi penyelenggara." in page
    assert "Not enough items for UJIKOM" in page
    r = c.post(f"/exams/{w.exams['UJIKOM'][0]}/start?lang=en")
    assert "Not enough items for UJIKOM" in _text(r) and "Soal untuk" not in _text(r)


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
