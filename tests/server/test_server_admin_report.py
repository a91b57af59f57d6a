"""The administrator's report of a program against counts made by hand.

A small program (WITA) is written straight into the database: 12 participants with known
attempts, scores, pass flags, times, items shown and certificates, plus one enrolled who
never started.  The expected figures below are counted by hand from that table, not by the
report's code; the page, the CSV and the XLSX (re-read by openpyxl) must all show them."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from server import bank
from server.extensions import Database

WITA = ZoneInfo("Asia/Makassar")
HOSTILE = '=HYPERLINK("http://example.invalid/","klik")'
DAY1 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=WITA)
DAY2 = dt.datetime(2026, 11, 10, 9, 0, tzinfo=WITA)
# 2026-11-03 00:30 WITA is still 2 November in UTC: a day of the program's zone is not UTC's.
JUST_AFTER_MIDNIGHT = dt.datetime(2026, 11, 3, 0, 30, tzinfo=WITA)

# Pre-assessment scores of p0..p11.  p11's 84.96 was stored as passed (the stored flag is
# the result; the report never grades again), so 3 of 12 passed, not the 2 of "score >= 85".
PRA = [90.0, 86.0, 46.0, 49.0, 52.0, 55.0, 58.0, 61.0, 64.0, 67.0, 70.0, 84.96]
PRA_PASSED = [True, True] + [False] * 9 + [True]
# Materi M1 (p2..p11): attempt 1 passed by p2..p6; attempt 2 by p7, p8, p9 (p10, p11 fail);
# attempt 3 by p10 (p11 fails again).
M1 = {2: [True], 3: [True], 4: [True], 5: [True], 6: [True], 7: [False, True],
      8: [False, True], 9: [False, True], 10: [False, False, True], 11: [False, False, False]}


def _build(app) -> dict:
    """The program, its exams and the attempts of the table above."""
    with Database.factory(app)() as s:
        program = bank.Program(code="LAPOR", name="Laporan Uji",
                               settings_json={"timezone": "Asia/Makassar"})
        s.add(program)
        s.flush()
        m1 = bank.Materi(program_id=program.id, code="M1", name="Etika")
        m2 = bank.Materi(program_id=program.id, code="M2", name="Pelayanan")
        s.add_all([m1, m2])
        s.flush()
        items = {}
        for materi in (m1, m2):
            for j in range(1, 7):
                item = bank.Item(program_id=program.id, materi_id=materi.id,
                                 code=f"{materi.code}-{j}", stem=f"Soal {j}?",
                                 options=["a", "b", "c", "d"], key=0,
                                 status=bank.ItemStatus.OPERATIONAL, a=1.0, b=0.0)
                s.add(item)
                items[item.code] = item
        exams = {code: bank.Exam(program_id=program.id, code=code, title=title, kind=kind,
                                 materi_id=materi)
                 for code, title, kind, materi in (
                     ("PRA", "Penilaian awal", bank.ExamKind.PRE_ASSESSMENT, None),
                     ("U-M1", "Ujian etika", bank.ExamKind.MATERI, m1.id),
                     ("U-M2", "Ujian pelayanan", bank.ExamKind.MATERI, m2.id),
                     ("UJIKOM", "Uji kompetensi", bank.ExamKind.UJIKOM, None))}
        exams["U-M1"].window_opens_at = dt.datetime(2026, 11, 9, 23, 0, tzinfo=dt.UTC)
        s.add_all(exams.values())
        people = [bank.Participant(nip=str(199001010000000000 + k),
                                   name=HOSTILE if k == 0 else f"Peserta {k}")
                  for k in range(13)]
        s.add_all(people)
        s.flush()
        s.add_all([bank.Enrolment(participant_id=p.id, program_id=program.id) for p in people])

        def attempt(k: int, exam: str, number: int, start: dt.datetime, minutes: float,
                    score: float | None, passed: bool | None, shown: list[str],
                    state=bank.AttemptState.SUBMITTED) -> bank.Attempt:
            running = state == bank.AttemptState.STARTED
            row = bank.Attempt(
                participant_id=people[k].id, program_id=program.id, exam_id=exams[exam].id,
                slot=exams[exam].slot, number=number, state=state,
                started_at=start, deadline=start + dt.timedelta(hours=2),
                finished_at=None if running else start + dt.timedelta(minutes=minutes),
                score=score, passed=passed)
            s.add(row)
            s.flush()
            s.add_all([bank.Response(attempt_id=row.id, item_id=items[code].id, position=j,
                                     shown_order=[0, 1, 2, 3], presented_at=start)
                       for j, code in enumerate(shown)])
            return row

        pra = [attempt(k, "PRA", 1, JUST_AFTER_MIDNIGHT if k == 11 else DAY1, 10 + k,
                       PRA[k], PRA_PASSED[k], ["M1-5"]) for k in range(12)]
        for k, results in M1.items():
            for n, passed in enumerate(results, start=1):
                attempt(k, "U-M1", n, DAY2, 20, 75.0 if passed else 40.0, passed,
                        ["M1-1", "M1-2"] if n == 1 else ["M1-3", "M1-4"])
        for k in (2, 3, 4, 5):
            attempt(k, "U-M2", 1, DAY2, 30, 80.0, True, ["M2-1"])
        attempt(6, "U-M2", 1, DAY2, 90, 20.0, False, ["M2-1"], bank.AttemptState.EXPIRED)
        attempt(7, "U-M2", 1, DAY2, 0, None, None, ["M2-2"], bank.AttemptState.STARTED)
        ujikom = attempt(2, "UJIKOM", 1, DAY2, 45, 80.0, True, ["M1-6"])
        attempt(3, "UJIKOM", 1, DAY2, 45, 50.0, False, ["M2-3"])
        for number, k, row, route in (("C-1", 0, pra[0], "pre_assessment"),
                                      ("C-2", 1, pra[1], "pre_assessment"),
                                      ("C-3", 2, ujikom, "ujikom")):
            s.add(bank.Certificate(number=number, participant_id=people[k].id,
                                   program_id=program.id, attempt_id=row.id, route=route,
                                   score=row.score, issued_at=row.finished_at))
        s.commit()
        return {"program": program.id, **{code: e.id for code, e in exams.items()}}


@pytest.fixture
def small(app):
    return _build(app)


@pytest.fixture
def admin(demo, new_driver):
    staff = new_driver()
    staff.staff_login(*demo.accounts.admin)
    return staff.client


def _csv_tables(data: bytes) -> dict[str, list[list[str]]]:
    """The CSV's tables by title: header row first."""
    tables: dict[str, list[list[str]]] = {}
    title = None
    for row in csv.reader(io.StringIO(data.decode("utf-8-sig"))):
        if not row:
            title = None
        elif title is None:
            title = row[0]
            tables[title] = []
        else:
            tables[title].append(row)
    return tables


def _value(cell):
    """A cell of either file as a number when it is one (the workbook gives 25 for 25.0),
    else its text ("" for an empty cell)."""
    if cell is None or isinstance(cell, int | float):
        return "" if cell is None else float(cell)
    try:
        return float(cell)
    except ValueError:
        return cell


def _page_rows(page: str, key: str) -> list[list[str]]:
    """The cells of the page's table ``key`` as text, the header row first."""
    table = re.search(rf'<table id="table-{key}">(.*?)</table>', page, re.S).group(1)
    return [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>",
                                                                    row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", table, re.S)]


def test_report_figures_match_a_hand_count(app, small, admin):
    page = admin.get(f"/admin/programs/{small['program']}/report").get_data(as_text=True)
    # per attempt number, by hand from M1: 10 first attempts 5 passed, 5 second 3 passed,
    # 2 third 1 passed; the pre-assessment 12 / 3 (stored flags); M2 5 / 4 (the running
    # attempt is not counted); the ujikom 2 / 1
    rows = _page_rows(page, "attempt_numbers")
    assert rows[0] == ["Bagian", "Percobaan ke-", "Percobaan", "Lulus", "Tingkat kelulusan (%)"]
    assert rows[1:] == [
        ["penilaian awal", "1", "12", "3", "25,0 %"],
        ["materi M1: Etika", "1", "10", "5", "50,0 %"],
        ["materi M1: Etika", "2", "5", "3", "60,0 %"],
        ["materi M1: Etika", "3", "2", "1", "50,0 %"],
        ["materi M2: Pelayanan", "1", "5", "4", "80,0 %"],
        ["uji kompetensi", "1", "2", "1", "50,0 %"]]
    # per materi: M1 10 participants, 9 passed; 17 attempts, 9 passed
    assert _page_rows(page, "pass_rates")[2] == [
        "materi M1: Etika", "70,0", "10", "9", "90,0 %", "17", "9", "52,9 %"]
    summary = dict(_page_rows(page, "summary")[1:])
    assert summary["Zona waktu"] == "WITA (Asia/Makassar)"
    assert summary["Peserta terdaftar"] == "13"
    assert summary["Peserta dengan percobaan selesai"] == "12"
    assert summary["Percobaan selesai"] == "36"
    assert summary["Percobaan masih berjalan"] == "1"
    assert summary["Sertifikat diterbitkan"] == "3"
    # histogram of the pre-assessment: 40-50: 2, 50-60: 3, 60-70: 3, 70-80: 1, 80-90: 2,
    # 90-100: 1 (70 is in 70-80, 84.96 in 80-90)
    assert _page_rows(page, "scores")[1] == ["penilaian awal", "85,0", "0", "0", "0", "0", "2",
                                             "3", "3", "1", "2", "1"]
    # the pre-assessment took 10..21 minutes: quartiles 12.75 / 15.5 / 18.25
    assert _page_rows(page, "times")[1][4:] == ["12,8", "15,5", "18,2"]
    # exposure: M1's items 1,2 shown to 10 and 3,4 to 7 of U-M1's 17 attempts, item 5 to all
    # 12 pre-assessments, item 6 to 1 of 2 ujikom attempts: 6 used, none never shown,
    # highest 100 %, mean (10+10+7+7)/17/4 .. = (2 + 1 + 0.5) / 6; M2: item 1 (5/5),
    # item 3 (1/2), item 2 only in the running attempt: 2 used, 4 never shown
    exposure = _page_rows(page, "exposure")
    assert exposure[1] == ["M1: Etika", "6", "6", "100,0 %", "58,3 %", "0"]
    assert exposure[2] == ["M2: Pelayanan", "6", "2", "100,0 %", "75,0 %", "4"]
    # the window opens 9 November 23:00 UTC = 10 November 07:00 WITA
    assert "10 November 2026 pukul 07.00 WITA" in page
    # the hostile name is text on the page
    assert HOSTILE.replace('"', "&#34;") in page and "<a href=\"http://example.invalid" not in page
    # every chart of the page loads as SVG with its cut score marked
    charts = re.findall(r'<img src="([^"]+)"', page)
    assert len(charts) == 5
    for src in charts:
        r = admin.get(src.replace("&amp;", "&"))
        assert r.status_code == 200 and r.mimetype == "image/svg+xml", src
        assert r.data.startswith(b"<?xml") and b"<script" not in r.data
    pra = admin.get(charts[1].replace("&amp;", "&")).get_data(as_text=True)
    assert "Batas lulus 85" in pra and "penilaian awal" in pra


def test_days_and_exam_filter(app, small, admin):
    base = f"/admin/programs/{small['program']}/report"
    # 2 November in WITA: 11 pre-assessments (p11's started 00:30 on the 3rd, WITA), the
    # certificates of that day; nothing of the 10th
    page = admin.get(f"{base}?from=2026-11-02&to=2026-11-02").get_data(as_text=True)
    assert _page_rows(page, "attempt_numbers")[1:] == [
        ["penilaian awal", "1", "11", "2", "18,2 %"]]
    assert [r[0] for r in _page_rows(page, "certificates")[1:]] == ["C-1", "C-2"]
    # one exam: its attempts only, no certificate earned by it
    page = admin.get(f"{base}?exam_id={small['U-M1']}").get_data(as_text=True)
    assert [r[0] for r in _page_rows(page, "attempt_numbers")[1:]] == ["materi M1: Etika"] * 3
    assert "Tidak ada sertifikat yang diterbitkan" in page
    assert _page_rows(page, "exposure")[1] == ["M1: Etika", "6", "4", "58,8 %", "50,0 %", "2"]
    # the files follow the filters
    data = admin.get(f"{base}.csv?exam_id={small['U-M1']}").data
    assert _csv_tables(data)["Kelulusan menurut percobaan ke-"][1:] == [
        ["materi M1: Etika", "1", "10", "5", "50.0"], ["materi M1: Etika", "2", "5", "3", "60.0"],
        ["materi M1: Etika", "3", "2", "1", "50.0"]]


def test_bad_filters_are_refused(app, small, admin, demo):
    base = f"/admin/programs/{small['program']}/report"
    r = admin.get(f"{base}?from=2026-13-01")
    assert r.status_code == 422 and "2026-12-31" in r.get_data(as_text=True)
    r = admin.get(f"{base}?from=2026-11-10&to=2026-11-02")
    assert r.status_code == 422 and "sebelum" in r.get_data(as_text=True)
    assert admin.get(f"{base}?exam_id=abc").status_code == 422
    # an exam of another program is not this program's: not found
    with Database.factory(app)() as s:
        other = s.scalar(select(bank.Exam.id).where(bank.Exam.program_id != small["program"]))
    assert admin.get(f"{base}?exam_id={other}").status_code == 404
    assert admin.get(f"{base}.xlsx?exam_id={other}").status_code == 404
    assert admin.get(f"{base}/chart.svg?chart=scores-materi-999").status_code == 404
    assert admin.get(f"{base}/chart.svg?chart=../../etc").status_code == 404
    assert admin.get("/admin/programs/987654321/report").status_code == 404


def test_xlsx_and_csv_hold_the_page_figures_and_escape_formulas(app, small, admin):
    base = f"/admin/programs/{small['program']}/report"
    r = admin.get(f"{base}.xlsx?lang=en")  # the files are Indonesian on an English page too
    assert r.status_code == 200 and r.mimetype.endswith("spreadsheetml.sheet")
    assert 'filename=laporan-LAPOR.xlsx' in r.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(r.data))
    assert book.sheetnames == ["Ringkasan", "Kelulusan", "Nomor percobaan", "Skor", "Waktu",
                               "Ujian", "Paparan", "Sertifikat"]
    numbers = [[c.value for c in row] for row in book["Nomor percobaan"].iter_rows()]
    assert numbers[0] == ["Bagian", "Percobaan ke-", "Percobaan", "Lulus",
                          "Tingkat kelulusan (%)"]
    assert numbers[1:] == [
        ["penilaian awal", 1, 12, 3, 25.0], ["materi M1: Etika", 1, 10, 5, 50.0],
        ["materi M1: Etika", 2, 5, 3, 60.0], ["materi M1: Etika", 3, 2, 1, 50.0],
        ["materi M2: Pelayanan", 1, 5, 4, 80.0], ["uji kompetensi", 1, 2, 1, 50.0]]
    tables = _csv_tables(admin.get(f"{base}.csv").data)
    # the same numbers in the CSV as in the workbook, sheet by sheet
    for sheet, title in (("Kelulusan", "Kelulusan per materi"),
                         ("Nomor percobaan", "Kelulusan menurut percobaan ke-"),
                         ("Skor", "Sebaran skor (percobaan per rentang skor)"),
                         ("Paparan", "Penggunaan dan paparan butir")):
        cells = [[_value(c.value) for c in row] for row in book[sheet].iter_rows()]
        assert cells == [[_value(v) for v in row] for row in tables[title]], sheet
    # times in the program's zone, the zone named in the header
    certificates = [[c.value for c in row] for row in book["Sertifikat"].iter_rows()]
    assert certificates[0][-1] == "Diterbitkan, WITA (Asia/Makassar)"
    assert certificates[1][-1] == dt.datetime(2026, 11, 2, 9, 10)
    assert tables["Sertifikat diterbitkan"][1][-1] == "2026-11-02 09:10"
    # the hostile name is text behind an apostrophe in both files, never a formula
    assert certificates[1][2] == "'" + HOSTILE
    assert book["Sertifikat"]["C2"].data_type == "s"
    assert tables["Sertifikat diterbitkan"][1][2] == "'" + HOSTILE
    assert not any(str(c.value).startswith(("=", "+", "-", "@"))
                   for sheet in book for row in sheet.iter_rows() for c in row
                   if c.value is not None)


def test_an_empty_program_says_there_is_nothing_yet(app, admin):
    with Database.factory(app)() as s:
        program = bank.Program(code="KOSONG", name="Belum dimulai")
        s.add(program)
        s.flush()
        s.add(bank.Exam(program_id=program.id, code="PRA", kind=bank.ExamKind.PRE_ASSESSMENT))
        s.commit()
        program_id = program.id
    r = admin.get(f"/admin/programs/{program_id}/report")
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and 'id="report-empty"' in page
    assert "Belum ada yang dapat dilaporkan" in page
    assert "<img" not in page and "export-xlsx" not in page
    assert admin.get(f"/admin/programs/{program_id}/report/chart.svg?chart=attempt-numbers"
                     ).status_code == 404
    book = load_workbook(io.BytesIO(admin.get(f"/admin/programs/{program_id}/report.xlsx").data))
    assert [[c.value for c in row] for row in book["Nomor percobaan"].iter_rows()] == [
        ["Bagian", "Percobaan ke-", "Percobaan", "Lulus", "Tingkat kelulusan (%)"]]
    # the program page links to the report
    assert f"/admin/programs/{program_id}/report" in admin.get(
        f"/admin/programs/{program_id}").get_data(as_text=True)
