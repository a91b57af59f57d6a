"""QTI exchange (item_bank/exchange/qti.py): real public samples, our QTI 3.0 writer's round
trip and schema validity, the refusals, and hostile input (XXE, entity bombs, zip bombs, path
traversal, oversized files).  Pure functions: no database."""

from __future__ import annotations

import io
import random
import struct
import zipfile
from pathlib import Path

import pytest
from lxml import etree

from item_bank.exchange import base, qti
from item_bank.exchange.base import ExchangeError, ParsedItem
from item_bank.exchange.qti import read_qti, write_qti3
from tests.item_bank.item_bank_helpers import picture

DATA = Path(__file__).resolve().parents[1] / "data" / "exchange"
PNG, JPEG, GIF = (picture(kind) for kind in ("PNG", "JPEG", "GIF"))


# ------------------------------------------------------------------------------- builders

def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return out.getvalue()


def _manifest(*hrefs: str, kind: str = "imsqti_item_xmlv2p1") -> bytes:
    resources = "".join(f'<resource identifier="R{i}" type="{kind}" href="{href}">'
                        f'<file href="{href}"/></resource>' for i, href in enumerate(hrefs))
    return (f'<?xml version="1.0"?><manifest xmlns="http://www.imsglobal.org/xsd/imscp_v1p1" '
            f'identifier="M"><organizations/><resources>{resources}</resources>'
            f'</manifest>').encode()


def _qti21(body: str = "<p>What is 2 + 2?</p>", *, choices: list[str] | None = None,
           correct: list[str] | None = None, cardinality: str = "single",
           max_choices: str = "1", interaction: str | None = None,
           identifier: str = "q1", ns: str = qti.QTI21_NS) -> bytes:
    """A QTI 2.x item; the pieces a test varies are parameters."""
    choices = ["3", "4", "5"] if choices is None else choices
    correct = ["B"] if correct is None else correct
    values = "".join(f"<value>{v}</value>" for v in correct)
    simple = "".join(f'<simpleChoice identifier="{chr(65 + i)}">{c}</simpleChoice>'
                     for i, c in enumerate(choices))
    if interaction is None:
        interaction = (f'<choiceInteraction responseIdentifier="RESPONSE" shuffle="false" '
                       f'maxChoices="{max_choices}"><prompt>Choose one.</prompt>{simple}'
                       f'</choiceInteraction>')
    correct_xml = f"<correctResponse>{values}</correctResponse>" if correct else ""
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<assessmentItem xmlns="{ns}" '
            f'identifier="{identifier}" title="Sum" adaptive="false" timeDependent="false">'
            f'<responseDeclaration identifier="RESPONSE" cardinality="{cardinality}" '
            f'baseType="identifier">{correct_xml}</responseDeclaration>'
            f'<outcomeDeclaration identifier="SCORE" cardinality="single" baseType="float"/>'
            f'<itemBody>{body}{interaction}</itemBody>'
            f'<responseProcessing template="http://www.imsglobal.org/question/qti_v2p1/'
            f'rptemplates/match_correct"/></assessmentItem>').encode()


def _qti3(body: str, choices: str, *, correct: str = "B") -> bytes:
    return (f'<qti-assessment-item xmlns="{qti.QTI3_NS}" identifier="q3" title="Q3" '
            f'adaptive="false" time-dependent="false"><qti-response-declaration '
            f'identifier="RESPONSE" cardinality="single" base-type="identifier">'
            f'<qti-correct-response><qti-value>{correct}</qti-value></qti-correct-response>'
            f'</qti-response-declaration><qti-item-body>{body}<qti-choice-interaction '
            f'response-identifier="RESPONSE" max-choices="1"><qti-prompt>Pick.</qti-prompt>'
            f'{choices}</qti-choice-interaction></qti-item-body></qti-assessment-item>'
            ).encode()


def _record(code: str, **changes) -> dict:
    record = {"id": code, "materi": "M1", "content_tag": "TAG-1",
              "stem": f"Stem of {code}", "options": ["one", "two", "three", "four"],
              "key": "C", "model": "2pl", "a": 1.25, "b": -0.5, "c": None,
              "status": "active", "author": "tester", "version": 1, "images": []}
    record.update(changes)
    return record


def _only_item(parsed) -> ParsedItem:
    assert parsed.refusals == (), parsed.refusals
    assert len(parsed.items) == 1
    return parsed.items[0]


def _only_refusal(parsed):
    assert parsed.items == (), parsed.items
    assert len(parsed.refusals) == 1
    return parsed.refusals[0]


# ------------------------------------------------------------------------ foreign items

def test_a_qti21_item_reads_stem_prompt_options_and_key():
    body = "<p>What is\n      2 + 2?</p><feedbackInline outcomeIdentifier='F' " \
           "identifier='x' showHide='show'>secret</feedbackInline>"
    item = _only_item(read_qti(_qti21(body), "q1.xml"))
    # Pretty-printing newlines are layout, the feedback is not the question, the prompt is.
    assert item.stem == "What is 2 + 2?\n\nChoose one."
    assert item.options == ("3", "4", "5")
    assert item.key == 1
    assert (item.position, item.name, item.code) == (1, "q1", "q1")
    assert item.category is None and item.model is None and item.a is None


def test_a_qti22_item_and_a_qti3_item_read():
    item = _only_item(read_qti(_qti21(ns=qti.QTI22_NS), "q.xml"))
    assert item.key == 1 and item.options == ("3", "4", "5")
    choices = ('<qti-simple-choice identifier="A">Jakarta</qti-simple-choice>'
               '<qti-simple-choice identifier="B"><b>Nusantara</b> (IKN)</qti-simple-choice>')
    item = _only_item(read_qti(_qti3("<p>The new capital?</p>", choices), "q3.xml"))
    assert item.stem == "The new capital?\n\nPick."
    assert item.options == ("Jakarta", "Nusantara (IKN)")
    assert (item.key, item.name) == (1, "q3")


@pytest.mark.parametrize(("kwargs", "reason"), [
    ({"correct": ["A", "B"]}, "2 correct answers"),
    ({"max_choices": "0"}, "max choices 0"),
    ({"cardinality": "multiple"}, "cardinality multiple"),
    ({"correct": []}, "no correct response"),
    ({"correct": ["Z"]}, "'Z' is not one of the choices"),
    ({"choices": ["only"]}, "at least 2 options"),
    ({"choices": list("123456")}, "6 choices; the product holds at most 5"),
    ({"choices": ["same", "same", "other"]}, "same text"),
    ({"choices": ["x", "<img src='a.png' alt=''/>"]}, "an option with an image cannot"),
    ({"body": "", "interaction": '<choiceInteraction responseIdentifier="RESPONSE" '
                                 'maxChoices="1"><simpleChoice identifier="A">x</simpleChoice>'
                                 '<simpleChoice identifier="B">y</simpleChoice>'
                                 '</choiceInteraction>', "correct": ["A"]},
     "no text"),
    ({"interaction": '<textEntryInteraction responseIdentifier="RESPONSE"/>'},
     "a textEntryInteraction cannot be represented"),
    ({"interaction": '<extendedTextInteraction responseIdentifier="RESPONSE"/>'},
     "extendedTextInteraction"),
    ({"interaction": '<choiceInteraction responseIdentifier="RESPONSE" maxChoices="1">'
                     '<simpleChoice identifier="A">x</simpleChoice><simpleChoice '
                     'identifier="B">y</simpleChoice></choiceInteraction><p><inlineChoice'
                     'Interaction responseIdentifier="R2"/></p>'},
     "2 interactions (choiceInteraction, inlineChoiceInteraction)"),
    ({"body": "<p>No question here.</p>", "interaction": ""}, "no interaction"),
    ({"body": '<p>Solve <math xmlns="http://www.w3.org/1998/Math/MathML"><mi>x</mi></math></p>'},
     "the item holds a formula (MathML) (<math>), which the exam cannot show"),
    ({"choices": ["x", '<a href="https://example.org/">y</a>']},
     "a link (<a> 'https://example.org/')"),
])
def test_what_the_product_cannot_hold_is_refused_with_the_reason(kwargs, reason):
    refusal = _only_refusal(read_qti(_qti21(**kwargs), "bad.xml"))
    assert (refusal.position, refusal.name) == (1, "q1")
    assert reason in refusal.reason


def test_an_image_in_a_single_item_file_refuses_the_question():
    refusal = _only_refusal(read_qti(_qti21('<p>See <img src="f.png" alt=""/></p>'), "q.xml"))
    assert "content package" in refusal.reason


def test_a_package_reads_items_in_manifest_order_with_images_relative_to_the_item():
    package = _zip({
        "imsmanifest.xml": _manifest("items/one.xml", "items/two.xml", "items/three.xml"),
        "items/one.xml": _qti21('<p>Look: <img src="../media/fig%201.png" alt="x"/></p>'
                                '<img src="pic.gif" alt="y"/>', identifier="one"),
        "media/fig 1.png": PNG, "items/pic.gif": GIF,
        "items/two.xml": _qti21(interaction="<uploadInteraction responseIdentifier='R'/>",
                                identifier="two"),
        "items/three.xml": _qti21('<p><img src="photo.jpeg" alt=""/>Photo</p>',
                                  identifier="three"),
        "items/photo.jpeg": JPEG,
    })
    parsed = read_qti(package, "pack.zip")
    assert [(i.position, i.name) for i in parsed.items] == [(1, "one"), (3, "three")]
    one, three = parsed.items
    assert one.stem == "Look:\n\nChoose one."
    assert [(i.name, i.media_type, i.data) for i in one.images] == [
        ("fig_1.png", "image/png", PNG), ("pic.gif", "image/gif", GIF)]
    assert [(i.name, i.media_type, i.data) for i in three.images] == [
        ("photo.jpeg", "image/jpeg", JPEG)]
    [refusal] = parsed.refusals
    assert (refusal.position, refusal.name) == (2, "two")
    assert "uploadInteraction" in refusal.reason


@pytest.mark.parametrize(("src", "members", "reason"), [
    ("gone.png", {}, "missing from the package"),
    ("pic.bmp", {"items/pic.bmp": b"BM" + bytes(100)}, "not a whole PNG, JPEG or GIF picture"),
    ("cut.png", {"items/cut.png": PNG[:40]}, "not a whole PNG, JPEG or GIF picture"),
    ("bomb.png", {"items/bomb.png": picture("PNG", (5000, 1))}, "5000 × 1 pixels"),
    ("big.png", {"items/big.png": PNG + bytes(base.MAX_IMAGE_BYTES)}, "cannot be used"),
    ("../../../etc/passwd", {}, "not a file inside the package"),
    ("/etc/passwd", {}, "not a file inside the package"),
    ("http://example.org/a.png", {}, "not a file inside the package"),
])
def test_an_unusable_image_refuses_its_question(src, members, reason):
    package = _zip({"imsmanifest.xml": _manifest("items/q.xml"),
                    "items/q.xml": _qti21(f'<p>Fig <img src="{src}" alt=""/></p>'), **members})
    refusal = _only_refusal(read_qti(package, "p.zip"))
    assert refusal.name == "q1" and reason in refusal.reason


def test_a_package_zipped_with_its_folder_and_tolerant_resource_types_read():
    package = _zip({
        "export/imsmanifest.xml": _manifest("a.xml", kind="imsqti_item_xmlv2p2"),
        "export/a.xml": _qti21(identifier="a"),
    })
    assert _only_item(read_qti(package, "p.zip")).name == "a"
    tests_only = _zip({"imsmanifest.xml": _manifest("t.xml", kind="imsqti_test_xmlv2p1"),
                       "t.xml": b"<assessmentTest/>"})
    with pytest.raises(ExchangeError, match="lists no QTI item"):
        read_qti(tests_only, "t.zip")


def test_files_that_are_no_qti_are_refused_whole():
    with pytest.raises(ExchangeError, match="not well-formed"):
        read_qti(b"<assessmentItem>", "broken.xml")
    with pytest.raises(ExchangeError, match="QTI 1.2"):
        read_qti(b"<questestinterop><item/></questestinterop>", "old.xml")
    with pytest.raises(ExchangeError, match="no imsmanifest.xml"):
        read_qti(_zip({"a.xml": _qti21()}), "bare.zip")
    with pytest.raises(ExchangeError, match="empty"):
        read_qti(b"", "empty.xml")


# ---------------------------------------------------------------------------- round trip

HOSTILE = [
    _record("1001", stem="Is 3 < 4 && 5 > 2? <script>alert('x')</script> &amp; &lt;",
            options=["<b>yes</b>", "no & never", "]]> CDATA end", "\"quoted\" 'x'"],
            key="A", model="3pl", a=0.1 + 0.2, b=-1.0000000000000002, c=1 / 3),
    _record("soal pajak/2 ümlaut", stem="Paragraf satu, baris satu\nbaris dua\n\n"
            "Paragraf dua: Rp 1.000 → 日本語 😀\n\nParagraf tiga",
            options=["α", "β", "γ", "δ", "ε"], key="E", model="1pl", a=None, b=2.5e-300,
            content_tag="", images=[
                {"name": "grafik 1.png", "media_type": "image/png", "data": PNG},
                {"name": "../../foto.jpg", "media_type": "image/jpeg", "data": JPEG},
                {"name": "anim.gif", "media_type": "image/gif", "data": GIF}]),
    _record("X-3", options=["ya", "tidak\nsama sekali"], key="B", model="2pl",
            a=1.7976931348623157e308, b=5e-324, content_tag="tag with spaces & <marks>"),
    _record("x-3", stem="Same code but for case: a distinct item file"),
]


def test_records_round_trip_through_our_qti3_package_exactly():
    package = write_qti3(HOSTILE, title="Bank <Pajak> & Co")
    parsed = read_qti(package, "export.zip")
    assert parsed.refusals == ()
    assert len(parsed.items) == len(HOSTILE)
    for position, (record, item) in enumerate(zip(HOSTILE, parsed.items, strict=True), 1):
        assert item.position == position
        assert item.code == record["id"] and item.name == record["id"]
        assert item.stem == record["stem"]
        assert list(item.options) == record["options"]
        assert item.key == "ABCDE".index(record["key"])
        assert item.category == (record["content_tag"] or None)
        assert item.model == record["model"]
        # Exact, not approximate: repr round-trips every double.
        assert (item.a, item.b, item.c) == (record["a"], record["b"], record["c"])
        assert [(i.media_type, i.data) for i in item.images] == [
            (i["media_type"], i["data"]) for i in record["images"]]
    assert [i.name for i in parsed.items[1].images] == ["grafik_1.png", "foto.jpg",
                                                         "anim.gif"]


def test_the_package_layout_and_identifiers():
    package = zipfile.ZipFile(io.BytesIO(write_qti3(HOSTILE, title="t")))
    names = package.namelist()
    assert names[0] == "imsmanifest.xml"
    items = sorted(n for n in names if n.startswith("items/") and n.endswith(".xml"))
    assert items == ["items/I-1001.xml", "items/X-3.xml", "items/soal_pajak_2_mlaut.xml",
                     "items/x-3-2.xml"]
    assert len({n.lower() for n in names}) == len(names)  # no clash on a case-blind disk
    manifest = etree.fromstring(package.read("imsmanifest.xml"))
    ns = {"cp": qti.CP_NS, "sc": qti.SC_NS, "lom": qti.LOM_NS}
    resources = manifest.findall(".//cp:resource", ns)
    assert {r.get("type") for r in resources} == {"imsqti_item_xmlv3p0"}
    second = resources[1]
    assert [f.get("href") for f in second.findall("cp:file", ns)] == [
        second.get("href"), "items/media/soal_pajak_2_mlaut/grafik_1.png",
        "items/media/soal_pajak_2_mlaut/foto.jpg", "items/media/soal_pajak_2_mlaut/anim.gif"]
    assert second.find("cp:metadata/lom:lom/sc:item", ns).get("code") == "soal pajak/2 ümlaut"
    assert manifest.findtext("cp:metadata/lom:lom/lom:general/lom:title/lom:string",
                             namespaces=ns) == "t"
    # The stem's markup characters are text in the item file, not elements.
    first = etree.fromstring(package.read("items/I-1001.xml"))
    assert first.find(f".//{{{qti.QTI3_NS}}}script") is None
    assert "<script>" in "".join(first.find(f"{{{qti.QTI3_NS}}}qti-item-body").itertext())


def test_identifiers_are_qti_identifiers():
    assert qti.qti_identifier("123") == "I-123"
    assert qti.qti_identifier("a b/c") == "a_b_c"
    assert qti.qti_identifier("-x") == "I--x"
    assert qti.qti_identifier("Q1", ["q1"]) == "Q1-2"
    assert qti.qti_identifier("") == "item"


def test_the_writer_refuses_records_qti_cannot_hold():
    with pytest.raises(ValueError, match="6 options"):
        write_qti3([_record("a", options=list("123456"))], title="t")
    with pytest.raises(ValueError, match="key 'D'"):
        write_qti3([_record("a", options=["x", "y"], key="D")], title="t")
    with pytest.raises(ValueError, match="not PNG, JPEG or GIF"):
        write_qti3([_record("a", images=[{"name": "a.svg", "media_type": "image/svg+xml",
                                          "data": b"<svg/>"}])], title="t")


def test_a_seeded_random_bank_round_trips():
    rng = random.Random(20240611)
    alphabet = "abcdefghij <>&\"'éß漢字 0123"
    records = []
    for n in range(30):
        count = rng.randint(2, 5)
        # Runs of spaces fold into one when read (markup whitespace), so none are drawn.
        options = [f"{chr(65 + i)} " + " ".join("".join(rng.choices(alphabet, k=8)).split())
                   for i in range(count)]
        words = ["".join(rng.choices(alphabet.replace(" ", ""), k=rng.randint(1, 6)))
                 for _ in range(rng.randint(1, 12))]
        records.append(_record(f"R{n:03d}", stem=" ".join(words), options=options,
                               key="ABCDE"[rng.randrange(count)], model="3pl",
                               a=rng.uniform(0.2, 2.5), b=rng.gauss(0, 1),
                               c=rng.uniform(0, 0.3)))
    parsed = read_qti(write_qti3(records, title="seeded"), "s.zip")
    assert [(i.stem, list(i.options), "ABCDE"[i.key], i.a, i.b, i.c) for i in parsed.items] \
        == [(r["stem"], r["options"], r["key"], r["a"], r["b"], r["c"]) for r in records]


# ----------------------------------------------------------------------------------- XSD

# The base QTI 3.0 ASI schema (imsqti_asiv3p0_v1p0.xsd, over 4 MB) could not be obtained for
# tests/data; the official 1EdTech SBAC profile of it has the same namespace and elements and
# drops only the generic HTML5 data-* attributes, which our writer never emits (SOURCES.md).
ITEM_XSDS = ("imsqti_asiv3p0_v1p0.xsd", "imsqti_asiv3p0_sbacv1p0_v1p0.xsd")
MANIFEST_XSD = "imsqtiv3p0_imscpv1p2_v1p0.xsd"


def _schema(*names: str) -> etree.XMLSchema:
    found = [DATA / "xsd" / n for n in names if (DATA / "xsd" / n).is_file()]
    if not found:
        pytest.fail(f"none of {names} is in {DATA / 'xsd'}")
    # no_network: every import must resolve from the folder, never from the internet.
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    return etree.XMLSchema(etree.parse(str(found[0]), parser))


@pytest.fixture(scope="module")
def schemas() -> tuple[etree.XMLSchema, etree.XMLSchema]:
    """(item schema, manifest schema), loaded once: the item schema takes seconds."""
    return _schema(*ITEM_XSDS), _schema(MANIFEST_XSD)


def test_the_schemas_accept_the_real_qti3_samples(schemas):
    # The harness is only evidence if it accepts what 1EdTech publishes as valid.
    item_schema, manifest_schema = schemas
    for path in sorted((DATA / "qti3").rglob("*.xml")):
        schema = manifest_schema if path.name == "imsmanifest.xml" else item_schema
        assert schema.validate(etree.parse(str(path))), (path, schema.error_log)


def test_every_exported_file_validates_against_the_qti3_xsd(schemas):
    item_schema, manifest_schema = schemas
    package = zipfile.ZipFile(io.BytesIO(write_qti3(HOSTILE, title="Bank <Pajak> & Co")))
    manifest = etree.fromstring(package.read("imsmanifest.xml"))
    assert manifest_schema.validate(manifest), manifest_schema.error_log
    items = [n for n in package.namelist() if n.startswith("items/") and n.endswith(".xml")]
    assert len(items) == len(HOSTILE)
    for name in items:
        document = etree.fromstring(package.read(name))
        assert item_schema.validate(document), (name, item_schema.error_log)
    # The check has teeth: an item whose choices have no valid identifiers is invalid.
    broken = etree.fromstring(package.read(items[0]))
    for choice in broken.iter(f"{{{qti.QTI3_NS}}}qti-simple-choice"):
        choice.set("identifier", "1 not an identifier")
    assert not item_schema.validate(broken)


# --------------------------------------------------------------------------- real samples

def _folder_zip(folder: Path, extra: dict[str, bytes] | None = None) -> bytes:
    """A content package folder zipped in memory, as a user would upload it."""
    members = {p.relative_to(folder).as_posix(): p.read_bytes()
               for p in sorted(folder.rglob("*")) if p.is_file()}
    return _zip({**members, **(extra or {})})


QTI3_ITEMS = DATA / "qti3" / "items"


@pytest.mark.parametrize(("file", "name", "stem", "options", "key"), [
    ("firstexample.xml", "firstexample",
     "Of the following hormones, which is produced by the adrenal glands?",
     ("Epinephrine", "Glucagon", "Insulin", "Oxytocin"), 0),
    ("BG007.xml", "beginnersguide007", "This is a True/False question?", ("True", "False"), 0),
    # Each choice also holds a qti-feedback-inline, which is not part of the option.
    ("TF-choice.xml", "TF-choice", "An octahedron has 12 faces.", ("True", "False"), 1),
])
def test_real_qti3_items_import(file, name, stem, options, key):
    item = _only_item(read_qti((QTI3_ITEMS / file).read_bytes(), file))
    assert (item.position, item.name, item.code) == (1, name, name)
    assert item.stem == stem
    assert (item.options, item.key, item.images) == (options, key, ())
    assert item.category is None and item.model is None


@pytest.mark.parametrize(("file", "name", "reason"), [
    ("BG008.xml", "beginnersguide008", "max choices 3"),
    ("TheAnswer-001.xml", "TheAnswer-001", "a qti-text-entry-interaction cannot be"),
    ("Choicesingle_853928446.xml", "Choicesingle_853928446",
     "an option with an image cannot be represented"),
])
def test_unsupported_real_qti3_items_are_refused_by_name(file, name, reason):
    refusal = _only_refusal(read_qti((QTI3_ITEMS / file).read_bytes(), file))
    assert (refusal.position, refusal.name) == (1, name)
    assert reason in refusal.reason


def test_image_choices_are_refused_even_with_their_images_in_a_package():
    package = _folder_zip(QTI3_ITEMS, {"imsmanifest.xml": _manifest(
        "Choicesingle_853928446.xml", "firstexample.xml", kind="imsqti_item_xmlv3p0")})
    parsed = read_qti(package, "saxony.zip")
    assert [(i.position, i.name) for i in parsed.items] == [(2, "firstexample")]
    assert [(r.position, r.name) for r in parsed.refusals] == [(1, "Choicesingle_853928446")]
    assert "image" in parsed.refusals[0].reason


def test_the_real_qti3_case_package_imports_its_three_items_not_its_test():
    parsed = read_qti(_folder_zip(DATA / "qti3" / "package_case"), "CASE.zip")
    assert parsed.refusals == ()
    assert [(i.position, i.name, i.key, len(i.options)) for i in parsed.items] == [
        (1, "res_-TX_G06SAMP_001", 2, 4), (2, "res_-TX_G06SAMP_004", 1, 4),
        (3, "res_-TX_G06SAMP_005", 3, 4)]
    first, second, third = parsed.items
    assert first.stem == ("Which of the following shows the integers in order from least to "
                          "greatest?")
    assert first.options == ("0, -3, 4, 8, -17, -20", "-3, -17, -20, 0, 4, 8",
                             "-20, -17, -3, 0, 4, 8", "8, 4, 0, -3, -17, -20")
    assert second.stem == "Which is not a true statement?"
    assert second.options == ("-8 < 7", "-8 > -7", "7 > -8", "7 < 8")
    assert third.stem == "Which number has the same absolute value as 81?"
    assert all(i.images == () for i in parsed.items)


LUGGAGE = ("You must stay with your luggage at all times.",
           "Do not let someone else look after your luggage.",
           "Remember your luggage when you leave.")
LUGGAGE_STEM = "Look at the text in the picture.\n\nWhat does it say?"
SIGN = DATA / "qti2" / "package_qti21_tao" / "i146219207248061213" / "images" / "sign.png"


@pytest.mark.parametrize("folder", ["items21", "items22"])
def test_real_qti2_items_import_or_are_refused(folder):
    items = DATA / "qti2" / folder
    # Alone, choice.xml cannot bring its picture: refused, with the way out in the reason.
    refusal = _only_refusal(read_qti((items / "choice.xml").read_bytes(), "choice.xml"))
    assert refusal.name == "choice" and "images/sign.png" in refusal.reason
    refusal = _only_refusal(read_qti((items / "text_entry.xml").read_bytes(), "t.xml"))
    assert refusal.name == "textEntry" and "textEntryInteraction" in refusal.reason
    # Packaged with the picture it names, it imports with it.
    kind = "imsqti_item_xmlv2p1" if folder == "items21" else "imsqti_item_xmlv2p2"
    package = _zip({"imsmanifest.xml": _manifest("choice.xml", kind=kind),
                    "choice.xml": (items / "choice.xml").read_bytes(),
                    "images/sign.png": SIGN.read_bytes()})
    item = _only_item(read_qti(package, "p.zip"))
    assert (item.name, item.stem, item.options, item.key) == ("choice", LUGGAGE_STEM,
                                                              LUGGAGE, 0)
    assert [(i.name, i.media_type, i.data) for i in item.images] == [
        ("sign.png", "image/png", SIGN.read_bytes())]


def test_a_real_qti21_multiple_response_item_is_refused():
    data = (DATA / "qti2" / "items21" / "choice_multiple.xml").read_bytes()
    refusal = _only_refusal(read_qti(data, "choice_multiple.xml"))
    assert refusal.name == "choiceMultiple" and "max choices 0" in refusal.reason


def test_the_real_tao_qti21_package_imports_with_its_image():
    parsed = read_qti(_folder_zip(DATA / "qti2" / "package_qti21_tao"), "tao21.zip")
    item = _only_item(parsed)
    assert (item.position, item.name, item.stem, item.options, item.key) == (
        1, "choice", LUGGAGE_STEM, LUGGAGE, 0)
    [image] = item.images
    assert (image.name, image.media_type, len(image.data)) == ("sign.png", "image/png", 4029)
    assert image.data == SIGN.read_bytes()


def test_the_real_tao_qti22_package_imports_three_items():
    parsed = read_qti(_folder_zip(DATA / "qti2" / "package_qti22_tao"), "tao22.zip")
    assert parsed.refusals == ()
    assert [(i.name, i.stem, i.key, len(i.options)) for i in parsed.items] == [
        ("Q01", "What is TAO?", 1, 3),
        ("Q02", "What are the favourite collectables of Jérôme", 0, 3),
        ("Q03", "What does mean GT within the concept of racing cars?", 2, 3)]
    assert parsed.items[2].options == ("Great Turbo", "Gear Turbine", "Gran Turismo")


# ------------------------------------------------------------------------------- hostile

XXE = (b'<?xml version="1.0"?>\n<!DOCTYPE assessmentItem [\n'
       b'  <!ENTITY xxe SYSTEM "file:///etc/passwd">\n]>\n'
       b'<assessmentItem xmlns="http://www.imsglobal.org/xsd/imsqti_v2p1" identifier="x">'
       b'<itemBody><p>&xxe;</p></itemBody></assessmentItem>')
LAUGHS = (b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
          + b"".join(b' <!ENTITY lol%d "%s">\n' % (n, (b"&lol%d;" % (n - 1)) * 10
                                                   if n > 1 else b"&lol;" * 10)
                     for n in range(1, 10))
          + b']>\n<assessmentItem identifier="b"><itemBody><p>&lol9;</p></itemBody>'
            b'</assessmentItem>')


@pytest.mark.parametrize("payload", [XXE, LAUGHS], ids=["xxe", "billion-laughs"])
def test_dtds_and_entities_are_refused_never_expanded(payload):
    with pytest.raises(ExchangeError, match="DTD") as caught:
        read_qti(payload, "evil.xml")
    assert "root:" not in str(caught.value) and "lollol" not in str(caught.value)
    # As a package member: that question is refused, and the manifest itself is guarded too.
    parsed = read_qti(_zip({"imsmanifest.xml": _manifest("evil.xml", "good.xml"),
                            "evil.xml": payload, "good.xml": _qti21()}), "p.zip")
    assert [i.position for i in parsed.items] == [2]
    [refusal] = parsed.refusals
    assert refusal.position == 1 and "DTD" in refusal.reason
    assert "root:" not in refusal.reason
    manifest = payload.replace(b"assessmentItem", b"manifest")
    with pytest.raises(ExchangeError, match="DTD"):
        read_qti(_zip({"imsmanifest.xml": manifest}), "p.zip")


def test_a_zip_bomb_is_refused():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("imsmanifest.xml", _manifest("bomb.xml"))
        with archive.open("bomb.xml", "w", force_zip64=True) as member:
            chunk = bytes(1 << 20)
            for _ in range(200):  # 200 MB of zeros: under 1 MB compressed
                member.write(chunk)
    bomb = out.getvalue()
    assert len(bomb) < 2 * 2**20
    with pytest.raises(ExchangeError, match="more than 100 MB"):
        read_qti(bomb, "bomb.zip")


def _lying_zip(name: str, content: bytes, declared: int, others: dict[str, bytes]) -> bytes:
    """A zip whose member ``name`` declares ``declared`` bytes but expands to ``content``."""
    data = bytearray(_zip({**others, name: content}))
    info = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo(name)
    # Uncompressed size: offset 22 in the local header, offset 24 in the central directory.
    struct.pack_into("<I", data, info.header_offset + 22, declared)
    central = data.find(b"PK\x01\x02")
    while data[central + 46:central + 46 + len(name)] != name.encode():
        central = data.find(b"PK\x01\x02", central + 4)
    struct.pack_into("<I", data, central + 24, declared)
    return bytes(data)


def test_a_member_that_expands_past_its_declared_size_is_refused():
    lying = _lying_zip("q.xml", _qti21(body="<p>" + "x" * 500_000 + "</p>"), 1000,
                       {"imsmanifest.xml": _manifest("q.xml")})
    assert zipfile.ZipFile(io.BytesIO(lying)).getinfo("q.xml").file_size == 1000
    with pytest.raises(ExchangeError, match=r"q\.xml (cannot be unpacked|unpacks to more)"):
        read_qti(lying, "lying.zip")


def test_path_traversal_is_refused():
    evil = _zip({"imsmanifest.xml": _manifest("a.xml"), "a.xml": _qti21(),
                 "../evil.xml": b"<x/>"})
    with pytest.raises(ExchangeError, match="outside"):
        read_qti(evil, "evil.zip")
    package = _zip({"imsmanifest.xml": _manifest("../../etc/passwd", "a/../a.xml"),
                    "a.xml": _qti21()})
    parsed = read_qti(package, "p.zip")
    assert [i.position for i in parsed.items] == [2]  # a/../a.xml stays inside
    [refusal] = parsed.refusals
    assert refusal.position == 1 and "not a file inside the package" in refusal.reason


def test_an_oversized_file_is_refused_before_it_is_parsed(monkeypatch):
    def no_parsing(*args, **kwargs):
        raise AssertionError("parsed an oversized file")

    monkeypatch.setattr(base.SafeET, "fromstring", no_parsing)
    huge = b"<assessmentItem>" + b" " * (50 * 2**20)
    with pytest.raises(ExchangeError, match="50.0 MB"):
        read_qti(huge, "huge.xml")
    with pytest.raises(ExchangeError, match="50.0 MB"):
        read_qti(b"PK\x03\x04" + huge, "huge.zip")
