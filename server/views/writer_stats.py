"""The plots of an item's statistics page (routes of the writer blueprint): the item
characteristic curve, the information curve and the exposure over time, as SVG images; each
has the same numbers as a table on the item's page."""

from __future__ import annotations

from server import bank
from server.extensions import db
from server.item_plots import curve_svg, exposure_svg
from server.security import access
from server.views import picture_response
from server.views.writer import STAFF, _item_or_404, bp


@bp.get("/items/<int:item_id>/icc.svg", defaults={"plot": "icc"})
@bp.get("/items/<int:item_id>/information.svg", defaults={"plot": "information"})
@bp.get("/items/<int:item_id>/exposure.svg", defaults={"plot": "exposure"})
@access(*STAFF)
def item_plot(item_id: int, plot: str):
    """404 for an unknown item, for the curves of an item without parameters and for the
    exposure of an item never shown: the item's page says so in words instead."""
    item = _item_or_404(item_id)
    if plot == "exposure":
        period, periods = bank.item_exposure(db.session, item)
        if not periods:
            raise bank.NotFound("item_not_shown", item=item.code)
        svg = exposure_svg(periods, period)
    else:
        curves = bank.item_curves(item)
        if curves is None:
            raise bank.NotFound("item_no_parameters", item=item.code)
        svg = curve_svg(curves, plot)
    return picture_response(svg, "image/svg+xml")
