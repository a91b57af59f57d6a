"""The administration API (``/api/v1/admin``) as an LMS uses it, with scoped service tokens
made on the administrator's token page: enrol a roster, mark assignments done, pull the
results once participants took their exams; and what an attacker or a careless client
sends (a token of another scope, no token, a huge body, ids of another program, a NIP twice,
a bad cursor, pages past the end)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from conftest import csrf_from
from sqlalchemy import func, select

from item_bank import admin as ib_admin
from server import bank
from server.extensions import Database

NEW = ["198501012010011001", "198602022011022002", "198703032012031003"]


def _token(driver, name: str, *scopes: str) -> dict[str, str]:
    """A token made on the administrator's page with these scopes: its Authorization
    header."""
    page = driver.client.get("/admin/tokens").get_data(as_text=True)
    r = driver.client.post("/admin/tokens", data={"name": name, "scope": list(scopes),
                                                  "csrf_token": csrf_from(page)})
    assert r.status_code == 200, r.get_data(as_text=True)
    token = re.search(r'<code id="new-token">([^<]+)</code>', r.get_data(as_text=True))
    return {"Authorization": f"Bearer {token.group(1)}"}


def _count(app, model) -> int:
    with Database.factory(app)() as s:
        return s.scalar(select(func.count()).select_from(model))


@pytest.fixture
def lms(app, driver):
    """The administrator's session (driver) and an LMS token with admin:read and
    admin:write."""
    driver.staff_login("admin", "admin-demo-123")
    return _token(driver, "lms", "admin:read", "admin:write")


def test_lms_enrols_marks_assignments_and_pulls_the_results(app, demo, clock, driver, lms,
                                                            new_driver):
    client = app.test_client()
    programs = client.get("/api/v1/admin/programs", headers=lms).json["programs"]
    assert [(p["code"], p["timezone"]) for p in programs] == [("PELAYANAN-PUBLIK",
                                                              "Asia/Jakarta")]
    program_id = programs[0]["id"]
    program = client.get(f"/api/v1/admin/programs/{program_id}", headers=lms).json
    assert [a["code"] for a in program["assignments"]] == ["TUGAS-1", "TUGAS-2"]
    exams = {e["code"]: e for e in program["exams"]}
    assert (exams["PRA"]["cut_score"], exams["PRA"]["max_attempts"]) == (85, 1)
    assert {e["materi_code"] for e in exams.values()} == {
        None, *(m["code"] for m in program["materi"])}
    assert client.get(f"/api/v1/admin/programs/{program_id}/exams/{exams['UJIKOM']['id']}",
                      headers=lms).json == exams["UJIKOM"]
    materi = client.get(f"/api/v1/admin/programs/{program_id}/materi", headers=lms).json
    assert materi["materi"] == program["materi"] and len(materi["materi"]) == 3

    # The roster: two new civil servants with a first password, one of the demo's (whose
    # password the API must not change) with a new unit.
    known_nip, _, known_password = demo.accounts.participants[0]
    roster = {"participants": [
        {"nip": NEW[0], "name": "Ani Lestari", "unit": "Dinas Kesehatan",
         "password": "rahasia-ani-1"},
        {"nip": NEW[1], "name": "Budi Santoso", "password": "rahasia-budi-2"},
        {"nip": known_nip, "name": "Nama Baru", "unit": "Unit Baru",
         "password": "diambil-alih"}]}
    url = f"/api/v1/admin/programs/{program_id}/participants"
    r = client.post(url, json=roster, headers=lms)
    assert r.status_code == 200 and r.json == {"program_id": program_id, "participants": 3}
    people, enrolments = _count(app, bank.Participant), _count(app, bank.Enrolment)
    assert client.post(url, json=roster, headers=lms).json["participants"] == 3
    assert (_count(app, bank.Participant), _count(app, bank.Enrolment)) == (people, enrolments)
    with Database.factory(app)() as s:
        known = s.scalar(select(bank.Participant).where(bank.Participant.nip == known_nip))
        assert (known.name, known.unit) == ("Nama Baru", "Unit Baru")
    ani, budi, known_driver = new_driver(), new_driver(), new_driver()
    ani.login(NEW[0], "rahasia-ani-1")
    budi.login(NEW[1], "rahasia-budi-2")
    known_driver.login(known_nip, known_password)  # the account is still its owner's
    r = app.test_client().post("/api/v1/session", json={"nip": known_nip,
                                                        "password": "diambil-alih"})
    assert r.status_code == 401
    # The administrator's program page lists them.
    page = driver.client.get(f"/admin/programs/{program_id}").get_data(as_text=True)
    assert "Ani Lestari" in page and "Budi Santoso" in page

    # Assignments done for Ani, reported twice (a retry): stored once.
    ids = [a["id"] for a in program["assignments"]]
    done = {"completions": [{"nip": NEW[0], "assignment_id": ids[0]},
                            {"nip": NEW[0], "assignment_id": ids[1]},
                            {"nip": NEW[0], "assignment_id": ids[1]}]}
    url = f"/api/v1/admin/programs/{program_id}/completions"
    r = client.post(url, json=done, headers=lms)
    assert r.status_code == 200 and r.json == {"program_id": program_id, "completions": 3,
                                               "stored": 2}
    assert client.post(url, json=done, headers=lms).json["stored"] == 0
    status = ani.get(f"/api/v1/programs/{program_id}").json
    assert (status["assignments_done"], status["assignments_total"]) == (2, 2)
    assert budi.get(f"/api/v1/programs/{program_id}").json["assignments_done"] == 0
    with Database.factory(app)() as s:
        marks = s.scalars(select(bank.AssignmentCompletion.marked_by)).all()
    assert marks == ["token:lms", "token:lms"]

    # Nothing finished yet; then Ani fails the pre-assessment, Budi passes it (certificate).
    url = f"/api/v1/admin/programs/{program_id}/results"
    first = client.get(url, headers=lms).json
    assert (first["results"], first["total"], first["more"]) == ([], 0, False)
    clock.advance(60)
    failed = ani.take("PRA", correct=False)
    clock.advance(60)
    passed = budi.take("PRA", correct=True)
    assert passed["certificate_number"] and not failed["certificate_number"]
    clock.advance(1)
    pull = client.get(url, headers=lms,
                      query_string={"updated_since": first["next_updated_since"]}).json
    assert pull["total"] == 2 and not pull["more"]
    # Each result as the participant's own result says it, and as the certificate pull.
    certificate = client.get(f"/api/v1/certificates/{passed['certificate_number']}",
                             headers=lms)
    assert certificate.status_code == 403  # admin scopes only: no certificates:read
    certificate = client.get(f"/api/v1/certificates/{passed['certificate_number']}",
                             headers={"Authorization": f"Bearer {demo.accounts.token}"}).json
    for got, who, result, nip, name in zip(pull["results"], (ani, budi), (failed, passed),
                                           NEW, ("Ani Lestari", "Budi Santoso"), strict=False):
        seen = who.get(f"/api/v1/attempts/{result['attempt_id']}/result").json
        assert got == {
            "attempt_id": seen["attempt_id"], "nip": nip, "name": name,
            "exam_id": seen["exam_id"], "exam_code": "PRA", "exam_kind": "pre_assessment",
            "attempt_number": seen["number"], "state": seen["state"],
            "score": round(seen["score"], 2), "passed": seen["passed"], "category": None,
            "finished_at": got["finished_at"],
            "certificate_number": seen["certificate_number"]}
        # the moment it finished, with the program's offset (WIB)
        finished = dt.datetime.fromisoformat(got["finished_at"])
        assert finished.utcoffset() == dt.timedelta(hours=7)
        assert finished == dt.datetime.fromisoformat(seen["finished_at"])
    assert pull["results"][1]["score"] == certificate["score"]
    assert pull["results"][1]["certificate_number"] == certificate["number"]
    assert (pull["results"][0]["finished_at"] < pull["results"][1]["finished_at"])

    # Page by page, and past the end; then a poll from the cursor brings only what is new.
    pages = [client.get(url, headers=lms, query_string={"per_page": 1, "page": n}).json
             for n in (1, 2, 3)]
    assert [p["results"] for p in pages] == [[pull["results"][0]], [pull["results"][1]], []]
    assert [p["more"] for p in pages] == [True, False, False]
    since = {"updated_since": pull["next_updated_since"]}
    assert client.get(url, headers=lms, query_string=since).json["results"] == []
    clock.advance(60)
    again = known_driver.take("PRA", correct=False)
    clock.advance(1)
    newer = client.get(url, headers=lms, query_string=since).json["results"]
    assert [(r["attempt_id"], r["nip"]) for r in newer] == [(again["attempt_id"], known_nip)]


def test_scopes_tokens_and_bad_requests(app, demo, driver, lms):
    client = app.test_client()
    program_id = demo.accounts.program_id
    roster = f"/api/v1/admin/programs/{program_id}/participants"
    body = {"participants": [{"nip": NEW[2], "name": "Citra"}]}
    certificates_only = _token(driver, "sertifikasi-2", "certificates:read")
    read_only = _token(driver, "lms-baca", "admin:read")
    # A certification token may pull certificates and nothing of the administration API.
    assert client.get("/api/v1/certificates", headers=certificates_only).status_code == 200
    r = client.post(roster, json=body, headers=certificates_only)
    assert r.status_code == 403 and r.json["code"] == "missing_scope"
    assert r.json["params"] == {"scope": "admin:write"}
    assert "admin:write" in r.json["message"]
    r = client.get("/api/v1/admin/programs", headers=certificates_only)
    assert r.status_code == 403 and r.json["params"] == {"scope": "admin:read"}
    assert client.get("/api/v1/admin/programs", headers=read_only).status_code == 200
    assert client.post(roster, json=body, headers=read_only).json["params"] == {
        "scope": "admin:write"}
    # No token, a wrong one, a revoked one: 401.
    assert client.post(roster, json=body).status_code == 401
    wrong = client.post(roster, json=body, headers={"Authorization": "Bearer not-a-token"})
    assert wrong.status_code == 401 and wrong.json["error"] == "unauthorized"
    with Database.factory(app)() as s:
        token_id = s.scalar(select(bank.ServiceToken.id).where(
            bank.ServiceToken.name == "lms-baca"))
        ib_admin.revoke_service_token(s, token_id=token_id, actor="test")
    assert client.get("/api/v1/admin/programs", headers=read_only).status_code == 401
    assert _count(app, bank.Participant) == len(demo.accounts.participants)
    # The token page shows each token's scopes.
    page = driver.client.get("/admin/tokens").get_data(as_text=True)
    row = re.search(r"<tr id=\"token-\d+\"><td>lms</td><td>(.*?)</td>", page).group(1)
    assert row == "<code>admin:read</code>, <code>admin:write</code>"
    assert "Cakupan" in page  # the form's scope choices, in Indonesian
    assert re.findall(r'name="scope" value="([^"]+)"', page) == list(bank.SERVICE_SCOPES)
    # A token needs a scope, and only known ones.
    csrf = csrf_from(page)
    tokens = _count(app, bank.ServiceToken)
    r = driver.client.post("/admin/tokens", data={"name": "kosong", "csrf_token": csrf})
    assert r.status_code == 422 and "Pilih setidaknya satu cakupan" in r.get_data(as_text=True)
    assert 'value="kosong"' in r.get_data(as_text=True)  # what was typed comes back
    # every problem at once, the scopes ticked as they were
    r = driver.client.post("/admin/tokens", data={"name": "lms", "csrf_token": csrf,
                                                  "scope": ["admin:read", "admin:*"]})
    page = r.get_data(as_text=True)
    assert r.status_code == 422
    assert "Token bernama lms sudah ada." in page and "Cakupan admin:* tidak dikenal" in page
    assert re.findall(r'value="([^"]+)" checked', page) == ["admin:read"]
    r = driver.client.post("/admin/tokens", data={"name": "  ", "csrf_token": csrf})
    assert "Beri nama token ini." in r.get_data(as_text=True)
    assert _count(app, bank.ServiceToken) == tokens

    # A body over the request limit (1 MiB) is 413 before it is read.
    huge = {"participants": [{"nip": f"{199000000000000000 + i}", "name": "N" * 100}
                             for i in range(10_000)]}
    r = client.post(roster, json=huge, headers=lms)
    assert r.status_code == 413 and r.json["error"] == "request_entity_too_large"
    assert _count(app, bank.Participant) == len(demo.accounts.participants)

    # Every bad record named at once, nothing stored.
    r = client.post(roster, headers=lms, json={"participants": [
        {"nip": NEW[0], "name": "Ani"},
        "Budi",
        {"nip": "12345", "name": "Pendek"},
        {"nip": NEW[0], "name": "Ani lagi"},
        {"nip": NEW[1], "name": "Budi", "email": "budi@example.org"},
        {"nip": NEW[2], "name": "Citra", "password": "pendek"},
        {"nip": 198501012010011009, "name": ""},
        {"nip": NEW[2][:-1] + "9", "name": "X" * 201}]})
    assert r.status_code == 422 and r.json["error"] == "invalid_input"
    assert r.json["params"]["count"] == 7
    problems = {p["index"]: p["problem"] for p in r.json["params"]["problems"]}
    assert problems == {
        1: "not an object",
        2: "NIP '12345' must be exactly 18 digits",
        3: f"duplicate NIP {NEW[0]} (also at index 0)",
        4: "unknown field email",
        5: "password must have at least 8 characters",
        6: "nip must be a string",
        7: "name is longer than 200 characters"}
    assert _count(app, bank.Participant) == len(demo.accounts.participants)
    # Without a record of the wrong shape, the roster's own rules name theirs the same way.
    r = client.post(roster, headers=lms, json={"participants": [
        {"nip": NEW[0], "name": "Ani"}, {"nip": NEW[0], "name": "Ani"}, {"nip": "1"}]})
    assert [(p["index"], p["problem"]) for p in r.json["params"]["problems"]] == [
        (1, f"duplicate NIP {NEW[0]} (also at index 0)"), (2, "name is required")]
    for bad in ({}, {"participants": []}, {"participants": "all"}):
        assert client.post(roster, json=bad, headers=lms).status_code == 422
    assert _count(app, bank.Participant) == len(demo.accounts.participants)

    # Ids of another program: its exam is not found here, its assignment and its
    # participant are refused records.
    with Database.factory(app)() as s:
        other = ib_admin.create_program(s, code="LAIN", name="Program lain")
        other_id = other.id
        exam = ib_admin.add_exam(s, s.get(bank.Program, other_id), code="UJIKOM-L",
                                 kind="ujikom")
        assignment = ib_admin.add_assignment(s, s.get(bank.Program, other_id), code="T-L")
        exam_id, other_assignment = exam.id, assignment.id
        mine = s.scalar(select(bank.Assignment.id).where(
            bank.Assignment.program_id == program_id))
    bank_nip = demo.accounts.participants[1][0]
    assert client.get(f"/api/v1/admin/programs/{program_id}/exams/{exam_id}",
                      headers=lms).status_code == 404
    assert client.get(f"/api/v1/admin/programs/{other_id}/exams/{exam_id}",
                      headers=lms).status_code == 200
    client.post(f"/api/v1/admin/programs/{other_id}/participants", headers=lms,
                json={"participants": [{"nip": NEW[2], "name": "Citra"}]})
    r = client.post(f"/api/v1/admin/programs/{program_id}/completions", headers=lms, json={
        "completions": [{"nip": bank_nip, "assignment_id": mine},
                        {"nip": bank_nip, "assignment_id": other_assignment},
                        {"nip": NEW[2], "assignment_id": mine},
                        {"nip": bank_nip, "assignment_id": "1"}]})
    assert r.status_code == 422
    assert [(p["index"], p["problem"]) for p in r.json["params"]["problems"]] == [
        (1, f"no assignment {other_assignment} in this program"),
        (2, f"NIP {NEW[2]} is not enrolled in this program"),
        (3, "assignment_id must be a whole number")]
    r = client.post(f"/api/v1/admin/programs/{program_id}/completions", headers=lms, json={
        "completions": [{"nip": bank_nip, "assignment_id": mine},
                        {"nip": bank_nip, "assignment_id": other_assignment}]})
    assert r.status_code == 422 and _count(app, bank.AssignmentCompletion) == 0
    for path in ("", "/materi", "/exams", "/results"):
        assert client.get(f"/api/v1/admin/programs/9999{path}", headers=lms).status_code == 404

    # The results' query: a date, a date and time with or without offset; anything else 422.
    results = f"/api/v1/admin/programs/{program_id}/results"
    for good in ("2026-12-01", "2026-12-01T08:00", "2026-12-01T08:00:00+07:00",
                 "2026-12-01T01:00:00Z"):
        assert client.get(results, headers=lms, query_string={"updated_since": good}
                          ).status_code == 200, good
    for bad in ("yesterday", "2026-13-01", "12/01/2026", "9999-12-31T23:59:59-14:00", "0"):
        r = client.get(results, headers=lms, query_string={"updated_since": bad})
        assert r.status_code == 422 and "updated_since" in r.json["message"], bad
    for bad in ({"page": 0}, {"page": "x"}, {"per_page": 1001}, {"per_page": 0},
                {"page": 2**62, "per_page": 1000}):
        assert client.get(results, headers=lms, query_string=bad).status_code == 422, bad
    far = client.get(results, headers=lms, query_string={"page": 2**40}).json
    assert (far["results"], far["more"]) == ([], False)
