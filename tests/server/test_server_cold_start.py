"""A participant's result of a cold-start exam says it was scored by proportion correct, in
the page's language and in the API (docs/item_bank.md "Cold start")."""

from __future__ import annotations

import html

from sqlalchemy import select

from item_bank import admin, authoring, policy
from server import bank
from server.extensions import Database


def _cold_program(app, nip: str) -> None:
    """Program BARU: 8 rated items made operational (provisional), a 4-item LOFT exam, and
    the participant ``nip`` enrolled."""
    with Database.factory(app)() as s:
        program = admin.create_program(s, code="BARU", name="Bank baru", settings={
            "min_items": 4, "max_items": 4, "pretest_items_materi": 0})
        materi = admin.add_materi(s, program, code="M1", name="Materi baru")
        for j in range(8):
            item = admin.new_item(program, materi, code=f"B-{j}", stem=f"Soal baru {j}?",
                                  options=["a", "b", "c", "d"], key=j % 4)
            item.p_guess = 0.55
            s.add(item)
        s.commit()
        ids = s.scalars(select(bank.Item.id).where(bank.Item.program_id == program.id)).all()
        for status in ("reviewed", "pretest", "operational"):
            authoring.change_statuses(s, item_ids=ids, status=status, actor="penulis")
        admin.add_exam(s, program, code="UJIAN-BARU", kind="materi", materi=materi,
                       assembly="loft")
        policy.enrol(s, program_code="BARU", nip=nip)


def test_the_writers_calibration_page_lists_the_provisional_items(app, demo, writer):
    _cold_program(app, demo.accounts.participants[0][0])
    page = html.unescape(writer.client.get("/writer/calibration").get_data(as_text=True))
    assert page.count("parameter sementara dari perkiraan penulis soal") == 8 and "B-7" in page


def test_a_cold_start_result_says_it_is_the_share_right(app, demo, driver):
    nip, _name, password = demo.accounts.participants[0]
    _cold_program(app, nip)
    driver.login(nip, password)
    # Three right answers of four: 75, the share right.
    started = driver.take("UJIAN-BARU", True, n_answers=3)
    attempt_id = started["attempt_id"]
    key = driver.key_position(attempt_id, started["item"]["item_id"])
    r = driver.post(f"/api/v1/attempts/{attempt_id}/answers",
                    json={"item_id": started["item"]["item_id"], "choice": (key + 1) % 4})
    result = driver.get(f"/api/v1/attempts/{attempt_id}/result").json
    assert result["score"] == 75.0 and result["scored_by"] == "proportion", (r.json, result)
    page = html.unescape(driver.client.get(f"/attempts/{attempt_id}/result").get_data(
        as_text=True))
    assert "Persentase soal yang dijawab benar" in page and 'id="score">75.0' in page
