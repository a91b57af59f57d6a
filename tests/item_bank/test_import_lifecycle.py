"""Imports follow the item lifecycle: new items enter as draft (operational only with a, b and
permission), an existing item's status moves only along ITEM_TRANSITIONS, all or nothing, and
every created or changed item has an audit entry naming the importer."""

from __future__ import annotations

import csv
import json

import pytest
from item_bank_helpers import build_world
from sqlalchemy import select

from item_bank import authoring
from item_bank.importexport import ImportRejected, import_items
from item_bank.models import AuditLog, Item, ItemStatus


@pytest.fixture
def world(session):
    return build_world(session, items_per_materi=3, n_materi=1)


def _record(**fields) -> dict:
    return {"program": "LATSAR", "materi": "M1", "code": "NEW-1", "stem": "Ibu kota?",
            "options": ["Jakarta", "Bandung"], "key": 0, "model": "2pl", "a": 1.1,
            "b": 0.3, "c": 0.0, "se_a": None, "se_b": None, "se_c": None} | fields


def _entries(session, action: str) -> list[AuditLog]:
    return list(session.scalars(select(AuditLog).where(AuditLog.action == action)
                                .order_by(AuditLog.id)))


def _item(session, code: str) -> Item | None:
    session.expire_all()
    return session.scalar(select(Item).where(Item.code == code))


def test_json_import_cannot_bring_a_retired_item_back(session, world):
    retired = session.scalar(select(Item).order_by(Item.id))
    authoring.change_status(session, item_id=retired.id, status="retired", actor="penulis",
                            reason="Soal bocor.")
    version = retired.version
    record = authoring.item_record(retired) | {"status": "operational"}
    with pytest.raises(ValueError, match="record 2: .*retired -> operational is not an allowed"):
        authoring.import_item_records(session, [_record(status="draft"), record],
                                      actor="penulis")
    # nothing stored: the item is still retired, the first record was not created
    assert _item(session, retired.code).status == ItemStatus.RETIRED
    assert _item(session, retired.code).version == version
    assert _item(session, "NEW-1") is None
    assert _entries(session, "items_imported") == []


def test_json_import_new_items_enter_as_draft_unless_allowed(session, world):
    with pytest.raises(ValueError, match="record 1: .*importing it as operational must be "
                                         "allowed"):
        authoring.import_item_records(session, [_record(status="operational")], actor="penulis")
    with pytest.raises(ValueError, match="record 1: a new item enters as draft, not pretest"):
        authoring.import_item_records(session, [_record(status="pretest")], actor="penulis")
    assert _item(session, "NEW-1") is None
    assert authoring.import_item_records(session, [_record()], actor="penulis") == 1
    assert _item(session, "NEW-1").status == ItemStatus.DRAFT
    assert authoring.import_item_records(session, [_record(code="NEW-2", status="operational")],
                                         actor="admin", allow_operational=True) == 1
    assert _item(session, "NEW-2").status == ItemStatus.OPERATIONAL
    with pytest.raises(ValueError, match="needs calibrated parameters"):
        authoring.import_item_records(session, [_record(code="NEW-3", status="operational",
                                                        a=None, b=None)],
                                      actor="admin", allow_operational=True)
    created = _entries(session, "item_imported")
    assert [(e.actor, e.subject, e.details["status"]) for e in created] == [
        ("penulis", "item:NEW-1", "draft"), ("admin", "item:NEW-2", "operational")]


def test_json_import_changes_status_along_the_table_with_audit(session, world):
    item = session.scalar(select(Item).order_by(Item.id))
    item.status = ItemStatus.DRAFT
    session.commit()
    version = item.version
    unchanged = authoring.item_record(item)
    reviewed = unchanged | {"status": "reviewed", "stem": "Diperbaiki?"}
    assert authoring.import_item_records(session, [reviewed], actor="penulis") == 1
    item = _item(session, item.code)
    assert item.status == ItemStatus.REVIEWED and item.stem == "Diperbaiki?"
    assert item.version == version + 2  # new content, then the status step
    (entry,) = _entries(session, "item_import_changed")
    assert entry.actor == "penulis" and entry.subject == f"item:{item.code}"
    assert entry.details["status"] == ["draft", "reviewed"]
    assert entry.details["fields"] == ["stem"] and entry.details["record"] == 1
    # the same record again changes nothing and adds no item entry
    assert authoring.import_item_records(session, [authoring.item_record(item)],
                                         actor="penulis") == 1
    assert len(_entries(session, "item_import_changed")) == 1
    # reviewed -> operational skips pretest: refused
    with pytest.raises(ValueError, match="reviewed -> operational is not an allowed"):
        authoring.import_item_records(session, [authoring.item_record(item)
                                                | {"status": "operational"}], actor="penulis")


def _csv(path, rows: list[dict]):
    header = ["id", "materi", "stem", "option_a", "option_b", "key", "model", "a", "b",
              "status"]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    return path


CSV_ROW = {"id": "C-1", "materi": "M1", "stem": "2 + 2?", "option_a": "4", "option_b": "5",
           "key": "A", "model": "2pl", "a": "1.2", "b": "-0.4", "status": "operational"}


@pytest.mark.parametrize("suffix", ["csv", "json"])
def test_file_import_new_items_enter_as_draft_unless_allowed(session, world, tmp_path, suffix):
    rows = [CSV_ROW | {"status": ""}, CSV_ROW | {"id": "C-2"}]
    if suffix == "csv":
        path = _csv(tmp_path / "items.csv", rows)
        lines = (2, 3)
    else:
        path = tmp_path / "items.json"
        path.write_text(json.dumps([{k: v for k, v in r.items() if not k.startswith("option_")}
                                    | {"options": [r["option_a"], r["option_b"]]}
                                    for r in rows]))
        lines = (1, 2)
    with pytest.raises(ImportRejected, match=f"line {lines[1]}: .*as operational must be "
                                             "allowed"):
        import_items(session, path, program_code="LATSAR", author="operator")
    assert _item(session, "C-1") is None
    assert import_items(session, path, program_code="LATSAR", author="operator",
                        allow_operational=True) == 2
    assert _item(session, "C-1").status == ItemStatus.DRAFT
    assert _item(session, "C-2").status == ItemStatus.OPERATIONAL
    created = _entries(session, "item_imported")
    assert [(e.actor, e.subject, e.details["status"], e.details["line"]) for e in created] == [
        ("operator", "item:C-1", "draft", lines[0]),
        ("operator", "item:C-2", "operational", lines[1])]


def test_file_import_refuses_other_entry_statuses(session, world, tmp_path):
    path = _csv(tmp_path / "items.csv", [CSV_ROW | {"status": "retired"}])
    with pytest.raises(ImportRejected, match="line 2: a new item enters as draft, not retired"):
        import_items(session, path, program_code="LATSAR", allow_operational=True)
