"""The administrator's roster (progress as the participant sees it, search, paging, CSV export
without formulas), assignment completions by CSV (preview, all or nothing, every bad line
named) and their undo, the invigilator's extension and end of an attempt (the deadline moves
for the participant and the sweeper alike; races keep every answer and grade once), and the
token page's revocation and times."""

from __future__ import annotations

import csv
import datetime as dt
import io
import threading

from sqlalchemy import func, select

from item_bank import roster as ib_roster
from item_bank.policy import invigilation
from server import bank, sweeper
from server.extensions import Database

PRA_SECONDS = 20 * 60
GRACE = 5
UNENROLLED = "197001012000011001"  # registered, but in no program


def _db(app):
    return Database.factory(app)()


def _completions(app, program_id: int) -> set[tuple[str, str]]:
    with _db(app) as s:
        return set(s.execute(
            select(bank.Participant.nip, bank.Assignment.code)
            .join(bank.AssignmentCompletion,
                  bank.AssignmentCompletion.participant_id == bank.Participant.id)
            .join(bank.Assignment, bank.Assignment.id == bank.AssignmentCompletion.assignment_id)
            .where(bank.Assignment.program_id == program_id)).all())


def _assignment(app, code: str) -> int:
    with _db(app) as s:
        return s.scalar(select(bank.Assignment.id).where(bank.Assignment.code == code))


def _upload(client, program_id: int, text: str, **fields):
    return client.post(f"/admin/programs/{program_id}/completions",
                       data={"file": (io.BytesIO(text.encode()), "tugas.csv"), **fields})


def _admin(app, demo, driver):
    app.config["WTF_CSRF_ENABLED"] = False
    driver.staff_login(*demo.accounts.admin)
    return driver.client


def test_bulk_completion_previews_then_marks_every_line_or_none(app, demo, driver):
    client = _admin(app, demo, driver)
    program = demo.accounts.program_id
    (nip_a, name_a, _), (nip_b, _, _), (nip_c, _, _) = demo.accounts.participants[:3]
    with _db(app) as s:
        bank.ib_admin.register_participant(s, nip=UNENROLLED, name="Bukan Peserta")
    tugas1 = _assignment(app, "TUGAS-1")

    # every bad line is named, and nothing is stored, not even the good lines
    bad = (f"{nip_a}\n19750101200003100\n{UNENROLLED}\n199912312020121999\n"
           f"{nip_b},TUGAS-9\n{nip_a}\n{nip_c},TUGAS-2\n")
    r = _upload(client, program, bad, assignment_id=str(tugas1))
    page = r.get_data(as_text=True)
    assert r.status_code == 422, page
    assert _completions(app, program) == set()
    for line in (2, 3, 4, 5, 6):
        assert f"Baris {line}:" in page, line
    assert "Baris 1:" not in page and "Baris 7:" not in page
    assert "19750101200003100" in page and "18 digit" in page  # malformed
    assert f"NIP {UNENROLLED} tidak terdaftar dalam program ini" in page  # not enrolled
    assert "199912312020121999 tidak terdaftar." in page  # unknown NIP
    assert "TUGAS-9" in page  # unknown assignment
    assert "(juga di baris 1)" in page  # duplicate

    # a good file: the preview stores nothing, the confirmation marks every line
    good = f"nip,assignment\n{nip_a},TUGAS-1\n{nip_a},TUGAS-2\n{nip_b},\n"
    r = _upload(client, program, good, assignment_id=str(tugas1))
    page = r.get_data(as_text=True)
    assert r.status_code == 200, page
    assert name_a in page and page.count("akan ditandai selesai") == 3
    assert _completions(app, program) == set()
    r = client.post(f"/admin/programs/{program}/completions",
                    data={"confirm": "yes", "text": good, "assignment_id": str(tugas1)})
    assert r.status_code == 302
    assert _completions(app, program) == {(nip_a, "TUGAS-1"), (nip_a, "TUGAS-2"),
                                          (nip_b, "TUGAS-1")}
    # the participant's own status counts them (the same rule as the ujikom gate)
    with _db(app) as s:
        a_id = s.scalar(select(bank.Participant.id).where(bank.Participant.nip == nip_a))
        status = bank.policy.program_status(s, participant_id=a_id, program_id=program)
        audit = s.scalar(select(func.count(bank.AuditLog.id)).where(
            bank.AuditLog.action == "assignment_done", bank.AuditLog.actor == "admin"))
    assert (status.assignments_done, status.assignments_total) == (2, 2)
    assert audit == 3

    # marking again what is done changes nothing (idempotent), and says so in the preview
    r = _upload(client, program, f"{nip_a},TUGAS-1\n")
    assert "sudah selesai" in r.get_data(as_text=True)

    # the confirmation is checked again: a text changed after the preview is refused whole
    r = client.post(f"/admin/programs/{program}/completions",
                    data={"confirm": "yes", "text": f"{nip_c},TUGAS-1\n{UNENROLLED},TUGAS-1\n"})
    assert r.status_code == 422 and (nip_c, "TUGAS-1") not in _completions(app, program)


def test_hostile_completion_files_are_refused_without_harm(app, demo, driver):
    client = _admin(app, demo, driver)
    program = demo.accounts.program_id
    script = "<script>alert(1)</script>"
    r = _upload(client, program, f"{script},TUGAS-1\n")
    page = r.get_data(as_text=True)
    assert r.status_code == 422 and script not in page and "&lt;script&gt;" in page
    r = _upload(client, program, 'a,"b\n')  # an unterminated quote is still read; 2 fields
    assert r.status_code == 422
    r = _upload(client, program, "")
    assert r.status_code == 422 and "tidak menyebut NIP" in r.get_data(as_text=True)
    r = client.post(f"/admin/programs/{program}/completions",
                    data={"file": (io.BytesIO(b"\xff\xfe\x00"), "x.csv")})
    assert r.status_code == 422
    r = client.post(f"/admin/programs/{program}/completions",
                    data={"confirm": "yes", "text": "1" * 200_001})
    assert r.status_code == 422
    # an assignment of no program, and another program's id in the address
    r = _upload(client, program, "x\n", assignment_id="987654")
    assert r.status_code == 404
    r = _upload(client, 987654, "x\n")
    assert r.status_code == 404
    assert _completions(app, program) == set()


def test_undo_takes_a_completion_back_with_an_audit_entry(app, demo, driver):
    client = _admin(app, demo, driver)
    program = demo.accounts.program_id
    nip = demo.accounts.participants[0][0]
    tugas1 = _assignment(app, "TUGAS-1")
    r = client.post(f"/admin/programs/{program}/assignments/{tugas1}/done", data={"nip": nip})
    assert r.status_code == 302 and _completions(app, program) == {(nip, "TUGAS-1")}
    with _db(app) as s:
        pid = s.scalar(select(bank.Participant.id).where(bank.Participant.nip == nip))
    page = client.get(f"/admin/programs/{program}/roster?q={nip}").get_data(as_text=True)
    undo = f"/admin/programs/{program}/assignments/{tugas1}/done/{pid}/undo"
    assert f'action="{undo}"' in page
    assert client.post(undo).status_code == 302
    assert _completions(app, program) == set()
    assert client.post(undo).status_code == 302  # nothing left to undo: nothing changes
    with _db(app) as s:
        entries = s.scalars(select(bank.AuditLog).where(
            bank.AuditLog.action == "assignment_undone")).all()
    assert len(entries) == 1 and entries[0].actor == "admin"
    assert entries[0].details["participant"] == pid
    # an assignment of another program, a participant not enrolled: not found
    assert client.post(f"/admin/programs/{program}/assignments/987654/done/{pid}/undo"
                       ).status_code == 404
    assert client.post(f"/admin/programs/{program}/assignments/{tugas1}/done/987654/undo"
                       ).status_code == 404


def test_roster_shows_the_participants_own_progress_searches_and_pages(app, demo, driver,
                                                                       new_driver):
    nip, name, password = demo.accounts.participants[0]
    participant = new_driver()
    participant.login(nip, password)
    result = participant.take("PRA", correct=True)
    own = participant.client.get(f"/api/v1/programs/{demo.accounts.program_id}").json
    client = _admin(app, demo, driver)
    program = demo.accounts.program_id
    r = client.get(f"/admin/programs/{program}/roster?q={name.split()[1].upper()}")
    page = r.get_data(as_text=True)
    assert r.status_code == 200
    assert "1 peserta ditemukan" in page and nip in page
    assert result["certificate_number"] in page
    pra = next(e for e in own["exams"] if e["code"] == "PRA")
    assert pra["attempts_used"] == 1 and pra["passed"]
    assert "PRA: <strong>lulus</strong> · 1 dari 1 percobaan, 0 tersisa" in page
    # by part of the NIP; a LIKE wildcard is a letter, not a pattern
    page = client.get(f"/admin/programs/{program}/roster?q={nip[4:10]}").get_data(as_text=True)
    assert nip in page
    page = client.get(f"/admin/programs/{program}/roster?q=%25").get_data(as_text=True)
    assert "0 peserta ditemukan" in page
    # paging: every participant once over the pages, the page past the last is the last
    with _db(app) as s:
        enrolled = s.scalar(select(func.count(bank.Enrolment.id)).where(
            bank.Enrolment.program_id == program))
    with _db(app) as s:
        seen = []
        for n in (1, 2, 3):
            bank_roster = ib_roster.roster_page(s, program_id=program, page=n, per_page=2)
            seen += [row.nip for row in bank_roster.rows]
        assert bank_roster.pages == -(-enrolled // 2)
        last = ib_roster.roster_page(s, program_id=program, page=999, per_page=2)
        assert last.page == last.pages
    assert len(seen) == len(set(seen)) == min(enrolled, 6)
    assert client.get(f"/admin/programs/{program}/roster?page=abc").status_code == 400
    assert client.get(f"/admin/programs/{program}/roster?page=99999").status_code == 200
    assert client.get("/admin/programs/987654/roster").status_code == 404


def test_roster_export_is_csv_where_no_cell_is_a_formula(app, demo, driver):
    client = _admin(app, demo, driver)
    program = demo.accounts.program_id
    hostile = "=HYPERLINK(\"http://x\",\"klik\")"
    with _db(app) as s:
        bank.enrol_roster(s, program_id=program, rows=[
            ("196001012000011001", hostile, "+cmd|' /C calc'!A0", ""),
            ("196001012000011002", "@SUM(A1)", "-2+3", "")])
    r = client.get(f"/admin/programs/{program}/roster.csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert "attachment" in r.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(r.get_data(as_text=True).lstrip("\ufeff"))))
    header, body = rows[0], rows[1:]
    assert header[:3] == ["nip", "name", "unit"] and "PRA passed" in header
    assert header[-3:] == ["assignments done", "certificate", "category"]
    for row in body:
        assert len(row) == len(header)
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@")), cell
    by_nip = {row[0]: row for row in body}
    assert by_nip["196001012000011001"][1] == "'" + hostile
    assert by_nip["196001012000011001"][2].startswith("'+cmd")
    assert by_nip["196001012000011002"][1:3] == ["'@SUM(A1)", "'-2+3"]
    assert by_nip["196001012000011002"][header.index("PRA attempts")] == "0/1"
    assert len(body) == len(demo.accounts.participants) + 2
    # the search applies to the export too
    r = client.get(f"/admin/programs/{program}/roster.csv?q=196001012000011002")
    assert len(list(csv.reader(io.StringIO(r.get_data(as_text=True))))) == 2


def _running(app, demo, new_driver, who: int = 0, answers: int = 2):
    nip, _name, password = demo.accounts.participants[who]
    participant = new_driver()
    participant.login(nip, password)
    state = participant.take("PRA", correct=True, n_answers=answers)
    return participant, state["attempt_id"], state["item"]


def _seconds_left(participant, attempt_id: int) -> int:
    return participant.client.get(f"/api/v1/attempts/{attempt_id}/item").json["item"][
        "seconds_left"]


def test_extension_moves_the_deadline_for_the_participant_and_the_sweeper(
        app, any_demo, driver, new_driver, clock):
    demo = any_demo  # SQLite (the ORM store) and PostgreSQL (the driver store)
    participant, attempt_id, _item = _running(app, demo, new_driver)
    client = _admin(app, demo, driver)
    before = _seconds_left(participant, attempt_id)
    live = client.get("/admin/live").get_data(as_text=True)
    assert f'id="attempt-{attempt_id}"' in live and "WIB" in live and "PELAYANAN-PUBLIK" in live
    assert "live.js" in live and "Jeda pembaruan otomatis" in live

    r = client.post(f"/admin/attempts/{attempt_id}/extend",
                    data={"minutes": "10", "reason": "Listrik padam di ruang 2"})
    assert r.status_code == 302
    assert _seconds_left(participant, attempt_id) == before + 600
    with _db(app) as s:
        extension = s.scalar(select(bank.AttemptExtension))
        entry = s.scalar(select(bank.AuditLog).where(bank.AuditLog.action == "attempt_extended"))
    assert (extension.seconds, extension.reason, extension.actor) == (
        600, "Listrik padam di ruang 2", "admin")
    assert entry.actor == "admin" and entry.details["minutes"] == 10
    assert "diperpanjang 10 menit" in client.get("/admin/live").get_data(as_text=True)

    # refused: no reason, not a number, more than the bound left (110 of 120)
    for data in ({"minutes": "5", "reason": "  "}, {"minutes": "lima", "reason": "x"},
                 {"minutes": "111", "reason": "x"}, {"minutes": "0", "reason": "x"},
                 {"minutes": "5", "reason": "x" * 501}):
        r = client.post(f"/admin/attempts/{attempt_id}/extend", data=data)
        page = r.get_data(as_text=True)
        assert r.status_code == 422, data
        assert f'id="extend-error-{attempt_id}"' in page
        assert f'value="{data["minutes"]}"' in page  # what was typed stays
    assert _seconds_left(participant, attempt_id) == before + 600
    assert client.post(f"/admin/attempts/{attempt_id}/extend",
                       data={"minutes": "110", "reason": "ujian ulang ruangan"}
                       ).status_code == 302
    assert client.post(f"/admin/attempts/{attempt_id}/extend",
                       data={"minutes": "1", "reason": "lagi"}).status_code == 422
    assert client.post("/admin/attempts/987654/extend",
                       data={"minutes": "1", "reason": "x"}).status_code == 404

    # the sweeper honours the extension: not due at the original deadline, due at the new one
    clock.advance(PRA_SECONDS + GRACE + 1)
    assert sweeper.sweep_once(app) == 0
    assert _seconds_left(participant, attempt_id) > 0
    clock.advance(120 * 60)
    assert sweeper.sweep_once(app) == 1
    driver.staff_login(*demo.accounts.admin)  # the clock ran past the staff session's life
    with _db(app) as s:
        assert s.get(bank.Attempt, attempt_id).state == bank.AttemptState.EXPIRED
    r = client.post(f"/admin/attempts/{attempt_id}/extend",
                    data={"minutes": "1", "reason": "terlambat"})
    assert r.status_code == 422 and "selesai" in r.get_data(as_text=True)


def test_extension_of_an_attempt_past_its_time_ends_it_instead(app, demo, driver, new_driver,
                                                               clock):
    participant, attempt_id, _item = _running(app, demo, new_driver)
    client = _admin(app, demo, driver)
    clock.advance(PRA_SECONDS + GRACE + 1)
    r = client.post(f"/admin/attempts/{attempt_id}/extend",
                    data={"minutes": "5", "reason": "terlambat"})
    assert r.status_code == 422
    with _db(app) as s:
        attempt = s.get(bank.Attempt, attempt_id)
        assert attempt.state == bank.AttemptState.EXPIRED and attempt.score is not None
        assert s.scalar(select(func.count(bank.AttemptExtension.id))) == 0


def test_end_attempt_asks_then_grades_it_as_a_finish(app, demo, driver, new_driver):
    participant, attempt_id, _item = _running(app, demo, new_driver, answers=3)
    client = _admin(app, demo, driver)
    page = client.get(f"/admin/attempts/{attempt_id}/end").get_data(as_text=True)
    assert 'id="confirm-end"' in page
    with _db(app) as s:
        assert s.get(bank.Attempt, attempt_id).state == bank.AttemptState.STARTED
    assert client.post(f"/admin/attempts/{attempt_id}/end").status_code == 302
    result = participant.client.get(f"/api/v1/attempts/{attempt_id}/result").json
    assert result["state"] == "submitted" and result["stop_reason"] == "ended"
    assert result["score"] is not None and result["answered"] == 3
    # the same grade as the participant's own confirmed Finish of the same answers: replayed
    # on a copy of the loaded facts through the policy's decision
    with _db(app) as s:
        attempt = s.get(bank.Attempt, attempt_id)
        finished = s.scalar(select(func.count(bank.AuditLog.id)).where(
            bank.AuditLog.action == "attempt_finished",
            bank.AuditLog.subject == f"attempt:{attempt_id}"))
        ended = s.scalar(select(bank.AuditLog).where(bank.AuditLog.action == "attempt_ended"))
        assert len(attempt.imputed_items) == 10 - 3  # the short-attempt rule applied
    assert finished == 1 and ended.actor == "admin"
    r = client.post(f"/admin/attempts/{attempt_id}/end")
    assert r.status_code == 302
    assert "sudah berakhir" in client.get("/admin/live").get_data(as_text=True)
    assert "sudah berakhir" in client.get(f"/admin/attempts/{attempt_id}/end").get_data(
        as_text=True)
    assert client.get("/admin/attempts/987654/end").status_code == 404
    assert client.post("/admin/attempts/987654/end").status_code == 404


def test_end_grades_like_the_participants_finish(app, demo, new_driver):
    """Two participants answer alike; one finishes (confirmed), the other is ended: the same
    score from the same answers."""
    scores = []
    for who, how in ((0, "finish"), (1, "end")):
        participant, attempt_id, _ = _running(app, demo, new_driver, who=who, answers=4)
        with _db(app) as s:
            if how == "finish":
                pid = s.scalar(select(bank.Attempt.participant_id)
                               .where(bank.Attempt.id == attempt_id))
                bank.policy.finish_attempt(s, participant_id=pid, attempt_id=attempt_id,
                                           confirmed=True)
            else:
                assert invigilation.end_attempt(s, attempt_id=attempt_id, actor="admin")
            scores.append(s.get(bank.Attempt, attempt_id).passed)
    assert scores[0] == scores[1]


def _race(app, demo, new_driver, who: int) -> None:
    """One round of the race below, on participant ``who``'s new attempt."""
    participant, attempt_id, item = _running(app, demo, new_driver, who=who, answers=1)
    with _db(app) as s:
        attempt = s.get(bank.Attempt, attempt_id)
        deadline, pid = attempt.deadline, attempt.participant_id
    choice = participant.key_position(attempt_id, item["item_id"])
    barrier = threading.Barrier(3)
    outcome: dict[str, object] = {}

    def run(name, call):
        with _db(app) as s:
            barrier.wait()
            try:
                outcome[name] = call(s)
            except bank.DomainError as refusal:
                outcome[name] = refusal.code

    calls = {
        "answer": lambda s: bank.policy.record_answer(
            s, participant_id=pid, attempt_id=attempt_id, item_id=item["item_id"],
            choice=choice, now=deadline + dt.timedelta(seconds=2)).stored,
        "extend": lambda s: invigilation.extend_attempt(
            s, attempt_id=attempt_id, minutes=5, reason="gangguan jaringan",
            actor="admin", now=deadline + dt.timedelta(seconds=1)).total_minutes,
        "sweep": lambda s: bank.policy.expire_due_attempts(
            s, now=deadline + dt.timedelta(seconds=GRACE + 1)),
    }
    threads = [threading.Thread(target=run, args=(n, c)) for n, c in calls.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with _db(app) as s:
        attempt = s.get(bank.Attempt, attempt_id)
        response = s.scalar(select(bank.Response).where(
            bank.Response.attempt_id == attempt_id, bank.Response.item_id == item["item_id"]))
        finishes = s.scalar(select(func.count(bank.AuditLog.id)).where(
            bank.AuditLog.action == "attempt_finished",
            bank.AuditLog.subject == f"attempt:{attempt_id}"))
        extensions = s.scalar(select(func.count(bank.AttemptExtension.id)).where(
            bank.AttemptExtension.attempt_id == attempt_id))
    # a stored answer stays; a refused one is refused because the attempt was over
    assert outcome["answer"] in (True, "attempt_finished"), outcome
    assert (response.answered_at is not None) == (outcome["answer"] is True), outcome
    # graded once at most, and only when it is over
    assert finishes <= 1 and (finishes == 1) == (attempt.state != "started"), outcome
    assert outcome["extend"] in (5, "attempt_finished", "time_up"), outcome
    assert extensions == (1 if outcome["extend"] == 5 else 0)
    if outcome["extend"] == 5:
        assert attempt.deadline == deadline + dt.timedelta(minutes=5)
    if attempt.state == "started":
        assert outcome["extend"] == 5 and outcome["sweep"] == 0


def test_extension_racing_the_last_answer_and_the_sweeper(app, any_demo, new_driver):
    """At the deadline the participant's answer (within the grace), an extension and the
    sweeper (past the grace) arrive at once: whatever the order, a stored answer stays, the
    attempt is graded at most once, and a refused call says why."""
    for who in range(3):
        _race(app, any_demo, new_driver, who)


def test_tokens_page_revokes_in_place_and_shows_local_times(app, demo, driver):
    client = _admin(app, demo, driver)
    with _db(app) as s:
        token_id = s.scalar(select(bank.ServiceToken.id))
    page = client.get("/admin/tokens").get_data(as_text=True)
    assert f'id="revoke-{token_id}"' in page and "<details>" in page
    assert "WIB" in page and "belum pernah" in page
    assert client.get("/api/v1/certificates", headers={
        "Authorization": f"Bearer {demo.accounts.token}"}).status_code == 200
    client.get("/api/v1/certificates", headers={
        "Authorization": f"Bearer {demo.accounts.token}"})
    with _db(app) as s:
        assert s.scalar(select(func.count()).select_from(bank.ServiceTokenUse)) == 1
    page = client.get("/admin/tokens").get_data(as_text=True)
    assert "belum pernah" not in page
    assert client.post(f"/admin/tokens/{token_id}/revoke").status_code == 302
    page = client.get("/admin/tokens").get_data(as_text=True)
    assert f'id="revoke-{token_id}"' not in page
    assert client.get("/api/v1/certificates", headers={
        "Authorization": f"Bearer {demo.accounts.token}"}).status_code == 401
