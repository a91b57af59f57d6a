"""The cold start (docs/item_bank.md "Cold start"): a bank with writer ratings only runs as
LOFT forms scored by proportion correct, a concurrent calibration of their answers replaces the
provisional parameters, and the exam switches to CAT.  Through the policy and the stores, on
SQLite and PostgreSQL; the full-size figures are bench/bench_cold_start.py's."""

from __future__ import annotations

import numpy as np
import pytest
from item_bank_helpers import answer, enrolled_participants
from sqlalchemy import select

from item_bank import admin, authoring, policy
from item_bank.admin_edit import _exam_values, edit_exam
from item_bank.errors import Conflict, Refusals
from item_bank.models import Attempt, Item, ItemParameters, ItemStatus, Response
from item_bank.models.item import provisional_parameters
from item_bank.reports import bank_check
from server import bank

N_ITEMS, N_PEOPLE, LENGTH = 40, 120, 20


def test_provisional_b_gives_the_guessed_share_right_in_the_population():
    # Independent truth: the 2PL (a = 1) integrated over N(0, 1) on a fine grid.
    grid = np.linspace(-8, 8, 4001)
    weights = np.exp(-grid ** 2 / 2)
    for p in (0.3, 0.55, 0.8, 0.05, 0.95):
        b = provisional_parameters(p)
        share = (weights / (1 + np.exp(-(grid - b)))).sum() / weights.sum()
        assert abs(share - p) < 0.01, (p, share)
    assert provisional_parameters(0.5) == 0.0


def _cold_program(session, rng):
    program = admin.create_program(session, code="DINGIN", name="Bank baru", settings={
        "min_items": LENGTH, "max_items": LENGTH, "materi_pass_score": 70,
        "pretest_items_materi": 0, "pretest_ready_responses": 50})
    materi = admin.add_materi(session, program, code="M1", name="Materi", content_tags=["T1"])
    a, b = rng.uniform(0.8, 2.0, N_ITEMS), rng.normal(0.0, 1.0, N_ITEMS)
    for j in range(N_ITEMS):
        item = admin.new_item(program, materi, code=f"D-{j:02d}", stem=f"Soal {j}",
                              options=["a", "b", "c", "d"], key=0,
                              content_tag=materi.content_tags[0])
        item.p_guess = (0.8, 0.55, 0.3)[j % 3]
        session.add(item)
    session.commit()
    ids = session.scalars(select(Item.id).order_by(Item.id)).all()
    for status in ("reviewed", "pretest", "operational"):
        authoring.change_statuses(session, item_ids=ids, status=status, actor="penulis")
    loft = admin.add_exam(session, program, code="EX-LOFT", kind="materi", materi=materi,
                          assembly="loft")
    return program, materi, loft, dict(zip(ids, zip(a, b, strict=True), strict=True))


def _take(session, pid, exam_id, truth, theta, rng):
    view = policy.start_attempt(session, participant_id=pid, exam_id=exam_id)
    item = policy.current_item(session, participant_id=pid, attempt_id=view.attempt_id)
    outcome = None
    while item is not None:
        a, b = truth[item.item_id]
        right = bool(rng.random() < 1 / (1 + np.exp(-a * (theta - b))))
        outcome = answer(session, pid, view.attempt_id, item.item_id, right)
        item = outcome.next_item
    return view.attempt_id, outcome.result


def test_a_rated_bank_runs_loft_by_proportion_then_calibrates_and_switches_to_cat(
        session, monkeypatch):
    rng = np.random.default_rng(5)
    # The attempts' seeds (hence the forms) from the test's own stream: the same run each time.
    seeds = np.random.default_rng(6)
    monkeypatch.setattr(policy.secrets, "randbits", lambda bits: int(seeds.integers(2**bits)))
    program, materi, loft, truth = _cold_program(session, rng)
    items = session.scalars(select(Item).order_by(Item.id)).all()
    # Operational with provisional parameters from the ratings, their history naming them.
    assert all(i.status == ItemStatus.OPERATIONAL and i.provisional and i.a == 1.0
               and i.b == provisional_parameters(i.p_guess) for i in items)
    assert {h.actor for h in session.scalars(select(ItemParameters))} == {"writer rating"}
    assert "M1: uncalibrated (cold start)" in bank_check(session, program_code="DINGIN",
                                                         simulate=False).render()
    pids = enrolled_participants(session, program, N_PEOPLE + 1)
    # A CAT exam of a cold pool is refused; the LOFT one is scored by proportion correct.
    cat = admin.add_exam(session, program, code="EX-CAT", kind="materi", materi=materi)
    with pytest.raises(Conflict, match="not calibrated"):
        policy.start_attempt(session, participant_id=pids[0], exam_id=cat.id)
    session.rollback()
    session.delete(session.get(type(cat), cat.id))  # one exam of the slot from here on
    session.commit()
    thetas = rng.normal(size=N_PEOPLE)
    for pid, theta in zip(pids[:-1], thetas, strict=True):
        attempt_id, result = _take(session, pid, loft.id, truth, theta, rng)
        rights = session.scalars(select(Response.correct).where(
            Response.attempt_id == attempt_id)).all()
        assert len(rights) == LENGTH and result.scored_by == "proportion"
        assert result.score == pytest.approx(100 * sum(rights) / LENGTH)
        assert result.passed == (result.score >= 70)
    # Switching to CAT is refused while the parameters are provisional.
    fields = _exam_values(loft)
    with pytest.raises(Refusals, match="provisional"):
        edit_exam(session, program, loft.id, version=loft.version, code=loft.code,
                  kind="materi", materi=materi, assembly="cat", actor="admin", **fields)
    session.rollback()
    # The concurrent calibration (no anchor: no calibrated item) and its acceptance.
    assert [d.materi for d in bank.calibration_due(session, program_id=program.id,
                                                   now=bank.db_now(session)) if d.due] == ["M1"]
    run_id = bank.run_calibration(session, program_id=program.id, materi_id=materi.id,
                                  model="2pl", actor="penulis")
    session.commit()
    run = bank.calibration_run(session, run_id)
    assert run["summary"]["anchors"] == 0
    accepted, skipped = bank.accept_calibration(session, run_id=run_id,
                                                item_ids=list(truth), actor="penulis")
    assert len(accepted) == N_ITEMS and not skipped
    session.expire_all()
    items = session.scalars(select(Item).order_by(Item.id)).all()
    assert not any(i.provisional for i in items)
    # 60 answers per item: b within 0.5 RMSE of the truth, a within 0.6 (the provisional
    # b is at least twice as far off here).
    est_b = np.array([i.b for i in items])
    true_a, true_b = np.array([truth[i.id] for i in items]).T
    rmse_b = float(np.sqrt(np.mean((est_b - true_b) ** 2)))
    prov_b = np.array([provisional_parameters(i.p_guess) for i in items])
    assert rmse_b < 0.5 and rmse_b < 0.5 * float(np.sqrt(np.mean((prov_b - true_b) ** 2)))
    assert float(np.sqrt(np.mean((np.array([i.a for i in items]) - true_a) ** 2))) < 0.6
    assert "M1: ready for CAT (40 calibrated" in bank_check(
        session, program_code="DINGIN", simulate=False).render()
    # The exam switches to CAT, its cut on the same 0-100 scale; the next attempt is a CAT.
    loft = session.get(type(loft), loft.id)
    edit_exam(session, program, loft.id, version=loft.version, code=loft.code, kind="materi",
              materi=materi, assembly="cat", actor="admin", **_exam_values(loft))
    attempt_id, result = _take(session, pids[-1], loft.id, truth, 0.0, rng)
    assert result.scored_by == "domain"
    assert session.get(Attempt, attempt_id).scored_by == "domain"
