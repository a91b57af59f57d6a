"""Item families: variants of one template and items marked as enemies count as one item.

RULE: docs/item_bank.md "Item families" — a participant gets at most one item of a family in
a program (the seen-item set is UNIQUE per family), and exposure counts a family as one item
(``cat_engine.assembly.family_window``).  A family is what joins items: the same template name
(``Item.family``) within a program, or an enemy mark (``ItemEnemy``) between two items,
transitively.  ``Item.family_id`` holds each family's least item id (None for an item alone),
kept here from the names and the marks whenever either changes.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .authoring import item_by_id
from .db import lock_one
from .errors import InvalidInput
from .models import AuditLog, Item, ItemEnemy, Program
from .tx import transactional

FAMILY_MAX = 64  # characters of a template name (Item.family)


def family_ids(members: Iterable[tuple[int, str]], pairs: Iterable[tuple[int, int]]
               ) -> dict[int, int | None]:
    """{item id: least id of its family, None when alone} of (id, template name) items joined
    by a name and by the enemy ``pairs`` (union-find)."""
    parent: dict[int, int] = {}

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def join(i: int, j: int) -> None:
        ri, rj = root(i), root(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)

    by_name: dict[str, int] = {}
    for item_id, name in members:
        parent[item_id] = item_id
        if name:
            join(item_id, by_name.setdefault(name, item_id))
    for i, j in pairs:
        if i in parent and j in parent:
            join(i, j)
    roots = {i: root(i) for i in parent}
    sizes: dict[int, int] = {}
    for r in roots.values():
        sizes[r] = sizes.get(r, 0) + 1
    return {i: (r if sizes[r] > 1 else None) for i, r in roots.items()}


def refresh_families(session: Session, program_id: int) -> int:
    """Set ``Item.family_id`` of the program's items from their names and enemy marks; the
    number of items whose family changed.  Part of the caller's transaction (the items'
    update moves the pool version, so every worker's pools follow at its commit).  The
    program's row is locked first: two refreshes of one program never interleave."""
    lock_one(session, Program, program_id)
    members = session.execute(select(Item.id, Item.family, Item.family_id)
                              .where(Item.program_id == program_id)).all()
    pairs = session.execute(
        select(ItemEnemy.item_id, ItemEnemy.enemy_id)
        .join(Item, Item.id == ItemEnemy.item_id).where(Item.program_id == program_id)).all()
    wanted = family_ids(((m.id, m.family) for m in members), pairs)
    changed = [(m.id, wanted[m.id]) for m in members if m.family_id != wanted[m.id]]
    for item_id, family_id in changed:
        session.execute(update(Item).where(Item.id == item_id).values(family_id=family_id))
    return len(changed)


def family_of(session: Session, item: Item) -> list[Item]:
    """The other items of ``item``'s family, by code."""
    if item.family_id is None:
        return []
    return list(session.scalars(select(Item).where(Item.family_id == item.family_id,
                                                   Item.id != item.id).order_by(Item.code)))


def enemies_of(session: Session, item: Item) -> list[Item]:
    """The items marked as enemies of ``item``, by code."""
    ids = select(ItemEnemy.enemy_id).where(ItemEnemy.item_id == item.id).union(
        select(ItemEnemy.item_id).where(ItemEnemy.enemy_id == item.id))
    return list(session.scalars(select(Item).where(Item.id.in_(ids)).order_by(Item.code)))


@transactional
def mark_enemies(session: Session, item_id: int, other_code: str, *, actor: str) -> Item:
    """Mark item ``item_id`` and the item ``other_code`` of its program as enemies
    (idempotent); the other item.  InvalidInput for the item itself or a code of no item of
    the program."""
    item = item_by_id(session, item_id)
    code = (other_code or "").strip()
    other = session.scalar(select(Item).where(Item.program_id == item.program_id,
                                              Item.code == code))
    if other is None:
        raise InvalidInput("enemy_not_found", code=code[:64])
    if other.id == item.id:
        raise InvalidInput("enemy_self", code=code)
    low, high = sorted((item.id, other.id))
    if session.scalar(select(ItemEnemy.id).where(ItemEnemy.item_id == low,
                                                 ItemEnemy.enemy_id == high)) is None:
        session.add(ItemEnemy(item_id=low, enemy_id=high, actor=actor))
        session.add(AuditLog(actor=actor, action="item_enemies_marked",
                             subject=f"item:{item.code}", details={"enemy": other.code}))
        session.flush()
        refresh_families(session, item.program_id)
    return other


@transactional
def unmark_enemies(session: Session, item_id: int, other_id: int, *, actor: str) -> Item | None:
    """Remove the enemy mark between item ``item_id`` and item ``other_id``; the other item,
    None when there was no mark."""
    item = item_by_id(session, item_id)
    low, high = sorted((item.id, other_id))
    mark = session.scalar(select(ItemEnemy).where(ItemEnemy.item_id == low,
                                                  ItemEnemy.enemy_id == high))
    if mark is None:
        return None
    other = item_by_id(session, other_id)
    session.delete(mark)
    session.add(AuditLog(actor=actor, action="item_enemies_unmarked",
                         subject=f"item:{item.code}", details={"enemy": other.code}))
    session.flush()
    refresh_families(session, item.program_id)
    return other
