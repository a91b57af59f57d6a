"""Question files into the bank: all or none, content tags from categories, sources, images,
and the round trips product -> QTI 3.0 / Moodle XML -> product (SQLite and PostgreSQL)."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from sqlalchemy import func, select

from item_bank import admin
from item_bank.exchange import load
from item_bank.exchange.base import ExchangeError
from item_bank.exchange.write import exchange_records, export_exchange
from item_bank.models import AuditLog, ContentTag, Item, ItemImage, ItemStatus
from smartcat.cli import main

# A 1x1 PNG (the smallest valid one), as an item's picture.
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAE"
                       "hQGAhKmMIQAAAABJRU5ErkJggg==")

GIFT = """// Soal pelatihan, ditulis widyaiswara
$CATEGORY: $course$/top/Pelayanan/Standar Pelayanan

::SP1:: Siapa yang menetapkan standar pelayanan? {=Penyelenggara ~Masyarakat ~DPR}

::SP2:: Standar pelayanan wajib dipublikasikan. {T}

$CATEGORY: $course$/top/Pelayanan/T1

::SP3:: Maklumat pelayanan berisi \\{janji\\} penyelenggara? {=Ya ~Tidak}
"""


def _count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def program(session):
    program = admin.create_program(session, code="EXCH", name="Program pertukaran soal")
    admin.add_materi(session, program, code="PEL", name="Pelayanan", content_tags=["T1", "T2"])
    return program


def test_gift_file_imports_with_tags_sources_and_audit(session, program):
    plan = load.import_file(session, GIFT.encode(), filename="pelayanan.gift", fmt="gift",
                            program_code="EXCH", materi_code="PEL", actor="penulis")
    assert [i.name for i in plan.items] == ["SP1", "SP2", "SP3"]
    assert plan.new_tags == ["STANDAR-PELAYANAN"]
    items = session.scalars(select(Item).order_by(Item.id)).all()
    assert [(i.stem, i.options, i.key) for i in items] == [
        ("Siapa yang menetapkan standar pelayanan?", ["Penyelenggara", "Masyarakat", "DPR"], 0),
        ("Standar pelayanan wajib dipublikasikan.", ["Benar", "Salah"], 0),
        ("Maklumat pelayanan berisi {janji} penyelenggara?", ["Ya", "Tidak"], 0)]
    tags = [session.get(ContentTag, i.content_tag_id) for i in items]
    assert [(t.code, t.name) for t in tags] == [
        ("STANDAR-PELAYANAN", "Standar Pelayanan"), ("STANDAR-PELAYANAN", "Standar Pelayanan"),
        ("T1", "T1")]  # the existing tag T1, not a new one
    assert all(i.status == ItemStatus.DRAFT and i.a is None for i in items)
    assert items[0].source == "GIFT: pelayanan.gift, question 1 'SP1'"
    assert all(i.author == "penulis" for i in items)
    actions = session.scalars(select(AuditLog.action).where(AuditLog.actor == "penulis")).all()
    assert actions.count("item_imported") == 3 and actions.count("items_imported") == 1


def test_one_refused_question_stores_nothing_and_every_one_is_named(session, program):
    before = _count(session, Item), _count(session, ContentTag), _count(session, AuditLog)
    bad = GIFT + ("\n::MATCH:: Pasangkan {=a -> 1 =b -> 2 =c -> 3}\n"
                  "\n::TWO:: Dua jawaban benar {=x =y ~z}\n")
    with pytest.raises(admin.ImportRejected) as refused:
        load.import_file(session, bad.encode(), filename="campur.gift", fmt="gift",
                         program_code="EXCH", materi_code="PEL", actor="penulis")
    assert [(position, reason.split(":")[0]) for position, reason in refused.value.problems] \
        == [(4, "question 4"), (5, "question 5")]
    message = str(refused.value)
    assert "MATCH: a matching question" in message
    assert "TWO: 2 right answers; exactly one must be right" in message
    assert (_count(session, Item), _count(session, ContentTag), _count(session, AuditLog)) \
        == before
    # The preview says the same without writing anything.
    plan = load.plan_import(session, bad.encode(), filename="campur.gift", fmt="gift",
                            program_code="EXCH", materi_code="PEL")
    assert len(plan.items) == 3 and [p for p, _ in plan.problems] == [4, 5]


def test_the_same_question_twice_is_refused_as_already_there(session, program):
    load.import_file(session, GIFT.encode(), filename="a.gift", fmt="gift",
                     program_code="EXCH", materi_code="PEL", actor="penulis")
    with pytest.raises(admin.ImportRejected, match="already exists in program EXCH"):
        load.import_file(session, GIFT.encode(), filename="b.gift", fmt="gift",
                         program_code="EXCH", materi_code="PEL", actor="penulis")
    assert _count(session, Item) == 3


def test_aiken_and_unknown_materi_and_unsafe_file(session, program):
    aiken = b"Asas pelayanan publik adalah?\nA. Kepastian hukum\nB. Keuntungan\nANSWER: A\n"
    plan = load.import_file(session, aiken, filename="soal.txt", fmt="aiken",
                            program_code="EXCH", materi_code="PEL", actor="penulis")
    assert [(i.stem, i.options, i.key, i.tag) for i in plan.items] == [
        ("Asas pelayanan publik adalah?", ("Kepastian hukum", "Keuntungan"), 0, None)]
    with pytest.raises(ValueError, match="unknown materi 'NOPE' \\(program has: PEL\\)"):
        load.plan_import(session, aiken, filename="soal.txt", fmt="aiken",
                         program_code="EXCH", materi_code="NOPE")
    xxe = (b'<?xml version="1.0"?><!DOCTYPE quiz [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
           b"<quiz><question type=\"multichoice\"><name><text>&x;</text></name></question></quiz>")
    with pytest.raises(ExchangeError):
        load.import_file(session, xxe, filename="x.xml", fmt="moodle", program_code="EXCH",
                         materi_code="PEL", actor="penulis")
    assert _count(session, Item) == 1


def test_a_draft_waits_an_hour_and_is_imported_once(session, program):
    now = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)
    args = {"filename": "a.gift", "fmt": "gift", "program_id": program.id,
            "materi_id": program.materi[0].id, "as_pretest": False}
    stale = load.save_draft(session, GIFT.encode(), actor="penulis", now=now, **args)
    fresh = load.save_draft(session, GIFT.encode(), actor="admin", now=now, **args)
    later = now + load.DRAFT_LIFETIME + dt.timedelta(seconds=1)
    with pytest.raises(LookupError):
        load.import_draft(session, stale, actor="penulis", now=later)
    plan = load.import_draft(session, fresh, actor="admin", now=now + dt.timedelta(minutes=59))
    assert len(plan.items) == 3 and _count(session, Item) == 3
    with pytest.raises(LookupError):  # used up
        load.import_draft(session, fresh, actor="admin", now=now + dt.timedelta(minutes=59))
    # A new draft sweeps the stale ones away.
    load.save_draft(session, b"x", actor="penulis", now=later, **args)
    assert _count(session, load.ImportDraft) == 1


def _bank_with_pictures(session):
    """A program of five calibrated items in two content tags, two with pictures."""
    source = admin.create_program(session, code="ASAL", name="Bank asal")
    materi = admin.add_materi(session, source, code="PEL", name="Pelayanan",
                              content_tags=["T1", "T2"])
    tags = {t.code: t for t in materi.content_tags}
    stems = ["Apa arti <b>SOP</b> & SPM?", "Paragraf satu.\n\nParagraf dua: ≤ 5 hari?",
             "Pelayanan 'prima' adalah…", "Siapa pengawas pelayanan?", "Berapa lama?"]
    for n, stem in enumerate(stems):
        item = admin.new_item(
            source, materi, code=f"PEL-{n:03d}", stem=stem,
            options=[f"Pilihan {k} <{n}>" for k in range(2 + n % 4)], key=n % 2,
            model="3pl" if n == 4 else "2pl", a=0.8 + n / 7, b=-1.3 + n / 3,
            c=0.17 if n == 4 else None, status=ItemStatus.OPERATIONAL,
            content_tag=tags["T1" if n < 3 else "T2"])
        session.add(item)
        session.flush()
        if n in (1, 3):
            item.image_count = 2
            session.add_all(ItemImage(item_id=item.id, position=k, name=f"gambar{k}.png",
                                      media_type="image/png", data=PNG + bytes([n, k]))
                            for k in (1, 2))
    session.commit()
    target = admin.create_program(session, code="TUJUAN", name="Bank tujuan")
    admin.add_materi(session, target, code="PEL", name="Pelayanan", content_tags=["T1"])
    return source


@pytest.mark.parametrize("fmt", ["qti", "moodle"])
def test_round_trip_keeps_stems_options_keys_tags_parameters_and_pictures(session, fmt):
    _bank_with_pictures(session)
    data = export_exchange(session, program_code="ASAL", fmt=fmt)
    plan = load.import_file(session, data, filename=f"asal.{fmt}", fmt=fmt,
                            program_code="TUJUAN", materi_code="PEL", actor="penulis",
                            as_pretest=True)
    assert plan.new_tags == ["T2"]
    fields = ("id", "content_tag", "stem", "options", "key", "model", "a", "b", "c", "images")
    before = [{k: r[k] for k in fields} for r in exchange_records(session, "ASAL")]
    after = [{k: r[k] for k in fields} for r in exchange_records(session, "TUJUAN")]
    assert after == before
    statuses = session.scalars(select(Item.status).where(
        Item.program_id == admin.get_program(session, "TUJUAN").id))
    assert set(statuses) == {ItemStatus.PRETEST}  # with their parameters, as asked


def test_cli_imports_a_gift_file_and_exports_qti(tmp_path, db_url, session, program, capsys):
    path = tmp_path / "pelayanan.gift"
    path.write_text(GIFT, encoding="utf-8")
    assert main(["items", "import", str(path), "--format", "gift", "--program", "EXCH",
                 "--db", db_url]) == 2
    assert "--format gift needs --materi CODE" in capsys.readouterr().err
    assert main(["items", "import", str(path), "--format", "gift", "--program", "EXCH",
                 "--materi", "PEL", "--dry-run", "--db", db_url]) == 0
    preview = capsys.readouterr().out
    assert "pelayanan.gift into EXCH / PEL: 3 to import, 0 refused" in preview
    assert "tag STANDAR-PELAYANAN (new)  draft  key A of 3" in preview
    assert session.scalar(select(func.count()).select_from(Item)) == 0  # a preview only
    session.rollback()  # the CLI writes next: hold no transaction (SQLite locks on begin)
    assert main(["items", "import", str(path), "--format", "gift", "--program", "EXCH",
                 "--materi", "PEL", "--db", db_url]) == 0
    assert "imported 3 items into EXCH / PEL; new content tags: STANDAR-PELAYANAN" \
        in capsys.readouterr().out
    out = tmp_path / "exch.zip"
    assert main(["items", "export", "--program", "EXCH", "--format", "qti", "-o", str(out),
                 "--db", db_url]) == 0
    assert out.read_bytes()[:2] == b"PK"
    bad = tmp_path / "bad.gift"
    bad.write_text("::X:: Pasangkan {=a -> 1 =b -> 2}\n", encoding="utf-8")
    assert main(["items", "import", str(bad), "--format", "gift", "--program", "EXCH",
                 "--materi", "PEL", "--db", db_url]) == 2
    assert "question 1: X: a matching question" in capsys.readouterr().err
    assert main(["items", "import", str(bad), "--format", "gift", "--program", "EXCH",
                 "--materi", "PEL", "--dry-run", "--db", db_url]) == 1
    assert "refused question 1: X: a matching question" in capsys.readouterr().out
    big = tmp_path / "big.xml"
    big.write_bytes(b" " * (50 * 2**20))
    assert main(["items", "import", str(big), "--format", "moodle", "--program", "EXCH",
                 "--materi", "PEL", "--db", db_url]) == 2
    assert "50.0 MB; at most 20 MB" in capsys.readouterr().err
