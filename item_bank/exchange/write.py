"""A program's items as a QTI 3.0 content package or a Moodle XML file, images included."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..admin import get_program
from ..item_file import OPTION_COLUMNS, item_records
from ..models import Item, ItemImage
from .moodle import write_moodle_xml
from .qti import write_qti3

EXPORT_FORMATS = ("qti", "moodle")


def exchange_records(session: Session, program_code: str) -> list[dict[str, Any]]:
    """:func:`item_bank.item_file.item_records` with each item's options as a list and its
    images (name, media type, bytes) in their order."""
    program = get_program(session, program_code)
    records = item_records(session, program_code)
    images: dict[str, list[dict[str, Any]]] = {}
    for code, image in session.execute(
            select(Item.code, ItemImage).join(ItemImage, ItemImage.item_id == Item.id)
            .where(Item.program_id == program.id).order_by(Item.code, ItemImage.position)):
        images.setdefault(code, []).append({"name": image.name, "media_type": image.media_type,
                                            "data": image.data})
    return [{**record, "options": [record[c] for c in OPTION_COLUMNS if record[c]],
             "images": images.get(record["id"], [])} for record in records]


def export_exchange(session: Session, *, program_code: str, fmt: str) -> bytes:
    """The program's items in ``fmt`` (:data:`EXPORT_FORMATS`): a zip or an XML file."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {fmt!r} (use {', '.join(EXPORT_FORMATS)})")
    records = exchange_records(session, program_code)
    if fmt == "qti":
        return write_qti3(records, title=get_program(session, program_code).name)
    return write_moodle_xml(records)
