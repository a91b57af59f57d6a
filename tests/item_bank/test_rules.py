"""Walk-throughs of every SPEC.md rule, on SQLite and PostgreSQL (acceptance 2)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from item_bank_helpers import answer, build_world, enrolled_participants, operational_params, take
from sqlalchemy import func, select, text

from item_bank import admin, policy
from item_bank.db import db_now
from item_bank.errors import BankExhausted, Conflict, Forbidden, InvalidInput, Locked, NotFound
from item_bank.models import (
    Attempt,
    AttemptState,
    Certificate,
    Exam,
    ExamKind,
    Item,
    Response,
    SeenItem,
)


def _count(session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


def _pass_all_materi(session, world, pid):
    for exam in world.materi_exams:
        assert take(session, pid, exam.id, right=True).passed


def _finish_training(session, world, pid):
    take(session, pid, world.pre.id, right=False)
    _pass_all_materi(session, world, pid)
    for assignment in world.assignments:
        admin.mark_assignment_done(session, assignment_id=assignment.id, participant_id=pid)


def test_pass_pre_assessment_gives_certificate_and_no_training(session):
    # 15 correct answers put EAP theta near 2.5: the domain score is far above 85.
    world = build_world(session, settings={"min_items": 15, "max_items": 15})
    (pid,) = enrolled_participants(session, world.program, 1)
    result = take(session, pid, world.pre.id, right=True)
    # Independent truth: the domain score is 100 x mean 2PL probability over the pool at theta.
    a, b = operational_params(session, world.program.id)
    expected = 100 * np.mean(1 / (1 + np.exp(-a * (result.theta - b))))
    assert result.score == pytest.approx(expected, abs=1e-6)  # float rounding only
    assert result.score >= 85 and result.passed
    assert result.certificate_number is not None
    cert = session.scalar(select(Certificate))
    assert cert.route.value == "pre_assessment" and cert.number == result.certificate_number
    for exam in [*world.materi_exams, world.ujikom]:
        with pytest.raises(Locked, match="certificate"):
            policy.start_attempt(session, participant_id=pid, exam_id=exam.id)
    status = policy.program_status(session, participant_id=pid, program_id=world.program.id)
    assert status.certificate_number == cert.number
    assert status.next_step.code == "next_certified_pre_assessment"


def test_failed_pre_assessment_is_never_taken_again(session):
    world = build_world(session)
    (pid,) = enrolled_participants(session, world.program, 1)
    result = take(session, pid, world.pre.id, right=False)
    assert not result.passed and result.score < 85 and result.attempts_left == 0
    later = db_now(session) + dt.timedelta(days=400)
    with pytest.raises(Locked, match="exactly once"):
        policy.start_attempt(session, participant_id=pid, exam_id=world.pre.id, now=later)
    # The administrator's pages refuse a second pre-assessment; one written straight into
    # the database (an old bank, a script) does not reopen it either.
    with pytest.raises(InvalidInput, match="already has its pre-assessment"):
        admin.add_exam(session, world.program, code="PRE2", kind="pre_assessment")
    other = Exam(program_id=world.program.id, code="PRE2", kind=ExamKind.PRE_ASSESSMENT)
    session.add(other)
    session.commit()
    with pytest.raises(Locked, match="exactly once"):
        policy.start_attempt(session, participant_id=pid, exam_id=other.id)
    assert _count(session, Attempt, Attempt.participant_id == pid) == 1
    # The training follows: the first materi exam is open.
    policy.start_attempt(session, participant_id=pid, exam_id=world.materi_exams[0].id)


def test_materi_exam_needs_the_pre_assessment_first(session):
    world = build_world(session)
    (pid,) = enrolled_participants(session, world.program, 1)
    with pytest.raises(Locked, match="pre-assessment first"):
        policy.start_attempt(session, participant_id=pid, exam_id=world.materi_exams[0].id)


def test_five_failed_materi_attempts_then_no_sixth(session):
    world = build_world(session)
    (pid,) = enrolled_participants(session, world.program, 1)
    take(session, pid, world.pre.id, right=False)
    exam = world.materi_exams[0]
    numbers = []
    for _ in range(5):
        result = take(session, pid, exam.id, right=False)
        assert not result.passed and result.score < 70
        numbers.append(result.number)
    assert numbers == [1, 2, 3, 4, 5] and result.attempts_left == 0
    with pytest.raises(Locked, match="No attempts left"):
        policy.start_attempt(session, participant_id=pid, exam_id=exam.id)
    # A second window of the same materi shares the limit.
    again = admin.add_exam(session, world.program, code="EX-M1-B", kind="materi",
                           materi=world.materi[0])
    with pytest.raises(Locked, match="No attempts left"):
        policy.start_attempt(session, participant_id=pid, exam_id=again.id)


def test_passed_materi_is_not_retaken(session):
    world = build_world(session)
    (pid,) = enrolled_participants(session, world.program, 1)
    take(session, pid, world.pre.id, right=False)
    assert take(session, pid, world.materi_exams[0].id, right=True).passed
    with pytest.raises(Locked, match="already passed"):
        policy.start_attempt(session, participant_id=pid, exam_id=world.materi_exams[0].id)


def test_ujikom_locked_until_every_materi_passed_and_assignments_done(session):
    world = build_world(session, n_assignments=2)
    (pid,) = enrolled_participants(session, world.program, 1)
    take(session, pid, world.pre.id, right=False)
    assert take(session, pid, world.materi_exams[0].id, right=True).passed
    with pytest.raises(Locked, match="every materi"):
        policy.start_attempt(session, participant_id=pid, exam_id=world.ujikom.id)
    assert take(session, pid, world.materi_exams[1].id, right=True).passed
    with pytest.raises(Locked, match="2 not marked done"):
        policy.start_attempt(session, participant_id=pid, exam_id=world.ujikom.id)
    admin.mark_assignment_done(session, assignment_id=world.assignments[0].id, participant_id=pid)
    with pytest.raises(Locked, match="1 not marked done"):
        policy.start_attempt(session, participant_id=pid, exam_id=world.ujikom.id)
    admin.mark_assignment_done(session, assignment_id=world.assignments[1].id, participant_id=pid)
    view = policy.start_attempt(session, participant_id=pid, exam_id=world.ujikom.id)
    assert view.kind == "ujikom" and view.number == 1


def test_ujikom_waiting_period_between_attempts(session):
    world = build_world(session, settings={"ujikom_waiting_period_s": 7 * 24 * 3600})
    (pid,) = enrolled_participants(session, world.program, 1)
    _finish_training(session, world, pid)
    first = take(session, pid, world.ujikom.id, right=False)
    assert first.category == "belum kompeten"
    finished_at = session.get(Attempt, first.attempt_id).finished_at
    # The end of the wait is written in WIB, UTC+7 (no daylight saving time in Indonesia).
    ends_wib = finished_at + dt.timedelta(days=7, hours=7)
    with pytest.raises(Locked, match=f"until {ends_wib:%Y-%m-%d %H:%M} WIB"):
        policy.start_attempt(session, participant_id=pid, exam_id=world.ujikom.id,
                             now=finished_at + dt.timedelta(days=6, hours=23))
    status = policy.program_status(session, participant_id=pid, program_id=world.program.id,
                                   now=finished_at + dt.timedelta(days=1))
    ujikom = next(e for e in status.exams if e.kind == "ujikom")
    assert not ujikom.available
    assert ujikom.available_from == finished_at + dt.timedelta(days=7)
    view = policy.start_attempt(session, participant_id=pid, exam_id=world.ujikom.id,
                                now=finished_at + dt.timedelta(days=7, seconds=1))
    assert view.number == 2


def test_waiting_period_end_is_written_in_the_programs_time_zone(session):
    world = build_world(session, settings={"ujikom_waiting_period_s": 3600,
                                           "timezone": "Asia/Makassar"})
    (pid,) = enrolled_participants(session, world.program, 1)
    _finish_training(session, world, pid)
    first = take(session, pid, world.ujikom.id, right=False)
    finished_at = session.get(Attempt, first.attempt_id).finished_at
    ends_wita = finished_at + dt.timedelta(hours=1 + 8)  # WITA = UTC+8
    with pytest.raises(Locked, match=f"until {ends_wita:%Y-%m-%d %H:%M} WITA"):
        policy.start_attempt(session, participant_id=pid, exam_id=world.ujikom.id,
                             now=finished_at + dt.timedelta(minutes=30))


def test_three_failed_ujikom_is_belum_kompeten_and_no_fourth(session):
    world = build_world(session)
    (pid,) = enrolled_participants(session, world.program, 1)
    _finish_training(session, world, pid)
    for number in (1, 2, 3):
        result = take(session, pid, world.ujikom.id, right=False)
        assert result.number == number and result.category == "belum kompeten"
    assert result.attempts_left == 0
    with pytest.raises(Locked, match="belum kompeten"):
        policy.start_attempt(session, participant_id=pid, exam_id=world.ujikom.id)
    status = policy.program_status(session, participant_id=pid, program_id=world.program.id)
    assert status.category == "belum kompeten" and status.certificate_number is None
    assert _count(session, Certificate) == 0


def test_pass_ujikom_is_kompeten_with_exactly_one_certificate(session):
    world = build_world(session)
    (pid,) = enrolled_participants(session, world.program, 1)
    _finish_training(session, world, pid)
    assert take(session, pid, world.ujikom.id, right=False).category == "belum kompeten"
    result = take(session, pid, world.ujikom.id, right=True)
    assert result.passed and result.category == "kompeten" and result.certificate_number
    again = policy.finish_attempt(session, participant_id=pid, attempt_id=result.attempt_id)
    assert again.certificate_number == result.certificate_number
    with pytest.raises(Locked):
        policy.start_attempt(session, participant_id=pid, exam_id=world.ujikom.id)
    certs = session.scalars(select(Certificate)).all()
    assert len(certs) == 1 and certs[0].route.value == "ujikom"
    assert result.next_step.code == "next_certified_ujikom"


def test_dropped_connection_resumes_the_same_attempt(session):
    world = build_world(session)
    (pid,) = enrolled_participants(session, world.program, 1)
    first = policy.start_attempt(session, participant_id=pid, exam_id=world.pre.id)
    item = policy.current_item(session, participant_id=pid, attempt_id=first.attempt_id)
    answer(session, pid, first.attempt_id, item.item_id, True)
    again = policy.start_attempt(session, participant_id=pid, exam_id=world.pre.id)
    assert again.attempt_id == first.attempt_id and again.resumed and again.answered == 1
    assert again.deadline == first.deadline


def test_deadline_is_min_of_duration_and_window_close_on_the_db_clock(session):
    world = build_world(session, settings={"exam_duration_s": 3600})
    (pid, pid2) = enrolled_participants(session, world.program, 2)
    before = db_now(session)
    view = policy.start_attempt(session, participant_id=pid, exam_id=world.pre.id)
    after = db_now(session)
    assert before <= view.started_at <= after
    assert view.deadline == view.started_at + dt.timedelta(hours=1)
    world.pre.window_closes_at = after + dt.timedelta(minutes=10)
    session.commit()
    view2 = policy.start_attempt(session, participant_id=pid2, exam_id=world.pre.id)
    assert view2.deadline == world.pre.window_closes_at


def test_answer_after_deadline_is_refused_and_the_attempt_expires(session):
    world = build_world(session, settings={"exam_duration_s": 600, "answer_grace_s": 5,
                                           "min_items": 5, "max_items": 5})
    pid, other = enrolled_participants(session, world.program, 2)
    view = policy.start_attempt(session, participant_id=pid, exam_id=world.pre.id)
    item = policy.current_item(session, participant_id=pid, attempt_id=view.attempt_id)
    # Within the grace an answer in flight is still taken, and it is the last one: no new
    # item after the deadline, the reply carries the result.
    inside = view.deadline + dt.timedelta(seconds=4)
    out = answer(session, pid, view.attempt_id, item.item_id, True, now=inside)
    assert out.stored and out.finished and out.next_item is None
    assert out.result.state == "expired" and out.result.stop_reason == "time"
    assert out.result.answered == 1 and out.result.imputed == 4  # up to the minimum of 5
    assert session.scalar(select(func.count()).select_from(Response).where(
        Response.attempt_id == view.attempt_id)) == 1
    # After the grace an answer is refused, the attempt expires and is graded.
    view = policy.start_attempt(session, participant_id=other, exam_id=world.pre.id)
    item = policy.current_item(session, participant_id=other, attempt_id=view.attempt_id)
    late = view.deadline + dt.timedelta(seconds=6)
    with pytest.raises(Conflict, match="run out"):
        answer(session, other, view.attempt_id, item.item_id, True, now=late)
    attempt = session.get(Attempt, view.attempt_id)
    session.refresh(attempt)
    assert attempt.state == AttemptState.EXPIRED and attempt.score is not None
    assert len(attempt.imputed_items) == 5 and not attempt.passed
    with pytest.raises(ValueError):
        attempt.transition(AttemptState.STARTED)  # terminal states never go back
    with pytest.raises(Locked, match="exactly once"):
        policy.start_attempt(session, participant_id=other, exam_id=world.pre.id, now=late)


def test_sweeper_expires_due_attempts(session):
    world = build_world(session, settings={"exam_duration_s": 60})
    pids = enrolled_participants(session, world.program, 3)
    views = [policy.start_attempt(session, participant_id=p, exam_id=world.pre.id) for p in pids]
    assert policy.expire_due_attempts(session) == 0
    later = views[-1].deadline + dt.timedelta(seconds=10)
    assert policy.expire_due_attempts(session, now=later) == 3
    states = session.scalars(select(Attempt.state)).all()
    assert states == [AttemptState.EXPIRED] * 3


def test_answers_idempotent_conflicts_and_no_idor(session):
    world = build_world(session)
    pid, other = enrolled_participants(session, world.program, 2)
    view = policy.start_attempt(session, participant_id=pid, exam_id=world.pre.id)
    item = policy.current_item(session, participant_id=pid, attempt_id=view.attempt_id)
    first = policy.record_answer(session, participant_id=pid, attempt_id=view.attempt_id,
                                 item_id=item.item_id, choice=1)
    repeat = policy.record_answer(session, participant_id=pid, attempt_id=view.attempt_id,
                                  item_id=item.item_id, choice=1)
    assert first.stored and not repeat.stored
    assert repeat.next_item.item_id == first.next_item.item_id
    with pytest.raises(Conflict, match="another option"):
        policy.record_answer(session, participant_id=pid, attempt_id=view.attempt_id,
                             item_id=item.item_id, choice=2)
    foreign = session.scalar(select(Item.id).where(Item.id != item.item_id,
                                                   Item.id != first.next_item.item_id))
    with pytest.raises(Conflict, match="not part"):
        policy.record_answer(session, participant_id=pid, attempt_id=view.attempt_id,
                             item_id=foreign, choice=0)
    with pytest.raises(InvalidInput):
        policy.record_answer(session, participant_id=pid, attempt_id=view.attempt_id,
                             item_id=first.next_item.item_id, choice=7)
    with pytest.raises(NotFound):
        policy.current_item(session, participant_id=other, attempt_id=view.attempt_id)
    with pytest.raises(NotFound):
        policy.record_answer(session, participant_id=other, attempt_id=view.attempt_id,
                             item_id=first.next_item.item_id, choice=0)
    answered = session.scalar(select(func.count()).select_from(Response).where(
        Response.attempt_id == view.attempt_id, Response.answered_at.is_not(None)))
    assert answered == 1


def test_presentation_hides_key_and_shuffles_options_per_participant(session):
    world = build_world(session, settings={"min_items": 20, "max_items": 20})
    pids = enrolled_participants(session, world.program, 2)
    orders = []
    for pid in pids:
        view = policy.start_attempt(session, participant_id=pid, exam_id=world.pre.id)
        item = policy.current_item(session, participant_id=pid, attempt_id=view.attempt_id)
        fields = set(vars(item))
        assert not fields & {"key", "a", "b", "c", "correct", "shown_order"}
        stored = session.scalar(select(Response).where(Response.attempt_id == view.attempt_id))
        original = session.get(Item, item.item_id).options
        assert item.options == [original[i] for i in stored.shown_order]
        orders.append(tuple(stored.shown_order))
    # Over 21 items the stored orders are not all the identity (P = 24^-21 if random).
    item = policy.current_item(session, participant_id=pids[1], attempt_id=view.attempt_id)
    while item is not None:
        item = answer(session, pids[1], view.attempt_id, item.item_id, True).next_item
    take_orders = session.scalars(select(Response.shown_order)).all()
    assert len(take_orders) == 21
    assert sorted(map(tuple, take_orders)) != [(0, 1, 2, 3)] * len(take_orders)


def test_enrolment_rules(session):
    world = build_world(session)
    admin.register_participant(session, nip="199203042019031002", name="Siti")
    policy.enrol(session, program_code=world.program.code, nip="199203042019031002")
    policy.enrol(session, program_code=world.program.code, nip="199203042019031002")
    with pytest.raises(InvalidInput, match="18 digits"):
        policy.enrol(session, program_code=world.program.code, nip="12345")
    with pytest.raises(NotFound, match="Unknown program"):
        policy.enrol(session, program_code="NOPE", nip="199203042019031002")
    with pytest.raises(Forbidden, match="register"):
        policy.enrol(session, program_code=world.program.code, nip="199203042019031099")
    world.program.is_open = False
    session.commit()
    admin.register_participant(session, nip="199203042019031003", name="Ani")
    with pytest.raises(Forbidden, match="not open"):
        policy.enrol(session, program_code=world.program.code, nip="199203042019031003")


def test_not_enrolled_cannot_start(session):
    world = build_world(session)
    person = admin.register_participant(session, nip="199203042019031004", name="Dedi")
    with pytest.raises(Forbidden, match="not enrolled"):
        policy.start_attempt(session, participant_id=person.id, exam_id=world.pre.id)


def test_start_refused_when_the_bank_would_run_out(session):
    # 12 items per materi, 5-item tests: the third materi attempt would need items 11-15.
    world = build_world(session, items_per_materi=12, n_materi=1)
    (pid,) = enrolled_participants(session, world.program, 1)
    world.pre = None
    exam = world.materi_exams[0]
    session.execute(text("DELETE FROM exam WHERE kind = 'pre_assessment'"))
    session.commit()
    take(session, pid, exam.id, right=False)
    take(session, pid, exam.id, right=False)
    before = _count(session, Attempt)
    with pytest.raises(BankExhausted, match="needs 5 .* has 2"):
        policy.start_attempt(session, participant_id=pid, exam_id=exam.id)
    assert _count(session, Attempt) == before
    assert _count(session, SeenItem) == 10


def test_loft_form_is_assembled_at_start_and_stored(session):
    world = build_world(session, assembly="loft", settings={"min_items": 8, "max_items": 8})
    (pid,) = enrolled_participants(session, world.program, 1)
    view = policy.start_attempt(session, participant_id=pid, exam_id=world.pre.id)
    responses = session.scalars(select(Response).where(
        Response.attempt_id == view.attempt_id).order_by(Response.position)).all()
    assert [r.position for r in responses] == list(range(1, 9))
    assert _count(session, SeenItem) == 8
    result = take(session, pid, world.pre.id, right=True)
    assert result.attempt_id == view.attempt_id and result.answered == 8


def test_audit_log_is_append_only(session):
    world = build_world(session)
    (pid,) = enrolled_participants(session, world.program, 1)
    take(session, pid, world.pre.id, right=False)
    assert session.scalar(text("SELECT count(*) FROM audit_log")) >= 2
    for statement in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(Exception, match="append-only"):
            session.execute(text(statement))
        session.rollback()
