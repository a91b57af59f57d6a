"""``smartcat simulate``: simulated examinees through a CAT or LOFT on a bank file.

The run is the engine's own test step (:func:`cat_engine.simulation.simulate`), so the
figures are those of live exams with the same rule: e.g. the live exams' CAT is
``--selector randomesque --k 5 --max-exposure 0.25 --cap-ramp 1 1 --price-rounds 0 --slack 0``
with the program's stopping settings.  ``--responses`` replays given answers (and attempt
seeds) instead of simulated ones.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from cat_engine.config import CatConfig, SelectionRule
from cat_engine.exposure import DEFAULT_CAP_RAMP
from cat_engine.exposure_calibration import calibrate_exposure_prices, calibrate_sympson_hetter
from cat_engine.irt import load_bank
from cat_engine.scoring import theta_for_score
from cat_engine.selection import content_shares
from cat_engine.simulation import MODES, SEED_BOUND, simulate
from cat_engine.stopping import StoppingRule

_DEFAULT_EXAMINEES = 1000


def register(sub, groups) -> None:
    p = sub.add_parser("simulate", help="simulate examinees taking a CAT or LOFT from a bank")
    p.add_argument("--bank", required=True, help="bank JSON file (list of {id, a, b, c, content?})")
    p.add_argument("--examinees", type=int,
                   help=f"number of examinees, theta ~ N(0,1) (default {_DEFAULT_EXAMINEES}; "
                        "with --thetas or --responses: their count)")
    p.add_argument("--thetas", help="file of true abilities (JSON list or one number a line)")
    p.add_argument("--responses",
                   help='JSON file of given answers, one entry per examinee: '
                        '{"seed": attempt seed (optional), "responses": [0/1, ...]} '
                        "(the answers to the items in the order given)")
    p.add_argument("--max-items", type=int, default=30)
    p.add_argument("--min-items", type=int, default=1)
    p.add_argument("--mode", choices=MODES, default="cat")
    p.add_argument("--se", type=float, help="stop when the standard error is at most this")
    p.add_argument("--cut", type=float, help="cut score on the 0-100 domain score")
    p.add_argument("--selector", choices=("mfi", "randomesque", "sympson-hetter"), default="mfi")
    p.add_argument("--k", type=int, default=5, help="randomesque: choose among the k best")
    p.add_argument("--r-max", type=float, default=0.25,
                   help="sympson-hetter: target maximum exposure for the calibration")
    p.add_argument("--max-exposure", type=float,
                   help="running exposure cap r_max in (0, 1]: an item is not given once "
                        "(count + 1) / (tests + 1) would exceed it (default 0.25 for randomesque "
                        "and sympson-hetter, 1 = off for mfi)")
    p.add_argument("--cap-ramp", nargs=2, type=float, metavar=("START", "ITEMS"),
                   help="progressive cap (CAT): the item at position s may use only "
                        "r_max * min(1, START + (1 - START) s / ITEMS) of the tests "
                        f"(default {DEFAULT_CAP_RAMP[0]} {DEFAULT_CAP_RAMP[1]} without exposure "
                        "prices, 1 1 = off with them)")
    p.add_argument("--slack", type=int,
                   help="least exposed first: within each content tag only the items used at "
                        "most N times more than the tag's least used eligible item (0 = in "
                        "turn; default off)")
    p.add_argument("--price-rounds", type=int,
                   help="exposure prices (CAT): calibrate item prices by this many simulation "
                        "rounds and select by information minus price (default 16 for "
                        "randomesque, 0 = off otherwise)")
    p.add_argument("--price-target", type=float,
                   help="exposure rate the prices aim at (default: the running cap, or 0.25 "
                        "without one)")
    p.add_argument("--estimator", choices=("eap", "map", "mle", "wle"), default="eap")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tests", action="store_true",
                   help="add each examinee's item ids, in the order given, as \"tests\"")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def _read_thetas(path: str) -> np.ndarray:
    text = Path(path).read_text(encoding="utf-8").strip()
    try:
        values = json.loads(text) if text.startswith("[") else [float(x) for x in text.split()]
        return np.asarray(values, dtype=np.float64)
    except (ValueError, TypeError):
        raise ValueError(
            f"thetas file {path} must hold numbers (JSON list or one a line)"
        ) from None


def _read_responses(path: str) -> tuple[list[list[int]], list[int | None]]:
    """The answers and attempt seeds (None where not given) of a ``--responses`` file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"responses file {path} is not valid JSON: {exc.msg} "
                         f"(line {exc.lineno})") from None
    if not isinstance(data, list) or not data:
        raise ValueError(f"responses file {path} must hold a non-empty JSON list, one entry "
                         "per examinee")
    answers, seeds = [], []
    for j, entry in enumerate(data):
        where = f"responses file {path}, entry {j}"
        if not isinstance(entry, dict) or "responses" not in entry:
            raise ValueError(f'{where}: must be an object with "responses"')
        unknown = set(entry) - {"seed", "responses"}
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {', '.join(sorted(unknown))} "
                             '(expected "seed", "responses")')
        values = entry["responses"]
        # bool is an int in Python: JSON true/false are refused explicitly
        if not isinstance(values, list) or not all(
                type(u) is int and u in (0, 1) for u in values):
            raise ValueError(f'{where}: "responses" must be a list of 0/1')
        seed = entry.get("seed")
        if seed is not None and (type(seed) is not int or not 0 <= seed < SEED_BOUND):
            raise ValueError(f'{where}: "seed" must be an integer in [0, {SEED_BOUND})')
        answers.append(values)
        seeds.append(seed)
    return answers, seeds


def _cap_ramp(values) -> tuple[float, int] | None:
    start, items = values
    if not (0 < start <= 1) or items != int(items) or items < 1:
        raise ValueError(
            f"--cap-ramp needs START in (0, 1] and ITEMS an integer >= 1 (got {start} {items})"
        )
    return None if start == 1 else (float(start), int(items))  # START 1: the flat cap


def _report_round(rounds: int):
    """Progress of the price calibration, one line a round on stderr."""
    def report(t: int, rates, prices) -> None:
        print(f"exposure prices: round {t + 1}/{rounds}, max rate {rates.max():.3f}, "
              f"{int((prices > 0).sum())} items priced", file=sys.stderr, flush=True)
    return report


def _examinee_count(args: argparse.Namespace, thetas, answers) -> int:
    if args.examinees is not None and args.examinees < 1:
        raise ValueError(f"--examinees must be >= 1 (got {args.examinees})")
    counts = {name: n for name, n in (("--thetas", None if thetas is None else thetas.size),
                                      ("--responses", None if answers is None else len(answers)),
                                      ("--examinees", args.examinees)) if n is not None}
    if len(set(counts.values())) > 1:
        raise ValueError("the examinee counts differ: "
                         + ", ".join(f"{name} {n}" for name, n in counts.items()))
    return next(iter(counts.values()), _DEFAULT_EXAMINEES)


def run(args: argparse.Namespace) -> int:
    bank = load_bank(args.bank)
    rng = np.random.default_rng(args.seed)
    thetas = _read_thetas(args.thetas) if args.thetas else None
    answers, given_seeds = _read_responses(args.responses) if args.responses else (None, None)
    n = _examinee_count(args, thetas, answers)
    if thetas is None and answers is None:
        thetas = rng.standard_normal(n)
    theta_cut = None if args.cut is None else theta_for_score(args.cut, bank.a, bank.b, bank.c)
    stopping = StoppingRule(min_items=args.min_items, max_items=args.max_items,
                            se_target=args.se, theta_cut=theta_cut)
    max_exposure = args.max_exposure
    if max_exposure is None:
        max_exposure = 1.0 if args.selector == "mfi" else 0.25
    if not (0 < max_exposure <= 1):
        raise ValueError(f"--max-exposure must be in (0, 1] (got {max_exposure})")
    if args.slack is not None and args.slack < 0:
        raise ValueError(f"--slack must be >= 0 (got {args.slack})")
    # A bank with content tags: each test keeps the bank's share of every tag.
    content = content_shares(bank) if bank.content_codes[0] != ("",) else None
    rounds = args.price_rounds
    if rounds is None:
        rounds = 16 if args.selector == "randomesque" and args.mode == "cat" else 0
    if rounds < 0 or (rounds and args.mode != "cat"):
        raise ValueError(f"--price-rounds must be >= 0, and 0 in LOFT mode (got {rounds})")
    # Prices and the progressive cap both hold back the most demanded items: together they
    # over-restrict (measured, docs/cat_engine.md), so the ramp is off by default with prices.
    ramp = args.cap_ramp
    if ramp is None:
        ramp = DEFAULT_CAP_RAMP if rounds == 0 else (1, 1)
    # Sympson-Hetter parameters are calibrated below; until then the rule has the plain method.
    method = "mfi" if args.selector == "sympson-hetter" else args.selector
    rule = SelectionRule(method=method, k=args.k, content_targets=content,
                         max_exposure=max_exposure, cap_ramp=_cap_ramp(ramp),
                         exposure_slack=args.slack)
    config = CatConfig(stopping=stopping, selection=rule, estimator=args.estimator)
    if rounds:
        target = args.price_target
        if target is None:
            target = max_exposure if max_exposure < 1 else 0.25
        prices = calibrate_exposure_prices(bank, config, target=target, rounds=rounds, rng=rng,
                                           progress=_report_round(rounds))
        config = replace(config, selection=replace(config.selection, prices=prices))
    if args.selector == "sympson-hetter":
        sh_params = calibrate_sympson_hetter(bank, config, r_max=args.r_max, rng=rng,
                                             n_examinees=min(1000, n), mode=args.mode)
        config = replace(config, selection=replace(config.selection, method="sympson-hetter",
                                                   sh_params=sh_params))
    seeds = None
    if given_seeds is not None and any(s is not None for s in given_seeds):
        # The missing ones as simulate would draw them, from the same place in the stream.
        drawn = rng.integers(0, SEED_BOUND, size=n).tolist()
        seeds = [d if s is None else s for s, d in zip(given_seeds, drawn, strict=True)]
    result = simulate(bank, thetas, config=config, rng=rng, mode=args.mode, responses=answers,
                      attempt_seeds=seeds)
    summary = result.summary()
    summary["cut"] = args.cut
    if args.tests:
        summary["tests"] = [bank.ids[t].tolist() for t in result.tests]
    if args.json:
        print(json.dumps(summary))
    else:
        for key, value in summary.items():
            print(f"{key:>24}: {value}")
    return 0
