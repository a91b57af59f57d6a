"""Item families and enemies on the writer's item page: a template name in the editor, enemy
marks by code with their refusals, and the family each item is in (item_bank.families)."""

from __future__ import annotations

import html

from sqlalchemy import func, select

from server import bank


def _text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def _two_items(writer) -> tuple[tuple[int, str], tuple[int, str]]:
    with writer.session() as s:
        items = s.execute(select(bank.Item.id, bank.Item.code)
                          .where(bank.Item.status == bank.ItemStatus.OPERATIONAL,
                                 bank.Item.family_id.is_(None))
                          .order_by(bank.Item.id).limit(2)).all()
    return tuple(items[0]), tuple(items[1])


def _family_id(writer, item_id: int) -> int | None:
    with writer.session() as s:
        return s.get(bank.Item, item_id).family_id


def test_a_writer_marks_two_items_as_enemies_and_removes_the_mark(writer):
    (a, a_code), (b, b_code) = _two_items(writer)
    r = writer.post_form(f"/writer/items/{a}/enemies", {"code": f"  {b_code} "})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/writer/items/{a}#family")
    page = _text(writer.client.get(f"/writer/items/{a}"))
    assert f"{a_code} dan {b_code} adalah musuh" in page
    assert _family_id(writer, a) == _family_id(writer, b) == min(a, b)
    # Both pages name the other item, and the mark is removed from either.
    assert b_code in page.split('id="family"')[1]
    assert a_code in _text(writer.client.get(f"/writer/items/{b}")).split('id="family"')[1]
    r = writer.post_form(f"/writer/items/{b}/enemies/{a}/delete", {})
    assert r.status_code == 302
    assert "tidak lagi bermusuhan" in _text(writer.client.get(f"/writer/items/{b}"))
    assert _family_id(writer, a) is None and _family_id(writer, b) is None
    with writer.session() as s:
        actions = s.scalars(select(bank.AuditLog.action).where(
            bank.AuditLog.action.like("item_enemies_%")).order_by(bank.AuditLog.id)).all()
    assert actions == ["item_enemies_marked", "item_enemies_unmarked"]


def test_an_enemy_mark_of_the_item_itself_or_of_no_item_is_refused_in_indonesian(writer):
    (a, a_code), _ = _two_items(writer)
    for code, message in ((a_code, "tidak dapat menjadi musuh dirinya sendiri"),
                          ("<b>NOPE</b>", "Tidak ada soal <b>NOPE</b> di program ini."),
                          ("", "Tidak ada soal")):
        r = writer.post_form(f"/writer/items/{a}/enemies", {"code": code})
        assert r.status_code == 422 and message in _text(r)
        assert "<b>NOPE</b>" not in r.get_data(as_text=True)  # shown as text, not markup
    with writer.session() as s:
        assert s.scalar(select(func.count()).select_from(bank.ItemEnemy)) == 0
    assert writer.post_form("/writer/items/987654321/enemies", {"code": a_code}
                            ).status_code == 404


def test_the_editor_names_the_template_and_the_family_follows(writer):
    (a, a_code), (b, b_code) = _two_items(writer)
    for item_id in (a, b):
        page = _text(writer.client.get(f"/writer/items/{item_id}"))
        assert "Soal ini tidak berkeluarga" in page
        with writer.session() as s:
            item = s.get(bank.Item, item_id)
            form = {"stem": item.stem, "key": "ABCDE"[item.key], "model": item.model.value,
                    "a": repr(item.a), "b": repr(item.b), "c": repr(item.c or 0.0),
                    "family": "TPL-PAJAK-1",
                    **{f"option_{x}": o for x, o in zip("ABCDE", item.options, strict=False)}}
        assert writer.post_form(f"/writer/items/{item_id}", form).status_code == 302
    assert _family_id(writer, a) == _family_id(writer, b) == min(a, b)
    page = _text(writer.client.get(f"/writer/items/{a}"))
    assert 'value="TPL-PAJAK-1"' in page and b_code in page.split('id="family"')[1]
    too_long = {**form, "family": "x" * 65}
    r = writer.post_form(f"/writer/items/{b}", too_long)
    assert r.status_code == 422 and _family_id(writer, b) == min(a, b)


def test_the_demo_items_carry_their_template_as_their_family(writer):
    with writer.session() as s:
        sizes = s.execute(select(bank.Item.family, func.count(), func.count(
            func.distinct(bank.Item.family_id))).group_by(bank.Item.family)).all()
    # one family per template name; an item alone has none (family_id NULL)
    assert all(families == (1 if count > 1 else 0) for _name, count, families in sizes)
    assert max(count for _name, count, _families in sizes) >= 80


def test_the_editor_keeps_the_writers_guess_of_the_share_right(writer):
    (a, _code), _ = _two_items(writer)
    with writer.session() as s:
        item = s.get(bank.Item, a)
        form = {"stem": item.stem, "key": "ABCDE"[item.key], "model": item.model.value,
                "a": repr(item.a), "b": repr(item.b), "c": repr(item.c or 0.0),
                **{f"option_{x}": o for x, o in zip("ABCDE", item.options, strict=False)}}
    assert writer.post_form(f"/writer/items/{a}", {**form, "p_guess": "0,55"}).status_code == 302
    with writer.session() as s:
        assert s.get(bank.Item, a).p_guess == 0.55
    r = writer.post_form(f"/writer/items/{a}", {**form, "p_guess": "1.5"})
    assert r.status_code == 422 and "antara 0 dan 1" in _text(r)
    with writer.session() as s:
        assert s.get(bank.Item, a).p_guess == 0.55

