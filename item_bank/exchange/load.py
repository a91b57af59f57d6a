"""Question files into a program's materi, all or none, with a preview first.

:func:`plan_import` reads a file in one of :data:`FORMATS` and says, for every question,
what would be stored (its id, content tag, status, images) or why it is refused, without
writing anything; :func:`import_file` stores the plan's items only when nothing is refused.
The browser's preview keeps the uploaded bytes as an :class:`ImportDraft` until the writer
confirms (:func:`save_draft`, :func:`import_draft`).

Mapping: the question's category (Moodle's category path, GIFT's ``$CATEGORY``, our QTI
metadata) names the content tag by its last level: an existing tag of the materi with that
code or name, else a new tag; a category equal to the materi's own code, or none, gives no
tag.  The item id is the file's own (Moodle ``idnumber``, QTI identifier) or, where the file
has none, the materi's code and a hash of the question's text, so the same question imported
twice is refused as already there rather than stored twice.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Callable, Collection

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from ..admin import ImportRejected, get_program, new_item
from ..db import db_now
from ..models import (
    AuditLog,
    ContentTag,
    ImportDraft,
    Item,
    ItemImage,
    ItemStatus,
    Materi,
    Program,
    entry_status,
)
from ..tx import transactional
from .aiken_gift import read_aiken, read_gift
from .base import ExchangeError, Parsed, ParsedItem
from .moodle import read_moodle_xml
from .qti import read_qti

FORMATS: dict[str, Callable[[bytes, str], Parsed]] = {
    "moodle": read_moodle_xml, "gift": read_gift, "aiken": read_aiken, "qti": read_qti}
FORMAT_NAMES = {"moodle": "Moodle XML", "gift": "GIFT", "aiken": "Aiken",
                "qti": "QTI 2.1/2.2/3.0"}
# An upload waiting for the writer's confirmation is kept this long.
DRAFT_LIFETIME = dt.timedelta(hours=1)
_TAG_CODE = re.compile(r"[^A-Z0-9]+")


@dataclasses.dataclass(frozen=True)
class PlannedItem:
    """What one question of the file becomes: the question as read, and its id, content tag
    and status in the bank."""

    source: ParsedItem
    code: str
    tag: str | None  # the content tag's code
    new_tag: bool  # the tag does not exist yet and is created with the items
    status: ItemStatus

    # As the preview shows them: the question's own fields.
    position = property(lambda self: self.source.position)
    name = property(lambda self: self.source.name)
    stem = property(lambda self: self.source.stem)
    options = property(lambda self: self.source.options)
    key = property(lambda self: self.source.key)
    images = property(lambda self: len(self.source.images))


@dataclasses.dataclass(frozen=True)
class ImportPlan:
    """The preview of an import: the items it would store and every refused question."""

    program: str
    materi: str
    format: str
    filename: str
    items: tuple[PlannedItem, ...]
    problems: tuple[tuple[int, str], ...]  # (position, "name: reason")

    @property
    def new_tags(self) -> list[str]:
        return sorted({i.tag for i in self.items if i.new_tag and i.tag})


def parse_file(data: bytes, filename: str, fmt: str) -> Parsed:
    """The file read as ``fmt``; ValueError for an unknown format, ExchangeError (a
    ValueError) for a file that is not of it or is unsafe."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r} (use {', '.join(FORMATS)})")
    return FORMATS[fmt](data, filename)


def _tag_code(category: str) -> str:
    return _TAG_CODE.sub("-", category.upper()).strip("-")[:40] or "TAG"


def _generated_code(materi: Materi, item: ParsedItem) -> str:
    digest = hashlib.sha256("\x1f".join((item.stem, *item.options)).encode()).hexdigest()
    return f"{materi.code}-{digest[:10]}"


def _materi(session: Session, program: Program, code: str) -> Materi:
    materi = session.scalar(select(Materi).where(Materi.program_id == program.id,
                                                 Materi.code == code))
    if materi is None:
        known = ", ".join(session.scalars(select(Materi.code).where(
            Materi.program_id == program.id).order_by(Materi.code))) or "none"
        raise ValueError(f"unknown materi {code!r} (program has: {known})")
    return materi


def plan_import(session: Session, data: bytes, *, filename: str, fmt: str, program_code: str,
                materi_code: str, as_pretest: bool = False) -> ImportPlan:
    """Read the file and say what importing it would store; writes nothing.

    ``as_pretest``: questions that carry a and b enter as pretest instead of draft (the
    writer's choice; our own QTI and Moodle exports carry them).
    """
    program = get_program(session, program_code)
    return _plan(session, program, _materi(session, program, materi_code),
                 parse_file(data, filename, fmt), filename=filename, fmt=fmt,
                 as_pretest=as_pretest)


def _plan(session: Session, program: Program, materi: Materi, parsed: Parsed, *,
          filename: str, fmt: str, as_pretest: bool) -> ImportPlan:
    tags = list(session.scalars(select(ContentTag).where(ContentTag.materi_id == materi.id)))
    existing = set(session.scalars(select(Item.code).where(Item.program_id == program.id)))
    problems = [(r.position, f"{r.name}: {r.reason}") for r in parsed.refusals]
    planned: list[PlannedItem] = []
    seen: dict[str, int] = {}
    for item in parsed.items:
        code = (item.code or "").strip() or _generated_code(materi, item)
        tag, new_tag = _tag_for(item.category, materi, tags)
        try:
            status = entry_status(
                ItemStatus.PRETEST.value if as_pretest and item.a is not None
                and item.b is not None else None,
                a=item.a, b=item.b, allow_operational=False, allow_pretest=as_pretest)
            # The same checks as every new item (options, key, parameters, lengths).
            new_item(program, materi, code=code, stem=item.stem, options=list(item.options),
                     key=item.key, model=item.model or "2pl", a=item.a, b=item.b, c=item.c,
                     status=status)
            if code in seen:
                raise ValueError(f"id {code!r} again (also question {seen[code]})")
            if code in existing:
                raise ValueError(f"item id {code!r} already exists in program {program.code}")
        except ValueError as exc:
            problems.append((item.position, f"{item.name}: {exc}"))
            continue
        seen[code] = item.position
        planned.append(PlannedItem(source=item, code=code, tag=tag, new_tag=new_tag,
                                   status=status))
    return ImportPlan(program=program.code, materi=materi.code, format=fmt, filename=filename,
                      items=tuple(planned), problems=tuple(sorted(problems)))


def _tag_for(category: str | None, materi: Materi,
             tags: list[ContentTag]) -> tuple[str | None, bool]:
    """(content tag code, whether it is new) for a question's category."""
    if not category or not category.strip() or category.strip().lower() == materi.code.lower():
        return None, False
    wanted = category.strip()
    for tag in tags:
        if wanted.lower() in (tag.code.lower(), (tag.name or "").lower()):
            return tag.code, False
    code = _tag_code(wanted)
    return code, not any(t.code == code for t in tags)


@transactional
def import_file(session: Session, data: bytes, *, filename: str, fmt: str, program_code: str,
                materi_code: str, actor: str, as_pretest: bool = False) -> ImportPlan:
    """Store every question of the file as a new item of the materi, or nothing.

    ImportRejected (a ValueError) names every refused question with its position and why;
    ExchangeError an unusable file.  Each item records its source and gets an
    ``item_imported`` audit entry; new content tags are created with the items.
    """
    return _store(session, data, filename=filename, fmt=fmt, program_code=program_code,
                  materi_code=materi_code, actor=actor, as_pretest=as_pretest)


def _store(session: Session, data: bytes, *, filename: str, fmt: str, program_code: str,
           materi_code: str, actor: str, as_pretest: bool) -> ImportPlan:
    program = get_program(session, program_code)
    materi = _materi(session, program, materi_code)
    plan = _plan(session, program, materi, parse_file(data, filename, fmt), filename=filename,
                 fmt=fmt, as_pretest=as_pretest)
    if plan.problems:
        raise ImportRejected(filename, [(position, f"question {position}: {reason}")
                                        for position, reason in plan.problems])
    if not plan.items:
        raise ExchangeError(f"{filename} holds no question")
    tags = {t.code: t for t in session.scalars(
        select(ContentTag).where(ContentTag.materi_id == materi.id))}
    for code in plan.new_tags:
        name = next(i.source.category for i in plan.items if i.tag == code)
        tags[code] = ContentTag(materi_id=materi.id, code=code, name=(name or code)[:200])
        session.add(tags[code])
    session.flush()
    for planned in plan.items:
        source = planned.source
        item = new_item(program, materi, code=planned.code, stem=source.stem,
                        options=list(source.options), key=source.key,
                        model=source.model or "2pl", a=source.a, b=source.b, c=source.c,
                        status=planned.status, content_tag=tags.get(planned.tag or ""),
                        author=actor)
        item.source = (f"{FORMAT_NAMES[fmt]}: {filename}, question {planned.position} "
                       f"{source.name!r}")[:300]
        item.image_count = len(source.images)
        session.add(item)
        session.flush()
        session.add_all(ItemImage(item_id=item.id, position=n, name=image.name[:120],
                                  media_type=image.media_type, data=image.data)
                        for n, image in enumerate(source.images, 1))
        session.add(AuditLog(actor=actor, action="item_imported", subject=f"item:{item.code}",
                             details={"program": program.code, "status": item.status.value,
                                      "question": planned.position, "file": filename,
                                      "format": fmt}))
    session.add(AuditLog(actor=actor, action="items_imported", subject=f"program:{program.code}",
                         details={"count": len(plan.items), "file": filename, "format": fmt,
                                  "materi": materi.code}))
    return plan


# ---------------------------------------------------------------- the browser's preview


@transactional
def save_draft(session: Session, data: bytes, *, filename: str, fmt: str, program_id: int,
               materi_id: int | None, actor: str, as_pretest: bool = False,
               allow_operational: bool = False, now: dt.datetime | None = None) -> str:
    """Keep an upload until the writer confirms it; its token.  Drafts older than
    DRAFT_LIFETIME are deleted on the way, and so is the writer's previous draft: one upload
    waits per writer (at most a 16 MB body each), so the table cannot be filled.  The
    question files of other tools and the CSV/JSON item files (``materi_id`` None,
    :mod:`item_bank.item_file`) wait here alike.  ``now``: the database clock when None."""
    now = now or db_now(session)
    session.execute(delete(ImportDraft).where(or_(
        ImportDraft.created_at < now - DRAFT_LIFETIME, ImportDraft.actor == actor)))
    token = secrets.token_urlsafe(32)
    session.add(ImportDraft(token=token, program_id=program_id, materi_id=materi_id,
                            actor=actor, format=fmt, filename=filename[:200],
                            as_pretest=as_pretest, allow_operational=allow_operational,
                            data=data, created_at=now))
    return token


def load_draft(session: Session, token: str, *, now: dt.datetime | None = None,
               lock: bool = False) -> ImportDraft | None:
    """The draft under ``token`` while it is fresh (by the database clock when ``now`` is
    None), else None.  The token (256 random bits, shown only on the uploader's preview page)
    is what entitles a confirmation."""
    draft = session.get(ImportDraft, token, with_for_update=lock, populate_existing=lock)
    now = now or db_now(session)
    if draft is None or draft.created_at < now - DRAFT_LIFETIME:
        return None
    return draft


def take_draft(session: Session, token: str, *, formats: Collection[str],
               now: dt.datetime | None = None) -> ImportDraft:
    """The fresh draft under ``token`` of one of ``formats``, deleted from the table (the
    caller's transaction imports it or rolls the deletion back); LookupError when it is gone,
    expired or of another kind of import."""
    # Locked: of two confirmations at once the second waits and finds the draft gone.
    draft = load_draft(session, token, now=now, lock=True)
    if draft is None or draft.format not in formats:
        raise LookupError("import_draft_not_found")
    session.delete(draft)
    return draft


@transactional
def import_draft(session: Session, token: str, *, actor: str,
                 now: dt.datetime | None = None) -> ImportPlan:
    """Import the confirmed draft (read again: all or none) as ``actor`` and delete it;
    LookupError when it is gone."""
    draft = take_draft(session, token, formats=FORMATS, now=now)
    program = session.get(Program, draft.program_id)
    materi = session.get(Materi, draft.materi_id)
    return _store(session, draft.data, filename=draft.filename, fmt=draft.format,
                  program_code=program.code, materi_code=materi.code, actor=actor,
                  as_pretest=draft.as_pretest)
