"""A program's setup on the administrator's pages: settings that SPEC.md's flow gives no
meaning to are refused with the reason, in Indonesian, nothing stored; no database
message reaches a page."""

from __future__ import annotations

import html

import pytest
from sqlalchemy import func, select

from server import bank
from server.extensions import Database

REFUSED = [
    # (form, the reason the page gives)
    ({"code": "UJIAN PP", "kind": "materi", "materi": "PP"}, "tanpa spasi"),
    ({"code": "BARU", "kind": "materi"}, "Ujian materi memerlukan materinya"),
    ({"code": "PRA-2", "kind": "pre_assessment", "max_attempts": "3"},
     "hanya satu kali percobaan"),
    ({"code": "PRA-2", "kind": "pre_assessment"}, "sudah memiliki tes penilaian awal PRA"),
    ({"code": "UJIAN-PP-2", "kind": "materi", "materi": "PP", "max_attempts": "9"},
     "Ujian UJIAN-PP sudah melayani PP dengan max_attempts 5"),
    ({"code": "UJIKOM-2", "kind": "ujikom", "cut_score": "60"},
     "Ujian UJIKOM sudah melayani ujikom dengan cut_score 70"),
    ({"code": "BARU", "kind": "ujikom", "cut_score": "101"}, "harus di antara 0..100"),
    ({"code": "BARU", "kind": "materi", "materi": "PP", "min_items": "20",
      "max_items": "10"}, "melebihi maksimum"),
    ({"code": "BARU", "kind": "ujikom", "window_opens_at": "2026-01-02T08:00",
      "window_closes_at": "2026-01-01T08:00"}, "ditutup sebelum dibuka"),
    ({"code": "UJIKOM", "kind": "ujikom"}, "Kode UJIKOM sudah dipakai"),
]


@pytest.mark.parametrize(("form", "reason"), REFUSED)
def test_a_misleading_exam_setting_is_refused_with_its_reason(app, demo, driver, csrf, form,
                                                                reason):
    driver.staff_login(*demo.accounts.admin)
    with Database.factory(app)() as s:
        program = s.scalar(select(bank.Program))
        materi = {m.code: m.id for m in s.scalars(select(bank.Materi))}
        before = s.scalar(select(func.count(bank.Exam.id)))
    page = driver.client.get(f"/admin/programs/{program.id}").get_data(as_text=True)
    data = {k: v for k, v in form.items() if k != "materi"} | {"title": "Uji",
                                                               "csrf_token": csrf(page)}
    if "materi" in form:
        data["materi_id"] = str(materi[form["materi"]])
    r = driver.client.post(f"/admin/programs/{program.id}/exams", data=data)
    text = html.unescape(r.get_data(as_text=True))
    assert r.status_code == 422 and reason in text, text[-800:]
    assert "constraint" not in text.lower() and "CHECK" not in text
    with Database.factory(app)() as s:
        assert s.scalar(select(func.count(bank.Exam.id))) == before


def test_a_program_code_with_spaces_is_refused_and_agreeing_exams_may_share_a_slot(
        app, demo, driver, csrf):
    driver.staff_login(*demo.accounts.admin)
    page = driver.client.get("/admin/").get_data(as_text=True)
    r = driver.client.post("/admin/programs", data={"code": "LATSAR 2026", "name": "Latsar",
                                                    "csrf_token": csrf(page)})
    assert r.status_code == 422 and "tanpa spasi" in html.unescape(r.get_data(as_text=True))
    with Database.factory(app)() as s:
        assert s.scalar(select(bank.Program.id).where(
            bank.Program.code == "LATSAR 2026")) is None
        program = s.scalar(select(bank.Program))
        pp = s.scalar(select(bank.Materi.id).where(bank.Materi.code == "PP"))
    # A second window of the PP slot that agrees with the first (the program's 5 attempts,
    # cut 70) is a schedule, not a contradiction.
    page = driver.client.get(f"/admin/programs/{program.id}").get_data(as_text=True)
    r = driver.client.post(f"/admin/programs/{program.id}/exams", data={
        "code": "UJIAN-PP-SUSULAN", "title": "Susulan", "kind": "materi", "materi_id": str(pp),
        "max_attempts": "5", "cut_score": "70", "csrf_token": csrf(page)})
    assert r.status_code == 302, r.get_data(as_text=True)
