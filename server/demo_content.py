"""The demo item bank: real multiple-choice questions in Bahasa Indonesia.

Three materi of a public-service training (pelayanan publik, etika dan integritas ASN,
administrasi dan analisis data).  Each generator is a real-content template: a scenario or a
calculation whose correct option follows from the text (calculations are computed, so every
key is right by construction) with distractors that are the usual mistakes.  Parameters are
demo values drawn per template around its intended difficulty (2PL/3PL with c = 0.2 for
four options); a real bank gets them from ``smartcat calibrate``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

import numpy as np

NAMES = ["Budi", "Siti", "Andi", "Dewi", "Rahmat", "Nur", "Yusuf", "Rina", "Agus", "Lestari",
         "Hendra", "Wulan", "Fajar", "Maya", "Dimas", "Sari"]
OFFICES = ["Dinas Kependudukan dan Pencatatan Sipil", "Dinas Penanaman Modal dan PTSP",
           "Puskesmas Kecamatan", "Kantor Kecamatan", "Dinas Perhubungan",
           "Badan Pendapatan Daerah", "Dinas Sosial", "Kantor Kelurahan"]
SERVICES = ["KTP elektronik", "akta kelahiran", "izin usaha mikro", "surat keterangan domisili",
            "kartu keluarga", "persetujuan bangunan gedung", "pajak kendaraan", "bantuan sosial"]
UNITS = ["Kecamatan Utara", "Kecamatan Selatan", "Kecamatan Timur", "Kecamatan Barat",
         "Kecamatan Tengah"]
DAYS = ["Senin", "Selasa", "Rabu", "Kamis", "Jumat"]

# One item: stem, options (the first is the correct one before shuffling), content tag and
# the template's intended difficulty b.
Raw = tuple[str, list[str], str, float]


def _rupiah(value: float) -> str:
    return "Rp" + f"{value:,.0f}".replace(",", ".")


def _pct(value: float) -> str:
    return f"{value:.1f}%".replace(".", ",")


# --- materi 1: pelayanan publik ------------------------------------------------------------
_STANDARD_GAPS = [
    ("tidak menemukan daftar dokumen yang harus dibawa, baik di papan informasi maupun di "
     "laman instansi", "Persyaratan", -0.8),
    ("tidak mendapat informasi berapa hari layanan itu akan selesai", "Jangka waktu penyelesaian",
     -0.5),
    ("diminta membayar sejumlah uang yang tidak tercantum di papan informasi", "Biaya/tarif",
     -0.6),
    ("tidak tahu harus mengadu ke mana karena tidak ada informasi sarana pengaduan",
     "Penanganan pengaduan, saran, dan masukan", 0.0),
    ("mendapati urutan langkah layanan tidak dijelaskan sehingga bolak-balik ke beberapa loket",
     "Sistem, mekanisme, dan prosedur", 0.2),
]
_STANDARD_ALL = ["Persyaratan", "Jangka waktu penyelesaian", "Biaya/tarif",
                 "Penanganan pengaduan, saran, dan masukan", "Sistem, mekanisme, dan prosedur",
                 "Sarana, prasarana, dan/atau fasilitas", "Kompetensi pelaksana"]


def _standard_gap(rng: np.random.Generator) -> Iterator[Raw]:
    for name in NAMES:
        for office in OFFICES:
            situation, answer, b = _STANDARD_GAPS[int(rng.integers(len(_STANDARD_GAPS)))]
            service = SERVICES[int(rng.integers(len(SERVICES)))]
            wrong = [x for x in _STANDARD_ALL if x != answer]
            picks = rng.choice(len(wrong), 3, replace=False)
            yield (f"{name} datang ke {office} untuk mengurus {service}, tetapi {situation}. "
                   "Komponen standar pelayanan (UU No. 25 Tahun 2009) mana yang belum dipenuhi "
                   "oleh penyelenggara?", [answer] + [wrong[i] for i in picks], "standar", b)


_PRINCIPLES = [
    ("mendahulukan kerabatnya yang datang belakangan daripada warga yang sudah antre",
     "Persamaan perlakuan/tidak diskriminatif", -0.7),
    ("membiarkan warga lanjut usia dan penyandang disabilitas ikut antre panjang tanpa "
     "bantuan", "Fasilitas dan perlakuan khusus bagi kelompok rentan", -0.3),
    ("menolak menjelaskan alasan berkas ditolak kepada pemohon", "Keterbukaan", -0.2),
    ("menyelesaikan layanan jauh melewati waktu yang dijanjikan tanpa pemberitahuan",
     "Ketepatan waktu", -0.4),
    ("meminta imbalan agar berkas diproses lebih cepat", "Akuntabilitas", 0.3),
]
_PRINCIPLES_ALL = [p[1] for p in _PRINCIPLES] + ["Kepastian hukum", "Keseimbangan hak dan "
                                                  "kewajiban", "Partisipatif"]


def _principle(rng: np.random.Generator) -> Iterator[Raw]:
    for name in NAMES:
        for service in SERVICES:
            act, answer, b = _PRINCIPLES[int(rng.integers(len(_PRINCIPLES)))]
            wrong = [x for x in _PRINCIPLES_ALL if x != answer]
            picks = rng.choice(len(wrong), 3, replace=False)
            yield (f"Petugas loket layanan {service} bernama {name} {act}. Asas pelayanan publik "
                   "yang paling jelas dilanggar adalah ...", [answer] + [wrong[i] for i in picks],
                   "asas", b)


_FACTS = [
    ("Undang-undang yang mengatur pelayanan publik di Indonesia adalah ...",
     ["UU No. 25 Tahun 2009", "UU No. 5 Tahun 2014", "UU No. 30 Tahun 2014",
      "UU No. 14 Tahun 2008"], -0.2),
    ("Lembaga negara yang berwenang mengawasi penyelenggaraan pelayanan publik adalah ...",
     ["Ombudsman Republik Indonesia", "Badan Kepegawaian Negara", "Komisi Aparatur Sipil Negara",
      "Lembaga Administrasi Negara"], -0.4),
    ("Pernyataan tertulis penyelenggara yang berisi kesanggupan melaksanakan pelayanan sesuai "
     "standar pelayanan disebut ...", ["Maklumat pelayanan", "Standar operasional prosedur",
                                       "Surat edaran", "Pakta integritas"], 0.4),
    ("Kanal pengaduan pelayanan publik nasional yang terintegrasi disebut ...",
     ["SP4N-LAPOR!", "SIMPEG", "e-Kinerja", "SIPD"], -0.1),
    ("Instrumen untuk mengukur kepuasan masyarakat atas layanan secara berkala adalah ...",
     ["Survei Kepuasan Masyarakat", "Laporan keuangan", "Analisis jabatan", "Audit kinerja"],
     -0.3),
]


def _facts(rng: np.random.Generator) -> Iterator[Raw]:
    for stem, options, b in _FACTS:
        yield stem, list(options), "standar", b


def _complaint_rate(rng: np.random.Generator) -> Iterator[Raw]:
    for office in OFFICES:
        for _ in range(6):
            received = int(rng.integers(40, 400))
            solved = int(rng.integers(received // 3, received))
            rate = 100 * solved / received
            wrong = [100 * (received - solved) / received, 100 * solved / (received + solved),
                     rate + 10]
            yield (f"Dalam satu bulan, unit pengaduan {office} menerima {received} pengaduan dan "
                   f"menyelesaikan {solved} di antaranya. Berapa persen pengaduan yang "
                   "diselesaikan (dibulatkan satu desimal)?", [_pct(rate)] + [_pct(w) for w in
                                                                              wrong],
                   "pengaduan", 0.3)


# --- materi 2: etika dan integritas ASN ----------------------------------------------------
_VALUES = {
    "Berorientasi Pelayanan": ["berusaha memahami dan memenuhi kebutuhan masyarakat yang "
                               "dilayaninya", "melayani warga dengan ramah, cekatan, dan solutif"],
    "Akuntabel": ["melaksanakan tugas dengan jujur, bertanggung jawab, cermat, dan disiplin",
                  "menggunakan kendaraan dinas hanya untuk keperluan dinas"],
    "Kompeten": ["terus belajar untuk mengembangkan kapabilitas dirinya",
                 "membantu rekan kerja belajar dan berbagi pengetahuan"],
    "Harmonis": ["menghargai setiap orang apa pun latar belakangnya",
                 "membangun lingkungan kerja yang kondusif dan saling peduli"],
    "Loyal": ["memegang teguh ideologi Pancasila dan setia kepada NKRI",
              "menjaga nama baik instansi dan rahasia jabatan"],
    "Adaptif": ["cepat menyesuaikan diri menghadapi perubahan",
                "terus berinovasi dan bertindak proaktif"],
    "Kolaboratif": ["memberi kesempatan kepada berbagai pihak untuk berkontribusi",
                    "menggerakkan pemanfaatan sumber daya bersama untuk tujuan bersama"],
}


def _core_values(rng: np.random.Generator) -> Iterator[Raw]:
    names = list(_VALUES)
    for person in NAMES:
        for value, behaviours in _VALUES.items():
            behaviour = behaviours[int(rng.integers(len(behaviours)))]
            wrong = [n for n in names if n != value]
            picks = rng.choice(len(wrong), 3, replace=False)
            yield (f"{person}, seorang ASN, {behaviour}. Perilaku ini paling sesuai dengan nilai "
                   "dasar ASN BerAKHLAK yang mana?", [value] + [wrong[i] for i in picks],
                   "nilai_dasar", float(rng.normal(-0.2, 0.4)))


_GIFTS = ["parsel makanan", "voucher belanja", "uang tunai", "telepon genggam", "tiket liburan"]


def _gratification(rng: np.random.Generator) -> Iterator[Raw]:
    for name in NAMES:
        for office in OFFICES[:5]:
            gift = _GIFTS[int(rng.integers(len(_GIFTS)))]
            value = int(rng.integers(5, 60)) * 100_000
            yield (f"{name}, petugas {office}, menerima {gift} senilai {_rupiah(value)} dari "
                   "pemohon yang berkasnya baru saja ia proses. Tindakan yang benar adalah ...",
                   ["Menolaknya, atau bila terlanjur diterima melaporkannya ke KPK paling lambat "
                    "30 hari kerja",
                    "Menerimanya karena diberikan setelah layanan selesai",
                    "Menerimanya lalu membagikannya kepada rekan satu unit",
                    "Menerimanya asalkan nilainya dicatat sendiri"], "gratifikasi",
                   float(rng.normal(-0.5, 0.3)))


_CONFLICTS = [
    ("menjadi anggota panitia pengadaan, sementara perusahaan milik adiknya ikut menawar",
     "Menyatakan adanya konflik kepentingan dan tidak ikut menilai penawaran tersebut"),
    ("menilai berkas seleksi jabatan, dan salah satu pelamar adalah sepupunya",
     "Melaporkan hubungan keluarga itu kepada atasan dan meminta diganti sebagai penilai"),
    ("diminta memeriksa laporan keuangan yayasan tempat istrinya menjadi bendahara",
     "Menyampaikan konflik kepentingan dan meminta pemeriksa lain ditugaskan"),
]


def _conflict(rng: np.random.Generator) -> Iterator[Raw]:
    wrongs = ["Tetap menilai karena yakin dapat bersikap objektif",
              "Memberi nilai yang sedikit lebih rendah agar tidak dicurigai",
              "Meminta keluarganya mundur tanpa memberi tahu siapa pun",
              "Menilai bersama keluarganya agar lebih cepat selesai"]
    for name in NAMES:
        for office in OFFICES[:4]:
            situation, answer = _CONFLICTS[int(rng.integers(len(_CONFLICTS)))]
            picks = rng.choice(len(wrongs), 3, replace=False)
            yield (f"{name}, pegawai {office}, {situation}. Sikap yang sesuai kode etik ASN "
                   "adalah ...", [answer] + [wrongs[i] for i in picks], "konflik",
                   float(rng.normal(0.2, 0.4)))


def _neutrality(rng: np.random.Generator) -> Iterator[Raw]:
    events = ["kampanye calon kepala daerah", "deklarasi dukungan calon legislatif",
              "konvoi partai politik"]
    for name in NAMES:
        for event in events:
            yield (f"{name}, ASN di {OFFICES[int(rng.integers(len(OFFICES)))]}, diajak "
                   f"menghadiri {event} dengan memakai atribut pendukung pada hari libur. "
                   "Sikap yang sesuai dengan asas netralitas ASN adalah ...",
                   ["Menolak karena ASN dilarang terlibat dalam kegiatan politik praktis",
                    "Hadir karena dilakukan di luar jam kerja",
                    "Hadir tanpa seragam dinas sehingga diperbolehkan",
                    "Hadir asalkan tidak mengunggah foto ke media sosial"], "netralitas",
                   float(rng.normal(0.0, 0.3)))


_MONTHS = ["Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus",
           "September", "Oktober", "November", "Desember"]
_WEEKDAYS = DAYS + ["Sabtu", "Minggu"]


def _date(day: dt.date) -> str:
    return f"{_WEEKDAYS[day.weekday()]}, {day.day} {_MONTHS[day.month - 1]} {day.year}"


def _working_days_after(day: dt.date, n: int) -> dt.date:
    """The ``n``-th working day (Monday to Friday) after ``day``."""
    while n:
        day += dt.timedelta(days=1)
        if day.weekday() < 5:
            n -= 1
    return day


def _report_deadline(_rng: np.random.Generator) -> Iterator[Raw]:
    # UU No. 20 Tahun 2001 Pasal 12C: a gratuity is reported to the KPK within 30 working
    # days of its receipt.  Its own random stream: adding it changed no other demo item.
    rng = np.random.default_rng(20241201)
    for name in NAMES:
        for office in OFFICES[:5]:
            received = dt.date(2025, 1, 1) + dt.timedelta(days=int(rng.integers(0, 330)))
            if received.weekday() >= 5:
                continue
            deadline = _working_days_after(received, 30)
            wrong = [received + dt.timedelta(days=30), _working_days_after(received, 29),
                     _working_days_after(received, 14)]
            if len({deadline, *wrong}) < 4:
                continue
            yield (f"{name}, pegawai {office}, menerima bingkisan dari pemohon layanan pada "
                   f"{_date(received)} dan akan melaporkannya sebagai gratifikasi. Batas "
                   "pelaporan ke KPK adalah 30 hari kerja sejak tanggal penerimaan, dihitung "
                   "mulai hari kerja berikutnya (anggap tidak ada hari libur selain Sabtu dan "
                   "Minggu). Kapan batas akhir pelaporannya?",
                   [_date(deadline)] + [_date(w) for w in wrong], "gratifikasi",
                   float(rng.normal(0.4, 0.3)))


# --- materi 3: administrasi dan analisis data ----------------------------------------------
def _budget(rng: np.random.Generator) -> Iterator[Raw]:
    for office in OFFICES:
        for _ in range(9):
            ceiling = int(rng.integers(20, 500)) * 10_000_000
            spent = int(ceiling * rng.uniform(0.4, 0.98) / 1_000_000) * 1_000_000
            rate = 100 * spent / ceiling
            yield (f"Pagu anggaran {office} tahun ini {_rupiah(ceiling)} dan realisasinya sampai "
                   f"November {_rupiah(spent)}. Berapa persen realisasi anggaran (dibulatkan "
                   "satu desimal)?", [_pct(rate), _pct(100 - rate), _pct(rate * 0.9),
                                      _pct(min(rate + 7.5, 99.9))], "hitung",
                   float(rng.normal(0.3, 0.3)))


def _per_diem(rng: np.random.Generator) -> Iterator[Raw]:
    for name in NAMES:
        for _ in range(5):
            days = int(rng.integers(2, 6))
            daily = int(rng.integers(3, 8)) * 100_000
            lodging = int(rng.integers(4, 9)) * 100_000
            transport = int(rng.integers(5, 30)) * 100_000
            total = days * daily + (days - 1) * lodging + transport
            wrong = [days * (daily + lodging) + transport, days * daily + transport,
                     (days - 1) * (daily + lodging) + transport]
            if len({total, *wrong}) < 4:
                continue
            yield (f"{name} melakukan perjalanan dinas {days} hari ({days - 1} malam). Uang harian "
                   f"{_rupiah(daily)} per hari, penginapan {_rupiah(lodging)} per malam, dan "
                   f"transportasi pulang-pergi {_rupiah(transport)}. Berapa total biaya "
                   "perjalanan dinas tersebut?", [_rupiah(total)] + [_rupiah(w) for w in wrong],
                   "hitung", float(rng.normal(0.6, 0.3)))


def _working_days(rng: np.random.Generator) -> Iterator[Raw]:
    for service in SERVICES:
        for start in range(5):
            for sla in (3, 5, 7):
                # Count working days after the day of submission, skipping the weekend.
                day, left = start, sla
                while left:
                    day = (day + 1) % 7
                    if day < 5:
                        left -= 1
                answer = DAYS[day]
                naive = DAYS[(start + sla) % 7] if (start + sla) % 7 < 5 else "Sabtu"
                wrong = [d for d in DAYS + ["Sabtu"] if d not in (answer,)]
                if naive != answer and naive in wrong:
                    wrong.remove(naive)
                    wrong.insert(0, naive)
                yield (f"Permohonan {service} diterima lengkap pada hari {DAYS[start]}. Standar "
                       f"pelayanan menetapkan penyelesaian {sla} hari kerja, dihitung sejak hari "
                       "berikutnya dan tanpa hari libur selain Sabtu dan Minggu. Pada hari apa "
                       "layanan paling lambat selesai?", [answer] + wrong[:3], "hitung",
                       float(rng.normal(0.0, 0.3)))


def _table(rng: np.random.Generator) -> Iterator[Raw]:
    for k in range(40):
        units = list(rng.choice(UNITS, 4, replace=False))
        received = rng.integers(80, 300, size=4)
        solved = np.array([int(rng.integers(r // 2, r + 1)) for r in received])
        rows = "; ".join(f"{u}: masuk {r}, selesai {s}" for u, r, s in
                         zip(units, received, solved, strict=True))
        rates = solved / received
        if k % 2 == 0:
            best = int(np.argmax(rates))
            if np.sort(rates)[-1] - np.sort(rates)[-2] < 0.01:
                continue
            most = int(np.argmax(solved))
            options = [units[best]] + [units[i] for i in range(4) if i != best]
            if most != best:  # the usual mistake: most solved instead of best rate
                options = [units[best], units[most]] + [units[i] for i in range(4)
                                                        if i not in (best, most)]
            yield (f"Data permohonan layanan per unit bulan ini — {rows}. Unit mana yang "
                   "memiliki persentase penyelesaian tertinggi?", options[:4], "tabel",
                   float(rng.normal(0.5, 0.3)))
        else:
            total = int(received.sum() - solved.sum())
            wrong = [int(solved.sum()), int(received.sum()), total + int(rng.integers(5, 30))]
            yield (f"Data permohonan layanan per unit bulan ini — {rows}. Berapa jumlah "
                   "permohonan yang belum selesai di keempat unit?",
                   [str(total)] + [str(w) for w in wrong], "tabel", float(rng.normal(0.2, 0.3)))


MATERI: list[tuple[str, str, list[Callable[[np.random.Generator], Iterator[Raw]]]]] = [
    ("PP", "Pelayanan Publik", [_standard_gap, _principle, _facts, _complaint_rate]),
    ("ETIKA", "Etika dan Integritas ASN", [_core_values, _gratification, _conflict, _neutrality,
                                           _report_deadline]),
    ("ADM", "Administrasi dan Analisis Data", [_budget, _per_diem, _working_days, _table]),
]


def demo_items(seed: int = 20240601) -> list[dict]:
    """Every demo item as a record: code, materi code, tag, family, stem, options, key, a, b,
    c.

    Options are shuffled so the key's position is uniform; stems are unique.
    """
    rng = np.random.default_rng(seed)
    items: list[dict] = []
    seen: set[str] = set()
    for materi_code, _name, generators in MATERI:
        n = 0
        for generator in generators:
            # The item's family: its template and its answer.  Variants of one scenario with
            # the same correct answer give each other away (a participant told "the answer
            # is Akuntabel" needs no more), so no participant gets two of them.
            answers: dict[str, int] = {}
            for stem, options, tag, b in generator(rng):
                if stem in seen or len(set(options)) != 4:
                    continue
                seen.add(stem)
                order = rng.permutation(4)
                n += 1
                variant = answers.setdefault(options[0], len(answers) + 1)
                items.append({
                    "code": f"{materi_code}-{n:04d}", "materi": materi_code, "tag": tag,
                    "family": f"{materi_code}-{generator.__name__.strip('_')}-{variant}",
                    "stem": stem, "options": [options[i] for i in order],
                    "key": int(np.flatnonzero(order == 0)[0]),
                    "a": round(float(rng.lognormal(0.1, 0.25)), 3),
                    "b": round(float(np.clip(b + rng.normal(0, 0.5), -3, 3)), 3),
                    "c": 0.2,
                })
    return items
