"""`smartcat simulate` measures what participants get: the same bank, settings, attempt seeds
and answers give the same item sequences as live exams through the server.

Ten participants take the pre-assessment one after the other through the JSON API, each
answering by a fixed pattern of right and wrong (enough of them for the exposure ceiling to
let an item be shown again, so the least-exposed rule decides); the exam's pool is written as a bank
file; ``smartcat simulate`` replays the ten examinees with their attempt seeds and patterns
under the live exams' rule (randomesque k = 5, exposure ceiling 0.25 flat, least-exposed
slack 0, content balance, EAP, the exam's stopping rule).  Both must show the same items in
the same order, examinee after examinee (the exposure window carries over between them).
"""

from __future__ import annotations

import json

import numpy as np
from sqlalchemy import select

from item_bank import admin, policy
from item_bank.models import ItemStatus
from server import bank
from server.extensions import Database
from smartcat.cli import main

EXAMINEES = 10
PATTERNS = [np.random.default_rng(n).integers(0, 2, 20).tolist() for n in range(EXAMINEES)]


def test_simulate_gives_the_live_item_sequences(app, demo, new_driver, tmp_path, capsys):
    people = [(nip, password) for nip, _name, password in demo.accounts.participants]
    with Database.factory(app)() as s:
        program = s.scalar(select(bank.Program.code))
    with Database.factory(app)() as s:
        for n in range(EXAMINEES - len(people)):
            nip = f"19800101202001{n:04d}"
            participant = admin.register_participant(s, nip=nip, name=f"Peserta {n}",
                                                     password="peserta-uji")
            policy.enrol(s, program_code=program, nip=participant.nip)
            people.append((nip, "peserta-uji"))
    live, seeds = [], []
    for (nip, password), pattern in zip(people, PATTERNS, strict=True):
        driver = new_driver()
        driver.login(nip, password)
        r = driver.post(f"/api/v1/exams/{driver.exam_id('PRA')}/attempts", json={})
        attempt_id = r.json["attempt_id"]
        shown = []
        item = driver.get(f"/api/v1/attempts/{attempt_id}/item").json["item"]
        while item is not None:
            shown.append(item["item_id"])
            key = driver.key_position(attempt_id, item["item_id"])
            right = pattern[len(shown) - 1]
            r = driver.post(f"/api/v1/attempts/{attempt_id}/answers", json={
                "item_id": item["item_id"], "choice": key if right else (key + 1) % 4})
            item = r.json["next_item"]
        live.append(shown)
        with driver.session() as s:
            seeds.append(s.scalar(select(bank.Attempt.seed).where(
                bank.Attempt.id == attempt_id)))
            exam = s.scalar(select(bank.Exam).where(bank.Exam.code == "PRA"))
            rules = bank.policy.exam_rules(exam, exam.program.settings)
            settings = exam.program.settings
    assert len(live) == EXAMINEES and all(len(s) >= rules.min_items for s in live)
    assert len({tuple(s) for s in live}) == EXAMINEES  # different items for everyone

    # The exam's reference pool as a bank file: every operational item of the program, in
    # the pool's order (ascending id), content = its materi, family = its family (the demo's
    # items have their template's).
    with driver.session() as s:
        rows = s.execute(select(bank.Item.id, bank.Item.a, bank.Item.b, bank.Item.c,
                                bank.Materi.code, bank.Item.family_id).join(bank.Materi)
                         .where(bank.Item.status == ItemStatus.OPERATIONAL)
                         .order_by(bank.Item.id)).all()
    assert any(row.family_id is not None for row in rows)
    bank_file = tmp_path / "bank.json"
    bank_file.write_text(json.dumps([{"id": str(i), "a": a, "b": b, "c": c or 0.0,
                                      "content": tag, "family": family}
                                     for i, a, b, c, tag, family in rows]))
    examinees = tmp_path / "examinees.json"
    examinees.write_text(json.dumps([{"seed": seed, "responses": pattern}
                                     for seed, pattern in zip(seeds, PATTERNS, strict=True)]))
    capsys.readouterr()
    code = main(["simulate", "--bank", str(bank_file), "--responses", str(examinees),
                 "--min-items", str(rules.min_items), "--max-items", str(rules.max_items),
                 "--se", str(rules.se_target), "--cut", str(rules.cut_score),
                 "--selector", "randomesque", "--k", str(settings.randomesque_k),
                 "--max-exposure", str(settings.max_exposure), "--cap-ramp", "1", "1",
                 "--slack", str(settings.exposure_slack), "--price-rounds", "0",
                 "--estimator", "eap", "--tests", "--json"])
    assert code == 0
    simulated = json.loads(capsys.readouterr().out)["tests"]
    assert [[int(i) for i in test] for test in simulated] == live
    # Not a coincidence of a tiny bank: the pool is large and the sequences long.
    assert len(rows) > 500 and np.mean([len(t) for t in live]) >= rules.min_items
