"""Overlap, exposure, item harvest and the bank capacity check (acceptance 3 and 4)."""

from __future__ import annotations

import math
import shutil
from collections import Counter

import numpy as np
import pytest
from item_bank_helpers import build_world, enrolled_participants, take
from sqlalchemy import func, select

from cat_engine.irt import ItemBank
from item_bank.db import make_engine, session_factory
from item_bank.errors import BankExhausted
from item_bank.harvest import simulate_window, synthetic_bank
from item_bank.models import Attempt, Item, ProgramSettings, Response
from item_bank.pools import Pool
from item_bank.reports import bank_check, exam_overlap


def test_pool_lookups_match_brute_force():
    """Positions, per-item counts and per-tag counts of a pool against plain Python."""
    rng = np.random.default_rng(8)
    ids = np.sort(rng.choice(10_000, 300, replace=False)).astype(np.int64)
    tags = rng.choice(["PP", "ETIKA", "ADM", ""], 300)
    pool = Pool(item_ids=ids, bank=ItemBank(ids=ids.astype(str), a=np.ones(300),
                                            b=np.zeros(300), c=np.zeros(300), content=tags),
                n_options=np.full(300, 4))
    where = {int(i): k for k, i in enumerate(ids)}
    for _ in range(50):
        # distinct ids (exposure rows are one per item), some of them not in the pool
        asked = list(dict.fromkeys(int(i) for i in np.concatenate(
            [rng.choice(ids, 20, replace=False), rng.integers(0, 10_000, 5)])))
        assert pool.positions(asked).tolist() == [where[i] for i in asked if i in where]
        values = rng.integers(1, 9, len(asked)).tolist()
        want = np.zeros(300, dtype=np.int64)
        for i, v in zip(asked, values, strict=True):
            if i in where:
                want[where[i]] = v
        assert pool.counts(asked, values).tolist() == want.tolist()
        tally = dict(Counter(str(tags[where[i]]) for i in asked if i in where))
        assert pool.content_counts(asked) == tally
        assert pool.content_counts(positions=pool.positions(asked)) == tally


@pytest.fixture
def sqlite_session(sqlite_template, tmp_path):
    """SQLite only: PostgreSQL is covered by the concurrency and no-repeat tests."""
    path = tmp_path / "overlap.sqlite"
    shutil.copyfile(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    with session_factory(engine)() as session:
        yield session
    engine.dispose()


@pytest.mark.slow
def test_90_item_bank_30_participants_every_exam(sqlite_session):
    session = sqlite_session
    # A window that recycles its bank, scaled down from 200 participants on 600 items with
    # the same ratios (3 items per participant, 5/3 administrations per item and exam): one
    # materi of B = 90 operational items, so the program bank is 90 items; N = 30
    # participants take the pre-assessment, the materi exam and the ujikom (L = 5 items
    # each), 15 items each from the 90 without a repeat.  Cut scores make everyone take
    # every exam: nobody reaches 100 in the pre-assessment, everybody passes the materi exam
    # and the ujikom.
    n, bank, length = 30, 90, 5
    world = build_world(session, n_materi=1, items_per_materi=bank, n_assignments=0,
                        settings={"min_items": length, "max_items": length,
                                  "pre_assessment_certificate_score": 100,
                                  "materi_pass_score": 0, "ujikom_pass_score": 0})
    pids = enrolled_participants(session, world.program, n)
    rng = np.random.default_rng(11)
    exams = [world.pre, *world.materi_exams, world.ujikom]
    for pid in pids:
        theta = float(rng.normal())
        for exam in exams:
            take(session, pid, exam.id, theta=theta, rng=rng)
    assert session.scalar(select(func.count(Attempt.id))) == n * len(exams)
    repeats = session.execute(
        select(Attempt.participant_id, Response.item_id)
        .join(Attempt, Response.attempt_id == Attempt.id)
        .group_by(Attempt.participant_id, Response.item_id).having(func.count() > 1)).all()
    assert repeats == []
    # Least-exposed-first uses every item of a tag before it reuses one, so an exam's
    # n x L = 150 administrations over 90 items show each item ceil(150 / 90) = 2 times at
    # most, plus one where a tag's least exposed items were seen by the participant earlier.
    # The ceiling alone (0.25) lets the most informative items reach about 0.25.
    most_shown = math.ceil(n * length / bank) + 1
    for exam in exams:
        report = exam_overlap(session, exam.id)
        print(f"overlap {report.exam}: attempts={report.attempts} "
              f"mean_overlap={report.mean_overlap:.4f} max_exposure={report.max_exposure:.3f}")
        assert report.attempts == n
        assert report.max_exposure <= most_shown / n
        # Items drawn uniformly at random would overlap L / B = 0.056; the even spread of
        # least-exposed-first gives 0.028 (60 items shown twice, 30 once).
        assert report.mean_overlap < length / bank


@pytest.mark.parametrize("assembly", ["cat", "loft"])
def test_harvest_small(assembly):
    # Small version of bench/bench_harvest.py: 3,000 items, 20 colluders + 10 later, defaults.
    bank = synthetic_bank(3000, np.random.default_rng(5))
    result = simulate_window(bank, assembly=assembly, later=10, seed=2)
    assert result.max_exposure <= 0.25
    assert result.share_mean <= 0.20
    # The colluders' pool is what they were shown: at most 20 x max length items.
    assert result.pooled_items <= 20 * ProgramSettings().max_items


def test_harvest_shows_the_cost_of_a_small_bank():
    # 600 LOFT items, 20 colluders x 30 items: the ring has seen nearly the whole bank.
    bank = synthetic_bank(600, np.random.default_rng(5))
    result = simulate_window(bank, assembly="loft", later=10, seed=2)
    assert result.share_mean > 0.5 and result.pooled_items > 500


def test_bank_check_counts_missing_items(session):
    world = build_world(session, n_materi=2, items_per_materi=40,
                        settings={"min_items": 10, "max_items": 10})
    enrolled_participants(session, world.program, 30)
    report = bank_check(session, program_code="LATSAR", simulate=False)
    by_exam = {(line.exam, line.tag): line for line in report.lines}
    # Materi: 5 attempts x 10 + its half of pre (1 x 10) and ujikom (3 x 10) = 70 > 40.
    materi = by_exam[("EX-M1", "")]
    assert (materi.available, materi.needed, materi.missing) == (40, 70, 30)
    assert by_exam[("EX-M1", "T1")].needed == 35
    # Program-wide exams: ujikom 3 x 10 = 30 and exposure 10 / 0.25 = 40 -> 40 of 80.
    assert by_exam[("UJIKOM", "")].needed == 40 and by_exam[("UJIKOM", "")].missing == 0
    assert not report.ok and "NOT ENOUGH ITEMS" in report.render()
    more = build_world(session, code="BIG", n_materi=1, items_per_materi=120,
                       settings={"min_items": 10, "max_items": 10})
    enrolled_participants(session, more.program, 30, first=100)
    big = bank_check(session, program_code="BIG", cohort=30)
    assert big.ok, big.render()
    assert any("item harvest" in line for line in big.advice)


def test_retired_item_leaves_the_pool(session):
    world = build_world(session, n_materi=1, items_per_materi=12)
    (pid,) = enrolled_participants(session, world.program, 1)
    result = take(session, pid, world.pre.id, right=False)
    shown = session.scalars(select(Response.item_id).where(
        Response.attempt_id == result.attempt_id)).all()
    # 7 unseen operational items; retiring 3 leaves 4, too few for a 5-item exam.
    for item in session.scalars(select(Item).where(Item.id.not_in(shown))).all()[:3]:
        item.transition("retired")
    session.commit()
    with pytest.raises(BankExhausted, match="needs 5 .* has 4"):
        take(session, pid, world.materi_exams[0].id, right=False)
