"""The administrator's edits after a program's setup: edit (every error at once, what was typed
kept; the checks of a new exam; what attempts and results fix), two administrators saving the
same exam, archive / bring back / delete of exams and programs, the program-settings editor,
a copy of a program for a new cohort, materi and assignments."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import func, select

from item_bank import admin as ib_admin
from server import bank
from server.extensions import Database


def _text(r) -> str:
    return html.unescape(r.get_data(as_text=True))


def _field(page: str, name: str, attribute: str = "name") -> str:
    match = re.search(rf'{attribute}="{name}"[^>]*value="([^"]*)"', page)
    assert match, name
    return html.unescape(match.group(1))


@pytest.fixture
def admin(driver, demo):
    driver.staff_login(*demo.accounts.admin)
    return driver


def _ids(app) -> dict:
    with Database.factory(app)() as s:
        program = s.scalar(select(bank.Program))
        exams = {e.code: e.id for e in s.scalars(select(bank.Exam))}
        materi = {m.code: m.id for m in s.scalars(select(bank.Materi))}
        return {"program": program.id, "exams": exams, "materi": materi}


def _exam(app, exam_id):
    with Database.factory(app)() as s:
        exam = s.get(bank.Exam, exam_id)
        s.expunge(exam)
        return exam


def _form(page: str, csrf, **changes) -> dict:
    """The exam form as the page shows it, with ``changes``."""
    names = ("code", "title", "cut_score", "max_attempts", "duration_s", "min_items",
             "max_items", "window_opens_at", "window_closes_at", "version")
    data = {n: _field(page, n) for n in names}
    data["kind"] = re.search(r'<option value="(\w+)" selected>', page).group(1)
    materi = re.search(r'name="materi_id">.*?<option value="(\d*)" selected', page, re.S)
    data["materi_id"] = materi.group(1) if materi else ""
    data["assembly"] = "cat"
    return data | {"csrf_token": csrf(page)} | changes


def test_an_edit_is_checked_like_a_new_exam_with_every_error_and_what_was_typed(
        app, admin, csrf):
    ids = _ids(app)
    pra = ids["exams"]["PRA"]
    url = f"/admin/programs/{ids['program']}/exams/{pra}/edit"
    page = admin.client.get(url).get_data(as_text=True)
    assert 'for="exam-attempts"' in page and "WIB (Asia/Jakarta)" in page
    r = admin.client.post(url, data=_form(page, csrf, max_attempts="3", cut_score="101",
                                          title="<script>alert(1)</script>"))
    text = _text(r)
    assert r.status_code == 422
    # both reasons, in Indonesian, and what was typed
    assert "hanya satu kali percobaan" in text and "harus di antara 0..100" in text, text
    assert _field(text, "max_attempts") == "3" and _field(text, "cut_score") == "101"
    assert "<script>alert(1)</script>" not in r.get_data(as_text=True)
    before = _exam(app, pra)
    assert before.max_attempts == 1 and before.cut_score == 85 and before.version == 1
    # too long for its column, too large for any integer, a time that is no time: all named
    r = admin.client.post(url, data=_form(page, csrf, title="x" * 201, max_items=str(2**70),
                                          window_opens_at="besok pagi"))
    text = _text(r)
    errors = re.search(r'id="form-errors">(.*?)</div>', text, re.S).group(1)
    assert r.status_code == 422 and "max_items" in errors and "window_opens_at" in errors
    assert _field(text, "window_opens_at") == "besok pagi"
    r = admin.client.post(url, data=_form(page, csrf, title="x" * 201))
    errors = re.search(r'id="form-errors">(.*?)</div>', _text(r), re.S).group(1)
    assert r.status_code == 422 and "title" in errors and "200" in errors, errors
    assert _exam(app, pra).title == before.title
    # the slot rule of a new exam holds for an edit too
    pp = ids["exams"]["UJIAN-PP"]
    page = admin.client.get(f"/admin/programs/{ids['program']}/exams/{pp}/edit").get_data(
        as_text=True)
    r = admin.client.post(f"/admin/programs/{ids['program']}/exams/{pp}/edit",
                          data=_form(page, csrf, code="UJIKOM"))
    assert r.status_code == 422 and "Kode UJIKOM sudah dipakai" in _text(r)


def test_two_administrators_saving_the_same_exam_the_later_one_is_refused(
        app, demo, admin, new_driver, csrf):
    ids = _ids(app)
    exam = ids["exams"]["UJIKOM"]
    url = f"/admin/programs/{ids['program']}/exams/{exam}/edit"
    other = new_driver()
    other.staff_login(*demo.accounts.admin)
    mine = admin.client.get(url).get_data(as_text=True)
    theirs = other.client.get(url).get_data(as_text=True)
    r = other.client.post(url, data=_form(theirs, csrf, title="Ujikom angkatan 2"))
    assert r.status_code == 302
    r = admin.client.post(url, data=_form(mine, csrf, title="Ujikom (versi saya)",
                                          duration_s="3600"))
    text = _text(r)
    assert r.status_code == 409 and "menyimpan" in text.lower(), text[-1500:]
    assert _field(text, "title") == "Ujikom (versi saya)"   # what I typed is still there
    stored = _exam(app, exam)
    assert stored.title == "Ujikom angkatan 2" and stored.duration_s == 30 * 60
    assert stored.version == 2
    # reloaded, the form has the new version and saves
    page = admin.client.get(url).get_data(as_text=True)
    assert _field(page, "version") == "2"
    assert admin.client.post(url, data=_form(page, csrf, duration_s="3600")).status_code == 302
    assert _exam(app, exam).duration_s == 3600


def test_what_attempts_and_results_fix_is_refused_with_the_reason(app, demo, admin,
                                                                   new_driver, csrf):
    ids = _ids(app)
    pp = ids["exams"]["UJIAN-PP"]
    with Database.factory(app)() as s:   # graded with the program's pass mark (also 70)
        s.get(bank.Exam, pp).cut_score = None
        s.commit()
    participant = new_driver()
    nip, _, pw = demo.accounts.participants[0]
    participant.login(nip, pw)
    participant.take("PRA", correct=False)
    participant.take("UJIAN-PP", correct=False)
    url = f"/admin/programs/{ids['program']}/exams/{pp}/edit"
    page = admin.client.get(url).get_data(as_text=True)
    r = admin.client.post(url, data=_form(page, csrf, cut_score="60", kind="ujikom",
                                          materi_id="", code="UJIAN-PP-BARU"))
    text = _text(r)
    assert r.status_code == 422
    assert "Nilai batas lulus tidak dapat diubah" in text, text[-1500:]
    assert text.count("tidak dapat diubah") >= 3   # the cut, the kind, the code
    assert _exam(app, pp).code == "UJIAN-PP"
    # the title, the window and the duration of later attempts may change
    r = admin.client.post(url, data=_form(page, csrf, title="Ujian PP (remedial)",
                                          duration_s="1200",
                                          window_closes_at="2099-12-31T17:00"))
    assert r.status_code == 302, _text(r)[-1500:]
    exam = _exam(app, pp)
    assert exam.title == "Ujian PP (remedial)" and exam.duration_s == 1200
    assert exam.window_closes_at.isoformat() == "2099-12-31T10:00:00+00:00"  # 17:00 WIB
    # the program's default pass mark graded those results too
    edit = f"/admin/programs/{ids['program']}/edit"
    page = admin.client.get(edit).get_data(as_text=True)
    r = admin.client.post(edit, data={"csrf_token": csrf(page), "version": "1",
                                      "code": "PELAYANAN-PUBLIK", "name": "Pelatihan",
                                      "materi_pass_score": "65"})
    assert r.status_code == 422 and "materi_pass_score tidak dapat diubah" in _text(r)
    r = admin.client.post(edit, data={"csrf_token": csrf(page), "version": "1",
                                      "code": "PP-2", "name": "Pelatihan"})
    assert r.status_code == 422 and "code tidak dapat diubah" in _text(r)


def test_an_archived_exam_is_hidden_from_participants_and_can_be_brought_back(
        app, any_demo, admin, new_driver, csrf):
    demo = any_demo  # both exam stores: the ORM one (SQLite) and PostgreSQL's own
    ids = _ids(app)
    participant = new_driver()
    nip, _, pw = demo.accounts.participants[1]
    participant.login(nip, pw)
    participant.take("PRA", correct=False)
    pra = ids["exams"]["PRA"]
    status = f"/admin/programs/{ids['program']}/exams/{pra}/status"
    page = admin.client.get(status).get_data(as_text=True)
    assert "confirm-archive" in page and "confirm-delete" not in page  # it has an attempt
    r = admin.client.post(status, data={"csrf_token": csrf(page), "action": "delete"})
    assert r.status_code == 422 and "bisa diarsipkan, tidak dihapus" in _text(r), _text(r)
    assert admin.client.post(status, data={"csrf_token": csrf(page),
                                           "action": "archive"}).status_code == 302
    program = participant.get(f"/api/v1/programs/{ids['program']}").json
    assert "PRA" not in {e["code"] for e in program["exams"]}
    assert participant.post(f"/api/v1/exams/{pra}/attempts", json={}).status_code == 404
    overview = admin.client.get(f"/admin/programs/{ids['program']}").get_data(as_text=True)
    assert re.search(r'id="exam-PRA">.*?diarsipkan', overview)
    # a second pre-assessment may now be added; bringing PRA back is then refused with why
    page = admin.client.get(f"/admin/programs/{ids['program']}").get_data(as_text=True)
    r = admin.client.post(f"/admin/programs/{ids['program']}/exams", data={
        "csrf_token": csrf(page), "code": "PRA-2", "title": "Pra 2", "kind": "pre_assessment"})
    assert r.status_code == 302
    r = admin.client.post(status, data={"csrf_token": csrf(page), "action": "unarchive"})
    assert r.status_code == 422 and "sudah memiliki tes penilaian awal PRA-2" in _text(r)
    new = _ids(app)["exams"]["PRA-2"]
    # PRA-2 has no attempt: deleted after the confirmation page
    page = admin.client.get(f"/admin/programs/{ids['program']}/exams/{new}/status").get_data(
        as_text=True)
    assert "confirm-delete" in page
    r = admin.client.post(f"/admin/programs/{ids['program']}/exams/{new}/status",
                          data={"csrf_token": csrf(page), "action": "delete"})
    assert r.status_code == 302
    assert admin.client.post(status, data={"csrf_token": csrf(page),
                                           "action": "unarchive"}).status_code == 302
    program = participant.get(f"/api/v1/programs/{ids['program']}").json
    assert "PRA" in {e["code"] for e in program["exams"]}
    # an exam with a running attempt is not archived: the participant could not get back
    running = participant.take("UJIAN-PP", correct=True, n_answers=1)["attempt_id"]
    pp = f"/admin/programs/{ids['program']}/exams/{ids['exams']['UJIAN-PP']}/status"
    r = admin.client.post(pp, data={"csrf_token": csrf(page), "action": "archive"})
    assert r.status_code == 422 and "1 percobaan ujian ini sedang berjalan" in _text(r)
    assert participant.get(f"/api/v1/attempts/{running}/item").json["item"] is not None
    # the whole program archived (PostgreSQL's own queries of the program too)
    r = admin.client.post(f"/admin/programs/{ids['program']}/status",
                          data={"csrf_token": csrf(page), "action": "archive"})
    assert r.status_code == 302
    assert participant.get(f"/api/v1/programs/{ids['program']}").status_code == 404
    assert participant.post(f"/api/v1/exams/{ids['exams']['UJIKOM']}/attempts",
                            json={}).status_code == 404
    with Database.factory(app)() as s:
        actions = s.scalars(select(bank.AuditLog.action).where(
            bank.AuditLog.action.like("exam_%"))).all()
        assert actions == ["exam_archived", "exam_deleted", "exam_unarchived"]


def test_an_archived_program_is_hidden_and_starts_nothing(app, demo, admin, new_driver, csrf):
    ids = _ids(app)
    participant = new_driver()
    nip, _, pw = demo.accounts.participants[2]
    participant.login(nip, pw)
    status = f"/admin/programs/{ids['program']}/status"
    page = admin.client.get(status).get_data(as_text=True)
    assert "confirm-delete" in page   # nobody took an exam yet ...
    r = admin.client.post(status, data={"csrf_token": csrf(page), "action": "delete"})
    assert r.status_code == 422 and "soal" in _text(r)   # ... but it holds the items
    assert admin.client.post(status, data={"csrf_token": csrf(page),
                                           "action": "archive"}).status_code == 302
    assert participant.get("/api/v1/programs").json["programs"] == []
    assert participant.get(f"/api/v1/programs/{ids['program']}").status_code == 404
    assert participant.post(f"/api/v1/exams/{ids['exams']['PRA']}/attempts",
                            json={}).status_code == 404
    assert "diarsipkan" in admin.client.get("/admin/").get_data(as_text=True)
    assert admin.client.post(status, data={"csrf_token": csrf(page),
                                           "action": "unarchive"}).status_code == 302
    assert len(participant.get("/api/v1/programs").json["programs"]) == 1


def test_the_settings_editor_shows_the_values_in_force_and_every_error(app, admin, csrf):
    ids = _ids(app)
    edit = f"/admin/programs/{ids['program']}/edit"
    page = admin.client.get(edit).get_data(as_text=True)
    # a blank setting shows its default and the value in force (the demo sets no waiting)
    assert re.search(r'id="in-force-materi_max_attempts">5<', page)
    assert re.search(r'id="in-force-ujikom_waiting_period_s">0<', page)
    assert re.search(r'<td>604800</td><td id="in-force-ujikom_waiting_period_s">', page)
    data = {"csrf_token": csrf(page), "version": "1", "code": "PELAYANAN-PUBLIK",
            "name": "Pelatihan Pelayanan Publik", "min_items": "40", "max_items": "30",
            "max_exposure": "lima", "timezone": "Asia/Bandung"}
    r = admin.client.post(edit, data=data)
    text = _text(r)
    assert r.status_code == 422 and "max_exposure harus berupa angka" in text, text[-2000:]
    data["max_exposure"] = "0.3"
    r = admin.client.post(edit, data=data)
    text = _text(r)
    assert r.status_code == 422
    assert "melebihi maksimum" in text and "Asia/Bandung" in text
    assert _field(text, "min_items") == "40"
    # exams of one slot must still agree under the new defaults: UJIAN-PP has no cut of
    # its own, so a new default materi pass mark is fine; saved
    data |= {"min_items": "", "max_items": "", "timezone": "Asia/Makassar",
             "materi_max_attempts": "4"}
    r = admin.client.post(edit, data=data)
    assert r.status_code == 302, _text(r)[-2000:]
    with Database.factory(app)() as s:
        program = s.get(bank.Program, ids["program"])
        assert program.settings.timezone == "Asia/Makassar"
        assert program.settings.materi_max_attempts == 4 and program.version == 2
        assert "min_items" not in program.settings_json    # blank: the default
    page = admin.client.get(f"/admin/programs/{ids['program']}").get_data(as_text=True)
    assert "WITA (Asia/Makassar)" in page


def test_a_copy_for_a_new_cohort(app, admin, csrf):
    ids = _ids(app)
    with Database.factory(app)() as s:
        program = s.get(bank.Program, ids["program"])
        ib_admin.set_certificate_details(s, program, agency_name="BPSDM Uji", signatory="Dr. A",
                                         signatory_title="Kepala", place="Jakarta")
    url = f"/admin/programs/{ids['program']}/clone"
    page = admin.client.get(url).get_data(as_text=True)
    r = admin.client.post(url, data={"csrf_token": csrf(page), "code": "PP 2027", "name": ""})
    text = _text(r)
    assert r.status_code == 422 and "tanpa spasi" in text and _field(text, "code") == "PP 2027"
    assert "Judul tidak boleh kosong" in text
    r = admin.client.post(url, data={"csrf_token": csrf(page), "code": "PELAYANAN-PUBLIK",
                                     "name": "Lagi"})
    assert r.status_code == 422 and "sudah dipakai" in _text(r)
    r = admin.client.post(url, data={"csrf_token": csrf(page), "code": "PP-2027",
                                     "name": "Pelayanan Publik 2027"})
    assert r.status_code == 302
    with Database.factory(app)() as s:
        source = s.get(bank.Program, ids["program"])
        clone = s.scalar(select(bank.Program).where(bank.Program.code == "PP-2027"))
        assert r.headers["Location"].endswith(f"/admin/programs/{clone.id}")
        assert clone.settings == source.settings and clone.settings.agency_name == "BPSDM Uji"

        def rows(model, *columns, program_id):
            return sorted(tuple(getattr(x, c) for c in columns) for x in s.scalars(
                select(model).where(model.program_id == program_id)))
        for model, columns in ((bank.Materi, ("code", "name")),
                               (bank.Assignment, ("code", "title")),
                               (bank.Exam, ("code", "kind", "title", "cut_score",
                                            "max_attempts", "duration_s", "min_items",
                                            "max_items", "assembly"))):
            assert rows(model, *columns, program_id=clone.id) == rows(
                model, *columns, program_id=source.id)
        materi = {m.id: m.code for m in s.scalars(select(bank.Materi))}
        for exam in s.scalars(select(bank.Exam).where(bank.Exam.program_id == clone.id)):
            if exam.materi_id is not None:
                assert s.get(bank.Materi, exam.materi_id).program_id == clone.id
                assert materi[exam.materi_id] in exam.code or exam.code.startswith("UJIAN")
        for model in (bank.Enrolment, bank.Attempt, bank.Item, bank.Certificate):
            assert s.scalar(select(func.count()).select_from(model).where(
                model.program_id == clone.id)) == 0


def test_materi_and_assignments_edited_and_deleted_only_when_unused(app, admin, csrf):
    ids = _ids(app)
    program = ids["program"]
    url = f"/admin/programs/{program}/materi/{ids['materi']['PP']}/edit"
    page = admin.client.get(url).get_data(as_text=True)
    r = admin.client.post(url, data={"csrf_token": csrf(page), "code": "ETIKA", "title": ""})
    text = _text(r)
    assert r.status_code == 422 and "Kode ETIKA sudah dipakai" in text
    assert "Judul tidak boleh kosong" in text
    r = admin.client.post(url, data={"csrf_token": csrf(page), "code": "PP",
                                     "title": "Pelayanan Publik (revisi)"})
    assert r.status_code == 302
    r = admin.client.post(url, data={"csrf_token": csrf(page), "action": "delete"})
    assert r.status_code == 422 and "Centang" in _text(r)   # not confirmed
    r = admin.client.post(url, data={"csrf_token": csrf(page), "action": "delete",
                                     "confirm": "yes"})
    assert r.status_code == 422 and "tidak dapat dihapus" in _text(r)
    with Database.factory(app)() as s:
        assignment = s.scalar(select(bank.Assignment).order_by(bank.Assignment.id))
    url = f"/admin/programs/{program}/assignments/{assignment.id}/edit"
    r = admin.client.post(url, data={"csrf_token": csrf(page), "action": "delete",
                                     "confirm": "yes"})
    assert r.status_code == 302
    with Database.factory(app)() as s:
        assert s.get(bank.Assignment, assignment.id) is None
        assert s.get(bank.Materi, ids["materi"]["PP"]).name == "Pelayanan Publik (revisi)"


def test_another_programs_rows_are_not_found(app, admin, csrf):
    ids = _ids(app)
    with Database.factory(app)() as s:
        other = ib_admin.create_program(s, code="LAIN", name="Program lain")
        other_id = other.id
    for path in (f"/admin/programs/{other_id}/exams/{ids['exams']['PRA']}/edit",
                 f"/admin/programs/{other_id}/exams/{ids['exams']['PRA']}/status",
                 f"/admin/programs/{other_id}/materi/{ids['materi']['PP']}/edit"):
        assert admin.client.get(path).status_code == 404, path
    page = admin.client.get(f"/admin/programs/{other_id}/status").get_data(as_text=True)
    r = admin.client.post(f"/admin/programs/{other_id}/status",
                          data={"csrf_token": csrf(page), "action": "delete"})
    assert r.status_code == 302   # an empty program is deleted
    with Database.factory(app)() as s:
        assert s.get(bank.Program, other_id) is None


def test_a_refused_new_program_materi_or_assignment_comes_back_with_what_was_typed(
        app, admin, csrf):
    ids = _ids(app)
    page = admin.client.get("/admin/").get_data(as_text=True)
    r = admin.client.post("/admin/programs", data={"csrf_token": csrf(page),
                                                   "code": "LATSAR 2027", "name": ""})
    text = _text(r)
    assert r.status_code == 422 and "name" in text and _field(text, "code") == "LATSAR 2027"
    program = f"/admin/programs/{ids['program']}"
    page = admin.client.get(program).get_data(as_text=True)
    r = admin.client.post(f"{program}/assignments", data={
        "csrf_token": csrf(page), "code": "TUGAS 1", "title": "Laporan <b>aktualisasi</b>"})
    text = _text(r)
    errors = re.search(r'id="form-errors">(.*?)</div>', text, re.S).group(1)
    assert r.status_code == 422 and "tanpa spasi" in errors
    assert _field(text, "assignment-title", "id") == "Laporan <b>aktualisasi</b>"
    assert "<b>aktualisasi</b>" not in r.get_data(as_text=True)
    r = admin.client.post(f"{program}/materi", data={"csrf_token": csrf(page), "code": "PP",
                                                    "name": "Lagi"})
    assert r.status_code == 422 and "Kode PP sudah dipakai" in _text(r)
    assert _field(_text(r), "materi-name", "id") == "Lagi"
