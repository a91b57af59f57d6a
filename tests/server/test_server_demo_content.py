"""The demo bank: enough real items, valid keys, and computed keys checked independently."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter

import numpy as np
import pytest

from server.demo_content import DAYS, demo_items


@pytest.fixture(scope="module")
def items():
    return demo_items()


def _matching(items, pattern: str) -> list:
    """(item, match) of the items whose stem matches ``pattern``."""
    found = re.compile(pattern)
    return [(item, m) for item in items if (m := found.search(item["stem"]))]


def _rupiah(text: str) -> int:
    return int(text.replace("Rp", "").replace(".", ""))


def test_bank_size_and_shape(items):
    assert len(items) >= 600
    per_materi = Counter(i["materi"] for i in items)
    assert set(per_materi) == {"PP", "ETIKA", "ADM"} and min(per_materi.values()) >= 200
    assert len({i["stem"] for i in items}) == len(items)
    assert len({i["code"] for i in items}) == len(items)
    for item in items:
        assert len(item["options"]) == 4 and len(set(item["options"])) == 4
        assert 0 <= item["key"] < 4 and item["a"] > 0 and 0 <= item["c"] < 0.5
        assert len(item["stem"]) > 40


def test_per_diem_keys_match_an_independent_sum(items):
    found = _matching(items, r"(\d) hari \((\d) malam\)\. Uang harian (Rp[\d.]+) per hari, "
                             r"penginapan (Rp[\d.]+) per malam, dan transportasi pulang-pergi "
                             r"(Rp[\d.]+)")
    for item, m in found:
        days, nights = int(m[1]), int(m[2])
        total = days * _rupiah(m[3]) + nights * _rupiah(m[4]) + _rupiah(m[5])
        assert _rupiah(item["options"][item["key"]]) == total, item["code"]
    assert len(found) >= 40


def test_budget_keys_match_the_rate(items):
    found = _matching(items, r"tahun ini (Rp[\d.]+) dan realisasinya sampai November "
                             r"(Rp[\d.]+)")
    for item, m in found:
        rate = 100 * _rupiah(m[2]) / _rupiah(m[1])
        keyed = float(item["options"][item["key"]].rstrip("%").replace(",", "."))
        assert abs(keyed - rate) <= 0.05 + 1e-9, item["code"]  # one-decimal rounding
    assert len(found) >= 40


def test_working_day_keys_match_a_business_day_calendar(items):
    found = _matching(items, r"diterima lengkap pada hari (\w+)\. .* penyelesaian (\d) hari "
                             r"kerja")
    monday = np.datetime64("2024-01-01")  # a Monday
    for item, m in found:
        start = monday + DAYS.index(m[1])
        due = np.busday_offset(start, int(m[2]), roll="forward")
        weekday = int((due - monday).astype(int) % 7)
        assert item["options"][item["key"]] == DAYS[weekday], item["code"]
    assert len(found) >= 40


_MONTHS = {m: n for n, m in enumerate(
    ["Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September",
     "Oktober", "November", "Desember"], 1)}


def _day(text: str) -> dt.date:
    _weekday, rest = text.split(", ")
    day, month, year = rest.split()
    return dt.date(int(year), _MONTHS[month], int(day))


def test_report_deadlines_are_30_working_days_counted_by_the_calendar(items):
    # Independent count: numpy's business-day calendar (Monday to Friday).
    found = _matching(items, r"pada (\w+, \d+ \w+ \d{4}) dan akan melaporkannya")
    for item, m in found:
        expected = np.busday_offset(np.datetime64(_day(m[1])), 30, roll="forward")
        assert np.datetime64(_day(item["options"][item["key"]])) == expected, item["code"]
    assert len(found) >= 40


def test_every_family_is_one_template_with_one_answer_and_exams_have_enough(items):
    by_family: dict[str, set[str]] = {}
    for item in items:
        by_family.setdefault(item["family"], set()).add(item["options"][item["key"]])
    assert all(len(answers) == 1 for answers in by_family.values())
    # The gratuity scenario: 80 variants, one answer, one family.
    assert max(Counter(i["family"] for i in items).values()) >= 80
    # Each materi has families for the pre-assessment's share and three materi exams of 15.
    families = Counter(i["materi"] for i in {i["family"]: i for i in items}.values())
    assert min(families.values()) >= 7 + 3 * 15, families
