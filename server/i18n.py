"""Participant pages speak Bahasa Indonesia by default and English on request.

A small catalog keyed by the English text: a missing Indonesian entry falls back to English,
and the test suite checks that every string used by the participant templates has one.
Messages of the exam policy (item_bank, English) that carry numbers or dates are translated
by pattern, and an error page whose message has no translation at all is explained in
Indonesian by its error code (the English detail stays below it).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from flask import Flask, current_app, request, session

from item_bank.messages import Notice

LOCALES = ("id", "en")

ID: dict[str, str] = {
    "Log in": "Masuk",
    "Log out": "Keluar",
    "NIP": "NIP",
    "Password": "Kata sandi",
    "Username": "Nama pengguna",
    "Staff login": "Masuk staf",
    "Participant login": "Masuk peserta",
    "Invalid NIP or password.": "NIP atau kata sandi salah.",
    "Invalid username or password.": "Nama pengguna atau kata sandi salah.",
    "Too many failed logins; wait a minute and try again.":
        "Terlalu banyak percobaan masuk yang gagal; tunggu satu menit lalu coba lagi.",
    "My programs": "Program saya",
    "Program": "Program",
    "Pre-assessment": "Tes penilaian awal",
    "Materi exam": "Ujian materi",
    "Competency test (ujikom)": "Uji kompetensi (ujikom)",
    "Exam": "Ujian",
    "Status": "Status",
    "Attempts used": "Kesempatan terpakai",
    "Attempts left": "Sisa kesempatan",
    "Best score": "Nilai terbaik",
    "Result": "Hasil",
    "open": "terbuka",
    "locked": "terkunci",
    "passed": "lulus",
    "failed": "tidak lulus",
    "in progress": "sedang berlangsung",
    "done": "selesai",
    "not done": "belum selesai",
    "Start": "Mulai",
    "Continue": "Lanjutkan",
    "Assignments": "Tugas",
    "Certificate": "Sertifikat",
    "Certificate number": "Nomor sertifikat",
    "Print certificate": "Cetak sertifikat",
    "Question": "Soal",
    "of": "dari",
    "Time left": "Sisa waktu",
    "Answer saved.": "Jawaban tersimpan.",
    "Saving…": "Menyimpan…",
    "Could not save the answer; retrying.": "Jawaban belum tersimpan; mencoba lagi.",
    "Choose an answer by clicking it or pressing 1-4 / A-D. It is saved at once.":
        "Pilih jawaban dengan mengklik atau menekan 1-4 / A-D. Jawaban langsung tersimpan.",
    "Finish exam": "Selesaikan ujian",
    "Finish the exam now? Unanswered questions count as wrong.":
        "Selesaikan ujian sekarang? Soal yang belum dijawab dihitung salah.",
    "Score": "Nilai",
    "Passed": "Lulus",
    "Not passed": "Tidak lulus",
    "kompeten": "kompeten",
    "belum kompeten": "belum kompeten",
    "Next step": "Langkah berikutnya",
    "Back to my programs": "Kembali ke program saya",
    "Time is up; the exam has been finished.": "Waktu habis; ujian telah diselesaikan.",
    "Certificate verification": "Verifikasi sertifikat",
    "This certificate is valid.": "Sertifikat ini sah.",
    "No certificate with this number.": "Tidak ada sertifikat dengan nomor ini.",
    "Name": "Nama",
    "Route": "Jalur",
    "Date": "Tanggal",
    "Language": "Bahasa",
    "Error": "Kesalahan",
    "Recommendation": "Rekomendasi",
    "Take the follow-up training of this program.": "Ikuti pelatihan lanjutan dari program ini.",
    "Waiting until": "Menunggu hingga",
    "Certificate issued: you are recognised as competent.":
        "Sertifikat terbit: Anda dinyatakan kompeten.",
    "Follow the training: study each materi and pass its exam.":
        "Ikuti pelatihan: pelajari setiap materi dan lulus ujiannya.",
    "Study the materi again and retake its exam.": "Pelajari kembali materi lalu ulangi ujiannya.",
    "Continue with the next materi exam or the competency test when it opens.":
        "Lanjutkan ke ujian materi berikutnya atau uji kompetensi setelah terbuka.",
    "Study again and retake the competency test after the waiting period.":
        "Belajar kembali dan ulangi uji kompetensi setelah masa tunggu.",
    "No attempts left; contact the organiser.":
        "Kesempatan ujian sudah habis; hubungi penyelenggara.",
    "Certificate of competence": "Sertifikat kompetensi",
    "pre-assessment": "penilaian awal",
    "ujikom": "uji kompetensi",
    # Reasons given by the exam policy (item_bank) for a locked exam; the ones with numbers or
    # dates in them are in PATTERNS below.
    "Take the pre-assessment first.": "Kerjakan tes penilaian awal terlebih dahulu.",
    "The pre-assessment is taken exactly once; it cannot be repeated.":
        "Tes penilaian awal sudah pernah diikuti; tes ini hanya dapat dikerjakan satu kali.",
    "The pre-assessment comes before the training.":
        "Tes penilaian awal hanya dapat diikuti sebelum pelatihan dimulai.",
    "You already hold the certificate of this program.":
        "Anda sudah memiliki sertifikat program ini.",
    "You have already passed this exam.": "Anda sudah lulus ujian ini.",
    "This exam window is not open yet.": "Jadwal ujian ini belum dibuka.",
    "This exam window has closed.": "Jadwal ujian ini sudah ditutup.",
    "The time of this attempt has run out.": "Waktu ujian ini telah habis.",
    # Other errors of the exam policy a participant can meet on a page.
    "Exam not found.": "Ujian tidak ditemukan.",
    "Attempt not found.": "Data pengerjaan ujian tidak ditemukan.",
    "Program not found.": "Program tidak ditemukan.",
    "Participant not found.": "Peserta tidak ditemukan.",
    "You are not enrolled in this program.": "Anda tidak terdaftar dalam program ini.",
    "Another start of this exam is in progress.":
        "Ujian ini sedang dimulai dari tab atau perangkat lain; tunggu sebentar lalu muat ulang "
        "halaman.",
    "This attempt is finished.": "Ujian ini sudah selesai.",
    "This is not the current item of the attempt.": "Soal ini bukan soal yang sedang aktif.",
    "This item is not part of this attempt.": "Soal ini bukan bagian dari ujian ini.",
    "This item was already answered with another option.":
        "Soal ini sudah dijawab dengan pilihan lain.",
    # Errors of the server itself (server.errors, server.security, werkzeug's 404 and 405).
    "The requested URL was not found on the server. If you entered the URL manually please "
    "check your spelling and try again.":
        "Alamat yang diminta tidak ditemukan. Jika Anda mengetik alamat sendiri, periksa "
        "kembali penulisannya lalu coba lagi.",
    "The method is not allowed for the requested URL.":
        "Cara permintaan ini tidak diizinkan untuk alamat tersebut.",
    "The form expired or was not sent by this site; reload the page and try again.":
        "Formulir sudah kedaluwarsa atau tidak dikirim dari situs ini; muat ulang halaman lalu "
        "coba lagi.",
    "Your role may not use this page.": "Peran Anda tidak diizinkan membuka halaman ini.",
    "Log in first.": "Silakan masuk terlebih dahulu.",
    "The database cannot be reached right now; nothing was saved by this request. Try again "
    "in a few seconds.":
        "Basis data sedang tidak dapat dihubungi; permintaan ini tidak menyimpan apa pun. Coba "
        "lagi dalam beberapa detik.",
    "Internal error; it has been logged.":
        "Terjadi kesalahan internal; kesalahan ini sudah dicatat.",
}

MONTHS_ID = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus",
             "September", "Oktober", "November", "Desember")


def _date_id(match: re.Match[str]) -> str:
    """``2025-01-31 08:00`` (as the policy writes it) as ``31 Januari 2025 pukul 08.00``."""
    return (f"{int(match['day'])} {MONTHS_ID[int(match['month']) - 1]} {match['year']} "
            f"pukul {match['hour']}.{match['minute']}")


# Policy messages with numbers or dates (item_bank.policy._gate), whole message -> Indonesian.
ID_PATTERNS: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (re.compile(r"No attempts left: all (?P<n>\d+) attempts are used \(belum kompeten\)\."),
     lambda m: f"Kesempatan uji kompetensi sudah habis ({m['n']} dari {m['n']}); hasil: "
               "belum kompeten."),
    (re.compile(r"No attempts left: all (?P<n>\d+) attempts are used\."),
     lambda m: f"Kesempatan ujian sudah habis ({m['n']} dari {m['n']})."),
    (re.compile(r"Pass every materi exam first \((?P<n>\d+) not passed yet\)\."),
     lambda m: "Uji kompetensi terkunci sampai semua materi lulus dan tugas selesai: "
               f"{m['n']} ujian materi belum lulus."),
    (re.compile(r"Complete every assignment first \((?P<n>\d+) not marked done\)\."),
     lambda m: "Uji kompetensi terkunci sampai semua materi lulus dan tugas selesai: "
               f"{m['n']} tugas belum dinyatakan selesai."),
    (re.compile(r"This exam window opens at (?P<year>\d{4})-(?P<month>\d\d)-"
                r"(?P<day>\d\d) (?P<hour>\d\d):(?P<minute>\d\d) (?P<zone>[\w+-]+)\."),
     lambda m: f"Jadwal ujian ini dibuka pada {_date_id(m)} {m['zone']}."),
    (re.compile(r"Waiting period for remedial study until (?P<year>\d{4})-(?P<month>\d\d)-"
                r"(?P<day>\d\d) (?P<hour>\d\d):(?P<minute>\d\d) (?P<zone>[\w+-]+)\."),
     lambda m: f"Masa tunggu untuk belajar kembali: ujian dapat diikuti lagi pada {_date_id(m)} "
               f"{m['zone']}."),
)

# Error pages: what an error code means, for a message with no translation (its English
# detail, e.g. a bank shortage or a form problem of the staff pages, is shown under it).
ID_BY_CODE = {
    "not_found": "Data atau halaman yang diminta tidak ditemukan.",
    "forbidden": "Anda tidak diizinkan melakukan ini.",
    "locked": "Ujian ini belum dapat dimulai.",
    "bank_exhausted": "Soal untuk ujian ini belum mencukupi; hubungi penyelenggara.",
    "conflict": "Permintaan ini tidak sesuai dengan keadaan ujian saat ini; muat ulang halaman.",
    "invalid_input": "Data yang dikirim tidak dapat diterima.",
    "bad_request": "Permintaan tidak dapat dibaca.",
}

CATALOGS = {"id": ID, "en": {}}
PATTERNS = {"id": ID_PATTERNS, "en": ()}
BY_CODE = {"id": ID_BY_CODE, "en": {}}


def get_locale() -> str:
    lang = request.args.get("lang")
    if lang in LOCALES:
        session["lang"] = lang
        return lang
    lang = session.get("lang")
    if lang in LOCALES:
        return lang
    return current_app.config.get("DEFAULT_LOCALE", "id")


def _translate(text: str, locale: str) -> str | None:
    """``text`` in ``locale`` by the catalog or a pattern; None when neither knows it."""
    translated = CATALOGS[locale].get(text)
    if translated is not None:
        return translated
    for pattern, render in PATTERNS[locale]:
        match = pattern.fullmatch(text)
        if match:
            return render(match)
    return None


def gettext(text: str | Notice, **values: object) -> str:
    if isinstance(text, Notice):
        text = text.text()
    translated = _translate(text, get_locale())
    if translated is None:
        translated = text
    return translated % values if values else translated


def explain_error(code: str, message: str) -> tuple[str, str | None]:
    """An error page's message in the page's language and, when only its error code could be
    translated, the original message as the detail under it."""
    locale = get_locale()
    translated = _translate(message, locale)
    if translated is not None:
        return translated, None
    general = BY_CODE[locale].get(code)
    if general is None:
        return message, None
    return general, message


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(_=gettext, get_locale=get_locale, explain_error=explain_error)
