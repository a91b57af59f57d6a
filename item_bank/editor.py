"""The question writer's item editor: its form checked field by field, then stored.

The form holds what the writer typed, as text: the stem (Markdown, :mod:`item_bank.item_text`),
up to five options A–E and the key as one of those letters (stored as the option's 0-based
index, as everywhere else in the bank), the sub-materi (a content tag of the item's materi,
chosen or created), the model and parameters, and pictures shown after the stem.

:func:`check_form` finds every problem at once, each under the field it belongs to, so a
page can show them all next to what was typed; :func:`save_item` stores the item only when
there is none (:class:`FormRejected` otherwise).  Pictures are re-encoded from their pixels
(no name, comment or metadata of the upload is kept, since any of it could tell the key) and
named by their position only.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from .admin import CODE
from .authoring import set_content
from .errors import InvalidInput, NotFound
from .families import FAMILY_MAX, refresh_families
from .item_text import with_html
from .messages import Notice
from .models import ContentTag, IrtModel, Item, ItemImage, ItemStatus, Materi
from .models.item import A_RANGE, B_RANGE, C_RANGE
from .models.limits import int_range, max_length
from .pictures import PictureProblem, opened_picture
from .tx import transactional

LETTERS = "ABCDE"  # the options an item may have, in the editor and on the exam page
MIN_OPTIONS = 2
STEM_MAX = 20_000  # characters: a stem with a table, not a document
OPTION_MAX = 1_000
MAX_IMAGES = 5
IMAGE_MAX_BYTES = 2 * 2**20  # one uploaded picture
IMAGE_MAX_SIDE = 4000  # pixels a side, judged before decoding (as imported pictures)
IMAGE_STORED_SIDE = 1600  # larger pictures are scaled down to this: an exam page is no wider


_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif"}


@dataclass(frozen=True)
class Picture:
    """A picture as stored: re-encoded bytes and their media type."""

    media_type: str
    data: bytes


@dataclass
class ItemForm:
    """The editor's fields as typed (every one a text; ``options`` are A..E in order, empty
    where unused).  ``code``, ``materi_id`` and ``author`` belong to a new item only;
    ``uploads`` are the pictures to add (raw bytes), ``remove_images`` the positions of
    stored pictures to drop."""

    stem: str = ""
    options: list[str] = field(default_factory=list)
    key: str = ""
    model: str = "3pl"
    a: str = ""
    b: str = ""
    c: str = ""
    tag_id: str = ""
    new_tag_code: str = ""
    new_tag_name: str = ""
    family: str = ""  # the template the item is a variant of (item_bank.families)
    p_guess: str = ""  # the writer's guess of the share right (docs/item_bank.md "Cold start")
    code: str = ""
    materi_id: str = ""
    author: str = ""
    uploads: list[bytes] = field(default_factory=list)
    remove_images: list[str] = field(default_factory=list)


@dataclass
class CheckedForm:
    """What :func:`check_form` found: every problem by field (none: ``content`` is what to
    store), the new pictures that are acceptable (kept for the next try), and the preview."""

    problems: dict[str, list[Notice]]
    pictures: list[Picture]
    preview: dict[str, Any]
    content: dict[str, Any] | None = None


class FormRejected(InvalidInput):
    """The editor's form has problems (``checked.problems``); nothing was stored."""

    def __init__(self, checked: CheckedForm) -> None:
        super().__init__("item_form_rejected",
                         count=sum(len(p) for p in checked.problems.values()))
        self.checked = checked


def _number(raw: str, name: str, add) -> float | None:
    raw = raw.strip()
    if not raw:
        return None
    try:
        value = float(raw.replace(",", "."))  # "0,25" as an Indonesian writer types it
    except ValueError:
        add(name, "editor_not_number", value=raw[:40])
        return None
    if not math.isfinite(value):
        add(name, "editor_not_number", value=raw[:40])
        return None
    return value


def clean_picture(data: bytes) -> Picture:
    """The upload re-encoded from its pixels (PNG, or JPEG for a photo), at most
    :data:`IMAGE_STORED_SIDE` pixels a side; PictureProblem otherwise (``too_large``: more
    than :data:`IMAGE_MAX_BYTES`)."""
    from PIL import Image, ImageOps

    if len(data) > IMAGE_MAX_BYTES:
        raise PictureProblem("too_large")
    with opened_picture(data, max_side=IMAGE_MAX_SIDE) as image:
        photo = image.format == "JPEG"
        image = ImageOps.exif_transpose(image)
        if image.mode.startswith("I") or image.mode == "F":
            image = image.convert("L")
        alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
        image = image.convert("RGB" if photo or not alpha else "RGBA")
        image.thumbnail((IMAGE_STORED_SIDE, IMAGE_STORED_SIDE), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        if photo:
            image.save(out, "JPEG", quality=90)
            return Picture("image/jpeg", out.getvalue())
        image.save(out, "PNG", optimize=True)
        return Picture("image/png", out.getvalue())


def _pictures(uploads: Sequence[bytes], add) -> list[Picture]:
    pictures = []
    for n, data in enumerate(uploads, 1):
        try:
            pictures.append(clean_picture(data))
        except PictureProblem as problem:
            if problem.code == "too_large":
                add("images", "editor_image_too_large", number=n,
                    max_kb=IMAGE_MAX_BYTES // 1024, size_kb=-(-len(data) // 1024))
            elif problem.code == "too_many_pixels":
                add("images", "editor_image_too_many_pixels", number=n, width=problem.width,
                    height=problem.height, max=IMAGE_MAX_SIDE)
            else:
                add("images", "editor_image_not_image", number=n)
    return pictures


def _text(value: str, name: str, limit: int | None, add, *, required: bool) -> str:
    value = value.strip()
    if required and not value:
        add(name, "editor_required")
    elif limit is not None and len(value) > limit:
        add(name, "editor_too_long", max=limit, length=len(value))
    return value


def _materi(session: Session, form: ItemForm, item: Item | None, add) -> Materi | None:
    if item is not None:
        return item.materi
    raw = form.materi_id.strip()
    if not raw:
        add("materi_id", "editor_required")
        return None
    low, high = int_range(Materi.id.property.columns[0].type)
    materi = None
    if raw.isascii() and raw.isdigit() and low <= int(raw) <= high:
        materi = session.get(Materi, int(raw))
    if materi is None:
        add("materi_id", "editor_materi_unknown")
    return materi


def _tag(session: Session, form: ItemForm, materi: Materi | None, add) -> Any:
    """The content tag: None (none), a ContentTag of the materi, or (code, name) to create."""
    code, name = form.new_tag_code.strip(), form.new_tag_name.strip()
    chosen = form.tag_id.strip()
    if code and chosen:
        add("tag", "editor_tag_both")
        return None
    if code:
        if not CODE.match(code) or len(code) > max_length(ContentTag.code):
            add("tag", "editor_tag_code", code=code[:60], max=max_length(ContentTag.code))
            return None
        if len(name) > max_length(ContentTag.name):
            add("tag", "editor_too_long", max=max_length(ContentTag.name), length=len(name))
            return None
        existing = materi and session.scalar(select(ContentTag).where(
            ContentTag.materi_id == materi.id, ContentTag.code == code))
        return existing or (code, name or code)
    if not chosen:
        return None
    tag = None
    low, high = int_range(ContentTag.id.property.columns[0].type)
    if chosen.isascii() and chosen.isdigit() and low <= int(chosen) <= high:
        tag = session.get(ContentTag, int(chosen))
    if tag is None or materi is None or tag.materi_id != materi.id:
        add("tag", "editor_tag_unknown")
        return None
    return tag


def _options(form: ItemForm, add) -> list[str]:
    options = [(form.options[i] if i < len(form.options) else "").strip()
               for i in range(len(LETTERS))]
    last = max((i for i, text in enumerate(options) if text), default=-1)
    for i, text in enumerate(options[:last + 1]):
        name = f"option_{LETTERS[i]}"
        if not text:
            add(name, "editor_option_gap", letter=LETTERS[i])
        elif len(text) > OPTION_MAX:
            add(name, "editor_too_long", max=OPTION_MAX, length=len(text))
        elif text in options[:i]:
            add(name, "editor_option_repeated", letter=LETTERS[i],
                other=LETTERS[options.index(text)])
    filled = [text for text in options if text]
    if len(filled) < MIN_OPTIONS:
        add(f"option_{LETTERS[len(filled)]}", "editor_options_too_few", min=MIN_OPTIONS)
    return options[:last + 1]


def _key(form: ItemForm, options: list[str], add) -> int | None:
    letter = form.key.strip().upper()
    if not letter:
        add("key", "editor_key_missing")
        return None
    if len(letter) != 1 or letter not in LETTERS:
        add("key", "editor_key_unknown", key=letter[:5], letters="A–E")
        return None
    index = LETTERS.index(letter)
    if index >= len(options) or not options[index]:
        add("key", "editor_key_empty_option", key=letter)
        return None
    return index


def _parameters(form: ItemForm, item: Item | None, add) -> tuple[str | None, dict]:
    model = form.model.strip()
    if model not in set(IrtModel):
        add("model", "unknown_model", model=model[:20], models="1pl, 2pl, 3pl")
        model = None
    values = {name: _number(getattr(form, name), name, add) for name in ("a", "b", "c")}
    for name, (low, high) in (("a", A_RANGE), ("b", B_RANGE), ("c", C_RANGE)):
        if values[name] is not None and not low <= values[name] <= high:
            add(name, "editor_parameter_range", name=name, low=low, high=high,
                value=values[name])
    if model == IrtModel.ONE_PL and values["a"] not in (None, 1.0):
        add("a", "editor_rasch_a")
    if model in (IrtModel.ONE_PL, IrtModel.TWO_PL) and values["c"] not in (None, 0.0):
        add("c", "editor_c_needs_3pl", model=model)
    if item is not None and item.status == ItemStatus.OPERATIONAL:
        for name in ("a", "b"):
            if values[name] is None:
                add(name, "editor_operational_parameters")
    return model, values


def check_form(session: Session, form: ItemForm, *, item_id: int | None = None) -> CheckedForm:
    """Every problem of the editor's form by field, the acceptable new pictures, and the
    item as a participant would be shown it (options in the order typed)."""
    item = None if item_id is None else session.get(Item, item_id)
    if item_id is not None and item is None:
        raise NotFound("item_not_found", item=item_id)
    problems: dict[str, list[Notice]] = {}

    def add(name: str, message: str, /, **params: Any) -> None:
        problems.setdefault(name, []).append(Notice(message, params))

    content: dict[str, Any] = {}
    if item is None:
        content["code"] = _text(form.code, "code", max_length(Item.code), add, required=True)
        content["author"] = _text(form.author, "author", max_length(Item.author), add,
                                  required=False)
        if content["code"] and "code" not in problems:
            if not CODE.match(content["code"]):
                add("code", "code_refused", code=content["code"])
    materi = _materi(session, form, item, add)
    if item is None and materi is not None and content.get("code") and session.scalar(
            select(Item.id).where(Item.program_id == materi.program_id,
                                  Item.code == content["code"])) is not None:
        add("code", "code_taken", code=content["code"])
    stem = _text(form.stem, "stem", STEM_MAX, add, required=True)
    options = _options(form, add)
    key = _key(form, options, add)
    tag = _tag(session, form, materi, add)
    family = _text(form.family, "family", FAMILY_MAX, add, required=False)
    p_guess = _number(form.p_guess, "p_guess", add)
    if p_guess is not None and not 0 < p_guess < 1:
        add("p_guess", "editor_p_guess_range", value=p_guess)
    model, values = _parameters(form, item, add)
    removed = set()
    stored = item.image_count if item is not None else 0
    for raw in form.remove_images:
        raw = raw.strip()
        if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= stored):
            add("images", "editor_image_unknown", position=raw[:20])
        else:
            removed.add(int(raw))
    pictures = _pictures(form.uploads, add)
    if stored - len(removed) + len(pictures) > MAX_IMAGES:
        add("images", "editor_images_too_many", max=MAX_IMAGES,
            count=stored - len(removed) + len(pictures))
    preview = with_html({"item_id": item.id if item is not None else 0, "stem": stem,
                         "options": [o for o in options if o],
                         "images": stored - len(removed) + len(pictures)})
    checked = CheckedForm(problems=problems, pictures=pictures, preview=preview)
    if not problems:
        checked.content = {**content, "materi": materi, "stem": stem, "options": options,
                           "key": key, "tag": tag, "family": family, "p_guess": p_guess,
                           "model": model, **values,
                           "removed": removed}
    return checked


def form_of(item: Item) -> ItemForm:
    """The editor's form filled with the item as stored."""
    number = ("" if value is None else repr(value) for value in (item.a, item.b, item.c))
    return ItemForm(stem=item.stem, options=list(item.options), key=LETTERS[item.key],
                    model=item.model.value, **dict(zip("abc", number, strict=True)),
                    tag_id=str(item.content_tag_id or ""), family=item.family,
                    p_guess="" if item.p_guess is None else repr(item.p_guess))


def stored_preview(item: Item) -> dict[str, Any]:
    """The item as stored, as a participant is shown it (options in their stored order)."""
    return with_html({"item_id": item.id, "stem": item.stem, "options": list(item.options),
                      "images": item.image_count})


def stored_pictures(session: Session, item_id: int) -> list[Picture]:
    """The item's pictures in their order."""
    return [Picture(image.media_type, image.data) for image in session.scalars(
        select(ItemImage).where(ItemImage.item_id == item_id).order_by(ItemImage.position))]


def _store_pictures(session: Session, item: Item, removed: set[int],
                    added: list[Picture]) -> None:
    """Drop the removed pictures, keep the others in their order, add the new ones after
    them, numbered 1..n again."""
    if not removed and not added:
        return
    kept = [p for n, p in enumerate(stored_pictures(session, item.id), 1) if n not in removed]
    session.execute(delete(ItemImage).where(ItemImage.item_id == item.id))
    session.flush()
    pictures = kept + added
    session.add_all(ItemImage(item_id=item.id, position=n, media_type=p.media_type,
                              name=f"gambar-{n}.{_EXTENSIONS.get(p.media_type, 'img')}",
                              data=p.data)
                    for n, p in enumerate(pictures, 1))
    item.image_count = len(pictures)


@transactional
def save_item(session: Session, form: ItemForm, *, item_id: int | None = None,
              actor: str) -> Item:
    """Create the item (``item_id`` None: a draft of the chosen materi) or store the form as
    the item's next version, with its pictures and content tag; FormRejected naming every
    problem, with nothing stored, otherwise."""
    checked = check_form(session, form, item_id=item_id)
    if checked.content is None:
        raise FormRejected(checked)
    c = checked.content
    tag = c["tag"]
    if isinstance(tag, tuple):
        tag = ContentTag(materi_id=c["materi"].id, code=tag[0], name=tag[1])
        session.add(tag)
        session.flush()
    parameters = {name: c[name] for name in ("model", "a", "b", "c")}
    if item_id is None:
        item = Item(program_id=c["materi"].program_id, materi_id=c["materi"].id,
                    code=c["code"], status=ItemStatus.DRAFT, author=c["author"] or actor)
        session.add(item)
    else:
        item = session.get(Item, item_id)
        item.version += 1
    set_content(item, stem=c["stem"], options=c["options"], key=c["key"], **parameters)
    item.content_tag_id = tag.id if tag is not None else None
    renamed = item.family != c["family"]
    item.family, item.p_guess = c["family"], c["p_guess"]
    session.flush()
    if renamed:
        refresh_families(session, item.program_id)
    _store_pictures(session, item, c["removed"], checked.pictures)
    return item
