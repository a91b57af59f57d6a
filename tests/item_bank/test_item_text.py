"""Item text as a participant's page shows it (item_bank.item_text): the writer's Markdown with
formulas as MathML, and nothing a browser could run or load, whatever the writer pastes.  The
output is parsed by lxml's HTML parser (not by the code under test) and held to the
allow-list: no element outside it, no attribute that is an event, a style or a URL."""

from __future__ import annotations

import lxml.html
import pytest

from item_bank.item_text import ATTRIBUTES, TAGS, option_html, stem_html

# Classic XSS vectors (after the OWASP filter evasion cheat sheet) in Markdown and HTML.
HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)>",
    "<a href=\"javascript:alert(1)\">klik</a>",
    "[klik](javascript:alert(1))",
    "[klik][r]\n\n[r]: javascript:alert(1)",
    "![x](https://contoh.test/pixel.png)",
    "<https://contoh.test/>",
    "<iframe src=//contoh.test></iframe>",
    "<style>body{display:none}</style>",
    "<div style=\"background:url(javascript:alert(1))\">x</div>",
    "$\\href{javascript:alert(1)}{x}$",
    "$\\style{background:red}{x}$",
    "$\\text{<img src=x onerror=alert(1)>}$",
    "$$\n\\mathrm{<script>alert(1)</script>}\n$$",
    "<math><mi xlink:href=\"javascript:alert(1)\">x</mi></math>",
    "<!-- komentar --><p onclick=alert(1)>x</p>",
    "```html\n<script>alert(1)</script>\n```",
    "`<script>`",
    "<<script>script>alert(1)<</script>/script>",
]


def _parsed(markup: str):
    return lxml.html.fragment_fromstring(markup, create_parent="div")


def _allowed(markup: str) -> None:
    for element in _parsed(markup).iterdescendants():
        tag = element.tag if isinstance(element.tag, str) else "comment"
        assert tag in TAGS, (tag, markup)
        for name, value in element.attrib.items():
            assert name in ATTRIBUTES.get(tag, set()), (tag, name, markup)
            if name != "aria-label":  # a formula's source, as text
                assert "javascript" not in value.lower() and "url(" not in value.lower()


@pytest.mark.parametrize("text", HOSTILE)
def test_nothing_a_writer_pastes_becomes_script_style_or_url(text):
    for render in (stem_html, option_html):
        markup = render(text)
        _allowed(markup)
        assert "<script" not in markup.lower() and "<img" not in markup.lower()


def test_markdown_and_formulas_render_as_a_participant_needs_them():
    markup = stem_html("Jika $x^2 = 16$ dan **x** positif:\nbaris dua\n\n"
                       "| Tahun | Jumlah |\n|---|---|\n| 2024 | 12 |\n\n$$\\frac{a}{b}$$")
    tree = _parsed(markup)
    assert tree.find(".//math").get("aria-label") == "x^2 = 16"
    (sup,) = tree.iter("msup")
    assert [c.text for c in sup] == ["x", "2"]
    assert tree.find(".//math").get("display") == "inline"
    assert [td.text for td in tree.iter("td")] == ["2024", "12"]
    assert tree.find(".//strong").text == "x"
    (frac,) = tree.iter("mfrac")
    assert frac.getparent().getparent().get("display") == "block"
    assert tree.find(".//br") is not None  # a line break stays a line break
    _allowed(markup)


def test_dollar_amounts_stay_text_and_a_broken_formula_shows_its_source():
    assert stem_html("antara $5 dan $6") == "<p>antara $5 dan $6</p>"
    broken = stem_html("$\\frac{1}{$")
    assert "\\frac{1}{" in _parsed(broken).text_content() and "<math" not in broken
    # deep nesting is shown as text, not a crash
    deep = stem_html("$" + "{" * 3000 + "x" + "}" * 3000 + "$")
    _allowed(deep)


def test_an_option_is_one_line_of_inline_markdown():
    assert option_html("**Jakarta**") == "<strong>Jakarta</strong>"
    assert option_html("# bukan judul") == "# bukan judul"
    assert option_html("1. bukan daftar") == "1. bukan daftar"
