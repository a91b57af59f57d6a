"""Shared helpers for the calibration tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from calibration import ResponseData

DATA = Path(__file__).parent / "data"


def lsat(name: str) -> ResponseData:
    """LSAT6 / LSAT7 (Bock & Lieberman 1970) expanded from the pattern-frequency tables."""
    raw = np.loadtxt(DATA / f"{name.lower()}_patterns.csv", delimiter=",", skiprows=1)
    return ResponseData.from_matrix(np.repeat(raw[:, :5], raw[:, 5].astype(int), axis=0))


@pytest.fixture(scope="session")
def published() -> dict:
    """Published estimates, keyed by id (see data/published_estimates.json for sources)."""
    entries = json.loads((DATA / "published_estimates.json").read_text())["estimates"]
    return {e["id"]: e for e in entries}
