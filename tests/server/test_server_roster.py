"""Roster import on the admin page (item_bank.admin.bulk_enrol underneath): a good file
enrols everyone with their passwords; a file with a bad row stores nothing and the page says
which line and why."""

from __future__ import annotations

import io

from sqlalchemy import func, select

from server import bank
from server.extensions import Database

GOOD_1 = "197501012000031001"
GOOD_2 = "197602022001042002"


def _upload(driver, program_id: int, text: str):
    return driver.client.post(f"/admin/programs/{program_id}/roster",
                              data={"file": (io.BytesIO(text.encode()), "roster.csv")})


def _counts(app, program_id: int) -> tuple[int, int]:
    with Database.factory(app)() as s:
        people = s.scalar(select(func.count(bank.Participant.id)))
        enrolled = s.scalar(select(func.count(bank.Enrolment.id)).where(
            bank.Enrolment.program_id == program_id))
    return people, enrolled


def test_a_bad_row_stores_nothing_and_the_page_names_the_line(app, demo, driver):
    app.config["WTF_CSRF_ENABLED"] = False
    driver.staff_login(*demo.accounts.admin)
    program = demo.accounts.program_id
    before = _counts(app, program)
    # line 1 is the header: line 3 has a 17-digit NIP, line 5 repeats the NIP of line 2
    text = (f"nip,name,unit,password\n{GOOD_1},Budi,BKD,rahasia-1\n"
            "19750101200003100,Siti,BKD,\n"
            f"{GOOD_2},Rina,Dinsos,\n{GOOD_1},Budi lagi,BKD,\n")
    r = _upload(driver, program, text)
    page = r.get_data(as_text=True)
    assert r.status_code == 422, page
    assert "line 3" in page and "18 digits" in page
    assert f"line 5: duplicate NIP {GOOD_1} (also on line 2)" in page
    assert _counts(app, program) == before  # the good rows were not stored either

    # a password too short to be one is refused with its line before anything is stored
    r = _upload(driver, program, f"nip,name,password\n{GOOD_2},Rina,rahasia-2\n"
                                 f"{GOOD_1},Budi,pendek\n")
    assert r.status_code == 422
    assert "line 3: password must have at least 8 characters" in r.get_data(as_text=True)
    assert _counts(app, program) == before

    r = _upload(driver, program, "nip,nama\n1,x\n")
    assert r.status_code == 422 and "judul harus nip,name" in r.get_data(as_text=True)
    assert _counts(app, program) == before


def test_a_good_roster_enrols_everyone_with_their_password(app, demo, driver, new_driver):
    app.config["WTF_CSRF_ENABLED"] = False
    driver.staff_login(*demo.accounts.admin)
    program = demo.accounts.program_id
    people, enrolled = _counts(app, program)
    known_nip = demo.accounts.participants[0][0]
    text = (f"nip,name,unit,password\n{GOOD_1},Budi,BKD,rahasia-1\n{GOOD_2},Rina,Dinsos,\n"
            f"{known_nip},Nama Baru,Unit Baru,\n")
    r = _upload(driver, program, text)
    assert r.status_code == 302, r.get_data(as_text=True)
    page = driver.client.get(f"/admin/programs/{program}").get_data(as_text=True)
    assert "3 peserta terdaftar." in page
    # two new people, both enrolled; the known one is updated and stays enrolled once
    assert _counts(app, program) == (people + 2, enrolled + 2)
    with Database.factory(app)() as s:
        known = s.scalar(select(bank.Participant).where(bank.Participant.nip == known_nip))
        assert (known.name, known.unit) == ("Nama Baru", "Unit Baru")
        assert s.scalar(select(bank.Participant.password_hash).where(
            bank.Participant.nip == GOOD_2)) is None
    new_driver().login(GOOD_1, "rahasia-1")
    # an empty password leaves the known participant's password as it was
    new_driver().login(known_nip, demo.accounts.participants[0][2])
