"""The item file (item_bank.item_file): one format for CSV and JSON, a preview of what is
created and changed, all or nothing with every bad line named, the item lifecycle, and hostile
files refused with a reason and nothing stored."""

from __future__ import annotations

import csv
import io
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from item_bank_helpers import build_world
from sqlalchemy import func, select

from item_bank import authoring
from item_bank.db import session_factory
from item_bank.editor import ItemForm, save_item
from item_bank.errors import Conflict
from item_bank.item_file import (
    COLUMNS,
    ItemFileRejected,
    export_items,
    import_draft,
    import_file,
    plan_file,
    save_upload,
)
from item_bank.models import AuditLog, Item, ItemStatus

HEADER = ["id", "materi", "content_tag", "stem", "option_a", "option_b", "option_c", "option_d",
          "key", "model", "a", "b", "c", "status"]
GOOD = ["Q-1", "M1", "T1", "2 + 2 = ?", "3", "4", "5", "22", "B", "2pl", "1.2", "-0.4", "",
        "operational"]


def _csv(rows, header=HEADER, delimiter=",") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def _count(session) -> int:
    return session.scalar(select(func.count(Item.id)))


def _problems(plan) -> list[tuple]:
    return [(p.where, p.field, p.notice.code) for p in plan.problems]


def _import(session, data, name="items.csv", **kw):
    return import_file(session, data, filename=name, program_code="LATSAR", actor="penulis",
                       **kw)


def _item(session, code):
    session.expire_all()
    return session.scalar(select(Item).where(Item.code == code))


@pytest.fixture
def world(session):
    return build_world(session, items_per_materi=2, n_materi=1)


def test_csv_and_json_are_one_format_and_an_export_changes_nothing(session, world):
    second = ["Q-2", "M1", "", "Ibu kota Indonesia?", "Jakarta", "Bandung", "", "", "a", "3pl",
              "0.9", "1.1", "0.2", "draft"]
    plan = _import(session, _csv([GOOD, second]), allow_operational=True)
    assert [(i.where, i.code, i.action) for i in plan.items] == [(2, "Q-1", "new"),
                                                                  (3, "Q-2", "new")]
    item = _item(session, "Q-1")
    assert item.options[item.key] == "4" and item.status == ItemStatus.OPERATIONAL
    assert item.content_tag.code == "T1" and _item(session, "Q-2").options == ["Jakarta",
                                                                              "Bandung"]
    records = json.loads(export_items(session, program_code="LATSAR", fmt="json"))
    assert list(records[0]) == COLUMNS  # the JSON keys are the CSV columns
    csv_text = export_items(session, program_code="LATSAR", fmt="csv")
    assert csv_text.splitlines()[0] == ",".join(COLUMNS)
    for data, name in ((csv_text.encode(), "bank.csv"),
                       (json.dumps(records).encode(), "bank.json")):
        plan = plan_file(session, data, filename=name, program_code="LATSAR")
        assert not plan.problems and not plan.new and not plan.changed
        assert len(plan.unchanged) == 4
        versions = dict(session.execute(select(Item.code, Item.version)).all())
        _import(session, data, name=name)
        assert dict(session.execute(select(Item.code, Item.version)).all()) == versions


def test_old_json_exports_of_the_writer_page_are_read(session, world):
    # program, code, an options list and a 0-based integer key: the page's old export
    record = {"program": "LATSAR", "materi": "M1", "code": "OLD-1", "stem": "s",
              "options": ["x", "y", "z"], "key": 2, "model": "2pl", "a": 1.1, "b": 0.3,
              "c": 0.0, "se_a": None, "se_b": None, "se_c": None, "status": "draft",
              "version": 1, "author": "lama"}
    plan = _import(session, json.dumps([record]).encode(), name="old.json")
    assert plan.new[0].key_letter == "C"
    item = _item(session, "OLD-1")
    assert (item.key, item.author, item.options) == (2, "lama", ["x", "y", "z"])


def test_every_bad_line_is_named_with_its_column_and_nothing_is_stored(session, world):
    rows = [GOOD,
            ["Q-2", "M9", "", "s", "x", "y", "", "", "A", "", "", "", "", ""],   # materi
            ["Q-3", "M1", "T9", "s", "x", "y", "", "", "A", "", "", "", "", ""],  # tag
            ["Q-4", "M1", "", "s", "x", "y", "", "", "F", "", "", "", "", ""],  # key letter
            ["Q-5", "M1", "", "s", "x", "y", "", "", "D", "", "", "", "", ""],  # key no option
            ["Q-6", "M1", "", "s", "x", "x", "", "", "A", "", "abc", "", "", ""],
            ["Q-7", "M1", "", "s", "x", "", "z", "", "A", "4pl", "9", "", "", "live"],
            ["Q-8", "M1", "", "s", "x", "y", "", "", "A", "2pl", "1", "0", "0.3", ""],
            ["Q-9", "M1", "", "s", "x", "y", "", "", "A", "", "", "", "", "pretest"],
            GOOD]
    before = _count(session), session.scalar(select(func.count(AuditLog.id)))
    with pytest.raises(ItemFileRejected) as info:
        _import(session, _csv(rows), allow_operational=True)
    assert _problems(info.value.plan) == [
        (3, "materi", "import_unknown_materi"),
        (4, "content_tag", "import_unknown_tag"),
        (5, "key", "import_key_letter"),
        (6, "key", "import_key_not_option"),
        (7, "option_b", "import_option_repeated"),
        (7, "a", "import_not_number"),
        (8, "option_b", "import_option_gap"),
        (8, "model", "import_unknown_model"),
        (8, "a", "import_number_range"),
        (8, "status", "import_unknown_status"),
        (9, "c", "import_c_needs_3pl"),
        (10, "status", "import_new_status"),
        (11, "id", "import_duplicate_id"),
    ]
    text = str(info.value)
    assert "line 3, materi: no materi M9 in program LATSAR (it has: M1)" in text
    assert "line 11, id: item Q-1 is in the file already (line 2)" in text
    assert "line 6, key: D is not one of the options (A-B)" in text
    assert (_count(session), session.scalar(select(func.count(AuditLog.id)))) == before


def test_json_problems_name_the_record(session, world):
    records = [{"id": "J1", "materi": "M1", "stem": "s", "option_a": "x", "option_b": "y",
                "key": "A"}, [1, 2], {"id": "J3", "materi": "M1", "stem": ["no"],
                                      "option_a": "x", "option_b": "y", "key": "A",
                                      "colour": "red"}]
    plan = plan_file(session, json.dumps(records).encode(), filename="x.json",
                     program_code="LATSAR")
    assert _problems(plan) == [(2, "", "import_record_not_object"),
                               (3, "colour", "import_columns_unknown")]
    assert plan.problems[0].text() == "record 2: an item must be an object with the item " \
                                      "file's fields."


def test_a_changed_item_is_previewed_with_what_changes(session, world):
    item = session.scalar(select(Item).order_by(Item.id))
    record = json.loads(export_items(session, program_code="LATSAR", fmt="json"))[0]
    version = item.version
    changed = record | {"stem": "Diperbaiki?", "key": "A", "content_tag": "", "b": 0.5}
    plan = plan_file(session, json.dumps([changed]).encode(), filename="x.json",
                     program_code="LATSAR")
    (planned,) = plan.changed
    key = [] if record["key"] == "A" else [("key", record["key"], "A")]
    assert [(c.field, c.before, c.after) for c in planned.changes] == [
        ("content_tag", record["content_tag"], None), ("stem", record["stem"], "Diperbaiki?"),
        *key, ("b", record["b"], 0.5)]
    fields = [c.field for c in planned.changes]
    assert _item(session, item.code).stem == record["stem"]  # a preview stores nothing
    _import(session, json.dumps([changed]).encode(), name="x.json", expected=plan.digest)
    item = _item(session, item.code)
    assert (item.stem, item.b, item.content_tag_id, item.version) == (
        "Diperbaiki?", 0.5, None, version + 1)
    (entry,) = session.scalars(select(AuditLog).where(AuditLog.action == "item_import_changed"))
    assert entry.actor == "penulis" and entry.details["record"] == 1
    assert entry.details["fields"] == fields
    # the old file again: made from version 1, the bank holds version 2
    with pytest.raises(ItemFileRejected) as info:
        _import(session, json.dumps([record]).encode(), name="x.json")
    assert _problems(info.value.plan) == [(1, "version", "import_version_stale")]


def test_a_preview_commits_only_while_the_bank_is_as_previewed(session, world):
    data = _csv([["Q-1", "M1", "", "s", "x", "y", "", "", "A", "", "", "", "", ""]])
    plan = plan_file(session, data, filename="items.csv", program_code="LATSAR")
    save_item(session, ItemForm(code="Q-1", materi_id=str(world.materi[0].id), stem="t",
                                options=["x", "y"], key="A", model="2pl", author="lain"),
              actor="lain")
    with pytest.raises(Conflict, match="changed since this preview"):
        _import(session, data, expected=plan.digest)
    assert _item(session, "Q-1").stem == "t"


def test_imports_follow_the_item_lifecycle(session, world):
    retired, draft = session.scalars(select(Item).order_by(Item.id)).all()
    authoring.change_status(session, item_id=retired.id, status="retired", actor="penulis",
                            reason="Soal bocor.")
    draft.status = ItemStatus.DRAFT
    session.commit()
    records = {r["id"]: r for r in json.loads(export_items(session, program_code="LATSAR",
                                                           fmt="json"))}
    new = {"id": "NEW-1", "materi": "M1", "stem": "Ibu kota?", "option_a": "Jakarta",
           "option_b": "Bandung", "key": "A", "a": 1.1, "b": 0.3}

    def attempt(*recs, **kw):
        return _import(session, json.dumps(list(recs)).encode(), name="x.json", **kw)

    with pytest.raises(ItemFileRejected) as info:
        attempt(new, records[retired.code] | {"status": "operational"})
    assert _problems(info.value.plan) == [(2, "status", "item_transition_refused")]
    assert "retired -> operational is not an allowed transition" in str(info.value)
    assert _item(session, "NEW-1") is None
    with pytest.raises(ItemFileRejected, match="as operational only when the import allows"):
        attempt(new | {"status": "operational"})
    with pytest.raises(ItemFileRejected, match="needs calibrated a and b"):
        attempt(new | {"status": "operational", "a": None}, allow_operational=True)
    attempt(new | {"status": "operational"}, allow_operational=True)
    assert _item(session, "NEW-1").status == ItemStatus.OPERATIONAL
    version = _item(session, draft.code).version
    attempt(records[draft.code] | {"status": "reviewed", "stem": "Diperbaiki?"})
    assert _item(session, draft.code).status == ItemStatus.REVIEWED
    assert _item(session, draft.code).version == version + 2  # the content, then the status
    with pytest.raises(ItemFileRejected, match="reviewed -> operational"):
        attempt(records[draft.code] | {"status": "operational", "stem": "Diperbaiki?",
                                       "version": version + 2})
    created = session.scalars(select(AuditLog).where(AuditLog.action == "item_imported")).all()
    assert [(e.actor, e.subject, e.details["status"]) for e in created] == [
        ("penulis", "item:NEW-1", "operational")]


def test_spreadsheet_csv_bom_semicolons_decimal_commas_and_quoted_line_breaks(session, world):
    body = ("\ufeffid;materi;stem;option_a;option_b;key;a;b\r\n"
            "X-1;M1;\"Baris satu\r\nbaris dua; dengan titik koma\";ya;tidak;B;1,25;-0,5\r\n"
            ";;;;;;;\r\n"
            "X-2;M1;'=SUM(A1);'+1;'-1;A;;\r\n")
    plan = _import(session, body.encode("utf-8"))
    assert [(i.where, i.code) for i in plan.new] == [(2, "X-1"), (5, "X-2")]
    one, two = _item(session, "X-1"), _item(session, "X-2")
    assert one.stem == "Baris satu\r\nbaris dua; dengan titik koma"
    assert (one.a, one.b, one.key) == (1.25, -0.5, 1)
    assert (two.stem, two.options) == ("=SUM(A1)", ["+1", "-1"])


@pytest.mark.parametrize(("data", "name", "code"), [
    (b"", "x.csv", "import_file_empty"),
    (b"id,materi\n", "x.xlsx", "import_file_type"),
    ("id,materi,stem,option_a,option_b,key\nQ,M1,Sí,a,b,A\n".encode("cp1252"), "x.csv",
     "import_not_utf8"),
    (b"id,materi,stem,option_a,key\n", "x.csv", "import_columns_missing"),
    (b"id,materi,stem,option_a,option_b,key,colour\n", "x.csv", "import_columns_unknown"),
    (b"id,materi,stem,option_a,option_b,key\n", "x.csv", "import_no_items"),
    (b"[" * 10_000 + b"]" * 10_000, "x.json", "import_json_too_deep"),
    (b'[{"id": ', "x.json", "import_not_json"),
    (b'{"id": "x"}', "x.json", "import_json_not_list"),
])
def test_hostile_files_are_refused_with_a_reason(session, world, data, name, code):
    before = _count(session)
    with pytest.raises(ItemFileRejected) as info:
        _import(session, data, name=name)
    assert [p.notice.code for p in info.value.plan.problems] == [code]
    assert _count(session) == before


def test_huge_cells_lines_and_files_are_refused(session, world):
    head = "id,materi,stem,option_a,option_b,key\n"
    ten_mb = head + "Q-1,M1," + "x" * 10 * 2**20 + ",a,b,A\nQ-2,M1,s,a,b,A\n"
    with pytest.raises(ItemFileRejected) as info:
        _import(session, ten_mb.encode())
    assert _problems(info.value.plan) == [(2, "", "import_cell_too_long")]
    long_stem = head + "Q-1,M1," + "x" * 70_000 + ",a,b,A\n"
    with pytest.raises(ItemFileRejected) as info:
        _import(session, long_stem.encode())
    assert _problems(info.value.plan) == [(2, "stem", "import_cell_too_long")]
    many = head + "".join(f"Q-{n},M1,s,a,b,A\n" for n in range(10_001))
    with pytest.raises(ItemFileRejected, match="more than 10000 items"):
        _import(session, many.encode())
    with pytest.raises(ItemFileRejected, match="at most 20 MB"):
        _import(session, b" " * (21 * 2**20))
    nul = head + "Q-1,M1,a\x00b,a,b,A\nQ-" + "9" * 70 + ",M1,s,a,b,A\n"
    with pytest.raises(ItemFileRejected) as info:
        _import(session, nul.encode())
    assert _problems(info.value.plan) == [(2, "stem", "import_bad_text"),
                                          (3, "id", "import_cell_too_long")]
    assert _count(session) == 2


def test_items_of_another_program_are_neither_read_nor_touched(session, world):
    other = build_world(session, code="OTHER", items_per_materi=1, n_materi=1)
    theirs = session.scalar(select(Item).where(Item.program_id == other.program.id))
    record = json.loads(export_items(session, program_code="OTHER", fmt="json"))[0]
    # a record naming its program is refused in another one
    with pytest.raises(ItemFileRejected) as info:
        _import(session, json.dumps([record | {"program": "OTHER"}]).encode(), name="x.json",
                allow_operational=True)
    assert _problems(info.value.plan) == [(1, "program", "import_other_program")]
    # the same id in this program is a new item of this program; theirs stays as it is
    plan = _import(session, json.dumps([record | {"stem": "milik LATSAR"}]).encode(),
                   name="x.json", allow_operational=True)
    assert [i.action for i in plan.items] == ["new"]
    session.expire_all()
    assert session.get(Item, theirs.id).stem == record["stem"]
    assert session.scalar(select(Item.program_id).where(
        Item.code == theirs.code, Item.stem == "milik LATSAR")) == world.program.id


def test_two_confirmations_at_once_import_once(session, world):
    data = _csv([["Q-1", "M1", "", "s", "x", "y", "", "", "A", "", "", "", "", ""]])
    digest = plan_file(session, data, filename="items.csv", program_code="LATSAR").digest
    token = save_upload(session, data, filename="items.csv", program_id=world.program.id,
                        actor="penulis", allow_operational=False)
    factory = session_factory(session.get_bind())
    barrier = threading.Barrier(2)

    def confirm(_n: int) -> str:
        with factory() as s:
            barrier.wait()
            try:
                import_draft(s, token, actor="penulis", expected=digest,
                             may_allow_operational=False)
            except LookupError:
                return "gone"
            return "imported"

    with ThreadPoolExecutor(2) as pool:
        assert sorted(pool.map(confirm, range(2))) == ["gone", "imported"]
    assert session.scalar(select(func.count(Item.id)).where(Item.code == "Q-1")) == 1


def test_the_family_column_makes_variants_one_family_and_round_trips(session, world):
    rows = [["V-1", "M1", "", "TPL-1", "2 + 2 = ?", "3", "4", "B"],
            ["V-2", "M1", "", " TPL-1 ", "3 + 3 = ?", "5", "6", "B"],
            ["V-3", "M1", "", "", "4 + 4 = ?", "8", "9", "A"]]
    header = ["id", "materi", "content_tag", "family", "stem", "option_a", "option_b", "key"]
    _import(session, _csv(rows, header))
    v1, v2, v3 = (_item(session, code) for code in ("V-1", "V-2", "V-3"))
    assert v1.family == v2.family == "TPL-1" and v1.family_id == v2.family_id == v1.id
    assert v3.family == "" and v3.family_id is None
    exported = export_items(session, program_code="LATSAR", fmt="csv")
    plan = plan_file(session, exported.encode(), filename="bank.csv", program_code="LATSAR")
    assert not plan.problems and not plan.changed
    # Renaming V-2's template leaves V-1 alone: neither has a family any more.
    rows[1][3] = "TPL-2"
    plan = _import(session, _csv(rows[1:2], header))
    assert [(c.field, c.before, c.after) for c in plan.changed[0].changes] == [
        ("family", "TPL-1", "TPL-2")]
    assert _item(session, "V-1").family_id is None and _item(session, "V-2").family_id is None
    # A name longer than 64 characters is refused, naming its line and column.
    rows[2][3] = "x" * 65
    with pytest.raises(ItemFileRejected) as refused:
        _import(session, _csv(rows[2:3], header))
    assert _problems(refused.value.plan) == [(2, "family", "import_cell_too_long")]


def test_the_p_guess_column_is_the_writers_rating_in_0_1(session, world):
    header = ["id", "materi", "stem", "option_a", "option_b", "key", "p_guess"]
    _import(session, _csv([["G-1", "M1", "2 + 2 = ?", "4", "5", "A", "0,8"],
                           ["G-2", "M1", "3 + 3 = ?", "6", "7", "A", ""]], header))
    assert _item(session, "G-1").p_guess == 0.8 and _item(session, "G-2").p_guess is None
    records = json.loads(export_items(session, program_code="LATSAR", fmt="json"))
    assert {r["id"]: r["p_guess"] for r in records if r["id"].startswith("G-")} == {
        "G-1": 0.8, "G-2": None}
    for bad in ("1", "0", "-0.2", "1.5"):
        with pytest.raises(ItemFileRejected) as refused:
            _import(session, _csv([["G-3", "M1", "4 + 4 = ?", "8", "9", "A", bad]], header))
        assert _problems(refused.value.plan) == [(2, "p_guess", "editor_p_guess_range")]
    assert _item(session, "G-3") is None
