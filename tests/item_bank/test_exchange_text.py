"""Aiken and GIFT read as Moodle's own test fixtures expect (tests/data/exchange/SOURCES.md),
and the cases those fixtures do not cover."""

from __future__ import annotations

from pathlib import Path

import pytest

from item_bank.exchange.aiken_gift import read_aiken, read_gift
from item_bank.exchange.base import MAX_FILE_BYTES, ExchangeError

DATA = Path(__file__).resolve().parents[1] / "data" / "exchange"


def _read(reader, folder: str, name: str):
    return reader((DATA / folder / name).read_bytes(), name)


def test_moodle_gift_fixture_four_read_five_refused_by_kind():
    parsed = _read(read_gift, "gift", "questions.gift.txt")
    assert [(i.position, i.name, i.options, i.key) for i in parsed.items] == [
        (3, "Q2", ("yellow", "red", "blue"), 0),  # feedback and the [plain] marker dropped
        (7, "Q1", ("Benar", "Salah"), 1),  # FALSE, general feedback after ####
        (8, "2-08 TSL", ("Benar", "Salah"), 0),  # {T}
        (9, "2-08 TSL", ("Benar", "Salah"), 0)]  # {TRUE}
    assert parsed.items[0].stem == "What's between orange and green in the spectrum?"
    assert parsed.items[1].stem.startswith("42 is the Absolute Answer to everything. _____")
    assert [(r.position, r.name, r.reason) for r in parsed.refusals] == [
        (1, "Q8", "an essay question (empty answer block)"),
        (2, "Moodle activities", "a matching question"),
        (4, "colours", "answers with partial credit (%n%) are not single-answer"),
        (5, "Q5", "a numerical question"),
        (6, "Shortanswer", "a short-answer question (only right answers, no choices)")]


def test_moodle_gift_fixture_with_category_and_html():
    parsed = _read(read_gift, "gift", "questions_in_category.gift.txt")
    (acronym,) = parsed.items
    # [html] with escaped \= and \: : the markup goes, the text stays.
    assert acronym.stem == ("Moodle is an acronym for Modular Object-Oriented Dynamic Learning "
                            "Environment.")
    assert (acronym.options, acronym.key) == (("Benar", "Salah"), 0)
    # "$course$/Default for New Features" is Moodle's default category: no content tag.
    assert {i.category for i in parsed.items} == {None}
    assert [(r.position, r.name) for r in parsed.refusals] == [
        (1, "Moodle activities"), (2, "Greeting"), (3, "Moodle user")]
    # "Listen to this greeting" links to a sound the exam cannot play: refused, with where.
    assert parsed.refusals[1].reason == (
        "the question holds a link (<a> 'http://demo.moodle.net/file.php/5/media/bonjour.mp3'),"
        " which the exam cannot show")


def test_moodle_aiken_fixtures():
    good = _read(read_aiken, "aiken", "questions.aiken.txt")
    assert [(i.stem, i.options, i.key) for i in good.items] == [
        ("The Moodle project was started by:",
         ("Petr Skoda", "Martin Dougiamas", "Eloy Lafuente", "Tim Hunt"), 1),
        ('Moodle\'s abilities include handling user input that includes <html class="cool"> '
         "& images:", ("True", "False"), 0)]  # Aiken is text: the markup stays text
    assert good.refusals == ()
    errors = _read(read_aiken, "aiken", "aiken_errors.txt")
    assert [(i.stem, i.options, i.key) for i in errors.items] == [
        ("A good question", ("Correct", "Incorrect"), 0),
        ("A second good question", ("Incorrect (No space)", "Correct (No space)"), 1)]
    assert [(r.name, r.reason) for r in errors.refusals] == [
        ("line 1", "a question needs at least 2 options"),
        ("line 5", "the block starts with an option: the question text is missing"),
        ("line 7", "'ANSWER: Question not started' does not name one option letter"),
        ("line 14", "no ANSWER: line")]


def test_gift_penalties_escapes_categories_and_refusals():
    text = r"""$CATEGORY: $course$/top/Pajak/PPh 21

::P1:: Tarif \{lapisan\} pertama\: berapa? {=5% ~%-50%15% ~25%}

::P2:: Dua benar {=a =b ~c}

::P3:: Enam pilihan {=1 ~2 ~3 ~4 ~5 ~6}

::P4:: Sama {=x ~x}
"""
    parsed = read_gift(text.encode(), "pajak.gift")
    (item,) = parsed.items
    assert (item.stem, item.options, item.key, item.category) == (
        "Tarif {lapisan} pertama: berapa?", ("5%", "15%", "25%"), 0, "PPh 21")
    assert [(r.name, r.reason) for r in parsed.refusals] == [
        ("P2", "2 right answers; exactly one must be right"),
        ("P3", "6 options; the product holds at most 5 (A-E)"),
        ("P4", "two options have the same text")]


@pytest.mark.parametrize("reader", [read_aiken, read_gift])
def test_unusable_text_files_are_refused_whole(reader):
    with pytest.raises(ExchangeError, match="at most 20 MB"):
        reader(b"x" * (MAX_FILE_BYTES + 1), "big.txt")
    with pytest.raises(ExchangeError, match="not UTF-8"):
        reader("Soal?\nA. ya\nB. tidak\nANSWER: A\n".encode("utf-16"), "utf16.txt")
    with pytest.raises(ExchangeError, match="is empty"):
        reader(b"", "empty.txt")
    with pytest.raises(ExchangeError, match="holds no question"):
        reader(b"\n \n\t\n", "blank.txt")
