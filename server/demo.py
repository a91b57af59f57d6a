"""Build the demo database: a public-service training in Bahasa Indonesia, ready to take.

``build_demo(url)`` migrates the database, then loads one program (three materi, a
pre-assessment, three materi exams and an ujikom, two assignments), the items of
:mod:`server.demo_content`, demo participants, a question writer, an administrator and a
service token with every scope.  It refuses a database that already holds the program.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from item_bank import db as ib_db
from item_bank.families import refresh_families
from item_bank.tx import transaction
from server import bank
from server.demo_content import MATERI, demo_items

PROGRAM_CODE = "PELAYANAN-PUBLIK"
PARTICIPANT_PASSWORD = "peserta-demo"
WRITER = ("penulis", "penulis-demo")
ADMIN = ("admin", "admin-demo-123")
TOKEN_NAME = "sertifikasi"
PRETEST_EVERY = 30
PARTICIPANTS = [
    ("199001012015031001", "Ahmad Fauzi", "Dinas Kependudukan dan Pencatatan Sipil"),
    ("199105152016042002", "Sri Wahyuni", "Dinas Penanaman Modal dan PTSP"),
    ("198807202014031003", "Bambang Setiawan", "Kantor Kecamatan Kota"),
    ("199203102017012004", "Dian Permata", "Puskesmas Kecamatan"),
    ("198912252013021005", "Rudi Hartono", "Badan Pendapatan Daerah"),
    ("199406302019032006", "Lina Marlina", "Dinas Sosial"),
]
# Exam settings: short exams so a demo runs through the whole flow in minutes.
EXAMS = [
    # code, title, kind, materi code, cut, max attempts, duration s, min items, max items
    ("PRA", "Tes penilaian awal", "pre_assessment", None, 85.0, 1, 20 * 60, 10, 20),
    ("UJIKOM", "Uji kompetensi", "ujikom", None, 70.0, 3, 30 * 60, 10, 25),
]


@dataclass
class DemoAccounts:
    program_id: int
    participants: list[tuple[str, str, str]] = field(default_factory=list)  # nip, name, pw
    writer: tuple[str, str] = WRITER
    admin: tuple[str, str] = ADMIN
    token: str = ""


def _pretest_codes(records: list[dict]) -> set[str]:
    """The demo's pretest items: every 30th item of each materi (about ten in each), so that
    its exams seed them and a writer sees the whole item lifecycle."""
    by_materi: dict[str, list[str]] = {}
    for record in records:
        by_materi.setdefault(record["materi"], []).append(record["code"])
    return {code for codes in by_materi.values()
            for code in codes[PRETEST_EVERY - 1::PRETEST_EVERY]}


def build_demo(url: str, *, participants: int = len(PARTICIPANTS)) -> DemoAccounts:
    """Create (migrate) the database at ``url`` and load the demo; returns the accounts."""
    ib_db.upgrade(url)
    engine = bank.make_engine(url)
    with ib_db.session_factory(engine)() as session:
        if session.scalar(select(bank.Program).where(bank.Program.code == PROGRAM_CODE)):
            raise ValueError(f"{url} already holds the demo program {PROGRAM_CODE}; "
                             "use `smartcat serve` or a new --db")
        with transaction(session):
            program = bank.Program(code=PROGRAM_CODE, is_open=True, settings_json={
                "ujikom_waiting_period_s": 0,
                # What the demo's certificates print (an administrator sets a real agency's).
                "agency_name": "Badan Pengembangan Sumber Daya Manusia (contoh)",
                "certificate_signatory_title": "Kepala Badan", "certificate_place": "Jakarta"},
                name="Pelatihan Pelayanan Publik bagi ASN")
            session.add(program)
            session.flush()
            materi_ids, tag_ids = {}, {}
            for code, name, _generators in MATERI:
                materi = bank.Materi(program_id=program.id, code=code, name=name)
                session.add(materi)
                session.flush()
                materi_ids[code] = materi.id
            pretest = _pretest_codes(demo_items())
            for record in demo_items():
                tag_key = (record["materi"], record["tag"])
                if tag_key not in tag_ids:
                    tag = bank.ContentTag(materi_id=materi_ids[record["materi"]],
                                          code=record["tag"], name=record["tag"])
                    session.add(tag)
                    session.flush()
                    tag_ids[tag_key] = tag.id
                # A pretest item has no parameters yet: exams seed it unscored until a
                # calibration from their answers makes it operational.
                new = record["code"] in pretest
                session.add(bank.Item(
                    program_id=program.id, materi_id=materi_ids[record["materi"]],
                    content_tag_id=tag_ids[tag_key], code=record["code"], stem=record["stem"],
                    options=record["options"], key=record["key"], model=bank.IrtModel.THREE_PL,
                    a=None if new else record["a"], b=None if new else record["b"],
                    c=None if new else record["c"],
                    status=bank.ItemStatus.PRETEST if new else bank.ItemStatus.OPERATIONAL,
                    author="demo", family=record["family"]))
            session.flush()
            refresh_families(session, program.id)
            exams = list(EXAMS[:1])
            for code, name, _generators in MATERI:
                exams.append((f"UJIAN-{code}", f"Ujian materi {name}", "materi", code, 70.0, 5,
                              15 * 60, 8, 15))
            exams.append(EXAMS[1])
            for code, title, kind, materi, cut, attempts, duration, lo, hi in exams:
                session.add(bank.Exam(
                    program_id=program.id, code=code, title=title, kind=bank.ExamKind(kind),
                    materi_id=materi_ids[materi] if materi else None, cut_score=cut,
                    max_attempts=attempts, duration_s=duration, min_items=lo, max_items=hi))
            for code, title in (("TUGAS-1", "Rencana perbaikan layanan di unit kerja"),
                                ("TUGAS-2", "Laporan analisis data pengaduan")):
                session.add(bank.Assignment(program_id=program.id, code=code, title=title))
        rows = [(nip, name, unit, PARTICIPANT_PASSWORD)
                for nip, name, unit in PARTICIPANTS[:participants]]
        bank.enrol_roster(session, program_id=program.id, rows=rows)
        with transaction(session):
            for (username, password), role in ((WRITER, "writer"), (ADMIN, "admin")):
                session.add(bank.StaffUser(username=username, role=bank.StaffRole(role),
                                           password_hash=bank.hash_password(password)))
        token = bank.create_service_token(session, TOKEN_NAME, scopes=bank.SERVICE_SCOPES)
        accounts = DemoAccounts(program_id=program.id, token=token, participants=[
            (nip, name, password) for nip, name, _unit, password in rows])
    engine.dispose()
    return accounts
