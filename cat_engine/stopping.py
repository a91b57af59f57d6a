"""Stopping rules for a CAT, combinable.

A test stops at the first of:

* ``max_items`` reached (``"max_items"``);
* once ``min_items`` are given: the standard error is at most ``se_target`` (``"se"``);
* once ``min_items`` are given: the classification at ``theta_cut`` is decided, i.e. the
  ``z``-interval ``theta +- z * SE`` (95% for ``z = 1.96``) lies wholly above or below
  ``theta_cut`` (``"classified"``).

Reference: Eggen, T. J. H. M. (1999). Item selection in adaptive testing with the sequential
probability ratio test. *Applied Psychological Measurement*, 23(3), 249-261 (confidence-interval
classification).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .grid import Estimate

__all__ = ["StoppingRule"]


@dataclass(frozen=True)
class StoppingRule:
    """When to end a CAT; any combination of the criteria may be set."""

    min_items: int = 1
    max_items: int = 30
    se_target: float | None = None
    theta_cut: float | None = None
    z: float = 1.96

    def __post_init__(self) -> None:
        if self.min_items < 0:
            raise ValueError(f"min_items must be >= 0 (got {self.min_items})")
        if self.max_items < 1:
            raise ValueError(f"max_items must be >= 1 (got {self.max_items})")
        if self.min_items > self.max_items:
            raise ValueError(
                f"min_items ({self.min_items}) must not exceed max_items ({self.max_items})"
            )
        if self.se_target is not None and not (np.isfinite(self.se_target)
                                               and self.se_target > 0):
            raise ValueError(f"se_target must be a positive number (got {self.se_target})")
        if self.theta_cut is not None and not np.isfinite(self.theta_cut):
            raise ValueError("theta_cut must be finite")
        if not (np.isfinite(self.z) and self.z > 0):
            raise ValueError(f"z must be a positive number (got {self.z})")

    def reason(self, n_items: int, estimate: Estimate) -> str | None:
        """Why the test stops after ``n_items`` with ``estimate``: ``"max_items"``, ``"se"``,
        ``"classified"``, or None to go on."""
        if n_items >= self.max_items:
            return "max_items"
        if n_items < self.min_items:
            return None
        if self.se_target is not None and estimate.se <= self.se_target:
            return "se"
        if self.theta_cut is not None:
            half = self.z * estimate.se
            if estimate.theta - half > self.theta_cut or estimate.theta + half < self.theta_cut:
                return "classified"
        return None

    def should_stop(self, n_items: int, estimate: Estimate) -> bool:
        """True when :meth:`reason` gives a reason to stop."""
        return self.reason(n_items, estimate) is not None
