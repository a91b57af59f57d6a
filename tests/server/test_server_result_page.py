"""The result page and the participant's history: what a participant reads after an exam."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from babel.dates import format_date

from server import bank


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def test_the_result_page_names_the_exam_date_pass_mark_answers_and_why_it_ended(
        app, demo, driver):
    nip, _name, password = demo.accounts.participants[0]
    driver.login(nip, password)
    result = driver.take("PRA", correct=False)
    r = driver.client.get(f"/attempts/{result['attempt_id']}/result")
    assert r.status_code == 200
    text = _text(r)
    with driver.session() as s:
        attempt = s.get(bank.Attempt, result["attempt_id"])
        exam = s.get(bank.Exam, attempt.exam_id)
        finished = attempt.finished_at.replace(tzinfo=dt.UTC).astimezone(
            ZoneInfo("Asia/Jakarta"))
    assert f"Hasil: {exam.title}" in text and "percobaan ke-1" in text
    # The date in the program's zone (the demo's: WIB), in Indonesian.
    assert format_date(finished, "long", locale="id") in text
    assert f"{finished:%H.%M} WIB" in text
    assert f"Soal dijawab {result['answered']}" in text
    assert f"Nilai batas lulus {result['cut_score']:.0f}" in text
    assert "Tidak lulus" in text
    assert "Mengapa ujian berakhir" in text
    assert "Sisa kesempatan 0" in text  # not passed: the attempts left are shown
    assert 'id="print-button"' in r.get_data(as_text=True)


def test_a_passed_exam_shows_no_attempts_left_and_the_history_lists_the_attempts(
        app, demo, driver):
    nip, _name, password = demo.accounts.participants[0]
    driver.login(nip, password)
    driver.take("PRA", correct=False)
    failed = driver.take("UJIAN-PP", correct=False)
    passed = driver.take("UJIAN-PP", correct=True)
    assert passed["passed"] and not failed["passed"]
    text = _text(driver.client.get(f"/attempts/{passed['attempt_id']}/result"))
    assert "Lulus" in text and "Sisa kesempatan" not in text
    page = driver.client.get("/programs")
    html = page.get_data(as_text=True)
    history = re.search(r'id="history-UJIAN-PP".*?</tr>', html, re.S).group(0)
    items = re.findall(r"<li>.*?</li>", history, re.S)
    assert len(items) == 2
    first, second = (re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", i)) for i in items)
    assert "percobaan ke-1" in first and "tidak lulus" in first
    assert f"nilai {failed['score']:.1f}" in first
    assert "percobaan ke-2" in second and "lulus" in second and "tidak lulus" not in second
    assert "WIB" in first and "menit" in first
    assert f'href="/attempts/{passed["attempt_id"]}/result"' in history
    # The JSON API carries the same history.
    statuses = driver.get("/api/v1/programs").json["programs"]
    exam = next(e for st in statuses for e in st["exams"] if e["code"] == "UJIAN-PP")
    assert [a["attempt_id"] for a in exam["history"]] == [failed["attempt_id"],
                                                          passed["attempt_id"]]
