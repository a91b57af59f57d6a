"""The plots of an item's page as SVG, drawn with matplotlib's object API (no pyplot: it
keeps global state, and pages are drawn by several threads at once) and its SVG backend.

Texts are the catalog's, in the request's language, and written as SVG text (not paths), so
they stay sharp and readable; nothing a writer typed goes into a plot (matplotlib would read
``$`` in it as a formula).  The page beside each plot has the same numbers as a table.
"""

from __future__ import annotations

import io

import matplotlib
from matplotlib.dates import DateFormatter
from matplotlib.figure import Figure

from item_bank.item_stats import Curves, ExposurePeriod
from server.i18n import gettext

matplotlib.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "smartcat",
                            "font.size": 10})
BLUE, GREY = "#0b4f8a", "#5f6b7a"


def _svg(figure: Figure) -> bytes:
    out = io.BytesIO()
    figure.savefig(out, format="svg", metadata={"Date": None})
    return out.getvalue()


def _axes(ylabel: str, xlabel: str):
    figure = Figure(figsize=(5.6, 3.2), layout="constrained")
    axes = figure.add_subplot()
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.grid(True, color="#d9dee5", linewidth=0.6)
    return figure, axes


def curve_svg(curves: Curves, which: str) -> bytes:
    """The item characteristic curve (``which="icc"``) or the information curve."""
    theta_label = gettext("Ability θ")
    if which == "icc":
        figure, axes = _axes(gettext("Probability of a right answer"), theta_label)
        axes.plot(curves.theta, curves.probability, color=BLUE, linewidth=2)
        axes.set_ylim(0, 1)
    else:
        figure, axes = _axes(gettext("Information"), theta_label)
        axes.plot(curves.theta, curves.information, color=BLUE, linewidth=2)
        axes.set_ylim(bottom=0)
    axes.set_xlim(curves.theta[0], curves.theta[-1])
    return _svg(figure)


def exposure_svg(periods: list[ExposurePeriod], period: str) -> bytes:
    """Times shown and answered per day or week, as bars."""
    figure, axes = _axes(gettext("Times"), gettext("Week from") if period == "week"
                         else gettext("Day"))
    # the days themselves (no zone: matplotlib would move an aware midnight to UTC)
    starts = [p.start.date() for p in periods]
    width = 5.0 if period == "week" else 0.8
    axes.bar(starts, [p.shown for p in periods], width=width, color=GREY,
             label=gettext("shown"))
    axes.bar(starts, [p.answered for p in periods], width=width * 0.5, color=BLUE,
             label=gettext("answered"))
    axes.legend(loc="lower left", bbox_to_anchor=(0, 1), ncols=2, frameon=False)
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.xaxis.set_major_formatter(DateFormatter("%d/%m/%y"))  # no month names: any language
    figure.autofmt_xdate()
    return _svg(figure)
