"""girth (https://github.com/eribean/girth) as a second estimation engine, for complete data.

girth's MML routines take a dense (items x persons) matrix and return point estimates only
(no standard errors, no anchors, no missing data).  girth 0.8.0's ``threepl_mml`` fails on
numpy >= 2 ("setting an array element with a sequence"); that failure is turned into a clear
error here instead of a traceback.
"""

from __future__ import annotations

import numpy as np

from calibration.data import ResponseData
from calibration.mml import MMLResult, posterior


class GirthUnavailable(ValueError):
    """girth cannot run this calibration (the message says why and what to use instead)."""


def fit_girth(data: ResponseData, model: str) -> MMLResult:
    """Calibrate with girth; the log-likelihood and EAPs are computed from its estimates."""
    try:
        import girth
    except ImportError:
        raise GirthUnavailable("girth is not installed: use --engine native") from None
    if not data.is_complete:
        missing = data.n_persons * data.n_items - data.n_answers
        raise GirthUnavailable(
            f"the girth engine needs complete data, {missing} of "
            f"{data.n_persons * data.n_items} responses are missing: use --engine native"
        )
    matrix = np.asarray(data.correct, dtype=int).T
    n_items = data.n_items
    c = np.zeros(n_items)
    if model == "rasch":
        out = girth.rasch_mml(matrix, discrimination=1)
    elif model == "1pl":
        out = girth.onepl_mml(matrix)
    elif model == "2pl":
        out = girth.twopl_mml(matrix)
    else:
        try:
            out = girth.threepl_mml(matrix)
        except ValueError as exc:
            if "setting an array element with a sequence" not in str(exc):
                raise
            raise GirthUnavailable(
                f"girth {girth_version()}'s threepl_mml does not work with numpy "
                f"{np.__version__} (it needs numpy < 2): use --engine native for the 3PL"
            ) from None
        c = np.asarray(out["Guessing"], dtype=float)
    a = np.broadcast_to(np.asarray(out["Discrimination"], dtype=float), (n_items,)).copy()
    b = np.asarray(out["Difficulty"], dtype=float).reshape(n_items)
    loglik, eap, psd = posterior(data, a, b, c)
    nan = np.full(n_items, np.nan)
    return MMLResult(
        a=a, b=b, c=c, se_a=nan, se_b=nan.copy(), se_c=nan.copy(), loglik=loglik,
        iterations=None, converged=None, population_mean=0.0, population_sd=1.0,
        theta_eap=eap, theta_psd=psd,
    )


def girth_version() -> str:
    from importlib.metadata import version

    return version("girth")
