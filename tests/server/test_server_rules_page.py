"""The page before an exam starts: its rules, and for a once-only exam (the pre-assessment) a
confirmation without which nothing starts."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from item_bank.policy.facts import EXAM_COLUMNS, exam_facts
from item_bank.policy.rules import exam_rules
from server import bank


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


@pytest.fixture
def participant(app, demo, driver):
    """The driver logged in as the demo's first participant, forms without CSRF tokens (CSRF
    has its own tests)."""
    app.config["WTF_CSRF_ENABLED"] = False
    nip, _name, password = demo.accounts.participants[0]
    driver.login(nip, password)
    return driver


def _attempts(driver, exam_id: int) -> int:
    with driver.session() as s:
        return s.scalar(select(func.count(bank.Attempt.id)).where(
            bank.Attempt.exam_id == exam_id))


def test_programs_link_to_the_rules_page_which_states_the_rules(participant):
    driver = participant
    pra = driver.exam_id("PRA")
    page = driver.client.get("/programs").get_data(as_text=True)
    assert f'href="/exams/{pra}/rules"' in page
    r = driver.client.get(f"/exams/{pra}/rules")
    assert r.status_code == 200
    text = _text(r)
    with driver.session() as s:
        exam = s.get(bank.Exam, pra)
        settings = s.get(bank.Program, exam.program_id).settings
    rules = exam_rules(exam_facts([getattr(exam, c) for c in EXAM_COLUMNS]), settings)
    # In Indonesian, with the numbers of the exam's effective rules.
    assert "Sebelum Anda mulai" in text
    assert f"{rules.min_items} sampai {rules.max_items} soal" in text
    assert f"{-(-rules.duration_s // 60)} menit" in text
    assert f"{rules.cut_score:.0f} dari 100" in text
    assert "0 dari 1 terpakai, sisa 1" in text
    assert "Bila koneksi terputus, masuk lagi" in text
    assert "hanya dapat diikuti satu kali" in text and 'id="confirm"' in r.get_data(as_text=True)


def test_a_once_only_exam_starts_only_when_confirmed(participant):
    driver = participant
    pra = driver.exam_id("PRA")
    for form in ({}, {"confirm": "no"}, {"confirm": ""}):
        r = driver.client.post(f"/exams/{pra}/start", data=form)
        assert r.status_code == 422, form
        assert "Centang kotak" in _text(r)
        assert _attempts(driver, pra) == 0  # nothing started
    r = driver.client.post(f"/exams/{pra}/start", data={"confirm": "yes"})
    assert r.status_code == 302 and re.search(r"/attempts/\d+$", r.headers["Location"])
    assert _attempts(driver, pra) == 1
    # Running now: the rules page goes to the exam, and resuming needs no confirmation.
    r = driver.client.get(f"/exams/{pra}/rules")
    assert r.status_code == 302 and re.search(r"/attempts/\d+$", r.headers["Location"])
    r = driver.client.post(f"/exams/{pra}/start")
    assert r.status_code == 302 and _attempts(driver, pra) == 1


def test_an_exam_of_several_attempts_starts_without_a_confirmation(participant):
    driver = participant
    driver.take("PRA", correct=False)  # failed: the materi exams open
    exam = driver.exam_id("UJIAN-PP")
    r = driver.client.get(f"/exams/{exam}/rules")
    assert r.status_code == 200 and 'id="confirm"' not in r.get_data(as_text=True)
    assert "sisa 5" in _text(r)
    r = driver.client.post(f"/exams/{exam}/start")
    assert r.status_code == 302 and _attempts(driver, exam) == 1


def test_a_locked_exam_shows_why_and_an_unknown_one_is_not_found(participant):
    driver = participant
    ujikom = driver.exam_id("UJIKOM")
    r = driver.client.get(f"/exams/{ujikom}/rules")
    assert r.status_code == 200
    assert "Kerjakan tes penilaian awal terlebih dahulu" in _text(r)
    assert 'id="start-form"' not in r.get_data(as_text=True)
    # Posting anyway: the policy's refusal with its reason, not the confirmation.
    r = driver.client.post(f"/exams/{ujikom}/start")
    assert r.status_code == 409
    assert driver.client.get("/exams/999999/rules").status_code == 404
    assert driver.client.post("/exams/999999/start").status_code == 404
