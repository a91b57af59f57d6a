"""Moodle XML question files (Moodle Docs, "Moodle XML format"): read and written.

Reading: the root is ``<quiz>``, its ``<question>`` elements are read in order.  A
``<question type="category">`` sets the category of the questions after it; its path
(``$course$/top/A/B``, also ``$system$/``, ``$module$/``, ``$cat1$/``; ``//`` is a slash inside
a name) gives the last segment as :attr:`ParsedItem.category`, or None for the top or a
"Default for ..." category.  Read: ``multichoice`` with one answer worth 100% and the others 0
or a penalty, and ``truefalse`` (its answers kept as the file writes them, usually "true" and
"false").  Refused with the question's name, its type and the reason: every other type,
multiple response (``<single>false</single>``), partial credit, several or no right answers,
fewer than 2 or more than 5 answers, two answers with the same text, an empty stem, an image in
an option, a stem image that is not a PNG, JPEG or GIF file embedded in the question (a web
address or a missing file cannot be shown), a link to another embedded file (a sound).  Moodle
1.9's separate image field (``<image>`` with ``<image_base64>``) is read as a last stem image,
as Moodle's own importer does.  Feedback, hints, penalty, shuffling and numbering are ignored.
Our IRT parameters travel as a tag ``irt:model=2pl;a=1.2;b=-0.3;c=0.0``.

The file is parsed with defusedxml with the DTD forbidden, so no entity (XXE, "billion
laughs") is ever expanded and nothing is fetched; question text is HTML read by
:func:`~item_bank.exchange.base.html_text` (lxml's HTML parser, which runs nothing).

Writing: one category question per (materi, content tag), ``$course$/top/<materi>/<tag>`` or
``$course$/top/<materi>`` for an item without a tag, then its items as single-answer
``multichoice`` questions named and numbered (``<idnumber>``) by the item id, the stem's
images embedded as ``@@PLUGINFILE@@`` files and the parameters as the tag above.

Reading our own file back, an item without a tag comes with ``category`` equal to its materi
code (the last segment of ``$course$/top/<materi>``): the importer
(:mod:`item_bank.exchange.load`), not this module, treats a category equal to the target
materi's code as "no content tag".
"""

from __future__ import annotations

import base64
import binascii
import html
import math
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, unquote
from xml.etree.ElementTree import Element

from lxml import etree

from .base import (
    MAX_IMAGE_BYTES,
    ExchangeError,
    Parsed,
    ParsedImage,
    ParsedItem,
    Refusal,
    UnsupportedMarkup,
    check_size,
    html_text,
    image_type,
    parse_xml,
    picture_problem,
    safe_image_name,
)

MAX_OPTIONS = 5
LETTERS = "ABCDE"
PLUGINFILE = "@@PLUGINFILE@@/"
IRT_TAG = "irt:"
IRT_MODELS = {"1pl", "2pl", "3pl"}

# How a refusal names the question types we cannot hold (Moodle's own type names as keys).
_KINDS = {
    "multichoice": "a multiple-choice question",
    "truefalse": "a true/false question",
    "essay": "an essay question",
    "matching": "a matching question",
    "randomsamatch": "a random short-answer matching question",
    "shortanswer": "a short-answer question",
    "numerical": "a numerical question",
    "multianswer": "an embedded answers (Cloze) question",
    "calculated": "a calculated question",
    "calculatedsimple": "a simple calculated question",
    "calculatedmulti": "a calculated multichoice question",
    "ddwtos": "a drag and drop into text question",
    "ddimageortext": "a drag and drop onto image question",
    "ddmarker": "a drag and drop markers question",
    "gapselect": "a select missing words question",
    "description": "a description (nothing to answer)",
    "random": "a random question",
    "ordering": "an ordering question",
    "cloze": "an embedded answers (Cloze) question",  # how Moodle's XML writes multianswer
}

# The signature each accepted image type starts with: a file named .png holding something
# else is not shown as a picture by a browser, so it is refused rather than stored.

# A category path separator: a single "/", not one of the "//" that stand for a slash in a
# name (Moodle's qformat_default::split_category_path).
_PATH_SPLIT = re.compile(r"(?<!/)/(?!/)")
_CONTEXT = re.compile(r"^\$[a-z0-9]+\$$")


class _Refused(Exception):
    """Why the question being read cannot be imported (caught per question)."""


# ---------------------------------------------------------------------------------- reading


def read_moodle_xml(data: bytes, filename: str) -> Parsed:
    """The single-answer multiple-choice and true/false questions of a Moodle XML file
    (``filename`` names it in messages); ExchangeError when the file is unusable."""
    check_size(data, filename)
    root = parse_xml(data, filename)
    if root.tag != "quiz":
        raise ExchangeError(f"{filename} is not a Moodle XML file: its root element is "
                            f"<{root.tag}>, not <quiz>")
    items: list[ParsedItem] = []
    refusals: list[Refusal] = []
    category: str | None = None
    position = 0
    for question in root.findall("question"):
        kind = (question.get("type") or "").strip().lower()
        if kind == "category":
            category = _category(question)
            continue
        position += 1
        name = _text(question.find("name")) or f"question {position}"
        try:
            items.append(_question(question, kind, position, name, category))
        except _Refused as why:
            label = f"{_KINDS.get(kind, 'a question')} (type {kind or 'missing'!r})"
            refusals.append(Refusal(position, name, f"{label}: {why}"))
    if not items and not refusals:
        raise ExchangeError(f"{filename} holds no question")
    return Parsed(tuple(items), tuple(refusals))


def _text(element: Element | None) -> str:
    """The stripped text of an element's ``<text>`` child (or of the element itself, as
    some old files write it), '' when absent."""
    if element is None:
        return ""
    child = element.find("text")
    return ((child.text if child is not None else element.text) or "").strip()


def _category(question: Element) -> str | None:
    """The last segment of a category question's path, None for the top or a default one."""
    path = _text(question.find("category"))
    segments = [s.replace("//", "/").strip() for s in _PATH_SPLIT.split(path)]
    segments = [s for s in segments if s]
    if segments and _CONTEXT.match(segments[0]):
        segments = segments[1:]
    if segments and segments[0] == "top":
        segments = segments[1:]
    if not segments or segments[-1].startswith("Default for"):
        return None
    return segments[-1]


def _question(question: Element, kind: str, position: int, name: str,
              category: str | None) -> ParsedItem:
    """The item, or _Refused naming why the product cannot hold it."""
    if kind not in ("multichoice", "truefalse"):
        raise _Refused("only single-answer multiple choice and true/false questions can be "
                       "imported")
    if kind == "multichoice":
        single = (question.findtext("single") or "").strip().lower()
        if single in ("false", "0"):
            raise _Refused("several answers can be chosen (multiple response); only "
                           "single-answer questions can be imported")
    stem, images = _stem(question)
    if not stem:
        raise _Refused("the question has no text")
    options: list[str] = []
    right: list[int] = []
    for index, answer in enumerate(question.findall("answer")):
        try:
            fraction = float(answer.get("fraction") or 0)
        except ValueError:
            raise _Refused(f"answer {index + 1} has the grade {answer.get('fraction')!r}, "
                           f"not a number") from None
        # A wrong answer may carry a penalty (a negative grade) and still be wrong; an answer
        # worth part of the mark is partial credit, which a right-or-wrong CAT item cannot
        # score.
        if math.isclose(fraction, 100.0, abs_tol=1e-6) or fraction > 100:
            right.append(index)
        elif fraction > 1e-6:
            raise _Refused(f"answer {index + 1} is worth {fraction:g}% (partial credit); "
                           f"exactly one answer must be worth 100% and the others nothing")
        text, option_images = _rich(answer, f"answer {index + 1}")
        if option_images:
            raise _Refused(f"answer {index + 1} shows an image; an option with an image "
                           f"cannot be represented")
        options.append(text)
    if len(options) < 2:
        raise _Refused(f"{len(options)} answer(s); a question needs at least 2 options")
    if len(options) > MAX_OPTIONS:
        raise _Refused(f"{len(options)} answers; the product holds at most {MAX_OPTIONS} "
                       f"options (A-E)")
    if len(right) != 1:
        raise _Refused(f"{len(right)} answers are worth 100%; exactly one must be right")
    if any(not o for o in options):
        raise _Refused("an answer is empty")
    if len(set(options)) != len(options):
        raise _Refused("two answers have the same text")
    code = (question.findtext("idnumber") or "").strip() or None
    return ParsedItem(position=position, name=name, stem=stem, options=tuple(options),
                      key=right[0], code=code, category=category, images=tuple(images),
                      **_parameters(question))


def _rich(element: Element | None, what: str) -> tuple[str, list[str]]:
    """The plain text and image sources of a Moodle text element (question text, answer),
    by its ``format``: HTML read as HTML; Moodle auto-format, plain text and Markdown read as
    plain text, spaces folded within a line, line breaks kept and blank lines as paragraphs."""
    if element is None:
        return "", []
    raw = _text(element)
    # A missing format is read as HTML: Moodle's importer defaults answers to it, and old
    # (1.9) files that leave it out of the question text still write tags and entities there.
    if (element.get("format") or "html").strip().lower() != "html":
        lines = [" ".join(line.split()) for line in raw.replace("\r\n", "\n").split("\n")]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip(), []
    try:
        return html_text(raw)
    except UnsupportedMarkup as exc:
        raise _Refused(f"the text of {what} holds {exc}") from None
    except (etree.ParserError, ValueError) as exc:
        raise _Refused(f"the text of {what} is not readable HTML ({exc})") from None


def _stem(question: Element) -> tuple[str, list[ParsedImage]]:
    """The stem's text and its images: each ``<img>`` must show a PNG, JPEG or GIF file
    embedded in the question text (``@@PLUGINFILE@@/name``), or be the old image field."""
    questiontext = question.find("questiontext")
    stem, sources = _rich(questiontext, "the question")
    files: dict[str, Element] = {}
    if questiontext is not None:
        for file in questiontext.findall("file"):
            folder = (file.get("path") or "/").strip("/")
            files[f"{folder}/{file.get('name') or ''}".lstrip("/")] = file
    # Moodle 1.9's separate image field: Moodle's own importer adds it after the text.
    old_name = _text(question.find("image"))
    if old_name:
        old_data = question.find("image_base64")
        if old_data is None or not (old_data.text or "").strip():
            raise _Refused(f"the question shows the image {old_name!r}, which the file does "
                           f"not hold")
        sources = [*sources, PLUGINFILE + quote(old_name)]
        files[old_name] = old_data
    images: list[ParsedImage] = []
    seen: set[str] = set()
    for source in sources:
        if not source.startswith(PLUGINFILE):
            raise _Refused(f"the question shows an image from {source[:80]!r}, which is not "
                           f"embedded in the file and cannot be shown")
        name = unquote(source[len(PLUGINFILE):])
        if name in seen:
            continue
        seen.add(name)
        if name not in files:
            raise _Refused(f"the question shows the image {name!r}, which the file does not "
                           f"hold")
        images.append(_image(files[name], name, [i.name for i in images]))
    return stem, images


def _image(file: Element, name: str, taken: Iterable[str]) -> ParsedImage:
    """One embedded stem image, decoded and checked."""
    media_type = image_type(name)
    if media_type is None:
        raise _Refused(f"the image {name!r} is not a PNG, JPEG or GIF file")
    # The old image field (<image_base64>) has no encoding attribute; it is base64.
    if (file.get("encoding") or "base64").strip().lower() != "base64":
        raise _Refused(f"the image {name!r} is not base64-encoded")
    # Moodle writes base64 on one line, other tools wrap it: whitespace is not data, anything
    # else outside the alphabet is a broken file.
    encoded = "".join((file.text or "").split())
    if len(encoded) * 3 // 4 > MAX_IMAGE_BYTES + 3:
        raise _Refused(f"the image {name!r} is larger than {MAX_IMAGE_BYTES // 2**20} MB")
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise _Refused(f"the image {name!r} is not valid base64") from None
    if not data:
        raise _Refused(f"the image {name!r} is empty")
    if len(data) > MAX_IMAGE_BYTES:
        raise _Refused(f"the image {name!r} is larger than {MAX_IMAGE_BYTES // 2**20} MB")
    found, problem = picture_problem(data, name)
    if problem is not None:
        raise _Refused(problem)
    if found != media_type:
        raise _Refused(f"the image {name!r} does not hold the {media_type} its name says")
    return ParsedImage(name=safe_image_name(name, taken), media_type=media_type, data=data)


def _parameters(question: Element) -> dict[str, Any]:
    """The IRT parameters of our ``irt:`` tag, each only when present and valid."""
    found: dict[str, Any] = {}
    tags = question.find("tags")
    for tag in tags.findall("tag") if tags is not None else ():
        text = _text(tag)
        if not text.lower().startswith(IRT_TAG):
            continue
        for pair in text[len(IRT_TAG):].split(";"):
            key, _, value = (p.strip() for p in pair.partition("="))
            key = key.lower()
            if key == "model" and value.lower() in IRT_MODELS:
                found["model"] = value.lower()
            elif key in ("a", "b", "c"):
                try:
                    number = float(value)
                except ValueError:
                    continue
                if math.isfinite(number):
                    found[key] = number
    return found


# ---------------------------------------------------------------------------------- writing


def _html(text: str) -> str:
    """Plain text as escaped HTML: blank-line separated paragraphs as ``<p>``, single line
    breaks as ``<br>``."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.replace("\r\n", "\n").strip()) if p]
    return "".join("<p>" + "<br>".join(html.escape(line) for line in p.split("\n")) + "</p>"
                   for p in paragraphs)


def _option_html(text: str) -> str:
    """An option as escaped HTML; one paragraph goes without ``<p>``, as Moodle writes it."""
    markup = _html(text)
    if markup.count("<p>") == 1:
        markup = markup.removeprefix("<p>").removesuffix("</p>")
    return markup


def _sub(parent: etree._Element, tag: str, text: str | None = None,
         **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, tag, attributes)
    if text is not None:
        element.text = text
    return element


def _text_element(parent: etree._Element, tag: str, markup: str,
                  **attributes: str) -> etree._Element:
    """``<tag format="html"><text><![CDATA[markup]]></text></tag>``: CDATA as Moodle writes
    it; the markup is escaped HTML, so it never holds the ``]]>`` that would end it."""
    element = _sub(parent, tag, format="html", **attributes)
    _sub(element, "text").text = etree.CDATA(markup) if markup else ""
    return element


def _category_path(materi: str, tag: str) -> str:
    # A slash inside a name is written doubled (Moodle's category path escaping).
    return "/".join(["$course$", "top", *(s.replace("/", "//") for s in (materi, tag) if s)])


def _irt_tag(record: dict[str, Any]) -> str | None:
    parts = [f"model={record['model']}"] if record.get("model") else []
    # repr of a float reads back as the same float, so the parameters survive exactly.
    parts += [f"{k}={float(record[k])!r}" for k in ("a", "b", "c") if record.get(k) is not None]
    return IRT_TAG + ";".join(parts) if parts else None


def _write_question(quiz: etree._Element, record: dict[str, Any]) -> None:
    item_id = str(record["id"])
    options = list(record["options"])
    key = LETTERS.find(str(record["key"]).strip().upper())
    if not 0 <= key < len(options):
        raise ValueError(f"item {item_id}: the key {record['key']!r} is not among its "
                         f"{len(options)} options")
    question = _sub(quiz, "question", type="multichoice")
    _sub(_sub(question, "name"), "text", item_id)
    markup = _html(str(record["stem"]))
    files: list[tuple[str, bytes]] = []
    for image in record.get("images") or ():
        name = safe_image_name(str(image["name"]), (n for n, _ in files))
        files.append((name, bytes(image["data"])))
        markup += f'<p><img src="{html.escape(PLUGINFILE + quote(name))}" alt=""></p>'
    questiontext = _text_element(question, "questiontext", markup)
    for name, data in files:
        _sub(questiontext, "file", base64.b64encode(data).decode("ascii"), name=name, path="/",
             encoding="base64")
    _text_element(question, "generalfeedback", "")
    _sub(question, "defaultgrade", "1")
    _sub(question, "penalty", "0")
    _sub(question, "hidden", "0")
    _sub(question, "idnumber", item_id)
    _sub(question, "single", "true")
    _sub(question, "shuffleanswers", "true")
    _sub(question, "answernumbering", "ABCD")
    for index, option in enumerate(options):
        answer = _text_element(question, "answer", _option_html(str(option)),
                               fraction="100" if index == key else "0")
        _text_element(answer, "feedback", "")
    tag = _irt_tag(record)
    if tag is not None:
        _sub(_sub(_sub(question, "tags"), "tag"), "text", tag)


def write_moodle_xml(records: list[dict[str, Any]]) -> bytes:
    """Export records (with their ``images``) as a UTF-8 Moodle XML quiz file: a category
    per (materi, content tag), then its items as single-answer multiple choice."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault((str(record["materi"]), str(record.get("content_tag") or "")),
                          []).append(record)
    quiz = etree.Element("quiz")
    for (materi, tag), members in groups.items():
        category = _sub(quiz, "question", type="category")
        _sub(_sub(category, "category"), "text", _category_path(materi, tag))
        for record in members:
            try:
                _write_question(quiz, record)
            except ValueError as exc:
                # lxml refuses characters XML cannot hold (control characters): name the item.
                if str(exc).startswith("item "):
                    raise
                raise ValueError(f"item {record['id']}: {exc}") from None
    return etree.tostring(quiz, xml_declaration=True, encoding="UTF-8", pretty_print=True)
