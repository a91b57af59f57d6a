"""The writers' search (item_bank.item_search) against a brute-force filter and sort of every
item in Python, and one item's statistics (item_bank.item_stats) against independent truth:
the 3PL formula written out and a numerical derivative for the curves, a hand-made response
set counted by hand for the distractor table and the exposure per day."""

from __future__ import annotations

import datetime as dt
import math
from zoneinfo import ZoneInfo

import pytest
from item_bank_helpers import build_world
from sqlalchemy import insert, select, update

from item_bank import admin
from item_bank.errors import InvalidInput
from item_bank.item_search import ItemQuery, search_items
from item_bank.item_stats import exposure_periods, item_curves, item_report
from item_bank.models import (
    Attempt,
    AttemptState,
    ContentTag,
    Item,
    ItemExposure,
    ItemStatus,
    Participant,
    Response,
)

LIFECYCLE = list(ItemStatus)


def _bank(session):
    """Two materi of 20 items, made various: statuses, models, a stem with ``%`` and ``_``,
    exposure counts over two exams, distinct change times."""
    world = build_world(session, n_materi=2, items_per_materi=20, with_pre=False)
    items = session.scalars(select(Item).order_by(Item.id)).all()
    for k, item in enumerate(items):
        item.status = LIFECYCLE[k % 5]
        if k % 7 == 0:
            item.b = None if item.status != ItemStatus.OPERATIONAL else item.b
        if k % 4 == 0:
            item.model, item.a, item.c = "1pl", 1.0, 0.0
        elif k % 4 == 1:
            item.model, item.c = "3pl", 0.2
    items[3].stem = "Kenaikan 100% dari harga_dasar?"
    items[4].stem = "Kenaikan 1000 dari harga dasar?"
    for k in (5, 9, 30):
        items[k].family = "TPL-Pajak"
    session.flush()
    exams = world.materi_exams
    session.execute(insert(ItemExposure), [
        {"exam_id": exams[j].id, "item_id": item.id, "count": (k * 7 + j * 3) % 11}
        for k, item in enumerate(items) for j in range(2) if (k + j) % 3])
    base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    for k, item in enumerate(items):
        session.execute(update(Item).where(Item.id == item.id).values(
            updated_at=base + dt.timedelta(hours=(k * 13) % 40)))
    session.commit()
    shown = {item.id: 0 for item in items}
    for row in session.execute(select(ItemExposure.item_id, ItemExposure.count)):
        shown[row[0]] += row[1]
    return world, session.scalars(select(Item).order_by(Item.id)).all(), shown


def _truth(items, shown, query: ItemQuery) -> list[int]:
    """The ids a search must return, in order, by plain Python over every item."""
    def keep(item) -> bool:
        q = query.q.lower()
        return ((not q or q in item.stem.lower() or q in item.code.lower()
                 or q in item.family.lower())
                and query.program_id in (None, item.program_id)
                and query.materi_id in (None, item.materi_id)
                and query.content_tag_id in (None, item.content_tag_id)
                and query.status in ("", str(item.status))
                and query.model in ("", str(item.model))
                and (query.shown_min is None or shown[item.id] >= query.shown_min)
                and (query.shown_max is None or shown[item.id] <= query.shown_max))

    chosen = [i for i in items if keep(i)]
    key = {"code": lambda i: i.code, "status": lambda i: LIFECYCLE.index(i.status),
           "b": lambda i: i.b if i.b is not None else 0.0, "exposure": lambda i: shown[i.id],
           "changed": lambda i: i.updated_at}[query.sort]
    # ties by code then id; for b, items without b after the others in either direction
    chosen.sort(key=lambda i: (i.code, i.id))
    chosen.sort(key=key, reverse=query.descending)
    if query.sort == "b":
        chosen.sort(key=lambda i: i.b is None)
    return [i.id for i in chosen]


def test_search_filters_sorts_and_pages_like_a_brute_force(session):
    world, items, shown = _bank(session)
    tag = session.scalar(select(ContentTag).where(ContentTag.materi_id == world.materi[1].id))
    queries = [ItemQuery(), ItemQuery(materi_id=world.materi[0].id, sort="b", order="desc"),
               ItemQuery(materi_id=world.materi[1].id, sort="b"),
               ItemQuery(content_tag_id=tag.id, sort="exposure", order="desc"),
               ItemQuery(status="operational", model="2pl"),
               ItemQuery(model="3pl", sort="status"), ItemQuery(status="draft", sort="status",
                                                                order="desc"),
               ItemQuery(shown_min=5, shown_max=9, sort="exposure"), ItemQuery(shown_max=0),
               ItemQuery(sort="changed", order="desc"), ItemQuery(program_id=world.program.id),
               ItemQuery(program_id=world.program.id + 99), ItemQuery(q="m2-001"),
               ItemQuery(q="100%"), ItemQuery(q="harga_dasar"), ItemQuery(q="_"),
               ItemQuery(q="tpl-pajak")]
    for query in queries:
        truth = _truth(items, shown, query)
        got = []
        for page in range(1, 5):
            result = search_items(session, ItemQuery(**{**vars(query), "page": page}),
                                  per_page=12)
            assert result.total == len(truth), query
            got += [item.id for item, _n in result.rows]
            assert all(n == shown[item.id] for item, n in result.rows)
        assert got == truth, query
    # a literal search: "100%" is not "100 anything", "_" is no wildcard
    assert [i.stem for i, _n in search_items(session, ItemQuery(q="100%")).rows] == \
        ["Kenaikan 100% dari harga_dasar?"]
    assert search_items(session, ItemQuery(q="harga_dasar")).total == 1
    # the variants of one template, by its name
    assert search_items(session, ItemQuery(q="pajak")).total == 3


def test_search_pages_and_refusals(session):
    _bank(session)
    result = search_items(session, ItemQuery(page=2), per_page=12)
    assert (result.total, result.pages) == (40, 4)
    assert result.page_numbers() == [1, 2, 3, 4]
    far = search_items(session, ItemQuery(page=9), per_page=2)
    assert far.pages == 20 and far.page_numbers() == [1, None, 7, 8, 9, 10, 11, None, 20]
    assert search_items(session, ItemQuery(page=99)).rows == []
    assert ItemQuery(materi_id=3, sort="b", order="desc", page=4).filters() == {
        "materi_id": 3, "sort": "b", "order": "desc"}
    bad = ItemQuery(sort="id; DROP TABLE item", order="up", status="gone", model="4pl",
                    shown_min=5, shown_max=2)
    assert [(n.code, n.params.get("field")) for n in bad.problems()] == [
        ("search_value_unknown", "status"), ("search_value_unknown", "model"),
        ("search_value_unknown", "sort"), ("search_value_unknown", "order"),
        ("search_shown_order", None)]
    with pytest.raises(InvalidInput) as refused:
        search_items(session, bad)
    assert refused.value.code == "search_value_unknown"
    assert session.scalar(select(Item.id).limit(1)) is not None  # nothing dropped


@pytest.mark.parametrize("model,a,b,c", [("3pl", 1.3, 0.4, 0.2), ("2pl", 0.7, -1.1, None),
                                          ("1pl", None, 0.5, None)])
def test_curves_are_the_3pl_formula(session, model, a, b, c):
    world = build_world(session, n_materi=1, items_per_materi=1, with_pre=False)
    item = admin.new_item(world.program, world.materi[0], code="K1", stem="?",
                          options=["x", "y"], key=0, model=model, a=a, b=b, c=c)
    curves = item_curves(item)
    a_, c_ = (1.0 if a is None else a), (c or 0.0)

    def p(t: float) -> float:
        return c_ + (1 - c_) / (1 + math.exp(-a_ * (t - b)))

    h = 1e-5
    for t, got_p, got_i in zip(curves.theta, curves.probability, curves.information,
                               strict=True):
        assert got_p == pytest.approx(p(t), abs=1e-12)
        slope = (p(t + h) - p(t - h)) / (2 * h)
        assert got_i == pytest.approx(slope ** 2 / (p(t) * (1 - p(t))), rel=1e-6)
    assert [row[0] for row in curves.at()] == [-3, -2, -1, 0, 1, 2, 3]
    assert curves.at()[3][1] == pytest.approx(p(0.0))
    item.a = item.b = None
    assert item_curves(item) is None


def _utc(day: int, hour: int, minute: int) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, minute, tzinfo=dt.UTC)


def test_distractors_exposure_counts_and_history_of_a_hand_made_response_set(session):
    world = build_world(session, n_materi=1, items_per_materi=2, with_pre=False)
    item, other = session.scalars(select(Item).order_by(Item.id)).all()
    item.options, item.key = ["A1", "B1", "C1", "D1"], 2
    exam = world.materi_exams[0]
    session.add_all([ItemExposure(exam_id=exam.id, item_id=item.id, count=7),
                     ItemExposure(exam_id=world.ujikom.id, item_id=item.id, count=5),
                     ItemExposure(exam_id=exam.id, item_id=other.id, count=40)])
    zone = ZoneInfo("Asia/Jakarta")
    # (final θ, state, choice, presented at, UTC): 9 finished answers count in the table
    rows = [(0.9, "submitted", 2, _utc(1, 16, 59)),   # 23:59 WIB, 1 March
            (-1.2, "submitted", 0, _utc(1, 17, 0)),   # 00:00 WIB, 2 March
            (0.1, "expired", 2, _utc(1, 18, 0)),
            (1.7, "submitted", 2, _utc(2, 3, 0)),
            (-0.4, "submitted", 1, _utc(2, 4, 0)),
            (0.1, "submitted", 3, _utc(4, 4, 0)),     # a tie with the 3rd
            (2.5, "submitted", 2, _utc(4, 5, 0)),
            (-2.0, "submitted", 1, _utc(4, 6, 0)),
            (0.5, "submitted", 0, _utc(4, 7, 0)),
            (1.0, "started", 2, _utc(4, 8, 0)),       # running: not counted
            (None, "submitted", 1, _utc(4, 9, 0)),    # no θ: not counted
            (0.3, "submitted", None, _utc(4, 10, 0))]  # shown, not answered
    people = [Participant(nip=f"{198001010000000000 + k}", name=f"P{k}")
              for k in range(len(rows))]
    session.add_all(people)
    session.flush()
    for k, (theta, state, choice, at) in enumerate(rows):
        attempt = Attempt(participant_id=people[k].id, program_id=world.program.id,
                          exam_id=exam.id, slot=exam.slot, number=1, state=AttemptState(state),
                          started_at=at, deadline=at + dt.timedelta(hours=1),
                          finished_at=None if state == "started" else at, theta=theta)
        session.add(attempt)
        session.flush()
        session.add(Response(attempt_id=attempt.id, item_id=item.id, position=0,
                             shown_order=[3, 2, 1, 0], choice=choice,
                             shown_choice=None if choice is None else 3 - choice,
                             correct=None if choice is None else choice == 2,
                             presented_at=at, answered_at=None if choice is None else at))
        session.add(Response(attempt_id=attempt.id, item_id=other.id, position=1,
                             shown_order=[0, 1, 2, 3], choice=0, shown_choice=0, correct=True,
                             presented_at=at, answered_at=at))
    item.b = item.b + 0.5  # a second parameter version
    session.commit()

    report = item_report(session, item.id)
    assert (report.shown, report.answers) == (12, 11)
    assert report.p_correct == pytest.approx(5 / 11)  # choice 2 of the 11 answers
    # By hand: the 9 finished answers with a θ, lowest first (the tie at 0.1 in attempt
    # order): -2.0:1 -1.2:0 -0.4:1 | 0.1:2 0.1:3 0.5:0 | 0.9:2 1.7:2 2.5:2
    assert [(g.number, g.theta_low, g.theta_high, g.counts) for g in report.groups] == [
        (1, -2.0, -0.4, (1, 2, 0, 0)), (2, 0.1, 0.5, (1, 0, 1, 1)),
        (3, 0.9, 2.5, (0, 0, 3, 0))]
    assert report.groups[1].shares == pytest.approx((1 / 3, 0, 1 / 3, 1 / 3))
    # Per day in WIB: 1 March 1 shown; 2 March 4; 3 March none; 4 March 7 (one unanswered)
    assert report.period == "day" and report.timezone == "Asia/Jakarta"
    assert [(p.start.date(), p.shown, p.answered) for p in report.exposure] == [
        (dt.date(2026, 3, 1), 1, 1), (dt.date(2026, 3, 2), 4, 4), (dt.date(2026, 3, 3), 0, 0),
        (dt.date(2026, 3, 4), 7, 6)]
    assert report.exposure[0].start.tzinfo == zone
    assert [h.version for h in report.history] == [2, 1]
    assert [h.b for h in report.history] == pytest.approx([item.b, item.b - 0.5])
    assert report.curves is not None

    fresh = item_report(session, other.id)
    assert fresh.shown == 40 and len(fresh.groups) == 3  # every one chose option 0


def test_exposure_goes_weekly_over_six_weeks():
    zone = ZoneInfo("Asia/Makassar")  # UTC+8
    shown = [(dt.datetime(2026, 1, 4, 17, 0), True),    # Mon 5 Jan 01:00 WITA
             (dt.datetime(2026, 1, 11, 15, 59), False),  # Sun 11 Jan 23:59 WITA
             (dt.datetime(2026, 2, 16, 0, 0, tzinfo=dt.UTC), True)]  # Mon 16 Feb
    period, rows = exposure_periods(shown, zone)
    assert period == "week"
    assert [(r.start.date(), r.shown, r.answered) for r in rows][:2] == [
        (dt.date(2026, 1, 5), 2, 1), (dt.date(2026, 1, 12), 0, 0)]
    assert rows[-1].start.date() == dt.date(2026, 2, 16) and rows[-1].shown == 1
    assert len(rows) == 7
    assert exposure_periods([], zone) == ("day", [])
