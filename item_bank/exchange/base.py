"""What every exchange format reads into and writes from: one question as plain data.

A reader turns a file into :class:`ParsedItem` values and :class:`Refusal` values (a question
it cannot represent, named with its position and why); a writer turns export records
(:func:`item_bank.exchange.write.exchange_records`, each with its ``images``) into a file.  Neither
touches the database: :mod:`item_bank.exchange.load` maps parsed items onto a program's materi
and content tags and stores them all or none.
"""

from __future__ import annotations

import dataclasses
import io
import re
import zipfile
from collections.abc import Iterable
from xml.etree.ElementTree import ParseError

import defusedxml
import defusedxml.ElementTree as SafeET  # noqa: N813 - the library's own alias

from ..pictures import MEDIA_TYPES, PictureProblem, opened_picture

# A file larger than this is refused before it is parsed (an upload or a package member).
MAX_FILE_BYTES = 20 * 1024 * 1024
# A content package may hold at most this many members and this much once unpacked; each
# member is read with its declared size checked against what comes out (a zip bomb lies).
MAX_PACKAGE_MEMBERS = 5000
MAX_PACKAGE_BYTES = 100 * 1024 * 1024
# An item image larger than this is refused (a stem picture, not a poster).
MAX_IMAGE_BYTES = 2 * 1024 * 1024
MAX_IMAGE_SIDE = 4000  # pixels, either side
IMAGE_TYPES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg",
               "gif": "image/gif"}


class ExchangeError(ValueError):
    """The whole file is unusable (not the format, too large, unsafe); nothing is read."""


class UnsupportedMarkup(ValueError):
    """A question's text holds what the exam page cannot show as text and pictures: a link,
    sound, video, a frame, a formula, a form field; ``what`` says which, ``tag`` names the
    element."""

    def __init__(self, what: str, tag: str, target: str = "") -> None:
        shown = f" {target[:80]!r}" if target else ""
        super().__init__(f"{what} (<{tag}>{shown}), which the exam cannot show")
        self.what, self.tag, self.target = what, tag, target


@dataclasses.dataclass(frozen=True)
class ParsedImage:
    """An image of a question's stem, as the file carries it."""

    name: str  # a plain file name, unique within its item ("figure1.png")
    media_type: str  # one of IMAGE_TYPES' values
    data: bytes


@dataclasses.dataclass(frozen=True)
class ParsedItem:
    """One single-answer multiple-choice question read from a file.

    ``stem`` and ``options`` are plain text (markup removed, paragraphs as blank lines);
    ``images`` follow the stem in their order.  ``code`` is the source's own identifier when
    it has one, ``category`` its category or tag (the content tag), and the parameters are
    set only when the file carries them (our own QTI and Moodle exports do).
    """

    position: int  # 1-based, in the file's order of questions
    name: str  # how the source names it, for messages ("q3", "Soal pajak 1")
    stem: str
    options: tuple[str, ...]
    key: int  # 0-based index of the correct option
    code: str | None = None
    category: str | None = None
    images: tuple[ParsedImage, ...] = ()
    model: str | None = None
    a: float | None = None
    b: float | None = None
    c: float | None = None


@dataclasses.dataclass(frozen=True)
class Refusal:
    """A question the product cannot represent, or a broken one."""

    position: int
    name: str
    reason: str


@dataclasses.dataclass(frozen=True)
class Parsed:
    """What a reader found: the usable questions and the refused ones."""

    items: tuple[ParsedItem, ...]
    refusals: tuple[Refusal, ...]


def parse_xml(data: bytes, what: str):
    """The root element of untrusted XML (an ElementTree element); ExchangeError naming what
    is wrong.

    defusedxml with ``forbid_dtd`` refuses any DOCTYPE, so neither an entity expansion bomb
    ("billion laughs") nor an external entity (XXE: a local file or an address) is ever
    processed.
    """


    try:
        return SafeET.fromstring(data, forbid_dtd=True)
    except defusedxml.DTDForbidden:
        raise ExchangeError(f"{what} declares a DTD (<!DOCTYPE ...>), which is refused: it can "
                            f"define entities that read local files or expand without "
                            f"bound") from None
    except defusedxml.EntitiesForbidden:
        raise ExchangeError(f"{what} declares XML entities, which are refused") from None
    except defusedxml.ExternalReferenceForbidden:
        raise ExchangeError(f"{what} refers to an external resource, which is "
                            f"refused") from None
    except defusedxml.DefusedXmlException as exc:
        raise ExchangeError(f"{what} is refused as unsafe XML ({exc})") from None
    except ParseError as exc:
        raise ExchangeError(f"{what} is not well-formed XML ({exc})") from None


def check_size(data: bytes, what: str = "the file") -> None:
    """ExchangeError for an empty file or one over MAX_FILE_BYTES."""
    check_length(len(data), what)


def check_length(size: int, what: str = "the file") -> None:
    """ExchangeError for a file of ``size`` bytes that is empty or over MAX_FILE_BYTES (a
    file on disk is judged before it is read)."""
    if not size:
        raise ExchangeError(f"{what} is empty")
    if size > MAX_FILE_BYTES:
        raise ExchangeError(f"{what} is {size / 2**20:.1f} MB; at most "
                            f"{MAX_FILE_BYTES // 2**20} MB can be imported")


def picture_problem(data: bytes, name: str) -> tuple[str | None, str | None]:
    """(media type, None) for bytes that are a whole PNG, JPEG or GIF picture of at most
    MAX_IMAGE_SIDE pixels a side, else (None, the reason naming ``name``)."""
    try:
        with opened_picture(data, max_side=MAX_IMAGE_SIDE) as image:
            return MEDIA_TYPES[image.format], None
    except PictureProblem as problem:
        if problem.code == "too_many_pixels":
            return None, (f"the image {name!r} is {problem.width} × {problem.height} pixels; "
                          f"at most {MAX_IMAGE_SIDE} a side")
        return None, f"the image {name!r} is not a whole PNG, JPEG or GIF picture"


def image_type(name: str) -> str | None:
    """The media type of an image file name we accept (PNG, JPEG, GIF), or None."""
    return IMAGE_TYPES.get(name.rsplit(".", 1)[-1].lower()) if "." in name else None


_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def safe_image_name(name: str, taken: Iterable[str] = ()) -> str:
    """A plain file name for an image (no folders, no odd characters), unique among
    ``taken``."""
    base = _SAFE_NAME.sub("_", name.replace("\\", "/").rsplit("/", 1)[-1]).strip("._") or "image"
    stem, dot, ext = base.rpartition(".")
    stem, ext = (stem, f".{ext}") if dot else (base, "")
    candidate, n, used = base, 1, set(taken)
    while candidate in used:
        n += 1
        candidate = f"{stem}-{n}{ext}"
    return candidate


def member_name_is_safe(name: str) -> bool:
    """A package member or reference that stays inside the package: relative, no ``..``, no
    drive or backslash (CWE-22, "zip slip")."""
    return bool(name) and not name.startswith(("/", "\\")) and "\\" not in name \
        and ":" not in name and ".." not in name.split("/")


class Package:
    """A zip content package opened for reading with the limits above.

    Member names that leave the package are refused when the package is opened; a member is
    read only up to the size it declares, and a member that expands past it or past the
    package's total is refused (a zip bomb).
    """

    def __init__(self, data: bytes):
        check_size(data, "the package")
        try:
            self._zip = zipfile.ZipFile(io.BytesIO(data))
            infos = self._zip.infolist()
        except (zipfile.BadZipFile, ValueError) as exc:
            raise ExchangeError(f"not a zip package ({exc})") from None
        if len(infos) > MAX_PACKAGE_MEMBERS:
            raise ExchangeError(f"the package has {len(infos)} files; at most "
                                f"{MAX_PACKAGE_MEMBERS} are read")
        unsafe = [i.filename for i in infos if not member_name_is_safe(i.filename)]
        if unsafe:
            raise ExchangeError(f"the package has a file outside it: {unsafe[0]!r}")
        if sum(i.file_size for i in infos) > MAX_PACKAGE_BYTES:
            raise ExchangeError(f"the package unpacks to more than "
                                f"{MAX_PACKAGE_BYTES // 2**20} MB")
        self._infos = {i.filename: i for i in infos if not i.is_dir()}
        self._read_total = 0

    @property
    def names(self) -> list[str]:
        return list(self._infos)

    def read(self, name: str, limit: int = MAX_FILE_BYTES) -> bytes:
        """The member's bytes; KeyError when absent, ExchangeError when too large or when it
        expands past its declared size."""
        info = self._infos[name]
        if info.file_size > limit:
            raise ExchangeError(f"{name} is {info.file_size / 2**20:.1f} MB; at most "
                                f"{limit / 2**20:.0f} MB")
        try:
            with self._zip.open(info) as handle:
                data = handle.read(info.file_size + 1)
        except (zipfile.BadZipFile, ValueError, NotImplementedError, OSError) as exc:
            raise ExchangeError(f"{name} cannot be unpacked ({exc})") from None
        if len(data) > info.file_size:
            raise ExchangeError(f"{name} unpacks to more than it declares (a zip bomb?)")
        self._read_total += len(data)
        if self._read_total > MAX_PACKAGE_BYTES:
            raise ExchangeError(f"the package unpacks to more than "
                                f"{MAX_PACKAGE_BYTES // 2**20} MB")
        return data


# Elements after which the text goes on in a new paragraph or line (HTML and QTI's XHTML).
_BLOCKS = {"p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre",
           "ul", "ol", "table", "figure", "prompt", "qti-prompt"}
_SKIPPED = {"script", "style", "head", "title"}
# What a question may not hold: the exam shows text and pictures only, and never sends a
# participant elsewhere (a link) or plays anything.
_UNSUPPORTED = {
    "a": "a link", "audio": "sound", "video": "video", "source": "sound or video",
    "iframe": "an embedded page", "object": "an embedded object", "embed": "an embedded object",
    "applet": "an applet", "canvas": "a drawing", "svg": "an SVG drawing",
    "math": "a formula (MathML)", "input": "a form field", "select": "a form field",
    "textarea": "a form field", "button": "a button", "form": "a form"}


def _local(tag: object) -> str:
    """An element's name without its namespace ('' for comments and processing
    instructions, whose tag is not a string in ElementTree or lxml)."""
    return tag.rsplit("}", 1)[-1].lower() if isinstance(tag, str) else ""


_CELL = "\x1f"  # a table cell starts here (a control character no markup text can hold)


def _fold(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def markup_text(element, *, skip: Iterable[str] = ()) -> tuple[str, list[str]]:
    """The plain text of an (X)HTML element and the ``src`` of each ``<img>`` in it, in order.

    Works on ElementTree and lxml elements alike.  As a browser shows it: white space in the
    markup (line breaks of a pretty-printed file included) folds into one space, block
    elements (paragraphs, list items, table rows) start a new paragraph, ``<br>`` breaks a
    line, table cells are separated by " | "; elements named in ``skip`` (local names, e.g. a
    QTI interaction inside the item body) are left out with their content but not their tail,
    and so are scripts and styles.  :class:`UnsupportedMarkup` for a link, sound, video, a
    frame, a formula or a form field.
    """
    skipped = {*(s.lower() for s in skip), *_SKIPPED}
    parts: list[str] = []
    images: list[str] = []

    def walk(node) -> None:
        name = _local(node.tag)
        if name in skipped:
            return
        if name in _UNSUPPORTED and (name != "a" or node.get("href")):
            raise UnsupportedMarkup(_UNSUPPORTED[name], name, node.get("href") or node.get(
                "src") or node.get("data") or "")
        if name == "img":
            images.append(node.get("src") or "")
        elif name == "br":
            parts.append("\n")
        elif name in ("td", "th"):
            parts.append(_CELL)
        if name and node.text:
            parts.append(_fold(node.text))
        for child in node:
            walk(child)
            if child.tail:
                parts.append(_fold(child.tail))
        if name in _BLOCKS:
            parts.append("\n\n")

    walk(element)
    lines = [" | ".join(cell for cell in (" ".join(c.split()) for c in line.split(_CELL)) if cell)
             for line in "".join(parts).replace("\xa0", " ").split("\n")]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip(), images


def html_text(html: str) -> tuple[str, list[str]]:
    """:func:`markup_text` of an HTML fragment given as text (Moodle's question text, a GIFT
    or QTI choice holding markup); a fragment with no markup comes back as it is, spaces
    folded.  lxml's HTML parser reads no DTD, resolves no entity and fetches nothing."""
    import lxml.html  # imported here: the text formats (Aiken, GIFT) never need it

    if "<" not in html and "&" not in html:
        return " ".join(html.split()), []
    root = lxml.html.fragment_fromstring(html, create_parent="div")
    return markup_text(root)
