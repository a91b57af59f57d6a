"""Administration helpers: programs, materi, exams, assignments, participants, items.

Used by the CLI, the server's admin pages and the tests.  Like the policy they validate input
(ValueError naming the problem) and each is one transaction (:mod:`item_bank.tx`).
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .db import db_now, lock_one
from .errors import InvalidInput, NotFound, Refusals
from .families import FAMILY_MAX
from .messages import Notice
from .models import (
    SERVICE_SCOPES,
    Assembly,
    Assignment,
    AssignmentCompletion,
    AuditLog,
    ContentTag,
    Enrolment,
    Exam,
    ExamKind,
    Item,
    ItemStatus,
    Materi,
    Participant,
    Program,
    ProgramLogo,
    ProgramSettings,
    ServiceToken,
    exam_slot,
    validate_item_fields,
    validate_nip,
)
from .models.limits import max_length
from .models.program import CERTIFICATE_TEXT_MAX, certificate_text_problem
from .pictures import PictureProblem, opened_picture
from .security import hash_password, hash_token, new_token
from .tx import transactional


def get_program(session: Session, code: str) -> Program:
    """The program with ``code``; ValueError "unknown program" otherwise."""
    program = session.scalar(select(Program).where(Program.code == code))
    if program is None:
        raise ValueError(f"unknown program {code!r}")
    return program


def program_by_id(session: Session, program_id: int) -> Program:
    """The program with ``program_id``, or NotFound ``program_not_found``."""
    program = session.get(Program, program_id)
    if program is None:
        raise NotFound("program_not_found")
    return program


@transactional
def create_program(session: Session, *, code: str, name: str,
                   settings: dict[str, Any] | None = None) -> Program:
    if not code or not code.strip():
        raise ValueError("program code must not be empty")
    code = checked_code(code)
    ProgramSettings.from_json(settings)  # validates
    if session.scalar(select(Program.id).where(Program.code == code)) is not None:
        raise ValueError(f"program {code!r} already exists")
    program = Program(code=code.strip(), name=name, settings_json=dict(settings or {}))
    session.add(program)
    session.add(AuditLog(actor="admin", action="program_created", subject=f"program:{code}"))
    session.flush()
    return program


@transactional
def add_materi(session: Session, program: Program, *, code: str, name: str,
               content_tags: list[str] = ()) -> Materi:
    code = checked_code(code)
    if session.scalar(select(Materi.id).where(Materi.program_id == program.id,
                                              Materi.code == code)) is not None:
        raise InvalidInput("code_taken", code=code)
    materi = Materi(program_id=program.id, code=code, name=name)
    session.add(materi)
    session.flush()
    for tag in content_tags:
        session.add(ContentTag(materi_id=materi.id, code=tag, name=tag))
    session.flush()
    return materi


# What one exam day can hold: a deadline beyond it (or a datetime overflow, seconds far past
# year 9999) and attempt or item counts no program uses are typing mistakes or attacks.
EXAM_BOUNDS = {"duration_s": (60, 86_400), "max_attempts": (1, 100),
               "min_items": (1, 1_000), "max_items": (1, 1_000),
               "waiting_period_s": (0, 366 * 86_400)}


@transactional
def add_exam(session: Session, program: Program, *, code: str, kind: ExamKind | str,
             materi: Materi | None = None, assembly: Assembly | str = Assembly.CAT,
             **fields: Any) -> Exam:
    """Create an exam window; ``fields`` are Exam columns (cut_score, max_items, ...).
    Refused with every problem of :func:`exam_problems` at once (:class:`Refusals`)."""
    kind = ExamKind(kind)
    check_exam_fields(fields)
    problems = exam_problems(session, program, code=code, kind=kind, materi=materi,
                             fields=fields)
    if problems:
        raise Refusals(problems)
    exam = Exam(program_id=program.id, code=checked_code(code), kind=kind,
                assembly=Assembly(assembly), materi_id=materi.id if materi else None, **fields)
    session.add(exam)
    session.flush()
    return exam


def check_exam_fields(fields: dict[str, Any]) -> None:
    """ValueError for a name that is no Exam column (a programming mistake, not a form's)."""
    unknown = set(fields) - set(Exam.__table__.columns.keys())
    if unknown:
        raise ValueError(f"unknown exam field(s): {', '.join(sorted(unknown))}")


# RULE: codes appear in addresses, file names and certificate numbers.
CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")


def checked_code(code: str) -> str:
    """``code`` stripped; InvalidInput ``code_refused`` for a space or any other character
    an address or a certificate number cannot carry as it is."""
    code = (code or "").strip()
    if not CODE.match(code):
        raise InvalidInput("code_refused", code=code)
    return code


def exam_problems(session: Session, program: Program, *, code: str, kind: ExamKind,
                  materi: Materi | None, fields: dict[str, Any], exam_id: int | None = None,
                  settings: ProgramSettings | None = None) -> list[Notice]:
    """Every reason to refuse the exam ``code`` with these settings in ``program``: a code an
    address cannot carry or already used, numbers out of bounds, and the settings SPEC.md's
    flow gives no meaning to, before the database's own checks (whose messages are not for
    people) could meet them.

    The one check of a new exam (:func:`add_exam`), an edited one (``exam_id``, which is not
    compared with itself), one brought back from the archive and, with the program's new
    ``settings``, every exam of a program whose settings change (item_bank.admin_edit).
    Archived exams are out of the flow: only a code stays taken by them.
    """
    problems: list[Notice] = []
    try:
        code = checked_code(code)
    except InvalidInput as refusal:
        problems.append(refusal.notice)
    if (kind == ExamKind.MATERI) != (materi is not None):
        problems.append(Notice("materi_exam_needs_materi"))
    for name, (low, high) in EXAM_BOUNDS.items():
        value = fields.get(name)
        if value is not None and not low <= value <= high:
            problems.append(Notice("exam_field_range", {"field": name, "low": low,
                                                        "high": high, "value": value}))
    cut = fields.get("cut_score")
    if cut is not None and not 0 <= cut <= 100:
        problems.append(Notice("cut_score_range", {"cut": cut}))
    low, high = fields.get("min_items"), fields.get("max_items")
    if low is not None and high is not None and low > high:
        problems.append(Notice("min_above_max", {"low": low, "high": high}))
    opens, closes = fields.get("window_opens_at"), fields.get("window_closes_at")
    if opens is not None and closes is not None and closes <= opens:
        problems.append(Notice("window_order"))
    others = [e for e in session.scalars(select(Exam).where(Exam.program_id == program.id)
                                         .order_by(Exam.id)) if e.id != exam_id]
    if any(e.code == code for e in others):
        problems.append(Notice("code_taken", {"code": code}))
    active = [e for e in others if e.archived_at is None]
    if kind == ExamKind.PRE_ASSESSMENT:
        # RULE: SPEC.md flow 1 — the pre-assessment once, exactly one attempt.
        if fields.get("max_attempts") not in (None, 1):
            problems.append(Notice("pre_assessment_one_attempt",
                                   {"attempts": fields["max_attempts"]}))
        other = next((e.code for e in active if e.kind == ExamKind.PRE_ASSESSMENT), None)
        if other is not None:
            problems.append(Notice("second_pre_assessment", {"exam": other}))
    if (kind == ExamKind.MATERI) != (materi is not None):
        return problems  # no slot to compare
    # RULE: the attempts of one slot (a materi's exams, the ujikom) are counted together: its
    # exams must agree on the attempt limit and the pass mark, or a participant would see
    # two counts for one limit.
    slot = exam_slot(kind, materi.id if materi else None)
    settings = program.settings if settings is None else settings
    defaults = {"max_attempts": {ExamKind.PRE_ASSESSMENT: 1,
                                 ExamKind.MATERI: settings.materi_max_attempts,
                                 ExamKind.UJIKOM: settings.ujikom_max_attempts}[kind],
                "cut_score": {ExamKind.PRE_ASSESSMENT: settings.pre_assessment_certificate_score,
                              ExamKind.MATERI: settings.materi_pass_score,
                              ExamKind.UJIKOM: settings.ujikom_pass_score}[kind]}
    for other in active:
        if other.slot != slot:
            continue
        for name, default in defaults.items():
            theirs = default if getattr(other, name) is None else getattr(other, name)
            ours = default if fields.get(name) is None else fields[name]
            if theirs != ours:
                problems.append(Notice("slot_settings_differ", {
                    "exam": other.code, "slot": materi.code if materi else kind.value,
                    "field": name, "theirs": theirs, "ours": ours}))
    return problems


@transactional
def add_assignment(session: Session, program: Program, *, code: str, title: str = "") -> Assignment:
    code = checked_code(code)
    if session.scalar(select(Assignment.id).where(Assignment.program_id == program.id,
                                                  Assignment.code == code)) is not None:
        raise InvalidInput("code_taken", code=code)
    assignment = Assignment(program_id=program.id, code=code, title=title or code)
    session.add(assignment)
    session.flush()
    return assignment


def enrolled_participant_ids(session: Session, program_id: int,
                             nips: Iterable[str]) -> dict[str, int]:
    """The participant id of each of ``nips`` enrolled in the program (others left out)."""
    return dict(session.execute(
        select(Participant.nip, Participant.id)
        .join(Enrolment, Enrolment.participant_id == Participant.id)
        .where(Enrolment.program_id == program_id, Participant.nip.in_(list(set(nips))))).all())


def _mark_done(session: Session, assignment_id: int, participant_id: int,
               marked_by: str) -> tuple[AssignmentCompletion, bool]:
    """The completion, and whether it is new: marking twice keeps the first one."""
    existing = session.scalar(select(AssignmentCompletion).where(
        AssignmentCompletion.assignment_id == assignment_id,
        AssignmentCompletion.participant_id == participant_id))
    if existing is not None:
        return existing, False
    done = AssignmentCompletion(assignment_id=assignment_id, participant_id=participant_id,
                                marked_by=marked_by)
    session.add(done)
    session.add(AuditLog(actor=marked_by, action="assignment_done",
                         subject=f"assignment:{assignment_id}",
                         details={"participant": participant_id}))
    session.flush()
    return done, True


@transactional
def mark_assignment_done(session: Session, *, assignment_id: int, participant_id: int,
                         marked_by: str = "admin") -> AssignmentCompletion:
    """Idempotent: marking twice keeps the first completion."""
    if session.get(Assignment, assignment_id) is None:
        raise ValueError(f"unknown assignment {assignment_id}")
    if session.get(Participant, participant_id) is None:
        raise ValueError(f"unknown participant {participant_id}")
    return _mark_done(session, assignment_id, participant_id, marked_by)[0]


def check_completions(session: Session, *, program_id: int,
                      rows: Sequence[tuple[str, int]], lines: Sequence[int] | None = None
                      ) -> tuple[dict[str, int], list[tuple[int, str]]]:
    """The participant id of each enrolled NIP of ``(nip, assignment_id)`` rows, and every bad
    row as ``(line, reason)``: a NIP not enrolled in the program, an assignment of another
    program or none.  ``rows[i]`` is line ``lines[i]`` (default ``i + 1``)."""
    assignments = set(session.scalars(select(Assignment.id).where(
        Assignment.program_id == program_id)))
    enrolled = enrolled_participant_ids(session, program_id, (nip for nip, _a in rows))
    problems = []
    for index, (nip, assignment_id) in enumerate(rows):
        line = lines[index] if lines is not None else index + 1
        if assignment_id not in assignments:
            problems.append((line, f"no assignment {assignment_id} in this program"))
        if nip not in enrolled:
            problems.append((line, f"NIP {nip} is not enrolled in this program"))
    return enrolled, problems


@transactional
def mark_assignments_done(session: Session, *, program_id: int,
                          rows: Sequence[tuple[str, int]], lines: Sequence[int] | None = None,
                          marked_by: str, source: str = "completions") -> int:
    """Mark every ``(nip, assignment_id)`` row done, in one transaction: all rows or none.

    Every bad row (:func:`check_completions`) is listed in one ImportRejected and nothing is
    stored.  Idempotent: a completion already stored (or a row twice) keeps the first one.
    Returns the number of completions stored now.
    """
    enrolled, problems = check_completions(session, program_id=program_id, rows=rows,
                                           lines=lines)
    if problems:
        raise ImportRejected(source, problems)
    return sum(_mark_done(session, assignment_id, enrolled[nip], marked_by)[1]
               for nip, assignment_id in dict.fromkeys(rows))


class ImportRejected(ValueError):
    """A rejected import: ``problems`` lists ``(line, reason)``; nothing was stored."""

    def __init__(self, source: str, problems: list[tuple[int, str]]) -> None:
        self.problems = problems
        shown = "; ".join(f"line {line}: {reason}" for line, reason in problems[:10])
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        super().__init__(f"{source}: {len(problems)} bad row(s), nothing imported: {shown}{more}")


def _person(nip: str, name: str, unit: str | None) -> tuple[str, str, str]:
    """(nip, name, unit) validated and stripped; ValueError naming the problem."""
    nip = validate_nip(nip)
    if not name or not str(name).strip():
        raise ValueError("participant name must not be empty")
    return nip, str(name).strip(), str(unit or "").strip()


@transactional
def register_participant(session: Session, *, nip: str, name: str, unit: str = "",
                         password: str | None = None) -> Participant:
    nip, name, unit = _person(nip, name, unit)
    participant = Participant(nip=nip, name=name, unit=unit,
                              password_hash=hash_password(password) if password else None)
    if session.scalar(select(Participant.id).where(Participant.nip == participant.nip)):
        raise ValueError(f"NIP {participant.nip} is already registered")
    session.add(participant)
    session.flush()
    return participant


def check_roster(rows: Iterable[Sequence[str]], lines: Sequence[int] | None = None, *,
                 place: str = "on line") -> tuple[dict[str, tuple[str, str]],
                                                 list[tuple[int, str]]]:
    """The people of ``(nip, name[, unit])`` rows by NIP, and every bad row as ``(line,
    reason)``: a NIP that is not 18 digits, an empty name, a NIP twice (its reason names
    the first ``place`` it was seen, e.g. "on line 2").  ``rows[i]`` is line ``lines[i]``
    (default ``i + 1``).  Nothing is read or stored."""
    problems: list[tuple[int, str]] = []
    first_seen: dict[str, int] = {}
    people: dict[str, tuple[str, str]] = {}
    for index, row in enumerate(rows):
        line = lines[index] if lines is not None else index + 1
        try:
            if not 2 <= len(row) <= 3:
                raise ValueError(f"expected nip,name,unit, got {len(row)} field(s)")
            nip, name, unit = _person(row[0], row[1], row[2] if len(row) > 2 else "")
            if nip in first_seen:
                raise ValueError(f"duplicate NIP {nip} (also {place} {first_seen[nip]})")
            first_seen[nip] = line
            people[nip] = (name, unit)
        except ValueError as exc:
            problems.append((line, str(exc)))
    return people, problems


@transactional
def bulk_enrol(session: Session, *, program_id: int, rows: Iterable[Sequence[str]],
               lines: Sequence[int] | None = None, source: str = "roster",
               place: str = "on line") -> int:
    """Register (or update the name and unit of) and enrol every ``(nip, name, unit)`` row in
    the program, in one transaction: all rows or none.  Returns the number of rows.

    Every bad row (:func:`check_roster`) is listed in one ImportRejected (a ValueError)
    and nothing is stored.
    Already enrolled participants stay enrolled once.
    """
    program = session.get(Program, program_id)
    if program is None:
        raise ValueError(f"unknown program {program_id}")
    people, problems = check_roster(list(rows), lines, place=place)
    if problems:
        raise ImportRejected(source, problems)
    if not people:
        raise ValueError(f"{source}: no participants")
    registered = {p.nip: p for p in session.scalars(
        select(Participant).where(Participant.nip.in_(list(people))))}
    for nip, (name, unit) in people.items():
        if nip in registered:
            registered[nip].name, registered[nip].unit = name, unit
        else:
            registered[nip] = Participant(nip=nip, name=name, unit=unit)
            session.add(registered[nip])
    session.flush()
    enrolled = set(session.scalars(select(Enrolment.participant_id).where(
        Enrolment.program_id == program.id)))
    session.add_all(Enrolment(participant_id=p.id, program_id=program.id)
                    for p in registered.values() if p.id not in enrolled)
    session.add(AuditLog(actor="import", action="participants_imported",
                         subject=f"program:{program.code}", details={"count": len(people)}))
    session.flush()
    return len(people)


@transactional
def set_participant_password(session: Session, *, participant_id: int, password: str) -> None:
    participant = session.get(Participant, participant_id)
    if participant is None:
        raise ValueError(f"unknown participant {participant_id}")
    participant.password_hash = hash_password(password)
    participant.session_version += 1  # a new password ends the sessions of the old one


def new_item(program: Program, materi: Materi, *, code: str, stem: str, options: list[str],
             key: int, model: str = "2pl", a: float | None = None, b: float | None = None,
             c: float | None = None, status: str = ItemStatus.DRAFT,
             content_tag: ContentTag | None = None, author: str = "",
             se: tuple[float | None, float | None, float | None] = (None, None, None),
             family: str = "") -> Item:
    """A validated, not yet added Item (ValueError names the first problem).  ``family`` is
    the template it is a variant of (item_bank.families: call ``refresh_families`` once the
    program's new items are flushed)."""
    if not code or not str(code).strip():
        raise ValueError("item id must not be empty")
    family = (family or "").strip()
    if len(family) > FAMILY_MAX:
        raise ValueError(f"item family must have at most {FAMILY_MAX} characters")
    if not stem or not stem.strip():
        raise ValueError("item stem must not be empty")
    validate_item_fields(options=options, key=key, model=model, a=a, b=b, c=c, status=status)
    if content_tag is not None and content_tag.materi_id != materi.id:
        raise ValueError(f"content tag {content_tag.code} belongs to another materi")
    return Item(program_id=program.id, materi_id=materi.id, code=str(code).strip(), stem=stem,
                options=list(options), key=key, model=model, a=a, b=b,
                c=c if c is not None else (None if a is None else 0.0), status=ItemStatus(status),
                content_tag_id=content_tag.id if content_tag else None, author=author,
                se_a=se[0], se_b=se[1], se_c=se[2], family=family)



@transactional
def create_service_token(session: Session, name: str, *, scopes: Iterable[str]) -> str:
    """A new bearer token for another system, named ``name`` and allowed ``scopes`` (of
    :data:`~item_bank.models.SERVICE_SCOPES`); returned once, stored hashed.

    Refused with InvalidInput ``token_refused`` whose ``problems`` are every Notice that
    applies: no name, a name too long or already used, no scope, an unknown scope.
    """
    name = (name or "").strip()
    chosen = list(dict.fromkeys(scopes))
    problems = []
    limit = max_length(ServiceToken.name)
    if not name:
        problems.append(Notice("token_name_empty"))
    elif limit is not None and len(name) > limit:
        problems.append(Notice("token_name_too_long", {"max": limit, "length": len(name)}))
    elif session.scalar(select(ServiceToken.id).where(ServiceToken.name == name)) is not None:
        problems.append(Notice("token_name_taken", {"name": name}))
    unknown = [scope for scope in chosen if scope not in SERVICE_SCOPES]
    if unknown:
        problems.append(Notice("token_scope_unknown", {"scope": ", ".join(unknown),
                                                       "scopes": ", ".join(SERVICE_SCOPES)}))
    elif not chosen:
        problems.append(Notice("token_scopes_missing"))
    if problems:
        raise InvalidInput("token_refused", problems=problems)
    token = new_token()
    session.add(ServiceToken(name=name, token_hash=hash_token(token),
                             scopes=[scope for scope in SERVICE_SCOPES if scope in chosen]))
    return token


@transactional
def revoke_service_token(session: Session, *, token_id: int, actor: str) -> ServiceToken:
    """Revoke a certification service token, with an audit entry naming ``actor``.

    From this commit on the token is refused: the server looks a token up on every request
    and keeps no list of valid ones.  Revoking a revoked token changes nothing (a second
    click, or two administrators at once: the row is locked, so one entry is written).
    """
    token = lock_one(session, ServiceToken, token_id)
    if token is None:
        raise NotFound("service_token_not_found", token=token_id)
    if token.revoked_at is None:
        token.revoked_at = db_now(session)
        session.add(AuditLog(actor=actor, action="service_token_revoked",
                             subject=f"service_token:{token.name}"))
        session.flush()
    return token


# --- the certificate: the agency's details and logo ----------------------------------------
# The form fields of set_certificate_details and the program settings they are stored in.
CERTIFICATE_FIELDS = {"agency_name": "agency_name", "signatory": "certificate_signatory",
                      "signatory_title": "certificate_signatory_title",
                      "place": "certificate_place"}


def certificate_details(**texts: str) -> dict[str, str]:
    """The certificate settings of ``texts`` (keys of :data:`CERTIFICATE_FIELDS`), stripped;
    InvalidInput ``certificate_text_too_long`` / ``certificate_text_control`` naming the
    setting otherwise."""
    settings = {}
    for field, value in texts.items():
        name = CERTIFICATE_FIELDS[field]
        value = str(value or "").strip()
        problem = certificate_text_problem(value)
        if problem is not None:
            if len(value) > CERTIFICATE_TEXT_MAX:
                raise InvalidInput("certificate_text_too_long", field=name,
                                   max=CERTIFICATE_TEXT_MAX, length=len(value))
            raise InvalidInput("certificate_text_control", field=name)
        settings[name] = value
    return settings


def _store_certificate_details(session: Session, program: Program, details: dict[str, str],
                               actor: str) -> None:
    program = lock_one(session, Program, program.id)  # no lost update of other settings
    settings = dict(program.settings_json or {})
    for name, value in details.items():
        if value:
            settings[name] = value
        else:
            settings.pop(name, None)  # the default: a blank line on the certificate
    ProgramSettings.from_json(settings)  # every setting still valid
    program.settings_json = settings
    session.add(AuditLog(actor=actor, action="certificate_details_set",
                         subject=f"program:{program.code}", details=details))
    session.flush()


@transactional
def set_certificate_details(session: Session, program: Program, *, agency_name: str,
                            signatory: str, signatory_title: str, place: str = "",
                            actor: str = "admin") -> None:
    """Set the agency and the signature block printed on the program's certificates (program
    settings ``agency_name``, ``certificate_signatory``, ``certificate_signatory_title``,
    ``certificate_place``); an empty text is a blank line to fill in by hand.  Refused
    (InvalidInput, nothing stored) for a text over 200 characters or with control
    characters.  An audit entry names ``actor``."""
    details = certificate_details(agency_name=agency_name, signatory=signatory,
                                  signatory_title=signatory_title, place=place)
    _store_certificate_details(session, program, details, actor)


# The logo: what an administrator may upload, and what is stored and printed.
LOGO_MAX_BYTES = 512 * 1024
LOGO_MAX_SIDE = 2000          # pixels, either side, of the upload
LOGO_STORED_SIDE = 800        # the stored PNG fits in this square (printed about 3 cm high)
LOGO_MEDIA_TYPE = "image/png"


@dataclass(frozen=True)
class Logo:
    """An accepted logo: the PNG to store and its size in pixels."""

    png: bytes
    width: int
    height: int


def logo_from_upload(data: bytes) -> Logo:
    """The logo an administrator uploaded, checked and re-encoded as PNG.

    Accepted: a PNG or JPEG of at most :data:`LOGO_MAX_BYTES` and :data:`LOGO_MAX_SIDE`
    pixels a side.  The type is the file's signature, never its name; the size declared in
    the header is checked before a single pixel is decoded (a decompression bomb, a small
    file declaring 20000 × 20000 pixels, is refused unread; Pillow's own bomb check stays as a
    second guard); then the whole image is decoded, so a truncated or damaged file is refused
    too.  What is stored is a new PNG made from the pixels alone (orientation applied, at most
    :data:`LOGO_STORED_SIDE` pixels a side): no metadata, comments or extra chunks of the
    upload, nothing that a browser or PDF reader could take for another format.  Refusals are
    InvalidInput ``logo_empty``, ``logo_too_large``, ``logo_not_image``,
    ``logo_too_many_pixels``.
    """
    from PIL import Image, ImageOps

    if not data:
        raise InvalidInput("logo_empty")
    if len(data) > LOGO_MAX_BYTES:
        raise InvalidInput("logo_too_large", max_kb=LOGO_MAX_BYTES // 1024,
                           size_kb=-(-len(data) // 1024))
    try:
        with opened_picture(data, max_side=LOGO_MAX_SIDE, formats=("PNG", "JPEG")) as image:
            image = ImageOps.exif_transpose(image)
            alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
            if image.mode.startswith("I") or image.mode == "F":
                image = image.convert("L")  # 16-bit and float greys: 8 bits are printed
            image = image.convert("RGBA" if alpha else "RGB")
            image.thumbnail((LOGO_STORED_SIDE, LOGO_STORED_SIDE), Image.Resampling.LANCZOS)
            out = io.BytesIO()
            image.save(out, "PNG", optimize=True)
            return Logo(png=out.getvalue(), width=image.width, height=image.height)
    except PictureProblem as problem:
        if problem.code == "too_many_pixels":
            raise InvalidInput("logo_too_many_pixels", width=problem.width,
                               height=problem.height, max=LOGO_MAX_SIDE) from None
        raise InvalidInput("logo_not_image") from problem


def _store_logo(session: Session, program: Program, logo: Logo, actor: str) -> None:
    program = lock_one(session, Program, program.id)  # one upload at a time per program
    now = db_now(session)
    row = session.get(ProgramLogo, program.id)
    if row is None:
        session.add(ProgramLogo(program_id=program.id, media_type=LOGO_MEDIA_TYPE,
                                data=logo.png, uploaded_at=now))
    else:
        row.media_type, row.data, row.uploaded_at = LOGO_MEDIA_TYPE, logo.png, now
    session.add(AuditLog(actor=actor, action="program_logo_set",
                         subject=f"program:{program.code}",
                         details={"sha256": hashlib.sha256(logo.png).hexdigest(),
                                  "bytes": len(logo.png), "width": logo.width,
                                  "height": logo.height}))
    session.flush()


@transactional
def set_program_logo(session: Session, program: Program, data: bytes, *,
                     actor: str = "admin") -> Logo:
    """Store the uploaded ``data`` as the program's certificate logo (see
    :func:`logo_from_upload`), replacing the one before; a refused upload changes nothing,
    the previous logo stays.  An audit entry names ``actor``."""
    logo = logo_from_upload(data)
    _store_logo(session, program, logo, actor)
    return logo


def _remove_logo(session: Session, program: Program, actor: str) -> None:
    program = lock_one(session, Program, program.id)
    row = session.get(ProgramLogo, program.id)
    if row is not None:
        session.delete(row)
        session.add(AuditLog(actor=actor, action="program_logo_removed",
                             subject=f"program:{program.code}"))
        session.flush()


@transactional
def remove_program_logo(session: Session, program: Program, *, actor: str = "admin") -> None:
    """The program's certificates are printed without a logo from now on."""
    _remove_logo(session, program, actor)


@transactional
def set_certificate(session: Session, program: Program, *, agency_name: str, signatory: str,
                    signatory_title: str, place: str = "", logo: bytes | None = None,
                    remove_logo: bool = False, actor: str = "admin") -> None:
    """The administrator's certificate form in one transaction: the texts of
    :func:`set_certificate_details` and, when ``logo`` is given, the logo of
    :func:`set_program_logo` (or, with ``remove_logo``, no logo).  Everything is checked
    before anything is stored: a refused text or logo leaves the texts and the logo as
    they were."""
    details = certificate_details(agency_name=agency_name, signatory=signatory,
                                  signatory_title=signatory_title, place=place)
    accepted = logo_from_upload(logo) if logo is not None else None
    _store_certificate_details(session, program, details, actor)
    if accepted is not None:
        _store_logo(session, program, accepted, actor)
    elif remove_logo:
        _remove_logo(session, program, actor)
