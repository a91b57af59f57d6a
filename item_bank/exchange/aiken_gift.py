"""The two plain-text question formats widyaiswara write by hand: Aiken and GIFT.

Aiken (Moodle Docs, "Aiken format"): a question is its text, one option per line starting
with a letter and ``.`` or ``)``, and a line ``ANSWER: X``; questions are separated by blank
lines.

GIFT (Moodle Docs, "GIFT format"): a question is an optional ``::title::``, an optional
``[format]``, its text and a ``{...}`` answer block; questions are separated by blank lines,
``//`` starts a comment line, ``$CATEGORY: a/b`` sets the category of what follows, and
``\\~ \\= \\# \\{ \\} \\:`` are the escaped special characters.  Read here: multiple choice
with one right answer (``{=right ~wrong ~wrong}``) and true/false (``{T}``, ``{FALSE}``),
whose options are "Benar" and "Salah"; feedback (``#...``) is ignored.  Refused with the
reason: partial credit, several right answers, short answer, matching, numerical, essay.
Text after the answer block (a missing-word question) is kept, the block shown as a blank.
"""

from __future__ import annotations

import dataclasses
import re

from .base import (
    ExchangeError,
    Parsed,
    ParsedItem,
    Refusal,
    UnsupportedMarkup,
    check_size,
    html_text,
)

MAX_OPTIONS = 5
TRUE_FALSE_OPTIONS = ("Benar", "Salah")


def _text(data: bytes, what: str) -> str:
    check_size(data, what)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ExchangeError(f"{what} is not UTF-8 text (byte {exc.start})") from None


def _blocks(text: str) -> list[tuple[int, list[str]]]:
    """(first line number, lines) of each blank-line separated block."""
    blocks: list[tuple[int, list[str]]] = []
    current: list[str] = []
    start = 0
    for number, line in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), 1):
        if line.strip():
            if not current:
                start = number
            current.append(line)
        elif current:
            blocks.append((start, current))
            current = []
    if current:
        blocks.append((start, current))
    return blocks


def _checked(position: int, name: str, stem: str, options: list[str],
             key: int) -> ParsedItem | Refusal:
    """The item, or the refusal naming what the product cannot hold."""
    if not stem.strip():
        return Refusal(position, name, "the question has no text")
    if len(options) < 2:
        return Refusal(position, name, "a question needs at least 2 options")
    if len(options) > MAX_OPTIONS:
        return Refusal(position, name, f"{len(options)} options; the product holds at most "
                                       f"{MAX_OPTIONS} (A-E)")
    if any(not o.strip() for o in options):
        return Refusal(position, name, "an option is empty")
    if len(set(options)) != len(options):
        return Refusal(position, name, "two options have the same text")
    return ParsedItem(position=position, name=name, stem=stem, options=tuple(options), key=key)


# ---------------------------------------------------------------------------------- Aiken

# Moodle reads "A)Correct" (no space) as an option too (its aiken_errors.txt fixture).
_AIKEN_OPTION = re.compile(r"^([A-Z])[.)]\s*(.*)$")
_AIKEN_ANSWER = re.compile(r"^ANSWER\s*:\s*([A-Z])\s*$", re.IGNORECASE)


def read_aiken(data: bytes, filename: str) -> Parsed:
    """The questions of an Aiken file (``filename`` names it in messages)."""
    items: list[ParsedItem] = []
    refusals: list[Refusal] = []
    for position, (line, lines) in enumerate(_blocks(_text(data, filename)), 1):
        name = f"line {line}"
        stem_lines: list[str] = []
        options: list[str] = []
        letters: list[str] = []
        answer = None
        problem = None
        for text in lines:
            text = text.strip()
            option = _AIKEN_OPTION.match(text)
            found = _AIKEN_ANSWER.match(text)
            if found:
                answer = found.group(1).upper()
            elif text.upper().startswith("ANSWER"):
                problem = f"{text[:60]!r} does not name one option letter"
            elif option and not stem_lines and problem is None:
                problem = "the block starts with an option: the question text is missing"
            elif option:
                letters.append(option.group(1))
                options.append(option.group(2).strip())
            elif options:
                problem = f"unexpected line after the options: {text[:60]!r}"
            else:
                stem_lines.append(text)
        if problem is None and answer is None:
            problem = "no ANSWER: line"
        if problem is None and letters != [chr(65 + i) for i in range(len(letters))]:
            problem = "options must be lettered A, B, C ... in order"
        if problem is None and answer not in letters:
            problem = f"ANSWER: {answer} is not among the options"
        if problem is not None:
            refusals.append(Refusal(position, name, problem))
            continue
        parsed = _checked(position, name, " ".join(stem_lines), options,
                          letters.index(answer))
        (items if isinstance(parsed, ParsedItem) else refusals).append(parsed)
    if not items and not refusals:
        raise ExchangeError(f"{filename} holds no question")
    return Parsed(tuple(items), tuple(refusals))


# ----------------------------------------------------------------------------------- GIFT

_FORMAT = re.compile(r"^\[(html|moodle|plain|markdown)\]")
_WEIGHT = re.compile(r"^%(-?\d+(?:\.\d+)?)%")


def _unescape(text: str) -> str:
    return re.sub(r"\\([~=#{}:n\\])", lambda m: "\n" if m.group(1) == "n" else m.group(1), text)


def _unescaped(text: str, chars: str, start: int = 0) -> int:
    """The index of the first of ``chars`` at or after ``start`` not escaped by a backslash,
    or -1."""
    i = start
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] in chars:
            return i
        i += 1
    return -1


def _split_answers(body: str) -> list[tuple[str, str]]:
    """(marker, text) of each answer of a GIFT answer block: marker "=" or "~", the text
    with its feedback removed and its escapes undone."""
    answers: list[tuple[str, str]] = []
    i = _unescaped(body, "=~")
    while i != -1:
        nxt = _unescaped(body, "=~", i + 1)
        chunk = body[i + 1: nxt if nxt != -1 else len(body)]
        feedback = _unescaped(chunk, "#")
        if feedback != -1:
            chunk = chunk[:feedback]
        answers.append((body[i], chunk.strip()))
        i = nxt
    return answers


def read_gift(data: bytes, filename: str) -> Parsed:
    """The multiple-choice and true/false questions of a GIFT file."""
    items: list[ParsedItem] = []
    refusals: list[Refusal] = []
    category: str | None = None
    position = 0
    for line, lines in _blocks(_text(data, filename)):
        lines = [t for t in lines if not t.lstrip().startswith("//")]
        if not lines:
            continue
        text = "\n".join(lines).strip()
        if text.startswith("$CATEGORY:"):
            first, _, rest = text.partition("\n")
            path = [p for p in first[len("$CATEGORY:"):].strip().split("/") if p.strip()]
            tail = path[-1].strip() if path else ""
            category = None if not tail or tail in ("top", "$course$") \
                or tail.startswith("Default for") else tail
            if not rest.strip():
                continue
            text = rest.strip()
        position += 1
        parsed = _gift_question(position, line, text)
        if isinstance(parsed, ParsedItem) and category is not None:
            parsed = dataclasses.replace(parsed, category=category)
        (items if isinstance(parsed, ParsedItem) else refusals).append(parsed)
    if not items and not refusals:
        raise ExchangeError(f"{filename} holds no question")
    return Parsed(tuple(items), tuple(refusals))


def _gift_question(position: int, line: int, text: str) -> ParsedItem | Refusal:
    name = f"line {line}"
    if text.startswith("::") and text.find("::", 2) != -1:
        name = _unescape(text[2:text.find("::", 2)].strip()) or name
    try:
        return _gift_parts(position, name, text)
    except UnsupportedMarkup as exc:
        return Refusal(position, name, f"the question holds {exc}")


def _gift_parts(position: int, name: str, text: str) -> ParsedItem | Refusal:
    if text.startswith("::"):
        end = text.find("::", 2)
        if end == -1:
            return Refusal(position, name, "the title is not closed with ::")
        text = text[end + 2:].lstrip()
    markup, text = _markup(text, "moodle")
    opening = _unescaped(text, "{")
    closing = _unescaped(text, "}", opening + 1) if opening != -1 else -1
    if opening == -1 or closing == -1:
        return Refusal(position, name, "no answer block { ... } (a description, not a question)")
    before, body, after = text[:opening], text[opening + 1:closing].strip(), text[closing + 1:]
    stem_raw = before.strip() + (" _____ " + after.strip() if after.strip() else "")
    stem_raw = _unescape(stem_raw)
    stem, images = html_text(stem_raw) if markup == "html" else (" ".join(stem_raw.split()), [])
    if images:
        return Refusal(position, name, "images in GIFT questions are not imported")
    kind = _gift_kind(body)
    if kind is not None:
        return Refusal(position, name, kind)
    true_false = _true_false_key(body)
    if true_false is not None:
        return _checked(position, name, stem, list(TRUE_FALSE_OPTIONS), true_false)
    right, options = [], []
    for i, (marker, answer) in enumerate(_split_answers(body)):
        # "~%-25%wrong" (a penalty on a wrong answer) is still one right answer; a wrong
        # answer worth part of the mark is partial credit, which a CAT item cannot score.
        weight = _WEIGHT.match(answer)
        share = float(weight.group(1)) if weight else (100.0 if marker == "=" else 0.0)
        if 0 < share < 100:
            return Refusal(position, name, "answers with partial credit (%n%) are not "
                                           "single-answer")
        if share >= 100:
            right.append(i)
        option_markup, option = _markup(answer[weight.end():] if weight else answer, markup)
        option = _unescape(option).strip()
        options.append(html_text(option)[0] if option_markup == "html" else option)
    if len(right) != 1:
        return Refusal(position, name, f"{len(right)} right answers; exactly one must be right")
    return _checked(position, name, stem, options, right[0])


def _markup(text: str, default: str) -> tuple[str, str]:
    """(format, text without it) for a text that may start with ``[html]``, ``[moodle]``,
    ``[plain]`` or ``[markdown]``."""
    found = _FORMAT.match(text.lstrip())
    return (found.group(1), text.lstrip()[found.end():]) if found else (default, text)


def _true_false_key(body: str) -> int | None:
    """The key of a true/false answer block (``{T}``, ``{FALSE#feedback}``), or None."""
    return {"T": 0, "TRUE": 0, "F": 1, "FALSE": 1}.get(body.split("#", 1)[0].strip().upper())


def _gift_kind(body: str) -> str | None:
    """Why a GIFT answer block is not multiple choice or true/false, or None."""
    if not body:
        return "an essay question (empty answer block)"
    if body.startswith("#"):
        return "a numerical question"
    answers = _split_answers(body)
    if any("->" in t for _, t in answers):
        return "a matching question"
    if answers and all(marker == "=" for marker, _ in answers) and _true_false_key(body) is None:
        return "a short-answer question (only right answers, no choices)"
    return None
