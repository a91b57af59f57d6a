"""Items and participants import/export; bad input refused with nothing stored (acceptance 5)."""

from __future__ import annotations

import csv
import json

import pytest
from item_bank_helpers import build_world
from sqlalchemy import func, select

from item_bank import admin
from item_bank.importexport import ImportRejected, export_items, import_items, import_participants
from item_bank.models import Enrolment, Item, Participant

HEADER = ["id", "materi", "content_tag", "stem", "option_a", "option_b", "option_c", "option_d",
          "key", "model", "a", "b", "c", "status"]
GOOD = ["Q-1", "M1", "T1", "2 + 2 = ?", "3", "4", "5", "22", "B", "2pl", "1.2", "-0.4", "",
        "operational"]


def _write_csv(path, rows, header=HEADER):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _items(session, world) -> int:
    return session.scalar(select(func.count(Item.id)).where(Item.program_id == world.program.id))


@pytest.fixture
def world(session):
    return build_world(session, items_per_materi=2, n_materi=1)


def test_csv_import_then_export_roundtrip(session, world, tmp_path):
    second = ["Q-2", "M1", "", "Capital of Indonesia?", "Jakarta", "Bandung", "", "", "a", "3pl",
              "0.9", "1.1", "0.2", "draft"]
    path = _write_csv(tmp_path / "items.csv", [GOOD, second])
    assert import_items(session, path, program_code="LATSAR", allow_operational=True) == 2
    records = {r["id"]: r for r in json.loads(export_items(session, program_code="LATSAR",
                                                           fmt="json"))}
    assert records["Q-1"]["options"] == ["3", "4", "5", "22"] and records["Q-1"]["key"] == "B"
    assert records["Q-2"]["options"] == ["Jakarta", "Bandung"] and records["Q-2"]["c"] == 0.2
    item = session.scalar(select(Item).where(Item.code == "Q-1"))
    assert item.options[item.key] == "4" and item.status.value == "operational"
    # The CSV export re-imports into another program unchanged.
    text = export_items(session, program_code="LATSAR", fmt="csv")
    other = build_world(session, code="OTHER", items_per_materi=0, n_materi=1)
    path2 = tmp_path / "again.csv"
    path2.write_text(text, encoding="utf-8")
    assert import_items(session, path2, program_code="OTHER",
                        allow_operational=True) == _items(session, world)
    again = json.loads(export_items(session, program_code="OTHER", fmt="json"))
    mine = json.loads(export_items(session, program_code="LATSAR", fmt="json"))
    # Ids differ (new program); authors were empty and became the importer.
    def content(records):
        return [{k: v for k, v in r.items() if k not in ("id", "author")} for r in records]

    assert content(again) == content(mine)
    assert other.program.code == "OTHER"


def test_json_import(session, world, tmp_path):
    path = tmp_path / "items.json"
    path.write_text(json.dumps([{"id": "J1", "materi": "M1", "stem": "s", "options": ["x", "y"],
                                 "key": "A", "model": "1pl", "b": 0.5,
                                 "status": "operational"}]))
    assert import_items(session, path, program_code="LATSAR", allow_operational=True) == 1
    item = session.scalar(select(Item).where(Item.code == "J1"))
    assert (item.a, item.b) == (1.0, 0.5)


@pytest.mark.parametrize(("row", "reason"), [
    (dict(key="E"), "key E is not among the options"),
    (dict(a="9"), "parameter a=9.0 out of range"),
    (dict(b="-12"), "parameter b=-12.0 out of range"),
    (dict(c="0.3"), "2pl item has c = 0"),
    (dict(model="3pl", c="0.7"), "parameter c=0.7 out of range"),
    (dict(a="abc"), "a must be a number"),
    (dict(materi="M9"), "unknown materi 'M9'"),
    (dict(status="live"), "unknown item status"),
    (dict(status="operational", a="", b=""), "needs calibrated parameters"),
    (dict(option_b="3"), "options must be distinct"),
])
def test_bad_item_row_refuses_the_whole_file(session, world, tmp_path, row, reason):
    bad = dict(zip(HEADER, GOOD, strict=True)) | {"id": "Q-BAD"} | row
    path = _write_csv(tmp_path / "items.csv", [GOOD, list(bad.values())])
    before = _items(session, world)
    with pytest.raises(ImportRejected, match=f"line 3: .*{reason}") as info:
        import_items(session, path, program_code="LATSAR", allow_operational=True)
    assert "nothing imported" in str(info.value)
    assert _items(session, world) == before


def test_duplicate_item_id_in_import(session, world, tmp_path):
    path = _write_csv(tmp_path / "items.csv", [GOOD, ["X"] + GOOD[1:], GOOD])
    with pytest.raises(ImportRejected, match=r"line 4: duplicate item id 'Q-1' \(also on line 2\)"):
        import_items(session, path, program_code="LATSAR", allow_operational=True)
    assert _items(session, world) == 2


def test_unknown_program_is_refused(session, world, tmp_path):
    path = _write_csv(tmp_path / "items.csv", [GOOD])
    with pytest.raises(ValueError, match="unknown program 'NOPE'"):
        import_items(session, path, program_code="NOPE")
    roster = tmp_path / "p.csv"
    roster.write_text("nip,name,unit\n199001012020121001,Budi,BKD\n")
    with pytest.raises(ValueError, match="unknown program 'NOPE'"):
        import_participants(session, roster, program_code="NOPE")
    assert session.scalar(select(func.count(Participant.id))) == 0


def test_participants_import_all_or_nothing(session, world, tmp_path):
    roster = tmp_path / "p.csv"
    roster.write_text("nip,name,unit\n199001012020121001,Budi,BKD\n"
                      "19900101202012100,Siti,BKD\n199001012020121001,Ani,BKD\n")
    with pytest.raises(ImportRejected) as info:
        import_participants(session, roster, program_code="LATSAR")
    assert info.value.problems == [
        (3, "NIP '19900101202012100' must be exactly 18 digits"),
        (4, "duplicate NIP 199001012020121001 (also on line 2)")]
    assert session.scalar(select(func.count(Participant.id))) == 0
    roster.write_text("nip,name,unit\n199001012020121001,Budi,BKD\n"
                      "199001012020121002,Siti,Dinas Kesehatan\n")
    assert import_participants(session, roster, program_code="LATSAR") == 2
    assert import_participants(session, roster, program_code="LATSAR") == 2  # idempotent
    assert session.scalar(select(func.count(Enrolment.id))) == 2


def test_nip_validation_on_the_model(session):
    for nip in ("12345", "1990010120201210011", "19900101202012100a", ""):
        with pytest.raises(ValueError, match="18 digits"):
            Participant(nip=nip, name="X")


def test_bulk_enrol_registers_updates_and_reports_lines(session, world):
    budi = admin.register_participant(session, nip="199001012020121001", name="Budi", unit="BKD")
    rows = [("199001012020121001", "Budi Santoso", "Dinas Kesehatan"),
            ("199001012020121002", " Siti ", "BKD")]
    assert admin.bulk_enrol(session, program_id=world.program.id, rows=rows) == 2
    assert admin.bulk_enrol(session, program_id=world.program.id, rows=rows) == 2  # idempotent
    session.refresh(budi)
    assert (budi.name, budi.unit) == ("Budi Santoso", "Dinas Kesehatan")
    assert session.scalar(select(Participant.name).where(
        Participant.nip == "199001012020121002")) == "Siti"
    assert session.scalar(select(func.count(Enrolment.id))) == 2
    bad = [("199001012020121003", "Ani", ""), ("199001012020121003", "Ani", ""),
           ("199001012020121004", "  ", ""), ("12", "X", "")]
    with pytest.raises(ImportRejected) as info:
        admin.bulk_enrol(session, program_id=world.program.id, rows=bad, lines=[5, 6, 7, 9])
    assert info.value.problems == [
        (6, "duplicate NIP 199001012020121003 (also on line 5)"),
        (7, "participant name must not be empty"),
        (9, "NIP '12' must be exactly 18 digits")]
    assert session.scalar(select(func.count(Participant.id))) == 2  # nothing stored
    with pytest.raises(ValueError, match="unknown program 999"):
        admin.bulk_enrol(session, program_id=999, rows=rows)
