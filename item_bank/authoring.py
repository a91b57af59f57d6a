"""What question writers change: items, their status, a bank imported from a JSON export.

Each function is one transaction (:mod:`item_bank.tx`) and refuses bad input with a
ValueError naming the problem, before anything is stored.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .errors import NotFound
from .models import AuditLog, IrtModel, Item, ItemStatus, Materi, Program, validate_item_fields
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


@transactional
def change_status(session: Session, *, item_id: int, status: str) -> Item:
    """Move the item along its lifecycle (``ITEM_TRANSITIONS``; ValueError otherwise)."""
    item = _item(session, item_id)
    item.transition(status)
    return item


def item_record(item: Item) -> dict[str, Any]:
    """An item as exported (the staff export includes keys and parameters: staff only)."""
    record = {name: getattr(item, name) for name in ITEM_FIELDS}
    record.update(program=item.materi.program.code, materi=item.materi.code,
                  model=item.model.value, status=item.status.value, version=item.version,
                  author=item.author)
    return record


@transactional
def import_item_records(session: Session, records: list[Any], *, actor: str) -> int:
    """Create or update items from exported records, all or none; ValueError names the bad
    record."""
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
            if item is None:
                item = Item(program_id=program.id, code=record["code"])
                session.add(item)
            item.materi_id = materi.id
            for name in ITEM_FIELDS[1:]:
                setattr(item, name, record.get(name))
            item.model = IrtModel(record.get("model", "3pl"))
            item.status = ItemStatus(record.get("status", "draft"))
            validate_item_fields(options=item.options, key=item.key, model=item.model.value,
                                 a=item.a, b=item.b, c=item.c, status=item.status.value)
        except (KeyError, TypeError) as exc:
            raise ValueError(f"record {n}: missing or wrong field {exc}") from exc
        except ValueError as exc:
            raise ValueError(f"record {n}: {exc}") from exc
        count += 1
    session.add(AuditLog(actor=actor, action="items_imported", subject="json",
                         details={"count": count}))
    return count
