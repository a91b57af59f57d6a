"""The whole SPEC.md flow over HTTP, then the certification service pulling the certificate."""

from __future__ import annotations

from sqlalchemy import func, select

from server import bank


def _status(client) -> dict:
    r = client.get("/api/v1/programs")
    assert r.status_code == 200
    (program,) = r.json["programs"]
    return {e["code"]: e for e in program["exams"]} | {"_program": program}


def test_spec_flow_over_http_and_certificate_pull(app, demo, driver, new_driver):
    nip, name, password = demo.accounts.participants[0]
    client = driver.client
    driver.login(nip, password)
    status = _status(client)
    assert status["PRA"]["available"] and not status["UJIAN-PP"]["available"]
    assert not status["UJIKOM"]["available"]

    # 1. Pre-assessment failed (every answer wrong): training follows, never a second try.
    result = driver.take("PRA", correct=False)
    assert result["state"] == "submitted" and result["passed"] is False
    assert result["score"] < 85 and result["certificate_number"] is None
    r = client.post(f"/api/v1/exams/{driver.exam_id('PRA')}/attempts", json={})
    assert r.status_code == 409 and r.json["error"] == "locked"

    # 2. Materi exams: the first failed once, then passed; the others passed.
    failed = driver.take("UJIAN-PP", correct=False)
    assert failed["passed"] is False and failed["score"] < 70 and failed["attempts_left"] == 4
    # ujikom stays locked while a materi exam is not passed
    assert not _status(client)["UJIKOM"]["available"]
    for code in ("UJIAN-PP", "UJIAN-ETIKA", "UJIAN-ADM"):
        passed = driver.take(code, correct=True)
        assert passed["passed"] is True and passed["score"] >= 70, (code, passed)
    status = _status(client)
    assert status["UJIAN-PP"]["attempts_used"] == 2 and status["UJIAN-PP"]["passed"]
    # assignments are not done yet: ujikom still locked
    assert not status["UJIKOM"]["available"]
    reason = status["UJIKOM"]["locked_reason"]
    assert reason["code"] == "assignments_not_done" and reason["params"] == {"count": 2}
    assert reason["message"] == ("Uji kompetensi terkunci sampai semua materi lulus dan tugas "
                                 "selesai: 2 tugas belum dinyatakan selesai.")

    # The administrator marks the assignments done (admin pages, CSRF-protected forms).
    admin = new_driver()
    admin.staff_login(*demo.accounts.admin)
    admin.mark_all_assignments_done(nip)
    assert _status(client)["UJIKOM"]["available"]

    # 3. Ujikom passed: kompeten, certificate issued at once.
    result = driver.take("UJIKOM", correct=True)
    assert result["passed"] is True and result["category"] == "kompeten"
    number = result["certificate_number"]
    assert number
    program = _status(client)["_program"]
    assert program["certificate_number"] == number and program["category"] == "kompeten"
    page = client.get(f"/attempts/{result['attempt_id']}/result").get_data(as_text=True)
    assert number in page and "kompeten" in page
    page = client.get(f"/certificate/{number}").get_data(as_text=True)
    assert number in page and name in page

    # Anyone can verify the number; an unknown number is a 404 page.
    anonymous = app.test_client()
    r = anonymous.get(f"/verify/{number}")
    assert r.status_code == 200 and name in r.get_data(as_text=True)
    assert anonymous.get("/verify/NOPE-123").status_code == 404

    # 4. The certification service pulls with its token, twice: the certificate comes once.
    service = app.test_client()
    auth = {"Authorization": f"Bearer {demo.accounts.token}"}
    first = service.get("/api/v1/certificates", headers=auth)
    assert first.status_code == 200
    records = first.json["certificates"]
    assert [c["number"] for c in records] == [number]
    assert records[0]["nip"] == nip and records[0]["route"] == "ujikom"
    assert records[0]["score"] >= 70
    second = service.get(f"/api/v1/certificates?since={first.json['next']}", headers=auth)
    assert second.status_code == 200 and second.json["certificates"] == []
    assert second.json["next"] == first.json["next"]
    one = service.get(f"/api/v1/certificates/{number}", headers=auth)
    assert one.status_code == 200 and one.json["number"] == number
    with driver.session() as s:
        assert s.scalar(select(func.count()).select_from(bank.Certificate)) == 1


def test_pre_assessment_pass_certifies_without_training(app, demo, driver):
    nip, _name, password = demo.accounts.participants[1]
    driver.login(nip, password)
    result = driver.take("PRA", correct=True)
    assert result["passed"] is True and result["score"] >= 85
    assert result["certificate_number"]
    status = _status(driver.client)
    # certified: nothing else to take
    assert not any(e["available"] for code, e in status.items() if code != "_program")


def test_certificate_cursor_never_skips_or_repeats(app, demo, new_driver):
    """Certificates issued one by one between pulls: each appears in exactly one page."""
    service = app.test_client()
    auth = {"Authorization": f"Bearer {demo.accounts.token}"}
    seen: list[str] = []
    cursor = ""
    for nip, _name, password in demo.accounts.participants[:3]:
        d = new_driver()
        d.login(nip, password)
        d.take("PRA", correct=True)
        while True:
            r = service.get(f"/api/v1/certificates?since={cursor}&limit=1", headers=auth)
            assert r.status_code == 200
            seen += [c["number"] for c in r.json["certificates"]]
            cursor = r.json["next"]
            if not r.json["more"]:
                break
    assert len(seen) == 3 and len(set(seen)) == 3
    # the settle window holds back certificates younger than it
    app.config["CERTIFICATE_SETTLE_SECONDS"] = 3600
    r = service.get("/api/v1/certificates", headers=auth)
    assert r.json["certificates"] == []
