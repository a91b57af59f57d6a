"""IMS QTI items: read QTI 2.1 / 2.2 / 3.0 single-choice items, write QTI 3.0 packages.

Read (:func:`read_qti`): one item file (``assessmentItem`` of QTI 2.1 or 2.2,
``qti-assessment-item`` of QTI 3.0) or a content package (a zip with ``imsmanifest.xml``
whose item resources name the item files).  A question is usable when it has exactly one
choice interaction with one choice to make and one correct choice among at most five; every
other kind (text entry, ordering, several right answers ...) is refused with the reason.
Images the stem shows are read from the package.  XML is parsed only by defusedxml with DTDs
forbidden, so an entity bomb or an external entity (XXE) is refused, never expanded.

Write (:func:`write_qti3`): a QTI 3.0 content package of export records, one item file per
question; the item's own code, content tag and IRT parameters ride in each resource's
metadata under our namespace, so that :func:`read_qti` gets them back exactly.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote, urlsplit

from lxml import etree  # builds what we write; untrusted input is parsed only by defusedxml

from .base import (
    IMAGE_TYPES,
    MAX_IMAGE_BYTES,
    ExchangeError,
    Package,
    Parsed,
    ParsedImage,
    ParsedItem,
    Refusal,
    UnsupportedMarkup,
    check_size,
    image_type,
    markup_text,
    member_name_is_safe,
    parse_xml,
    picture_problem,
    safe_image_name,
)

MAX_OPTIONS = 5
LETTERS = "ABCDE"

QTI21_NS = "http://www.imsglobal.org/xsd/imsqti_v2p1"
QTI22_NS = "http://www.imsglobal.org/xsd/imsqti_v2p2"
QTI3_NS = "http://www.imsglobal.org/xsd/imsqtiasi_v3p0"
QTI3_XSD = "https://purl.imsglobal.org/spec/qti/v3p0/schema/xsd/imsqti_asiv3p0_v1p0.xsd"
CP_NS = "http://www.imsglobal.org/xsd/qti/qtiv3p0/imscp_v1p1"
CP_XSD = "https://purl.imsglobal.org/spec/qti/v3p0/schema/xsd/imsqtiv3p0_imscpv1p2_v1p0.xsd"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
MATCH_CORRECT = "https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/match_correct.xml"
LOM_NS = "http://ltsc.ieee.org/xsd/LOM"
# Our own metadata in a manifest resource.  The QTI 3.0 profile of IMS CP prohibits extension
# elements directly in <metadata>, but its LOM record ends with an ##other (lax) extension
# point: <metadata><lom:lom><sc:item .../></lom:lom></metadata> is schema-valid.
SC_NS = "https://smartcat.example/ns/item/1"
ITEM_RESOURCE_TYPE = "imsqti_item_xmlv3p0"
MODELS = ("1pl", "2pl", "3pl")

# Item resource types seen in the wild: imsqti_item_xmlv2p1, imsqti_item_xmlv2p2,
# imsqti_item_xmlv3p0, with or without the "_xml" or a different case; tests, sections and
# web content are not questions.
_ITEM_TYPE = re.compile(r"^imsqti_(?:item_)?(?:xml)?v?[23]p\d.*$|^imsqti_item", re.IGNORECASE)
_NOT_ITEM = re.compile(r"test|section|assessment_xml|outcomes|stimulus|webcontent",
                       re.IGNORECASE)
# Inside the item body these are not part of what the candidate reads as the question (feedback
# shown after answering, notes for a scorer or a proctor, template logic).
_NOT_STEM = ("feedbackblock", "feedbackinline", "modalfeedback", "rubricblock",
             "templateblock", "templateinline")


def _name(tag: object) -> str:
    """A QTI element's name with namespace, case, ``qti-`` and hyphens removed, so that QTI 2
    ``choiceInteraction`` and QTI 3 ``qti-choice-interaction`` are both ``choiceinteraction``.
    """
    if not isinstance(tag, str):  # comments and processing instructions
        return ""
    local = tag.rsplit("}", 1)[-1].lower()
    return local.removeprefix("qti-").replace("-", "")


def _local(tag: object) -> str:
    """The element's local name as the file spells it (for messages and markup_text's skip)."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _attr(element, *names: str) -> str | None:
    """The first attribute present among ``names`` (QTI 2 camelCase, QTI 3 kebab-case)."""
    for name in names:
        value = element.get(name)
        if value is not None:
            return value.strip()
    return None


def _children(element, name: str) -> list:
    return [child for child in element if _name(child.tag) == name]


def _descendants(element, name: str) -> list:
    return [node for node in element.iter() if _name(node.tag) == name]


def _fold_whitespace(root) -> None:
    """Fold runs of whitespace in every text node into one space, in place.

    Item files are usually pretty-printed, so a paragraph's text holds newlines that are
    only layout; markup_text would keep them as line breaks.  Line breaks that mean something
    are markup (``<br/>``, ``<p>``), which is what our writer emits.
    """
    for node in root.iter():
        if node.text:
            node.text = re.sub(r"\s+", " ", node.text)
        if node.tail:
            node.tail = re.sub(r"\s+", " ", node.tail)


# ------------------------------------------------------------------------------------ images

def _resolve(base_dir: str, href: str) -> str | None:
    """A reference resolved against the folder of the file that makes it, as a package member
    name; None when it is not a relative reference or leaves the package."""
    parts = urlsplit(href.strip())
    if parts.scheme or parts.netloc or not parts.path:
        return None
    path = unquote(parts.path)
    if path.startswith("/") or "\\" in path:
        return None
    joined = posixpath.normpath(posixpath.join(base_dir, path))
    return joined if joined != "." and member_name_is_safe(joined) else None


def _images(package: Package | None, item_path: str,
            sources: list[str]) -> tuple[ParsedImage, ...] | str:
    """The stem's images read from the package, or the reason the question is refused."""
    images: list[ParsedImage] = []
    for src in sources:
        if package is None:
            return (f"the image {src!r} is not in a single item file; import the content "
                    f"package (zip) that holds it")
        member = _resolve(posixpath.dirname(item_path), src)
        if member is None:
            return f"the image {src!r} is not a file inside the package"
        if member not in package.names:
            return f"the image {src!r} is missing from the package"
        try:
            data = package.read(member, limit=MAX_IMAGE_BYTES)
        except ExchangeError as exc:
            return f"the image {src!r} cannot be used: {exc}"
        media_type, problem = picture_problem(data, src)
        if problem is not None:
            return problem
        name = posixpath.basename(member)
        if image_type(name) != media_type:
            # A picture named .bmp that holds a PNG, or one without an extension: keep the
            # name but make the extension tell the truth.
            name = f"{name.rsplit('.', 1)[0]}.{media_type.split('/')[1].replace('jpeg', 'jpg')}"
        name = safe_image_name(name, (i.name for i in images))
        images.append(ParsedImage(name=name, media_type=media_type, data=data))
    return tuple(images)


# -------------------------------------------------------------------------------------- item

def _question(root, *, position: int, fallback_name: str, package: Package | None,
              item_path: str, meta: dict[str, Any] | None) -> ParsedItem | Refusal:
    """One item element as a question, or the refusal saying why it cannot be one."""
    identifier = _attr(root, "identifier") or ""
    name = (meta or {}).get("code") or identifier or _attr(root, "title") or fallback_name

    def refuse(reason: str) -> Refusal:
        return Refusal(position, name, reason)

    if _name(root.tag) != "assessmentitem":
        return refuse(f"<{_local(root.tag)}> is not a QTI assessment item")
    if _children(root, "templatedeclaration") or _children(root, "templateprocessing"):
        return refuse("a template item (its values drawn at random) cannot be represented")
    bodies = _children(root, "itembody")
    if len(bodies) != 1:
        return refuse("the item has no item body")
    body = bodies[0]
    interactions = [node for node in body.iter() if _name(node.tag).endswith("interaction")]
    if not interactions:
        return refuse("the item has no interaction (nothing to answer)")
    if len(interactions) > 1:
        kinds = ", ".join(sorted({_local(i.tag) for i in interactions}))
        return refuse(f"the item has {len(interactions)} interactions ({kinds}); only one "
                      f"single-answer choice interaction can be represented")
    interaction = interactions[0]
    if _name(interaction.tag) != "choiceinteraction":
        return refuse(f"a {_local(interaction.tag)} cannot be represented (only single-answer "
                      f"multiple choice)")
    max_choices = _attr(interaction, "maxChoices", "max-choices") or "1"  # QTI's default
    if max_choices != "1":
        return refuse(f"more than one choice may be selected (max choices {max_choices}); "
                      f"only single-answer questions can be represented")
    response_id = _attr(interaction, "responseIdentifier", "response-identifier")
    declarations = [d for d in _children(root, "responsedeclaration")
                    if _attr(d, "identifier") == response_id]
    if not declarations:
        return refuse(f"no response declaration for the interaction's response "
                      f"{response_id!r}")
    declaration = declarations[0]
    cardinality = _attr(declaration, "cardinality") or ""
    if cardinality != "single":
        return refuse(f"the response has cardinality {cardinality or 'unset'}: several answers "
                      f"are expected; only one correct answer can be represented")
    values = [(v.text or "").strip() for c in _children(declaration, "correctresponse")
              for v in _children(c, "value")]
    if not values:
        return refuse("the item declares no correct response")
    if len(values) > 1:
        return refuse(f"the item declares {len(values)} correct answers; only one can be "
                      f"represented")

    choices = _children(interaction, "simplechoice")
    if len(choices) < 2:
        return refuse(f"{len(choices)} choice(s); a question needs at least 2 options")
    if len(choices) > MAX_OPTIONS:
        return refuse(f"{len(choices)} choices; the product holds at most {MAX_OPTIONS} "
                      f"options (A-E)")
    choice_ids = [_attr(c, "identifier") for c in choices]
    if values[0] not in choice_ids:
        return refuse(f"the correct response {values[0]!r} is not one of the choices")
    try:
        return _texts(root, body, interaction, choices, choice_ids, values[0], position=position,
                      name=name, package=package, item_path=item_path, meta=meta or {})
    except UnsupportedMarkup as exc:
        return refuse(f"the item holds {exc}")


def _texts(root, body, interaction, choices, choice_ids: list[str], correct: str, *,
           position: int, name: str, package: Package | None, item_path: str,
           meta: dict[str, Any]) -> ParsedItem | Refusal:
    """The question's stem, options and pictures; UnsupportedMarkup for what the exam
    cannot show."""
    identifier = _attr(root, "identifier") or ""

    def refuse(reason: str) -> Refusal:
        return Refusal(position, name, reason)

    options: list[str] = []
    for choice in choices:
        text, option_images = markup_text(choice, skip=_skip_names(choice, _NOT_STEM))
        if option_images:
            return refuse("an option with an image cannot be represented")
        if not text:
            return refuse(f"option {_attr(choice, 'identifier')!r} is empty")
        options.append(text)
    if len(set(options)) != len(options):
        return refuse("two options have the same text")

    skip = _skip_names(body, (_name(interaction.tag), *_NOT_STEM))
    stem, sources = markup_text(body, skip=skip)
    for prompt in _children(interaction, "prompt"):
        prompt_text, prompt_images = markup_text(prompt, skip=skip)
        stem = "\n\n".join(part for part in (stem, prompt_text) if part)
        sources.extend(prompt_images)
    if not stem:
        return refuse("the question has no text")
    images = _images(package, item_path, sources)
    if isinstance(images, str):
        return refuse(images)

    return ParsedItem(
        position=position, name=name, stem=stem, options=tuple(options),
        key=choice_ids.index(correct), code=meta.get("code") or identifier or None,
        category=meta.get("category"), images=images, model=meta.get("model"),
        a=meta.get("a"), b=meta.get("b"), c=meta.get("c"))


def _skip_names(root, names: Iterable[str]) -> set[str]:
    """markup_text compares lowercased local names, so skipping must name elements as this
    file spells them (``feedbackInline`` or ``qti-feedback-inline``)."""
    wanted = set(names)
    return {_local(node.tag).lower() for node in root.iter() if _name(node.tag) in wanted}


def _item_from_bytes(data: bytes, *, position: int, what: str, package: Package | None,
                     item_path: str, meta: dict[str, Any] | None) -> ParsedItem | Refusal:
    root = parse_xml(data, what)
    if _name(root.tag) == "questestinterop":
        raise ExchangeError(f"{what} is QTI 1.2, which is not read; export QTI 2.1, 2.2 or "
                            f"3.0")
    _fold_whitespace(root)
    return _question(root, position=position, fallback_name=what, package=package,
                     item_path=item_path, meta=meta)


# ---------------------------------------------------------------------------------- package

def _our_metadata(resource) -> dict[str, Any] | str | None:
    """What our writer keeps in a resource's metadata (code, content tag, IRT parameters), or
    the reason it is unusable; None for a foreign package."""
    found = [node for metadata in resource if _name(metadata.tag) == "metadata"
             for node in metadata.iter(f"{{{SC_NS}}}item")]
    if not found:
        return None
    node = found[0]
    meta: dict[str, Any] = {"code": node.get("code") or None,
                            "category": node.get("content-tag") or None}
    model = node.get("model") or None
    if model is not None and model not in MODELS:
        return f"the item's SMART CAT metadata names an unknown model {model!r}"
    meta["model"] = model
    for parameter in ("a", "b", "c"):
        value = node.get(parameter)
        try:
            meta[parameter] = float(value) if value else None
        except ValueError:
            return f"the item's SMART CAT metadata has a malformed {parameter}={value!r}"
    return meta


def _is_item_resource(kind: str) -> bool:
    return bool(_ITEM_TYPE.match(kind)) and not _NOT_ITEM.search(kind)


def _read_package(data: bytes, filename: str) -> Parsed:
    package = Package(data)
    manifests = sorted((n for n in package.names
                        if posixpath.basename(n).lower() == "imsmanifest.xml"),
                       key=lambda n: (n.count("/"), n))
    if not manifests:
        raise ExchangeError(f"{filename} has no imsmanifest.xml: not an IMS content package")
    # Zipping the package's folder instead of its content puts the manifest one level down.
    manifest_path = manifests[0]
    base_dir = posixpath.dirname(manifest_path)
    manifest = parse_xml(package.read(manifest_path), f"{filename}: {manifest_path}")
    if _name(manifest.tag) != "manifest":
        raise ExchangeError(f"{filename}: {manifest_path} is not an IMS manifest")
    resources = [r for r in _descendants(manifest, "resource")
                 if _is_item_resource(r.get("type") or "")]
    if not resources:
        raise ExchangeError(f"{filename}: the manifest lists no QTI item")

    items: list[ParsedItem] = []
    refusals: list[Refusal] = []
    for position, resource in enumerate(resources, 1):
        files = [f.get("href") for f in _children(resource, "file") if f.get("href")]
        href = resource.get("href") or (files[0] if files else None)
        label = href or resource.get("identifier") or f"resource {position}"
        if not href:
            refusals.append(Refusal(position, label, "the resource names no item file"))
            continue
        member = _resolve(base_dir, href)
        if member is None:
            refusals.append(Refusal(position, label, f"the item file {href!r} is not a file "
                                                     f"inside the package"))
            continue
        if member not in package.names:
            refusals.append(Refusal(position, label, f"the item file {href!r} is missing "
                                                     f"from the package"))
            continue
        meta = _our_metadata(resource)
        if isinstance(meta, str):
            refusals.append(Refusal(position, label, meta))
            continue
        # A hostile member (a bomb) makes the whole package unusable: Package.read raises.
        content = package.read(member)
        try:
            parsed = _item_from_bytes(content, position=position, what=member,
                                      package=package, item_path=member, meta=meta)
        except ExchangeError as exc:
            parsed = Refusal(position, label, str(exc))
        (items if isinstance(parsed, ParsedItem) else refusals).append(parsed)
    return Parsed(tuple(items), tuple(refusals))


def read_qti(data: bytes, filename: str) -> Parsed:
    """The questions of a QTI item file or content package (``filename`` names it in messages).

    Parameters
    ----------
    data
        The file's bytes: a QTI 2.1 / 2.2 / 3.0 item XML, or a zip content package.
    filename
        How the upload is named, for messages.

    Returns
    -------
    Parsed
        The usable questions and the refused ones, in the file's (or manifest's) order.

    Raises
    ------
    ExchangeError
        When the whole file is unusable: too large, not XML or a package, unsafe (DTD,
        entities, a zip bomb, members outside the package).
    """
    check_size(data, filename)
    if data.startswith(b"PK"):
        return _read_package(data, filename)
    parsed = _item_from_bytes(data, position=1, what=filename, package=None,
                              item_path=filename, meta=None)
    if isinstance(parsed, ParsedItem):
        return Parsed((parsed,), ())
    return Parsed((), (parsed,))


# ------------------------------------------------------------------------------------ writer

# Characters XML 1.0 cannot carry at all (C0 controls but tab, newline, carriage return).
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_NOT_IDENT = re.compile(r"[^A-Za-z0-9_.-]+")


def qti_identifier(code: str, taken: Iterable[str] = ()) -> str:
    """A QTI identifier (an NCName: a letter or ``_`` first, then letters, digits, ``._-``)
    for an item code, unique among ``taken`` ignoring case (the file it names must not clash
    on a case-insensitive disk)."""
    ident = _NOT_IDENT.sub("_", code).strip(".") or "item"
    if not (ident[0].isascii() and (ident[0].isalpha() or ident[0] == "_")):
        ident = f"I-{ident}"
    used = {t.lower() for t in taken}
    candidate, n = ident, 1
    while candidate.lower() in used:
        n += 1
        candidate = f"{ident}-{n}"
    return candidate


def _xml_text(text: Any) -> str:
    return _NOT_XML.sub("", str(text))


def _repr(value: float | None) -> str:
    # repr is the shortest text float() reads back to the same double.
    return "" if value is None else repr(float(value))


def _image_name(image: dict[str, Any], taken: Iterable[str]) -> str:
    name = str(image.get("name") or "image")
    media_type = image.get("media_type")
    if image_type(name) != media_type:
        extension = {v: k for k, v in IMAGE_TYPES.items()}.get(media_type, "")
        extension = "jpg" if media_type == "image/jpeg" else extension
        name = f"{name}.{extension}" if extension else name
    return safe_image_name(name, taken)


def _lines(text: Any) -> str:
    return _xml_text(text).replace("\r\n", "\n").replace("\r", "\n")


def _text_with_breaks(element, text: str, q: str) -> None:
    """Text into an element with each line break as ``<br/>``: the reader folds whitespace
    (item files are pretty-printed) and turns ``<br/>`` back into the break.  lxml escapes
    the text, so "<script>" or "&" stay characters."""
    lines = text.split("\n")
    element.text = lines[0]
    for line in lines[1:]:
        etree.SubElement(element, f"{q}br").tail = line


def _item_xml(record: dict[str, Any], identifier: str, image_srcs: list[str]) -> bytes:
    q = f"{{{QTI3_NS}}}"
    root = etree.Element(f"{q}qti-assessment-item", nsmap={None: QTI3_NS, "xsi": XSI_NS})
    root.set(f"{{{XSI_NS}}}schemaLocation", f"{QTI3_NS} {QTI3_XSD}")
    root.set("identifier", identifier)
    root.set("title", _xml_text(record["id"]))
    root.set("adaptive", "false")
    root.set("time-dependent", "false")

    response = etree.SubElement(root, f"{q}qti-response-declaration", identifier="RESPONSE",
                                cardinality="single")
    response.set("base-type", "identifier")
    correct = etree.SubElement(response, f"{q}qti-correct-response")
    etree.SubElement(correct, f"{q}qti-value").text = str(record["key"])
    outcome = etree.SubElement(root, f"{q}qti-outcome-declaration", identifier="SCORE",
                               cardinality="single")
    outcome.set("base-type", "float")
    default = etree.SubElement(outcome, f"{q}qti-default-value")
    etree.SubElement(default, f"{q}qti-value").text = "0"

    body = etree.SubElement(root, f"{q}qti-item-body")
    for paragraph in re.split(r"\n\s*\n", _lines(record["stem"]).strip()):
        if paragraph.strip():
            _text_with_breaks(etree.SubElement(body, f"{q}p"), paragraph.strip("\n"), q)
    for src in image_srcs:
        figure = etree.SubElement(body, f"{q}p")
        etree.SubElement(figure, f"{q}img", src=src, alt=posixpath.basename(src))
    interaction = etree.SubElement(body, f"{q}qti-choice-interaction")
    interaction.set("response-identifier", "RESPONSE")
    interaction.set("max-choices", "1")
    interaction.set("shuffle", "false")
    for letter, option in zip(LETTERS, record["options"], strict=False):
        choice = etree.SubElement(interaction, f"{q}qti-simple-choice", identifier=letter)
        _text_with_breaks(choice, _lines(option).strip(), q)
    etree.SubElement(root, f"{q}qti-response-processing", template=MATCH_CORRECT)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def write_qti3(records: list[dict[str, Any]], *, title: str) -> bytes:
    """A QTI 3.0 content package (zip) of export records.

    Parameters
    ----------
    records
        :func:`item_bank.exchange.write.exchange_records` records, each with ``images``: a list of
        ``{"name", "media_type", "data"}``.
    title
        The package's title, kept in the manifest's metadata.

    Returns
    -------
    bytes
        The zip: ``imsmanifest.xml`` and ``items/<identifier>.xml`` per record, with the
        record's images under ``items/media/<identifier>/``.

    Raises
    ------
    ValueError
        For a record the format cannot hold (more than 5 options, a key that is not a letter
        of its options, an image that is not PNG, JPEG or GIF).
    """
    m = f"{{{CP_NS}}}"
    manifest = etree.Element(f"{m}manifest", nsmap={None: CP_NS, "xsi": XSI_NS,
                                                    "lom": LOM_NS, "sc": SC_NS})
    manifest.set(f"{{{XSI_NS}}}schemaLocation", f"{CP_NS} {CP_XSD}")
    manifest.set("identifier", "MANIFEST-SMARTCAT")
    metadata = etree.SubElement(manifest, f"{m}metadata")
    etree.SubElement(metadata, f"{m}schema").text = "QTI Package"
    etree.SubElement(metadata, f"{m}schemaversion").text = "3.0.0"
    general = etree.SubElement(etree.SubElement(metadata, f"{{{LOM_NS}}}lom"),
                               f"{{{LOM_NS}}}general")
    etree.SubElement(etree.SubElement(general, f"{{{LOM_NS}}}title"),
                     f"{{{LOM_NS}}}string").text = _xml_text(title)
    etree.SubElement(manifest, f"{m}organizations")
    resources = etree.SubElement(manifest, f"{m}resources")

    files: list[tuple[str, bytes]] = []
    taken: list[str] = []
    for record in records:
        options = list(record["options"])
        if not 2 <= len(options) <= MAX_OPTIONS:
            raise ValueError(f"item {record['id']}: {len(options)} options; QTI export holds "
                             f"2 to {MAX_OPTIONS}")
        if record["key"] not in LETTERS[:len(options)]:
            raise ValueError(f"item {record['id']}: key {record['key']!r} is not one of its "
                             f"options")
        identifier = qti_identifier(str(record["id"]), taken)
        taken.append(identifier)
        item_path = f"items/{identifier}.xml"
        srcs: list[str] = []
        image_files: list[str] = []
        names: list[str] = []
        for image in record.get("images") or ():
            if image.get("media_type") not in IMAGE_TYPES.values():
                raise ValueError(f"item {record['id']}: image {image.get('name')!r} is "
                                 f"{image.get('media_type')}, not PNG, JPEG or GIF")
            name = _image_name(image, names)
            names.append(name)
            srcs.append(f"media/{identifier}/{name}")
            image_files.append(f"items/media/{identifier}/{name}")
            files.append((image_files[-1], bytes(image["data"])))
        files.append((item_path, _item_xml(record, identifier, srcs)))

        resource = etree.SubElement(resources, f"{m}resource", identifier=f"RES-{identifier}",
                                    type=ITEM_RESOURCE_TYPE, href=item_path)
        lom = etree.SubElement(etree.SubElement(resource, f"{m}metadata"), f"{{{LOM_NS}}}lom")
        etree.SubElement(lom, f"{{{SC_NS}}}item", {
            "code": _xml_text(record["id"]),
            "content-tag": _xml_text(record.get("content_tag") or ""),
            "model": _xml_text(record.get("model") or ""),
            "a": _repr(record.get("a")), "b": _repr(record.get("b")),
            "c": _repr(record.get("c"))})
        etree.SubElement(resource, f"{m}file", href=item_path)
        for href in image_files:
            etree.SubElement(resource, f"{m}file", href=href)

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        members = [("imsmanifest.xml", etree.tostring(manifest, xml_declaration=True,
                                                      encoding="UTF-8", pretty_print=True)),
                   *files]
        for name, content in members:
            # A fixed date: the same records give the same bytes (reproducible exports).
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            # Pictures are compressed already; deflating them again only costs time.
            info.compress_type = (zipfile.ZIP_STORED if name.startswith("items/media/")
                                  else zipfile.ZIP_DEFLATED)
            archive.writestr(info, content)
    return out.getvalue()
