"""``smartcat bank generate``: a synthetic item bank in the JSON bank format, on stdout."""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from cat_engine.simulation import MODELS, generate_bank


def register(sub, groups) -> None:
    p = groups["bank"].add_parser("generate", help="write a synthetic item bank (JSON) to stdout")
    p.add_argument("--items", type=int, required=True, help="number of items")
    p.add_argument("--model", choices=MODELS, default="3pl")
    p.add_argument("--content", nargs="+", default=(), metavar="TAG",
                   help="content tags assigned in turn (equal shares)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    bank = generate_bank(args.items, args.model, rng=np.random.default_rng(args.seed),
                         content_tags=args.content)
    json.dump(bank.to_records(), sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0
