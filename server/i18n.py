"""Participant pages speak Bahasa Indonesia by default and English on request.

A small catalog keyed by the English text: a missing Indonesian entry falls back to English,
and the test suite checks that every string used by the participant templates has one.
"""

from __future__ import annotations

from flask import Flask, current_app, request, session

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
    "Attempts used": "Percobaan terpakai",
    "Attempts left": "Sisa percobaan",
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
    "No attempts left; contact the organiser.": "Tidak ada sisa percobaan; hubungi penyelenggara.",
    "Certificate of competence": "Sertifikat kompetensi",
    "pre-assessment": "penilaian awal",
    "ujikom": "uji kompetensi",
    # Reasons given by the exam policy (item_bank) for a locked exam; the ones with numbers or
    # dates in them are shown in English.
    "Take the pre-assessment first.": "Kerjakan tes penilaian awal terlebih dahulu.",
    "The pre-assessment is taken exactly once; it cannot be repeated.":
        "Tes penilaian awal hanya dikerjakan satu kali; tidak dapat diulang.",
    "The pre-assessment comes before the training.":
        "Tes penilaian awal dikerjakan sebelum pelatihan.",
    "You already hold the certificate of this program.":
        "Anda sudah memiliki sertifikat program ini.",
    "You have already passed this exam.": "Anda sudah lulus ujian ini.",
    "This exam window is not open yet.": "Jadwal ujian ini belum dibuka.",
    "This exam window has closed.": "Jadwal ujian ini sudah ditutup.",
    "The time of this attempt has run out.": "Waktu ujian ini telah habis.",
}

CATALOGS = {"id": ID, "en": {}}


def get_locale() -> str:
    lang = request.args.get("lang")
    if lang in LOCALES:
        session["lang"] = lang
        return lang
    lang = session.get("lang")
    if lang in LOCALES:
        return lang
    return current_app.config.get("DEFAULT_LOCALE", "id")


def gettext(text: str, **values: object) -> str:
    translated = CATALOGS[get_locale()].get(text, text)
    return translated % values if values else translated


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(_=gettext, get_locale=get_locale)
