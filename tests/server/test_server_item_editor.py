"""The writer's item editor (item_bank.editor, /writer/items/new and /writer/items/<id>):
options A-E with a letter key, a sub-materi chosen or created, pictures re-encoded from their
pixels, Markdown with formulas shown as the participant sees it, every problem at once next to
its field with everything typed kept, and nothing stored by a preview or a refused form."""

from __future__ import annotations

import base64
import html
import io
import json
import re
import struct

import pytest
from PIL import Image, PngImagePlugin
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from server import bank
from tests.server.conftest import csrf_from


def _text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def _png(color=(200, 30, 30), size=(40, 30), note: str | None = None) -> bytes:
    """A PNG; ``note`` is written into a text chunk (metadata a writer's tool might leave)."""
    info = PngImagePlugin.PngInfo()
    if note:
        info.add_text("Comment", note)
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG", pnginfo=info)
    return out.getvalue()


def _materi(writer) -> bank.Materi:
    with writer.session() as s:
        return s.scalar(select(bank.Materi).order_by(bank.Materi.id))


def _form(writer, **fields) -> dict:
    materi = _materi(writer)
    form = {"code": "ED-1", "materi_id": str(materi.id), "author": "Bu Sari",
            "stem": "Jika $x^2 = 16$ dan $x > 0$, berapakah $x$?", "option_A": "2",
            "option_B": "4", "option_C": "8", "option_D": "16", "option_E": "$\\sqrt{8}$",
            "key": "B", "model": "2pl", "a": "", "b": "", "c": ""}
    form.update(fields)
    return form


def _items(writer) -> int:
    with writer.session() as s:
        return s.scalar(select(func.count()).select_from(bank.Item))


def _preview(response) -> dict:
    """The item the preview draws (the data item_view.js renders)."""
    match = re.search(r'id="preview"[^>]*data-item="([^"]*)"', response.get_data(as_text=True))
    assert match, "the page has no preview"
    return json.loads(html.unescape(match.group(1)))


def test_a_new_item_with_five_options_a_formula_a_picture_and_a_new_sub_materi(writer):
    picture = _png(note="kunci: B")
    r = writer.post_form("/writer/items/new", {
        **_form(writer, key="e", new_tag_code="PANGKAT", new_tag_name="Pangkat dan akar"),
        "image": [(io.BytesIO(picture), "kunci-B.png")]})
    assert r.status_code == 302, _text(r)
    with writer.session() as s:
        item = s.scalar(select(bank.Item).where(bank.Item.code == "ED-1"))
        assert item.options == ["2", "4", "8", "16", "$\\sqrt{8}$"]
        assert item.key == 4 and item.status == bank.ItemStatus.DRAFT
        assert item.author == "Bu Sari" and item.version == 1
        tag = s.get(bank.ContentTag, item.content_tag_id)
        assert (tag.code, tag.name, tag.materi_id) == ("PANGKAT", "Pangkat dan akar",
                                                       item.materi_id)
        (image,) = s.scalars(select(bank.ItemImage).where(bank.ItemImage.item_id == item.id))
        # stored re-encoded from its pixels: the same picture, nothing of the upload's
        # metadata or name (either could tell the key)
        assert image.name == "gambar-1.png" and image.media_type == "image/png"
        assert b"kunci" not in image.data and image.data != picture
        stored = Image.open(io.BytesIO(image.data))
        assert stored.size == (40, 30) and stored.convert("RGB").getpixel((5, 5)) == (200, 30,
                                                                                     30)
        assert not stored.text
        item_id = item.id
    r = writer.client.get(r.headers["Location"])
    page = _text(r)
    assert "Butir soal ED-1 dibuat." in page
    # the editor shows the key as its letter and the item as the participant sees it
    assert re.search(r'value="E" id="f-key-E" checked', page)
    preview = _preview(r)
    assert preview["item_id"] == item_id and preview["images"] == 1
    assert "<msup><mi>x</mi><mn>2</mn></msup>" in preview["stem_html"]
    assert preview["options_html"][4].startswith("<math") and "<msqrt>" in \
        preview["options_html"][4]


def test_every_problem_is_shown_at_once_next_to_its_field_and_the_input_is_kept(writer):
    before = _items(writer)
    stem = "Soal panjang dengan *penekanan* yang harus tetap ada"
    r = writer.post_form("/writer/items/new", {
        **_form(writer, code="", stem=stem, option_B="", option_C="8", option_D="8",
                option_E="", key="E", a="9", b="-1.7e25", c="0.2",
                new_tag_code="dua kata"),
        "image": [(io.BytesIO(b"GIF89a not really"), "x.gif")]})
    assert r.status_code == 422
    page = _text(r)
    assert _items(writer) == before
    errors = dict(re.findall(r'<ul class="field-errors" id="error-([\w]+)"><li class="error">'
                             r'([^<]+)</li>', page))
    assert set(errors) == {"code", "option_B", "option_D", "key", "a", "b", "c", "tag",
                           "images"}
    assert "Isi kolom ini." in errors["code"]
    assert "Opsi B kosong" in errors["option_B"]
    assert "sama dengan opsi C" in errors["option_D"]
    assert "E adalah opsi yang kosong" in errors["key"]
    assert "0,05..5 (isiannya 9)" in errors["a"]
    assert "(isiannya -1.7e+25)" in errors["b"]  # beyond what Babel formats
    assert "3PL" in errors["c"]
    assert "Gambar 1" in errors["images"]
    assert "9 masalah" in page and 'aria-invalid="true" aria-describedby="error-a"' in page
    # what was typed is still there
    assert f">{stem}</textarea>" in page
    assert 'name="option_C" size="60" maxlength="1000" value="8"' in page
    assert 'name="new_tag_code" maxlength="64" value="dua kata"' in page
    assert re.search(r'value="E" id="f-key-E" checked', page)


def test_a_preview_stores_nothing_and_shows_writer_html_as_text(writer):
    before = _items(writer)
    hostile = ('<script>alert(1)</script><img src=x onerror=alert(2)> '
               '[klik](javascript:alert(3)) $\\href{javascript:alert(4)}{x}$\n\n'
               '| Tahun | Jumlah |\n|---|---|\n| 2024 | **12** |')
    r = writer.post_form("/writer/items/new", {
        **_form(writer, stem=hostile, option_A="<b onmouseover=alert(5)>2</b>"),
        "action": "preview", "image": [(io.BytesIO(_png()), "a.png")]})
    assert r.status_code == 200, _text(r)
    assert _items(writer) == before
    page = _text(r)
    assert "Belum disimpan." in page
    preview = _preview(r)
    markup = preview["stem_html"] + "".join(preview["options_html"])
    assert "<script" not in markup and "<img" not in markup and "<b " not in markup
    # "javascript" only as text: the link typed and a formula's source (its aria-label)
    assert "javascript" not in re.sub(r'\[klik\]\(javascript:alert\(3\)\)|aria-label="[^"]*"',
                                      "", markup)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in preview["stem_html"]
    assert "<td><strong>12</strong></td>" in preview["stem_html"]
    # the picture is kept for the next try (and shown by the preview), re-encoded
    kept = re.findall(r'name="kept_image" value="([^"]+)"', page)
    assert len(kept) == 1 and preview["images"] == 1
    assert Image.open(io.BytesIO(base64.b64decode(kept[0]))).size == (40, 30)
    # saving the previewed form stores the kept picture
    r = writer.post_form("/writer/items/new", {**_form(writer, code="ED-2"),
                                               "kept_image": kept[0]})
    assert r.status_code == 302, _text(r)
    with writer.session() as s:
        item = s.scalar(select(bank.Item).where(bank.Item.code == "ED-2"))
        assert item.image_count == 1


def test_editing_keeps_the_form_of_the_stored_item_and_saves_the_next_version(writer):
    r = writer.post_form("/writer/items/new", {
        **_form(writer), "image": [(io.BytesIO(_png()), "a.png"),
                                   (io.BytesIO(_png((0, 0, 255))), "b.png")]})
    item_id = int(r.headers["Location"].rsplit("/", 1)[1])
    page = _text(writer.client.get(f"/writer/items/{item_id}"))
    assert 'name="option_E" size="60" maxlength="1000" value="$\\sqrt{8}$"' in page
    assert re.search(r'value="B" id="f-key-B" checked', page)
    # remove the first picture, drop option E, change the key to A
    form = _form(writer, option_E="", key="A", stem="Berapakah $\\sqrt{16}$?")
    r = writer.post_form(f"/writer/items/{item_id}", {**form, "remove_image": "1"})
    assert r.status_code == 302, _text(r)
    with writer.session() as s:
        item = s.get(bank.Item, item_id)
        assert (item.version, item.key, len(item.options), item.image_count) == (2, 0, 4, 1)
        (image,) = s.scalars(select(bank.ItemImage).where(bank.ItemImage.item_id == item_id))
        assert image.position == 1
        assert Image.open(io.BytesIO(image.data)).convert("RGB").getpixel((1, 1)) == (0, 0, 255)
    # a refused edit changes nothing
    r = writer.post_form(f"/writer/items/{item_id}", {**form, "key": "", "remove_image": "7"})
    assert r.status_code == 422
    assert "Pilih opsi yang benar" in _text(r) and "tidak punya gambar 7" in _text(r)
    with writer.session() as s:
        assert s.get(bank.Item, item_id).version == 2


@pytest.mark.parametrize("picture, message", [
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "bukan gambar PNG, JPEG, atau GIF yang utuh"),
    # a decompression bomb: a small file that claims 30000 x 30000 pixels
    ("bomb", "30000 × 30000 piksel"),
    (b"x" * (2 * 2**20 + 1), "lebih besar dari 2048 KB"),
])
def test_a_hostile_picture_is_refused_by_its_number(writer, picture, message):
    if picture == "bomb":  # a real PNG whose header is made to claim 30000 x 30000
        real = _png()
        picture = real[:16] + struct.pack(">II", 30000, 30000) + real[24:]
    # the body encoded here, in memory (the test client would spool it to a file it never
    # closes)
    token = csrf_from(writer.client.get("/writer/items/new").get_data(as_text=True))
    boundary, body = encode_multipart({
        **_form(writer), "csrf_token": token,
        "image": [FileStorage(io.BytesIO(_png()), "ok.png"),
                  FileStorage(io.BytesIO(picture), "x.png")]})
    r = writer.client.post("/writer/items/new", data=body,
                           content_type=f"multipart/form-data; boundary={boundary}")
    assert r.status_code == 422
    page = _text(r)
    assert "Gambar 2" in page and message in page, page[page.find("field-errors"):][:400]
    # the good picture is kept for the next try
    assert len(re.findall(r'name="kept_image"', page)) == 1
