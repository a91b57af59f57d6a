"""Item calibration from response logs: MML-EM (Rasch, 1PL, 2PL, 3PL) on sparse data, girth as a
second engine, fixed-parameter linking with anchor drift checks, item analysis and reports.

Public API: :func:`calibrate`, :class:`CalibrationResult`, :class:`ResponseData`,
:func:`read_responses`, :class:`Priors`; anchors are a cat_engine ``ItemBank``.
"""

from calibration.api import ENGINES, CalibrationResult, calibrate
from calibration.data import ResponseData, read_responses
from calibration.mml import MODELS, Priors

__all__ = [
    "ENGINES",
    "MODELS",
    "CalibrationResult",
    "Priors",
    "ResponseData",
    "calibrate",
    "read_responses",
]
