"""What question writers change: items, their status, a bank imported from a JSON export.

Each function is one transaction (:mod:`item_bank.tx`) and refuses bad input with a
ValueError naming the problem, before anything is stored.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .db import lock_one
from .errors import InvalidInput, NotFound
from .models import (
    AuditLog,
    IrtModel,
    Item,
    ItemStatus,
    Materi,
    Program,
    entry_status,
    validate_item_fields,
)
from .tx import transactional

# The fields of an item that the writer's editor and the JSON export carry.
ITEM_FIELDS = ("code", "stem", "options", "key", "a", "b", "c", "se_a", "se_b", "se_c")


def _set_content(item: Item, *, stem: str, options: list[str], key: int, model: str,
                 a: float | None, b: float | None, c: float | None) -> None:
    if not stem or not stem.strip():
        raise ValueError("item stem must not be empty")
    validate_item_fields(options=options, key=key, model=model, a=a, b=b, c=c,
                         status=item.status.value)
    item.stem, item.options, item.key = stem, list(options), key
    item.model, item.a, item.b, item.c = IrtModel(model), a, b, c


@transactional
def create_item(session: Session, *, materi_id: int, code: str, stem: str, options: list[str],
                key: int, model: str, a: float | None, b: float | None, c: float | None,
                author: str) -> Item:
    """A new draft item of the materi."""
    materi = session.get(Materi, materi_id)
    if materi is None:
        raise NotFound("materi_not_found", materi=materi_id)
    if not code or not code.strip():
        raise ValueError("item id must not be empty")
    item = Item(program_id=materi.program_id, materi_id=materi.id, code=code.strip(),
                status=ItemStatus.DRAFT, author=author)
    _set_content(item, stem=stem, options=options, key=key, model=model, a=a, b=b, c=c)
    session.add(item)
    session.flush()
    return item


def _item(session: Session, item_id: int) -> Item:
    item = session.get(Item, item_id)
    if item is None:
        raise NotFound("item_not_found", item=item_id)
    return item


@transactional
def update_item(session: Session, *, item_id: int, stem: str, options: list[str], key: int,
                model: str, a: float | None, b: float | None, c: float | None) -> Item:
    """New content for the item, as its next version."""
    item = _item(session, item_id)
    _set_content(item, stem=stem, options=options, key=key, model=model, a=a, b=b, c=c)
    item.version += 1
    return item


# A reason is what an auditor reads later (why a leaked or misfitting item left the bank):
# a few sentences, kept in the audit entry's JSON.
REASON_MAX = 500


def _reason(status: str, reason: str) -> str:
    """The stripped reason of a status change; retiring is permanent, so it needs one."""
    reason = reason.strip()
    if status == ItemStatus.RETIRED and not reason:
        raise InvalidInput("retire_reason_required")
    if len(reason) > REASON_MAX:
        raise InvalidInput("retire_reason_too_long", max=REASON_MAX, length=len(reason))
    return reason


def _move(session: Session, item: Item, status: str, actor: str, reason: str) -> None:
    before = item.status
    item.transition(status)
    session.add(AuditLog(actor=actor, action="item_status_changed", subject=f"item:{item.code}",
                         details={"item_id": item.id, "from": before.value,
                                  "to": item.status.value, "reason": reason}))


@transactional
def change_status(session: Session, *, item_id: int, status: str, actor: str,
                  reason: str = "") -> Item:
    """Move the item along its lifecycle (``ITEM_TRANSITIONS``; InvalidInput otherwise),
    with an audit entry naming ``actor`` and the reason (required for retiring)."""
    item = lock_one(session, Item, item_id)
    if item is None:
        raise NotFound("item_not_found", item=item_id)
    reason = _reason(status, reason)
    _move(session, item, status, actor, reason)
    return item


@transactional
def change_statuses(session: Session, *, item_ids: list[int], status: str, actor: str,
                    reason: str = "") -> list[Item]:
    """Move every chosen item to ``status``, all or none: InvalidInput names every item that
    cannot move (each with its own refusal) and nothing is changed.  One audit entry per
    item, as :func:`change_status`."""
    if not item_ids:
        raise InvalidInput("items_not_chosen")
    if status not in set(ItemStatus):
        raise InvalidInput("item_status_unknown", status=repr(status))
    reason = _reason(status, reason)
    items = []
    for item_id in sorted(set(item_ids)):  # in id order: two bulk changes never deadlock
        item = lock_one(session, Item, item_id)
        if item is None:
            raise NotFound("item_not_found", item=item_id)
        items.append(item)
    refused = tuple(r for item in items if (r := item.transition_refusal(status)) is not None)
    if refused:
        raise InvalidInput("items_status_refused", count=len(refused),
                           status=ItemStatus(status), refused=refused)
    for item in items:
        _move(session, item, status, actor, reason)
    return items


def item_record(item: Item) -> dict[str, Any]:
    """An item as exported (the staff export includes keys and parameters: staff only)."""
    record = {name: getattr(item, name) for name in ITEM_FIELDS}
    record.update(program=item.materi.program.code, materi=item.materi.code,
                  model=item.model.value, status=item.status.value, version=item.version,
                  author=item.author)
    return record


@transactional
def import_item_records(session: Session, records: list[Any], *, actor: str,
                        allow_operational: bool = False) -> int:
    """Create or update items from exported records, all or none; ValueError names the bad
    record.

    A new item enters as draft, or as operational with a and b when ``allow_operational``
    (:func:`item_bank.models.entry_status`); an existing item's status changes only along
    ``ITEM_TRANSITIONS``, as on the status route, and new content is its next version.  Each
    created or changed item gets an audit entry naming ``actor``.
    """
    count = 0
    for n, record in enumerate(records, 1):
        if not isinstance(record, dict):
            raise ValueError(f"record {n} is not an object")
        try:
            program = session.scalar(select(Program).where(Program.code == record["program"]))
            if program is None:
                raise ValueError(f"unknown program {record['program']!r}")
            materi = session.scalar(select(Materi).where(Materi.program_id == program.id,
                                                         Materi.code == record["materi"]))
            if materi is None:
                raise ValueError(f"unknown materi {record['materi']!r}")
            item = session.scalar(select(Item).where(Item.program_id == program.id,
                                                     Item.code == record["code"]))
            entry = _import_into(session, item, program, materi, record, actor,
                                 allow_operational)
        except (KeyError, TypeError) as exc:
            raise ValueError(f"record {n}: missing or wrong field {exc}") from exc
        except ValueError as exc:
            raise ValueError(f"record {n}: {exc}") from exc
        if entry is not None:
            entry.details = {**entry.details, "record": n}
            session.add(entry)
        count += 1
    session.add(AuditLog(actor=actor, action="items_imported", subject="json",
                         details={"count": count}))
    return count


def _import_into(session: Session, item: Item | None, program: Program, materi: Materi,
                 record: dict[str, Any], actor: str, allow_operational: bool) -> AuditLog | None:
    """Apply one record; the audit entry of the created or changed item (None: unchanged)."""
    content = {name: record.get(name) for name in ITEM_FIELDS[1:]}
    model = IrtModel(record.get("model", "3pl"))
    status = record.get("status")
    if item is None:
        status = entry_status(status, a=content["a"], b=content["b"],
                              allow_operational=allow_operational)
        validate_item_fields(options=content["options"], key=content["key"], model=model.value,
                             a=content["a"], b=content["b"], c=content["c"],
                             status=status.value)
        item = Item(program_id=program.id, code=record["code"], materi_id=materi.id,
                    model=model, status=status, author=record.get("author") or actor,
                    **content)
        session.add(item)
        return AuditLog(actor=actor, action="item_imported", subject=f"item:{item.code}",
                        details={"program": program.code, "status": status.value})
    before = {"materi_id": item.materi_id, "model": item.model,
              **{name: getattr(item, name) for name in content}}
    after = {"materi_id": materi.id, "model": model, **content}
    changed = sorted(name for name in after if after[name] != before[name])
    status_before = item.status
    if changed:
        for name, value in after.items():
            setattr(item, name, value)
        item.version += 1
    if status is not None and ItemStatus(status) != item.status:
        item.transition(status)  # ValueError off the lifecycle table, as on the status route
    validate_item_fields(options=item.options, key=item.key, model=item.model.value,
                         a=item.a, b=item.b, c=item.c, status=item.status.value)
    if not changed and item.status == status_before:
        return None
    return AuditLog(actor=actor, action="item_import_changed", subject=f"item:{item.code}",
                    details={"program": program.code, "fields": changed,
                             "status": [status_before.value, item.status.value]})
