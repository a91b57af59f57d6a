"""Calibration benchmark: native MML-EM against girth, in one run, on simulated data.

Cases (parameters: a ~ U(0.7, 2), b ~ N(0, 1) clipped to +-2.5, c ~ U(0.1, 0.3) for the 3PL,
theta ~ N(0, 1), seeded):

1. sparse 2PL, 500 items x 20,000 persons, 30 random items each: time and peak memory
   (run first, so the process's peak resident size ``ru_maxrss`` belongs to this case).
2. dense 2PL, 200 items x 5,000 persons: time and RMSE(a), RMSE(b), native (default priors)
   vs ``girth.twopl_mml`` on the same data, plus the common slope level mean log(a_hat / a):
   it follows the sample's log SD(theta) for an ML-type estimator and is most of the
   difference in RMSE(a) between the engines (docs/calibration.md).
3. dense 3PL, 200 items x 5,000 persons: native vs ``girth.threepl_mml``.  girth 0.8.0's
   3PL fails on numpy >= 2, so it runs in a side virtualenv with numpy < 2 (created on first
   use at $GIRTH_NP1_VENV, default /tmp/girth-np1) through a subprocess; if that venv cannot
   be built the girth column says so.

Usage: ``python bench/bench_calibration.py [--skip-girth-3pl]``
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

from calibration import calibrate
from calibration.mml import fit_mml
from calibration.simulate import random_items, simulate_responses

SIDE_VENV = Path(os.environ.get("GIRTH_NP1_VENV", "/tmp/girth-np1"))
GIRTH_3PL_TIMEOUT = 3600
DENSE_REPLICATIONS = 3
SIDE_SCRIPT = """
import json, sys, time
import numpy as np, girth
x = np.load(sys.argv[1])
t = time.perf_counter()
out = girth.threepl_mml(x)
json.dump({"seconds": time.perf_counter() - t,
           "a": out["Discrimination"].tolist(), "b": out["Difficulty"].tolist(),
           "c": out["Guessing"].tolist(), "numpy": np.__version__}, open(sys.argv[2], "w"))
"""


def rmse(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(x) - np.asarray(y)) ** 2)))


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def sparse_case(rng: np.random.Generator) -> dict:
    a, b, c = random_items(500, rng)
    theta = rng.normal(size=20_000)
    data = simulate_responses(a, b, c, theta, rng, answers_per_person=30)
    res, seconds = timed(lambda: calibrate(data, "2pl"))
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    tracemalloc.start()
    calibrate(data, "2pl")
    traced_mb = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return {
        "case": "sparse 2PL 500x20000, 30 answers each", "seconds": seconds,
        "peak_rss_mb": peak_rss_mb, "traced_peak_mb": traced_mb,
        "rmse_a": rmse(res.a, a), "rmse_b": rmse(res.b, b), "converged": res.converged,
    }


def dense_2pl_case(rng: np.random.Generator, replications: int = DENSE_REPLICATIONS) -> dict:
    """Several simulated data sets: a single one decides "better recovery" by noise (the two
    estimators differ by ~0.002 in RMSE), the mean over replications less so."""
    import girth

    native_s = girth_s = full_s = 0.0
    keys = ("native_rmse_a", "native_rmse_b", "girth_rmse_a", "girth_rmse_b", "native_level",
            "girth_level", "theta_log_sd")
    errors = {k: [] for k in keys}
    for _ in range(replications):
        a, b, c = random_items(200, rng)
        theta = rng.normal(size=5_000)
        data = simulate_responses(a, b, c, theta, rng)
        # estimation alone (with standard errors), the job girth does ...
        res, seconds = timed(lambda data=data: fit_mml(data, "2pl"))
        native_s += seconds
        # ... and the whole calibrate() call, which adds S-X2 and the item analysis
        full_s += timed(lambda data=data: calibrate(data, "2pl"))[1]
        matrix = np.asarray(data.correct, dtype=int).T
        out, seconds = timed(lambda matrix=matrix: girth.twopl_mml(matrix))
        girth_s += seconds
        errors["native_rmse_a"].append(rmse(res.a, a))
        errors["native_rmse_b"].append(rmse(res.b, b))
        errors["girth_rmse_a"].append(rmse(out["Discrimination"], a))
        errors["girth_rmse_b"].append(rmse(out["Difficulty"], b))
        errors["native_level"].append(float(np.mean(np.log(res.a / a))))
        errors["girth_level"].append(float(np.mean(np.log(out["Discrimination"] / a))))
        errors["theta_log_sd"].append(float(np.log(theta.std())))
    return {
        "case": f"dense 2PL 200x5000 (mean of {replications} data sets)",
        "native_s": native_s / replications, "girth_s": girth_s / replications,
        "full_s": full_s / replications,
        "speedup": girth_s / native_s, **{k: float(np.mean(v)) for k, v in errors.items()},
    }


def dense_3pl_case(rng: np.random.Generator, run_girth: bool) -> dict:
    a, b, c = random_items(200, rng, guessing=True)
    data = simulate_responses(a, b, c, rng.normal(size=5_000), rng)
    res, native_s = timed(lambda: calibrate(data, "3pl"))
    row = {
        "case": "dense 3PL 200x5000", "native_s": native_s,
        "native_rmse_a": rmse(res.a, a), "native_rmse_b": rmse(res.b, b),
        "native_rmse_c": rmse(res.c, c), "girth": "skipped",
    }
    if run_girth:
        row.update(_girth_3pl_side_venv(np.asarray(data.correct, dtype=int).T, a, b, c))
    return row


def _girth_3pl_side_venv(matrix, a, b, c) -> dict:
    python = SIDE_VENV / "bin" / "python"
    try:
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(SIDE_VENV)], check=True)
            subprocess.run([str(python), "-m", "pip", "install", "-q", "numpy<2", "girth==0.8.0"],
                           check=True)
        with tempfile.TemporaryDirectory() as tmp:
            np.save(Path(tmp) / "x.npy", matrix)
            subprocess.run(
                [str(python), "-c", SIDE_SCRIPT, str(Path(tmp) / "x.npy"), str(Path(tmp) / "o")],
                check=True, timeout=GIRTH_3PL_TIMEOUT,
            )
            out = json.loads((Path(tmp) / "o").read_text())
    except (subprocess.SubprocessError, OSError) as exc:
        return {"girth": f"side venv failed: {exc}"}
    return {
        "girth": f"threepl_mml in side venv (numpy {out['numpy']})", "girth_s": out["seconds"],
        "girth_rmse_a": rmse(out["a"], a), "girth_rmse_b": rmse(out["b"], b),
        "girth_rmse_c": rmse(out["c"], c),
    }


def main() -> int:
    rng = np.random.default_rng(20240601)
    run_girth_3pl = "--skip-girth-3pl" not in sys.argv
    sparse = sparse_case(rng)
    print(f"== {sparse['case']}")
    print(f"  native: {sparse['seconds']:.2f} s (target < 30 s), peak RSS "
          f"{sparse['peak_rss_mb']:.0f} MB, traced numpy/python peak "
          f"{sparse['traced_peak_mb']:.0f} MB (target < 2048 MB); RMSE a {sparse['rmse_a']:.3f}, "
          f"b {sparse['rmse_b']:.3f}; converged {sparse['converged']}")
    print(f"  {'PASS' if sparse['seconds'] < 30 and sparse['peak_rss_mb'] < 2048 else 'FAIL'}")

    two = dense_2pl_case(rng)
    print(f"== {two['case']}")
    print(f"  {'engine':8s} {'seconds':>9s} {'RMSE a':>8s} {'RMSE b':>8s} {'level':>8s}")
    print(f"  {'native':8s} {two['native_s']:9.2f} {two['native_rmse_a']:8.4f} "
          f"{two['native_rmse_b']:8.4f} {two['native_level']:+8.4f}")
    print(f"  {'girth':8s} {two['girth_s']:9.2f} {two['girth_rmse_a']:8.4f} "
          f"{two['girth_rmse_b']:8.4f} {two['girth_level']:+8.4f}")
    print(f"  level = mean log(a_hat / a); the samples' mean log SD(theta) is "
          f"{two['theta_log_sd']:+.4f}")
    print(f"  native estimation with SEs; the full calibrate() with item analysis and S-X2 "
          f"takes {two['full_s']:.2f} s")
    ok = (two["speedup"] >= 10 and two["native_rmse_a"] <= two["girth_rmse_a"]
          and two["native_rmse_b"] <= two["girth_rmse_b"])
    print(f"  speed-up {two['speedup']:.1f}x (target >= 10x, recovery no worse): "
          f"{'PASS' if ok else 'FAIL'}")

    three = dense_3pl_case(rng, run_girth_3pl)
    print(f"== {three['case']}  (girth: {three['girth']})")
    print(f"  {'engine':8s} {'seconds':>9s} {'RMSE a':>8s} {'RMSE b':>8s} {'RMSE c':>8s}")
    print(f"  {'native':8s} {three['native_s']:9.2f} {three['native_rmse_a']:8.4f} "
          f"{three['native_rmse_b']:8.4f} {three['native_rmse_c']:8.4f}")
    if "girth_s" in three:
        print(f"  {'girth':8s} {three['girth_s']:9.2f} {three['girth_rmse_a']:8.4f} "
              f"{three['girth_rmse_b']:8.4f} {three['girth_rmse_c']:8.4f}")
        ok3 = (three["native_rmse_a"] <= three["girth_rmse_a"]
               and three["native_rmse_b"] <= three["girth_rmse_b"])
        print(f"  recovery no worse than girth: {'PASS' if ok3 else 'FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
