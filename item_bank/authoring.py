"""What question writers change: items and their status (item files:
:mod:`item_bank.item_file`).

Each function is one transaction (:mod:`item_bank.tx`) and refuses bad input with a
ValueError naming the problem, before anything is stored.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from .db import lock_one
from .errors import InvalidInput, NotFound
from .models import (
    AuditLog,
    IrtModel,
    Item,
    ItemStatus,
    validate_item_fields,
)
from .tx import transactional


def set_content(item: Item, *, stem: str, options: list[str], key: int, model: str,
                a: float | None, b: float | None, c: float | None) -> None:
    """Store new content into ``item`` (ValueError naming the first problem)."""
    if not stem or not stem.strip():
        raise ValueError("item stem must not be empty")
    validate_item_fields(options=options, key=key, model=model, a=a, b=b, c=c,
                         status=item.status.value)
    item.stem, item.options, item.key = stem, list(options), key
    item.model, item.a, item.b, item.c = IrtModel(model), a, b, c


def item_by_id(session: Session, item_id: int) -> Item:
    """The item ``item_id``; NotFound without one."""
    item = session.get(Item, item_id)
    if item is None:
        raise NotFound("item_not_found", item=item_id)
    return item


@transactional
def update_item(session: Session, *, item_id: int, stem: str, options: list[str], key: int,
                model: str, a: float | None, b: float | None, c: float | None) -> Item:
    """New content for the item, as its next version."""
    item = item_by_id(session, item_id)
    set_content(item, stem=stem, options=options, key=key, model=model, a=a, b=b, c=c)
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
