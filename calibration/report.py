"""HTML calibration report: item characteristic and information curves, test information and
a fit table, drawn with matplotlib (Agg backend, PNG files beside ``index.html``)."""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np

from calibration.api import CalibrationResult
from cat_engine.irt import information, probability

THETA = np.linspace(-4, 4, 161)
MAX_CURVES = 40  # more curves than this make the plots unreadable: the most flagged come first


def write_report(result: CalibrationResult, directory: str | Path) -> Path:
    """Write ``index.html``, ``icc.png``, ``information.png``, ``test_information.png`` and
    ``summary.json`` into ``directory``; returns the path of ``index.html``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    p = probability(THETA, result.a, result.b, result.c).T
    info = information(THETA, result.a, result.b, result.c).T
    shown = _items_to_show(result)

    for name, curves, ylabel in (
        ("icc.png", p, "P(correct)"),
        ("information.png", info, "item information"),
    ):
        fig, ax = plt.subplots(figsize=(8, 5))
        for j in shown:
            ax.plot(THETA, curves[j], lw=1, label=str(result.item_ids[j]))
        ax.set_xlabel("theta")
        ax.set_ylabel(ylabel)
        if len(shown) <= 12:
            ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / name, dpi=90)
        plt.close(fig)

    fig, ax = plt.subplots(figsize=(8, 5))
    total = info.sum(axis=0)
    ax.plot(THETA, total, color="k", label="test information")
    ax2 = ax.twinx()
    ax2.plot(THETA, 1 / np.sqrt(total), color="tab:red", ls="--", label="SE(theta)")
    ax.set_xlabel("theta")
    ax.set_ylabel("information")
    ax2.set_ylabel("standard error")
    fig.tight_layout()
    fig.savefig(out / "test_information.png", dpi=90)
    plt.close(fig)

    (out / "summary.json").write_text(json.dumps(result.summary(), indent=1), encoding="utf-8")
    page = out / "index.html"
    page.write_text(_html(result, shown), encoding="utf-8")
    return page


def _items_to_show(result: CalibrationResult) -> np.ndarray:
    n_flags = np.array([len(f) for f in result.stats.flags])
    order = np.argsort(-n_flags, kind="stable")
    return np.sort(order[:MAX_CURVES])


def _html(result: CalibrationResult, shown: np.ndarray) -> str:
    s = result.summary()
    esc = html.escape

    def fmt(x) -> str:
        return "" if x is None else f"{x:.3f}" if isinstance(x, float) else esc(str(x))

    columns = ("id", "a", "se_a", "b", "se_b", "c", "se_c", "anchor")
    fit_columns = ("n", "p", "r_pbis", "infit", "outfit", "sx2", "sx2_df", "sx2_p", "flags")
    rows = []
    for rec in result.to_records():
        fit = rec["fit"]
        cells = [fmt(rec[k]) for k in columns] + [fmt(fit[k]) for k in fit_columns[:-1]]
        cells.append(esc(", ".join(fit["flags"])))
        style = ' class="flag"' if fit["flags"] else ""
        rows.append(f"<tr{style}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    excluded = "".join(f"<li>{esc(k)}: {esc(v)}</li>" for k, v in s["excluded"].items())
    drift = ""
    if result.drift is not None:
        drift_rows = "".join(
            f"<tr{' class=flag' if r['drifting'] else ''}><td>{esc(r['id'])}</td>"
            f"<td>{fmt(r['bank_b'])}</td><td>{fmt(r['new_b'])}</td><td>{fmt(r['delta_b'])}</td>"
            f"<td>{fmt(r['z'])}</td><td>{'yes' if r['drifting'] else ''}</td></tr>"
            for r in result.drift.to_records()
        )
        drift = (
            "<h2>Anchor drift</h2><table><tr><th>id</th><th>bank b</th><th>new b</th>"
            f"<th>&Delta;b</th><th>z</th><th>drifting</th></tr>{drift_rows}</table>"
        )
    header = "".join(f"<th>{k}</th>" for k in columns + fit_columns)
    note = (f"<p>Curves: {len(shown)} of {len(result.item_ids)} items (flagged first).</p>"
            if len(shown) < len(result.item_ids) else "")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Calibration report</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;font-size:90%}}
td,th{{border:1px solid #ccc;padding:2px 6px;text-align:right}}tr.flag{{background:#fee}}</style>
</head><body>
<h1>Calibration report</h1>
<p>Model {esc(s['model'])}, engine {esc(s['engine'])}: {s['persons']} persons, {s['items']}
items, {s['answers']} answers; log-likelihood {s['loglik']:.3f}; EM cycles {s['iterations']},
converged {s['converged']}; theta mean {s['population_mean']:.3f}, SD
{s['population_sd']:.3f}; {s['anchors']} anchors.</p>
{'<h2>Left out</h2><ul>' + excluded + '</ul>' if excluded else ''}
<h2>Item characteristic curves</h2>{note}<img src="icc.png" alt="item characteristic curves">
<h2>Item information</h2><img src="information.png" alt="item information curves">
<h2>Test information</h2><img src="test_information.png" alt="test information">
{drift}
<h2>Items and fit</h2><table><tr>{header}</tr>{''.join(rows)}</table>
</body></html>
"""
