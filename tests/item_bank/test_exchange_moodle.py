"""Moodle XML: reading Moodle's own files, our export read back unchanged, hostile files refused.

Pure functions (no database): :func:`read_moodle_xml` and :func:`write_moodle_xml`.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from item_bank.exchange import base
from item_bank.exchange.base import MAX_IMAGE_BYTES, ExchangeError
from item_bank.exchange.moodle import read_moodle_xml, write_moodle_xml
from tests.item_bank.item_bank_helpers import picture

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "exchange" / "moodle"
# The smallest valid PNG (1x1, transparent) and GIF, so the image checks see real signatures.
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA"
                       "60e6kgAAAABJRU5ErkJggg==")
GIF = picture("GIF")


def _quiz(*questions: str, category: str | None = None) -> bytes:
    head = (f'<question type="category"><category><text>{category}</text></category>'
            f'</question>' if category else "")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<quiz>{head}{"".join(questions)}</quiz>' \
        .encode()


def _answer(text: str, fraction: str = "0", fmt: str = "html") -> str:
    return f'<answer fraction="{fraction}" format="{fmt}"><text><![CDATA[{text}]]></text>' \
           f'<feedback format="html"><text>well</text></feedback></answer>'


def _mc(name: str = "q1", stem: str = "<p>What is 2 + 2?</p>", answers: tuple = (),
        files: str = "", extra: str = "", kind: str = "multichoice", fmt: str = "html") -> str:
    answers = answers or (_answer("4", "100"), _answer("3"), _answer("5"))
    return (f'<question type="{kind}"><name><text>{name}</text></name>'
            f'<questiontext format="{fmt}"><text><![CDATA[{stem}]]></text>{files}</questiontext>'
            f'<generalfeedback format="html"><text>general</text></generalfeedback>'
            f'<penalty>0.3333333</penalty>{extra}{"".join(answers)}</question>')


def _file(name: str, data: bytes | str) -> str:
    text = data if isinstance(data, str) else base64.b64encode(data).decode()
    return f'<file name="{name}" path="/" encoding="base64">{text}</file>'


def _read(*questions: str, category: str | None = None):
    return read_moodle_xml(_quiz(*questions, category=category), "quiz.xml")


def _record(id_: str = "Q-1", **fields) -> dict:
    record = {"id": id_, "materi": "M1", "content_tag": "T1", "stem": "2 + 2 = ?",
              "options": ["3", "4", "5"], "key": "B", "model": "2pl", "a": 1.2, "b": -0.3,
              "c": None, "status": "operational", "author": "ana", "version": 1, "images": []}
    record.update(fields)
    return record


# ------------------------------------------------------------------------------- reading


def test_multichoice_read_with_feedback_ignored():
    parsed = _read(_mc(extra="<single>true</single><idnumber>K-7</idnumber>"))
    (item,) = parsed.items
    assert (item.position, item.name, item.stem, item.options, item.key, item.code) == \
        (1, "q1", "What is 2 + 2?", ("4", "3", "5"), 0, "K-7")
    assert item.category is None and item.images == () and item.model is None
    assert parsed.refusals == ()


def test_single_absent_with_one_full_answer_and_penalties_is_single_answer():
    parsed = _read(_mc(answers=(_answer("a", "-50"), _answer("b", "100.0000000"),
                                _answer("c", "-33.33333"))))
    assert parsed.items[0].key == 1 and parsed.items[0].options == ("a", "b", "c")


def test_truefalse_keeps_the_file_answer_texts():
    answers = (_answer("true", "0", "moodle_auto_format"),
               _answer("false", "100", "moodle_auto_format"))
    (item,) = _read(_mc(kind="truefalse", answers=answers)).items
    assert item.options == ("true", "false") and item.key == 1


def test_categories_apply_to_the_following_questions_with_the_last_segment():
    def category(path: str) -> str:
        return f'<question type="category"><category><text>{path}</text></category></question>'

    parsed = _read(_mc("q1"), category("$course$/top/Pajak/PPh 21"), _mc("q2"),
                   category("$system$/top/Default for System"), _mc("q3"),
                   category("$module$/top/A/B//C"), _mc("q4"), category("$cat1$/top"), _mc("q5"),
                   category("$course$/top/Default for Course 1/Sub"), _mc("q6"))
    assert [(i.name, i.position, i.category) for i in parsed.items] == [
        ("q1", 1, None), ("q2", 2, "PPh 21"), ("q3", 3, None), ("q4", 4, "B/C"),
        ("q5", 5, None), ("q6", 6, "Sub")]


def test_plain_text_formats_keep_line_breaks_and_fold_spaces():
    stem = "First   line\nsecond <b>line</b>\n\n\n\nnew   paragraph"
    (item,) = _read(_mc(stem=stem, fmt="moodle_auto_format")).items
    assert item.stem == "First line\nsecond <b>line</b>\n\nnew paragraph"


def test_html_stem_paragraphs_and_entities():
    (item,) = _read(_mc(stem="<p>One &amp; <b>two</b></p><p>three<br>four&nbsp;five</p>")).items
    assert item.stem == "One & two\n\nthree\nfour five"


def test_irt_tag_read_and_other_tags_ignored():
    tags = ("<tags><tag><text>hard</text></tag>"
            "<tag><text>irt:model=3pl;a=1.2;b=-0.3;c=0.25</text></tag></tags>")
    (item,) = _read(_mc(extra=tags)).items
    assert (item.model, item.a, item.b, item.c) == ("3pl", 1.2, -0.3, 0.25)


@pytest.mark.parametrize(("question", "why"), [
    (_mc("E1", kind="essay", answers=(_answer("x"),)), "essay"),
    (_mc("S1", kind="shortanswer", answers=(_answer("four", "100"),)), "short-answer"),
    (_mc("N1", kind="numerical", answers=(_answer("4", "100"),)), "numerical"),
    (_mc("C1", kind="multianswer", answers=()), "Cloze"),
    (_mc("M1", kind="matching"), "matching"),
    (_mc("D1", kind="description"), "description"),
    (_mc("X1", kind="ddwtos"), "'ddwtos'"),
    (_mc("P1", answers=(_answer("a", "50"), _answer("b", "50"), _answer("c"))), "partial"),
    (_mc("R2", answers=(_answer("a", "100"), _answer("b", "100"), _answer("c"))),
     "2 answers are worth 100%"),
    (_mc("R0", answers=(_answer("a"), _answer("b"))), "0 answers are worth 100%"),
    (_mc("MR", extra="<single>false</single>"), "multiple response"),
    (_mc("SIX", answers=(_answer("1", "100"), *(_answer(str(n)) for n in range(2, 7)))),
     "at most 5"),
    (_mc("ONE", answers=(_answer("1", "100"),)), "at least 2"),
    (_mc("DUP", answers=(_answer("1", "100"), _answer("<p>1</p>"))), "same text"),
    (_mc("EMPTY", stem="<p> </p>"), "no text"),
    (_mc("WEB", stem='<p>See <img src="http://example.org/a.png"></p>'), "not embedded"),
    (_mc("MISS", stem='<p>See <img src="@@PLUGINFILE@@/a.png"></p>'), "does not hold"),
    (_mc("OPT", answers=(_answer('<img src="@@PLUGINFILE@@/a.png">', "100"), _answer("b"))),
     "an option with an image cannot be represented"),
    (_mc("B64", stem='<img src="@@PLUGINFILE@@/a.png"><p>x</p>', files=_file("a.png", "%%%")),
     "not valid base64"),
    (_mc("SVG", stem='<img src="@@PLUGINFILE@@/a.svg"><p>x</p>', files=_file("a.svg", PNG)),
     "not a PNG, JPEG or GIF"),
    (_mc("SND", stem='<p><a href="@@PLUGINFILE@@/s.mp3">Listen</a></p>',
         files=_file("s.mp3", b"ID3")),
     "holds a link (<a> '@@PLUGINFILE@@/s.mp3'), which the exam cannot show"),
    (_mc("MATH", stem="<p>Hitung <math><mi>x</mi></math></p>"), "a formula (MathML)"),
    (_mc("VIDEO", stem='<p><video src="v.mp4"></video>Lihat</p>'), "video (<video> 'v.mp4')"),
    (_mc("OLD", extra="<image>pic.png</image>"), "does not hold"),
    (_mc("FAKE", stem='<img src="@@PLUGINFILE@@/a.png"><p>x</p>', files=_file("a.png", GIF)),
     "image/png"),
])
def test_unsupported_questions_refused_with_name_type_and_reason(question, why):
    parsed = _read(_mc("ok"), question)
    assert [i.name for i in parsed.items] == ["ok"]
    (refusal,) = parsed.refusals
    name = question.split("<name><text>", 1)[1].split("<", 1)[0]
    kind = question.split('type="', 1)[1].split('"', 1)[0]
    assert (refusal.position, refusal.name) == (2, name)
    assert f"'{kind}'" in refusal.reason and why in refusal.reason


def test_embedded_stem_images_decoded_in_order_with_url_encoded_names():
    stem = ('<p>Look <img src="@@PLUGINFILE@@/my%20figure.png" alt="a"></p>'
            '<p><img src="@@PLUGINFILE@@/b.gif"> <img src="@@PLUGINFILE@@/my%20figure.png"></p>')
    encoded = base64.b64encode(GIF).decode()
    wrapped = "\n".join(encoded[i:i + 8] for i in range(0, len(encoded), 8))
    files = _file("b.gif", wrapped) + _file("my figure.png", PNG) + _file("unused.png", PNG)
    (item,) = _read(_mc(stem=stem, files=files)).items
    assert item.stem == "Look"
    assert [(i.name, i.media_type, i.data) for i in item.images] == [
        ("my_figure.png", "image/png", PNG), ("b.gif", "image/gif", GIF)]


def test_an_image_over_the_limit_is_refused():
    big = b"\x89PNG\r\n\x1a\n" + b"\0" * MAX_IMAGE_BYTES
    parsed = _read(_mc("BIG", stem='<img src="@@PLUGINFILE@@/a.png"><p>x</p>',
                       files=_file("a.png", big)))
    assert parsed.items == () and "larger than 2 MB" in parsed.refusals[0].reason


def test_not_a_moodle_file():
    with pytest.raises(ExchangeError, match="root element is <assessmentItem>"):
        read_moodle_xml(b"<assessmentItem/>", "x.xml")
    with pytest.raises(ExchangeError, match="not well-formed"):
        read_moodle_xml(b"<quiz><question>", "x.xml")
    with pytest.raises(ExchangeError, match="holds no question"):
        read_moodle_xml(_quiz(category="$course$/top/A"), "x.xml")


# ------------------------------------------------------------------------------- hostile


def test_xxe_refused_and_never_expanded():
    data = (b'<?xml version="1.0"?>\n<!DOCTYPE quiz [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b'<quiz><question type="multichoice"><name><text>&x;</text></name></question></quiz>')
    with pytest.raises(ExchangeError, match="DTD") as caught:
        read_moodle_xml(data, "evil.xml")
    assert "root:" not in str(caught.value)


def test_billion_laughs_refused():
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{n} "{("&lol" + (str(n - 1) if n > 1 else "") + ";") * 10}">'
        for n in range(1, 10))
    data = f'<?xml version="1.0"?><!DOCTYPE quiz [{entities}]><quiz>&lol9;</quiz>'.encode()
    with pytest.raises(ExchangeError, match="DTD"):
        read_moodle_xml(data, "lol.xml")


def test_entities_refused_even_without_the_dtd_guard(monkeypatch):
    # Were the DTD allowed, defusedxml's entity guard is what stands; its error is still ours.
    strict = base.SafeET.fromstring
    monkeypatch.setattr(base.SafeET, "fromstring",
                        lambda data, **kwargs: strict(data, forbid_dtd=False))
    data = b'<!DOCTYPE quiz [<!ENTITY x "boom">]><quiz>&x;</quiz>'
    with pytest.raises(ExchangeError, match="entities"):
        read_moodle_xml(data, "e.xml")


def test_a_50_mb_file_refused_by_size_before_parsing(monkeypatch):
    def parse(data, **kwargs):
        raise AssertionError("parsed a file over the size limit")

    monkeypatch.setattr(base.SafeET, "fromstring", parse)
    data = _quiz(_mc()) + b" " * (50 * 2**20)
    with pytest.raises(ExchangeError, match="at most 20 MB"):
        read_moodle_xml(data, "big.xml")


def test_script_in_a_stem_comes_back_as_text_without_the_script():
    stem = '<p>Hello <script>alert("x")</script>world<style>p{}</style></p>'
    (item,) = _read(_mc(stem=stem, answers=(_answer("<b onclick='x()'>a</b>", "100"),
                                            _answer("b")))).items
    assert item.stem == "Hello world" and item.options == ("a", "b")
    # Written back, markup in the text is escaped: it reads back as the same text, not as a tag.
    record = _record(stem='<script>alert("x")</script>', options=["<b>a</b>", "b"], key="A")
    out = write_moodle_xml([record])
    assert b"<script>" not in out and b"&lt;script&gt;" in out
    assert read_moodle_xml(out, "out.xml").items[0].stem == '<script>alert("x")</script>'


# ----------------------------------------------------------------------------- round trip


def test_round_trip_keeps_stems_options_keys_codes_categories_parameters_and_images():
    records = [
        _record("Q-1", stem="First paragraph with <b> & \"quotes\"\nand a second line\n\n"
                            "Second paragraph: ü, é, 日本, 🙂", options=["a & b", "<i>c</i>",
                                                                       "ü", "x\ny", "e"],
                key="E", model="3pl", a=1.2345678901234567, b=-0.30000000000000004,
                c=0.2, images=[{"name": "fig1.png", "media_type": "image/png", "data": PNG},
                               {"name": "f2.gif", "media_type": "image/gif", "data": GIF}]),
        _record("Q-2", content_tag="", key="A", model="1pl", a=None, b=0.1, c=None),
        _record("Q-3", materi="M2", content_tag="Tag/Sub", key="C", model=None, a=None,
                b=None, c=None),
        _record("Q-4", key="A"),
    ]
    data = write_moodle_xml(records)
    assert data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    parsed = read_moodle_xml(data, "export.xml")
    assert parsed.refusals == ()
    got = {i.code: i for i in parsed.items}
    assert [i.name for i in parsed.items] == ["Q-1", "Q-4", "Q-2", "Q-3"]  # grouped by category
    for record in records:
        item = got[record["id"]]
        assert item.stem == record["stem"]
        assert list(item.options) == record["options"]
        assert "ABCDE"[item.key] == record["key"]
        assert item.category == (record["content_tag"] or record["materi"])
        assert (item.model, item.a, item.b, item.c) == \
            (record["model"], record["a"], record["b"], record["c"])
        assert [(i.name, i.media_type, i.data) for i in item.images] == \
            [(i["name"], i["media_type"], i["data"]) for i in record["images"]]


def test_written_file_is_moodle_shaped():
    data = write_moodle_xml([_record(images=[{"name": "a b.png", "media_type": "image/png",
                                              "data": PNG}])])
    text = data.decode()
    for part in ("<text>$course$/top/M1/T1</text>", '<question type="multichoice">',
                 "<idnumber>Q-1</idnumber>", "<single>true</single>",
                 "<shuffleanswers>true</shuffleanswers>", "<answernumbering>ABCD</answernumbering>",
                 '<answer format="html" fraction="100">', "<text>irt:model=2pl;a=1.2;b=-0.3</text>",
                 'src="@@PLUGINFILE@@/a_b.png"',
                 '<file name="a_b.png" path="/" encoding="base64">'):
        assert part in text, part
    assert text.count('fraction="0"') == 2


def test_a_bad_key_is_an_error_naming_the_item():
    with pytest.raises(ValueError, match="Q-9"):
        write_moodle_xml([_record("Q-9", key="D")])


# ------------------------------------------------------------------ Moodle's own fixtures


def _sample(name: str):
    return read_moodle_xml((SAMPLES / name).read_bytes(), name)


def test_sample_truefalse_with_embedded_images():
    parsed = _sample("truefalse.xml")
    assert parsed.refusals == ()
    assert [(i.position, i.name, i.stem, i.options, i.key, i.category, i.code)
            for i in parsed.items] == [
        (1, "Moodle acronym (False)",
         "Moodle is an acronym for Modular Object-Oriented Dynamic Learning Education.",
         ("true", "false"), 1, "TrueFalse", None),
        (2, "Moodle acronym (True)",
         "Moodle is an acronym for Modular Object-Oriented Dynamic Learning Environment.",
         ("true", "false"), 0, "TrueFalse", None)]
    for item in parsed.items:
        # Only the stem's picture; those of the feedback are ignored with the feedback.
        (image,) = item.images
        assert (image.name, image.media_type, len(image.data)) == ("logo.jpg", "image/jpeg", 898)
        assert image.data.startswith(b"\xff\xd8\xff")


def test_sample_nested_categories_take_the_last_segment_and_refuse_the_essay():
    parsed = _sample("nested_categories_with_questions.xml")
    assert [(i.position, i.name, i.stem, i.category, i.options, i.key)
            for i in parsed.items] == [
        (1, "Iota Question", "Testing Iota Question", "Iota", ("true", "false"), 0),
        (3, "Kappa Question", "Testing Kappa Question", "Kappa", ("true", "false"), 0),
        (4, "Lambda Question", "Testing Lambda Question", "Lambda", ("true", "false"), 0),
        (5, "Mu Question", "Testing Mu Question", "Mu", ("true", "false"), 0)]
    assert all(i.code is None for i in parsed.items)  # <idnumber></idnumber> is no code
    (refusal,) = parsed.refusals
    assert (refusal.position, refusal.name) == (2, "Kappa Essay Question")
    assert "essay" in refusal.reason


def test_sample_old_image_field_read_as_stem_image_and_cloze_refused():
    parsed = _sample("sample_questions_with_old_image_tag.xml")
    (item,) = parsed.items
    assert (item.position, item.name, item.key, item.category) == \
        (2, "mcq with image", 2, None)  # "$course$/Default for ..." is no category
    assert item.stem.startswith("This is a multichoice question with an image in the old "
                                '"image" field')
    assert item.options == ("wrong answer", "another wrong answer", "right answer")
    (image,) = item.images
    assert (image.name, image.media_type) == ("moodle.png", "image/png")
    assert image.data.startswith(b"\x89PNG\r\n\x1a\n") and len(image.data) == 606
    (refusal,) = parsed.refusals
    assert (refusal.position, refusal.name) == (1, "cloze question with image")
    assert "Cloze" in refusal.reason and "'cloze'" in refusal.reason


def test_sample_multianswer_refused_by_name():
    parsed = _sample("multianswer.xml")
    assert parsed.items == ()
    assert [(r.position, r.name) for r in parsed.refusals] == [(1, "cloze with images")]
    assert "Cloze" in parsed.refusals[0].reason


def test_sample_multichoice_with_sound_and_option_images_refused():
    data = (SAMPLES / "multichoice.xml").read_bytes()
    parsed = read_moodle_xml(data, "multichoice.xml")
    assert parsed.items == ()
    (refusal,) = parsed.refusals
    assert refusal.name == "Greeting" and "bonjour.mp3" in refusal.reason
    # Without the sound, the flags in the options are what cannot be represented.
    link = b'<a href="@@PLUGINFILE@@/bonjour.mp3">Listen to this greeting:</a>'
    assert link in data
    (refusal,) = read_moodle_xml(data.replace(link, b""), "multichoice.xml").refusals
    assert refusal.name == "Greeting"
    assert "an option with an image cannot be represented" in refusal.reason


def test_a_character_xml_cannot_hold_is_an_error_naming_the_item():
    with pytest.raises(ValueError, match="item Q-8"):
        write_moodle_xml([_record("Q-8", stem="vertical\x0btab")])
