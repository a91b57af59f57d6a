"""The text of an item as a participant reads it: a safe Markdown subset with LaTeX formulas.

A stem and its options are stored as the writer typed them (Markdown source: the JSON
export, the question-file exchange and the CLI carry that text unchanged).  What a browser
gets is rendered here, by one function each for the stem and for an option, used by the
participant's API and by the writer's preview alike, so the preview cannot drift from the
exam:

- Markdown (markdown-it-py, CommonMark) with tables and ~~strikethrough~~; raw HTML is off,
  so ``<script>`` typed by a writer is shown as text; links, pictures, headings and link
  references are off too (an exam page leads nowhere, loads nothing from elsewhere, and
  keeps its own headings; an item's pictures are uploaded, :mod:`item_bank.editor`).
- A line break is kept as a line break (stems written before Markdown keep their lines).
- Formulas between ``$...$`` (inline) and ``$$...$$`` (a block), converted to MathML on the
  server (latex2mathml), which browsers draw without a script.  As in pandoc, ``$`` opens a
  formula only when a non-space follows it and closes one only when a non-space precedes it
  and no digit follows, so "between $5 and $6" stays text; a formula that does not convert
  is shown as its source in ``<code>``.
- Everything rendered is then cleaned by nh3 against an allow-list of elements and
  attributes, with no ``style``, no event attribute and no URL anywhere, whatever the
  renderers above let through.
"""

from __future__ import annotations

import functools
import html
from collections.abc import Mapping
from typing import Any

import nh3
from latex2mathml.converter import convert as latex_to_mathml
from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.dollarmath import dollarmath_plugin

_MATHML = {
    "math", "semantics", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace", "msup", "msub",
    "msubsup", "mfrac", "msqrt", "mroot", "mover", "munder", "munderover", "mtable", "mtr",
    "mtd", "mstyle", "menclose", "mpadded", "mphantom", "merror",
}
TAGS = {
    "p", "br", "em", "strong", "s", "code", "pre", "ul", "ol", "li", "blockquote", "hr",
    "table", "thead", "tbody", "tr", "th", "td", *_MATHML,
}
# Presentation attributes of MathML only (and the formula's source as its name): none of
# them holds a URL or a script.
ATTRIBUTES = {
    "math": {"display", "aria-label"},
    "mo": {"stretchy", "fence", "separator", "lspace", "rspace", "largeop", "movablelimits",
           "symmetric", "minsize", "maxsize", "accent"},
    "mfrac": {"linethickness"},
    "mstyle": {"displaystyle", "scriptlevel"},
    "mspace": {"width", "height", "depth"},
    "mover": {"accent"},
    "munder": {"accentunder"},
    "munderover": {"accent", "accentunder"},
    "mtable": {"columnalign", "rowalign", "columnspacing", "rowspacing"},
    "mtd": {"columnalign", "rowalign", "columnspan", "rowspan"},
    "menclose": {"notation"},
    "mpadded": {"width", "height", "depth", "lspace", "voffset"},
    "ol": {"start"},
}


def _math(source: str, display: str) -> str:
    """The formula as MathML, named by its source for a screen reader or checker that reads
    no MathML (an option that is only a formula still has a name), or the source as code."""
    try:
        markup = latex_to_mathml(source, display=display)
    except Exception:  # noqa: BLE001 - latex2mathml raises many kinds; the source is shown
        return f'<code class="math-error">{html.escape(source)}</code>'
    return markup.replace("<math", f'<math aria-label="{html.escape(source)}"', 1)


def _inline_math(self, tokens: list[Token], idx: int, options: Any, env: Any) -> str:
    return _math(tokens[idx].content, "inline")


def _display_math(self, tokens: list[Token], idx: int, options: Any, env: Any) -> str:
    return _math(tokens[idx].content, "block")  # $$...$$ inside a line of text


def _block_math(self, tokens: list[Token], idx: int, options: Any, env: Any) -> str:
    return f"<p>{_math(tokens[idx].content.strip(), 'block')}</p>\n"


def _markdown() -> MarkdownIt:
    md = (MarkdownIt("commonmark", {"html": False, "breaks": True, "linkify": False,
                                       "typographer": False})
          .enable(["table", "strikethrough"])
          .disable(["link", "image", "autolink", "heading", "lheading", "reference",
                    "html_block", "html_inline"])
          .use(dollarmath_plugin, allow_space=False, allow_digits=False,
               double_inline=True))
    md.add_render_rule("math_inline", _inline_math)
    md.add_render_rule("math_inline_double", _display_math)
    md.add_render_rule("math_block", _block_math)
    md.add_render_rule("math_block_label", _block_math)
    return md


_MD = _markdown()


def clean(markup: str) -> str:
    """``markup`` with every element and attribute off the allow-list removed (their text
    kept as text; a ``<script>`` or ``<style>`` dropped with its content)."""
    return nh3.clean(markup, tags=TAGS, attributes=ATTRIBUTES, url_schemes=set(),
                     link_rel=None, strip_comments=True)


@functools.lru_cache(maxsize=8192)  # the exam API renders the same few items again and again
def stem_html(text: str) -> str:
    """A stem as the participant's page shows it (block Markdown, formulas, sanitised)."""
    return clean(_MD.render(text)).strip()


@functools.lru_cache(maxsize=8192)
def option_html(text: str) -> str:
    """An option as the participant's page shows it (one line: inline Markdown, formulas)."""
    return clean(_MD.renderInline(text))


def with_html(view: Mapping[str, Any]) -> dict[str, Any]:
    """A participant's view of an item (stem, options in their shown order, ...) with
    ``stem_html`` and ``options_html`` added: what the exam page and the preview render."""
    return {**view, "stem_html": stem_html(view["stem"]),
            "options_html": [option_html(o) for o in view["options"]]}
