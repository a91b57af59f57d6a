"""Participants import; bad input refused with nothing stored (acceptance 5).  Item files:
test_item_file.py."""

from __future__ import annotations

import pytest
from item_bank_helpers import build_world
from sqlalchemy import func, select

from item_bank import admin
from item_bank.admin import ImportRejected
from item_bank.importexport import import_participants
from item_bank.item_file import plan_file
from item_bank.models import Enrolment, Participant


@pytest.fixture
def world(session):
    return build_world(session, items_per_materi=2, n_materi=1)


def test_unknown_program_is_refused(session, world, tmp_path):
    with pytest.raises(ValueError, match="unknown program 'NOPE'"):
        plan_file(session, b"id\n", filename="items.csv", program_code="NOPE")
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
