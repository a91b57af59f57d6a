"""Everything the server takes from item_bank, in one module.

Views call the item_bank policy for every rule of the exam flow; this module adds only the
small read/write helpers the server needs around accounts (login, tokens, throttling) and
re-exports the domain errors, so a change of name in item_bank is fixed here alone.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from calibration import ResponseData, calibrate
from calibration.leaks import DEFAULT_Q as LEAK_Q
from calibration.leaks import leak_scan
from item_bank import (
    accounts,
    calibration_source,
    item_search,
    item_stats,
    item_text,  # noqa: F401  (the participant's rendering of an item, re-exported)
    login_throttle,  # noqa: F401  (the throttle of server.auth and the admin's view)
    policy,  # noqa: F401  (re-exported for the views)
)
from item_bank import admin as ib_admin
from item_bank.db import db_now, make_engine, session_factory  # noqa: F401
from item_bank.errors import (  # noqa: F401
    BankExhausted,
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    Locked,
    NotFound,
    SessionEnded,
)
from item_bank.models import (  # noqa: F401  (re-exported for the views)
    SERVICE_SCOPES,
    Assembly,
    Assignment,
    AssignmentCompletion,
    Attempt,
    AttemptExtension,
    AttemptState,
    AuditLog,
    CalibrationJob,
    Certificate,
    ContentTag,
    Enrolment,
    Exam,
    ExamKind,
    ImportDraft,
    IrtModel,
    Item,
    ItemEnemy,
    ItemExposure,
    ItemImage,
    ItemParameters,
    ItemStatus,
    JobState,
    LoginAttempt,
    Materi,
    Participant,
    Program,
    ProgramLogo,
    ProgramSettings,
    Response,
    ServiceToken,
    ServiceTokenUse,
    StaffRole,
    StaffUser,
)
from item_bank.models.item import validate_item_fields  # noqa: F401
from item_bank.models.limits import int_range, max_length, text_problem  # noqa: F401
from item_bank.policy import invigilation
from item_bank.security import (  # noqa: F401
    hash_password,
    hash_token,
    new_token,
    password_problem,
    verify_password,
)

__all__ = ["policy", "make_engine", "Engine"]


def service_token(session: Session, token: str) -> ServiceToken | None:
    """The row of a bearer token that is not revoked, its use noted (to the minute); None for
    any other string."""
    row = session.scalar(select(ServiceToken).where(ServiceToken.token_hash == hash_token(token)))
    if row is None or row.revoked_at is not None:
        return None
    accounts.record_token_use(session, row.id)
    return row


@functools.cache
def _dummy_hash() -> str:
    return hash_password("not-a-real-password-0")


def _check(stored: str | None, password: str) -> bool:
    # An unknown account is checked against a dummy hash so that it takes as long as a wrong
    # password: response time does not tell which NIPs exist.
    ok = verify_password(stored or _dummy_hash(), password)
    return ok and stored is not None


def authenticate_participant(session: Session, nip: str, password: str) -> Participant | None:
    participant = session.scalar(select(Participant).where(Participant.nip == nip))
    ok = _check(participant.password_hash if participant else None, password)
    return participant if ok else None


def authenticate_staff(session: Session, username: str, password: str) -> StaffUser | None:
    user = session.scalar(select(StaffUser).where(StaffUser.username == username))
    ok = _check(user.password_hash if user else None, password)
    return user if ok else None


def get_participant(session: Session, participant_id: int) -> Participant:
    participant = session.get(Participant, participant_id)
    if participant is None:
        raise NotFound("participant_not_found")
    return participant


def participant_json(participant: Participant) -> dict[str, Any]:
    return {"id": participant.id, "nip": participant.nip, "name": participant.name,
            "unit": participant.unit}




def participant_programs(session: Session, *, participant_id: int,
                         now: dt.datetime | None = None) -> list[Any]:
    """The program status of every program the participant is enrolled in (an archived one
    is hidden)."""
    program_ids = session.scalars(
        select(Enrolment.program_id)
        .join(Program, Program.id == Enrolment.program_id)
        .where(Enrolment.participant_id == participant_id, Program.archived_at.is_(None))
        .order_by(Enrolment.program_id)).all()
    return [policy.program_status(session, participant_id=participant_id, program_id=pid,
                                  now=now)
            for pid in program_ids]


def _certificate_record(cert: Certificate) -> dict[str, Any]:
    return {"number": cert.number, "nip": cert.participant.nip, "name": cert.participant.name,
            "program": cert.program.code, "program_name": cert.program.name,
            "route": cert.route.value, "score": round(cert.score, 2),
            "issued_at": cert.issued_at.isoformat(), "attempt_id": cert.attempt_id}


def certificates_page(session: Session, *, since: tuple[dt.datetime, int] | None, limit: int,
                      settle_seconds: float) -> tuple[list[dict[str, Any]], tuple[str, int] | None]:
    """Certificates strictly after the cursor ``(issued_at, id)``, oldest first.

    Only rows issued at least ``settle_seconds`` ago on the database clock are returned
    (see :mod:`server.api.certificates`).  Returns the records and the new cursor position.
    """
    horizon = db_now(session) - dt.timedelta(seconds=settle_seconds)
    stmt = select(Certificate).where(Certificate.issued_at <= horizon)
    if since is not None:
        at = since[0]
        stmt = stmt.where((Certificate.issued_at > at)
                          | ((Certificate.issued_at == at) & (Certificate.id > since[1])))
    rows = session.scalars(stmt.order_by(Certificate.issued_at, Certificate.id).limit(limit)).all()
    last = (rows[-1].issued_at.isoformat(), rows[-1].id) if rows else None
    return [_certificate_record(c) for c in rows], last


def _certificate_row(session: Session, number: str) -> Certificate | None:
    return session.scalar(select(Certificate).where(Certificate.number == number))


def find_certificate(session: Session, number: str) -> dict[str, Any] | None:
    """The certificate as the certification API sends it (``issued_at`` in ISO 8601, UTC)."""
    cert = _certificate_row(session, number)
    return _certificate_record(cert) if cert else None


@dataclass(frozen=True)
class CertificateDocument:
    """What the holder's certificate shows (the printable page and the PDF): the holder, the
    program and its agency, route, score, the moment of issue with the program's time zone
    (the date is written in that zone: issued at 06:17 WIB on 2 December is 2 December,
    whatever UTC says), the signature block and whether the program has a logo.  Nothing
    about items, keys or parameters."""

    number: str
    nip: str
    name: str
    program_id: int
    program_name: str
    route: str
    score: float
    issued_at: dt.datetime
    timezone: str
    agency_name: str
    signatory: str
    signatory_title: str
    place: str
    has_logo: bool


def certificate_document(session: Session, number: str) -> CertificateDocument | None:
    """The certificate ``number`` for its page and PDF, or None for an unknown number."""
    cert = _certificate_row(session, number)
    if cert is None:
        return None
    program = cert.program
    settings = program.settings
    has_logo = session.scalar(select(ProgramLogo.program_id)
                              .where(ProgramLogo.program_id == program.id)) is not None
    return CertificateDocument(
        number=cert.number, nip=cert.participant.nip, name=cert.participant.name,
        program_id=program.id, program_name=program.name, route=cert.route.value,
        score=round(cert.score, 2), issued_at=cert.issued_at, timezone=settings.timezone,
        agency_name=settings.agency_name, signatory=settings.certificate_signatory,
        signatory_title=settings.certificate_signatory_title, place=settings.certificate_place,
        has_logo=has_logo)


def presented_image(session: Session, *, participant_id: int, attempt_id: int, item_id: int,
                    position: int) -> ItemImage | None:
    """Image ``position`` of an item put in front of the participant in their running
    attempt, or None: an image is never served outside the exam that shows it, nor to
    anyone else (their attempt and item are "not found")."""
    return session.scalar(
        select(ItemImage)
        .join(Response, Response.item_id == ItemImage.item_id)
        .join(Attempt, Attempt.id == Response.attempt_id)
        .where(Attempt.id == attempt_id, Attempt.participant_id == participant_id,
               Attempt.state == AttemptState.STARTED, Response.item_id == item_id,
               ItemImage.position == position))


def holders_certificate(session: Session, number: str,
                        participant_id: int) -> CertificateDocument:
    """:func:`certificate_document` for its holder only: NotFound for an unknown number and
    for anyone else's certificate alike (no IDOR: another's is simply not there)."""
    document = certificate_document(session, number)
    participant = session.get(Participant, participant_id)
    if document is None or participant is None or document.nip != participant.nip:
        raise NotFound("certificate_not_found", number=number)
    return document


def program_logo(session: Session, program_id: int) -> ProgramLogo | None:
    """The program's logo (the re-encoded PNG), or None."""
    return session.get(ProgramLogo, program_id)


# Shown of a NIP on the public verification page: enough to match the holder's ID card, while
# the birth date and appointment month (the first 14 digits) stay private.
NIP_DIGITS_SHOWN = 4


def public_certificate(session: Session, number: str) -> dict[str, Any] | None:
    """What anyone may see of a certificate (``/verify``): holder's name, program, agency,
    route, date (``issued_at`` with the program's ``timezone``, for the page to write the day
    of that zone), score and the NIP masked but for its last digits; None for an unknown
    number."""
    document = certificate_document(session, number)
    if document is None:
        return None
    nip = document.nip
    return {"number": document.number, "name": document.name,
            "program_name": document.program_name, "agency_name": document.agency_name,
            "route": document.route, "issued_at": document.issued_at,
            "timezone": document.timezone, "score": document.score,
            "nip_masked": "*" * (len(nip) - NIP_DIGITS_SHOWN) + nip[-NIP_DIGITS_SHOWN:]}


def certificate_json(session: Session, number: str) -> dict[str, Any]:
    record = find_certificate(session, number)
    if record is None:
        raise NotFound("certificate_not_found", number=number)
    return record


# --- staff pages ---------------------------------------------------------------------------
ITEMS_PER_PAGE = item_search.PER_PAGE
ITEM_SORT_KEYS = item_search.SORT_KEYS
ItemQuery = item_search.ItemQuery
search_items = item_search.search_items
item_report = item_stats.item_report
item_curves = item_stats.item_curves
item_exposure = item_stats.item_exposure


def program_overview(session: Session, program_id: int) -> dict[str, Any]:
    return {
        "materi": session.scalars(select(Materi).where(Materi.program_id == program_id)
                                  .order_by(Materi.id)).all(),
        "exams": session.scalars(select(Exam).where(Exam.program_id == program_id)
                                 .order_by(Exam.id)).all(),
        "assignments": session.scalars(select(Assignment).where(
            Assignment.program_id == program_id).order_by(Assignment.id)).all(),
        "participants": session.scalars(
            select(Participant).join(Enrolment, Enrolment.participant_id == Participant.id)
            .where(Enrolment.program_id == program_id).order_by(Participant.nip)).all(),
    }


ROSTER_COLUMNS = ("nip", "name", "unit", "password")


def roster_problems(rows: Sequence[tuple[str, str, str, str]],
                    lines: Sequence[int] | None = None, *,
                    place: str = "on line") -> list[tuple[int, str]]:
    """Every bad ``(nip, name, unit, password)`` row as ``(line, reason)``: the roster's
    rules (:func:`item_bank.admin.check_roster`) and a password too short to be one."""
    problems = ib_admin.check_roster([row[:3] for row in rows], lines, place=place)[1]
    for index, (_nip, _name, _unit, password) in enumerate(rows):
        problem = password_problem(password) if password else None
        if problem is not None:
            problems.append((lines[index] if lines is not None else index + 1, problem))
    return sorted(problems, key=lambda problem: problem[0])


def enrol_roster(session: Session, *, program_id: int,
                 rows: Sequence[tuple[str, str, str, str]], lines: Sequence[int] | None = None,
                 source: str = "roster", place: str = "on line",
                 keep_passwords: bool = False) -> int:
    """Register (or update the name and unit of) and enrol every ``(nip, name, unit,
    password)`` row in the program, or nobody; an empty password leaves the password as it is,
    and so does any password with ``keep_passwords`` for a participant who has one (the
    administration API only gives a first password: a token must not take over an account).

    Every bad row (:func:`roster_problems`) is named in one ImportRejected (a ValueError)
    and nothing is stored; :func:`item_bank.admin.bulk_enrol` stores all rows or none.  It
    takes no passwords: those are set right after it, in a second transaction; should that
    one fail, importing the same rows again completes it.  Returns the number of
    participants.
    """
    problems = roster_problems(rows, lines, place=place)
    if problems:
        raise ib_admin.ImportRejected(source, problems)
    count = ib_admin.bulk_enrol(session, program_id=program_id,
                                rows=[(nip, name, unit) for nip, name, unit, _p in rows],
                                lines=lines, source=source, place=place)
    # Hashed only now: argon2 takes a good fraction of a second per password, and a file with
    # a bad row should be refused at once, not after hashing every password in it.
    passwords = {nip.strip(): password for nip, _n, _u, password in rows if password}
    if passwords:
        accounts.set_passwords(session, passwords, keep_existing=keep_passwords)
    return count


def read_csv(text: str, columns: Sequence[str], required: Sequence[str], *,
             headerless: bool = False) -> tuple[list[tuple[str, ...]], list[int]]:
    """The rows of a CSV upload as tuples in the order of ``columns`` (stripped; a missing
    column is ""), and the line of each.  The header names the columns (any order, any case;
    ``required`` ones present, no others); with ``headerless``, a file whose first line is
    not such a header is read as ``columns`` by position, each row as long as it is (the
    caller counts its fields).  InvalidInput ``csv_header`` / ``csv_unreadable`` otherwise."""
    reader = csv.reader(io.StringIO(text))
    rows: list[tuple[str, ...]] = []
    lines: list[int] = []
    try:
        first = next(reader, [])
        header = [(h or "").strip().lower() for h in first]
        named = set(required) <= set(header) and not set(header) - set(columns)
        if not named and not headerless:
            raise InvalidInput("csv_header", columns=",".join(columns),
                               header=",".join(header)[:200] or "-")
        if not named and any(cell.strip() for cell in first):
            rows.append(tuple(cell.strip() for cell in first))
            lines.append(reader.line_num)
        for record in reader:
            if not any(cell.strip() for cell in record):
                continue  # a blank line (a file's last newline, a gap) names nobody
            if named:
                values = dict(zip(header, (c.strip() for c in record), strict=False))
                rows.append(tuple(values.get(column, "") for column in columns))
            else:
                rows.append(tuple(cell.strip() for cell in record))
            lines.append(reader.line_num)
    except csv.Error as exc:
        raise InvalidInput("csv_unreadable", line=reader.line_num, detail=str(exc)) from exc
    return rows, lines


def import_roster(session: Session, program_id: int, text: str) -> int:
    """:func:`enrol_roster` of a CSV with the header ``nip,name[,unit][,password]``; a
    ValueError names the bad lines of the file (nothing is stored then)."""
    rows, lines = read_csv(text, ROSTER_COLUMNS, ("nip", "name"))
    return enrol_roster(session, program_id=program_id, rows=rows, lines=lines)


def mark_assignment_done(session: Session, *, program_id: int, assignment_id: int, nip: str,
                         marked_by: str) -> None:
    """Mark the assignment done for an enrolled NIP (item_bank.admin does the write)."""
    assignment = session.get(Assignment, assignment_id)
    if assignment is None or assignment.program_id != program_id:
        raise NotFound("assignment_not_found", assignment=assignment_id)
    participant_id = ib_admin.enrolled_participant_ids(session, program_id, [nip]).get(nip)
    if participant_id is None:
        raise NotFound("nip_not_enrolled", nip=nip)
    ib_admin.mark_assignment_done(session, assignment_id=assignment_id,
                                  participant_id=participant_id, marked_by=marked_by)


def live_attempts(session: Session, now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Running attempts with the seconds left at ``now`` (None: the database clock), their
    program and exam, the program's time zone and the minutes they were extended by."""
    now = db_now(session) if now is None else now
    answered = (select(func.count(Response.id))
                .where(Response.attempt_id == Attempt.id, Response.choice.is_not(None))
                .scalar_subquery())
    extended = invigilation.extended_seconds_query(Attempt.id).scalar_subquery()
    rows = session.execute(
        select(Attempt, Participant, Exam, Program, answered, extended)
        .join(Participant, Participant.id == Attempt.participant_id)
        .join(Exam, Exam.id == Attempt.exam_id)
        .join(Program, Program.id == Attempt.program_id)
        .where(Attempt.state == AttemptState.STARTED).order_by(Attempt.deadline)).all()
    return [{"attempt_id": a.id, "nip": p.nip, "name": p.name, "exam": e.title or e.code,
             "exam_code": e.code, "program": g.code, "program_name": g.name,
             "timezone": g.settings.timezone, "started_at": a.started_at,
             "deadline": a.deadline, "answered": n, "extended_minutes": int(x) // 60,
             "seconds_left": max(0, int((a.deadline - now).total_seconds()))}
            for a, p, e, g, n, x in rows]


create_service_token = ib_admin.create_service_token
revoke_service_token = ib_admin.revoke_service_token


# --- calibration (writer pages) ------------------------------------------------------------
CALIBRATION_MODELS = tuple(calibration_source.BANK_MODEL)
calibration_run = calibration_source.calibration_run
recent_calibration_runs = calibration_source.recent_runs
accept_calibration = calibration_source.accept_run
pretest_readiness = calibration_source.pretest_readiness
calibration_due = calibration_source.calibration_due


def leak_monitor(session: Session, *, program_id: int, q: float = LEAK_Q) -> list[dict]:
    """The program's operational items tested for leaks and drift against the model on their
    live answers (calibration.leaks, FDR ``q`` over the bank), most suspect first: code, id,
    answers, window, share right there against the model's prediction, Z, p-value, flagged."""
    data = calibration_source.monitored_answers(session, program_id=program_id)
    tests = leak_scan(data.item_ids, data.attempts, data.correct, data.a, data.b, data.c, q=q)
    return [{**vars(t), "code": data.codes[t.item]} for t in tests]


claim_calibration_job = calibration_source.claim_job
finish_calibration_job = calibration_source.finish_job
calibration_job = calibration_source.calibration_job


def queue_calibration(session: Session, *, program_id: int, materi_id: int | None, model: str,
                      actor: str) -> int:
    """Ask for a calibration of the program's (or materi's) logged answers: a job that a
    background worker runs (server/jobs.py); returns its id."""
    return calibration_source.queue_job(session, program_id=program_id, materi_id=materi_id,
                                        model=model, actor=actor, models=CALIBRATION_MODELS)


def run_calibration(session: Session, *, program_id: int, materi_id: int | None, model: str,
                    actor: str) -> int:
    """Calibrate the logged responses of a program (or one of its materi) and record the run.

    Pretest items are estimated, operational items are held at their bank values as anchors
    (fixed-parameter linking, :func:`calibration.calibrate`), so the estimates land on the
    bank's scale; without any operational item in the data they are on the scale of this
    group (θ ~ N(0, 1)).  InvalidInput for an unknown model, no pretest item answered, or
    data the calibration cannot use.  Returns the run id.
    """
    if model not in CALIBRATION_MODELS:
        raise InvalidInput("unknown_model", model=model,
                           models=", ".join(CALIBRATION_MODELS))
    logged = calibration_source.logged_responses(session, program_id=program_id,
                                                 materi_id=materi_id)
    if not logged.pretest_ids:
        raise InvalidInput("nothing_to_calibrate")
    try:
        result = calibrate(ResponseData.from_long(logged.persons, logged.items, logged.correct),
                           model, anchors=logged.anchors or None)
    except ValueError as exc:
        raise InvalidInput("calibration_failed", detail=str(exc)) from exc
    return calibration_source.record_run(
        session, actor=actor, program_id=program_id, materi_id=materi_id, model=model,
        records=result.to_records(), summary=result.summary())
