"""Item-harvest benchmark: 20 colluders of an exam window pool every item they saw.

For banks of 600, 1,500 and 3,000 items per exam, CAT and LOFT, with the default program
settings (least-exposed-first, randomesque k = 5, exposure ceiling 0.25, 10-30 items, SE 0.30),
print the share of a later participant's items found in the colluders' pool, the maximum
exposure and the mean overlap.  Two window sizes: 50 participants (20 colluders + 30) and
200.  The last block shows the ceiling alone (no least-exposed-first) for comparison.

Run: ``.venv/bin/python bench/bench_harvest.py``
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from item_bank.harvest import COLLUDERS, simulate_window, synthetic_bank
from item_bank.models import ProgramSettings

BANKS = (600, 1500, 3000)


def run(settings: ProgramSettings, window: int, label: str) -> None:
    print(f"\n{label}: window of {window} participants ({COLLUDERS} colluders)")
    print(f"{'items':>6} {'assembly':>8} {'share':>7} {'share max':>9} {'max exp':>8} "
          f"{'overlap':>8} {'length':>7} {'pooled':>7} {'sec':>5}")
    for n in BANKS:
        bank = synthetic_bank(n, np.random.default_rng(n))
        for assembly in ("cat", "loft"):
            start = time.perf_counter()
            r = simulate_window(bank, assembly=assembly, later=window - COLLUDERS,
                                settings=settings, seed=7)
            print(f"{n:>6} {assembly:>8} {r.share_mean:>7.3f} {r.share_max:>9.3f} "
                  f"{r.max_exposure:>8.3f} {r.mean_overlap:>8.3f} {r.mean_length:>7.1f} "
                  f"{r.pooled_items:>7} {time.perf_counter() - start:>5.1f}")


def main() -> None:
    defaults = ProgramSettings()
    run(defaults, 50, "defaults")
    run(defaults, 200, "defaults")
    # Ceiling only: slack so large that least-exposed-first never bites.
    run(dataclasses.replace(defaults, exposure_slack=10**6), 50, "exposure ceiling only")


if __name__ == "__main__":
    main()
