"""``smartcat calibrate``: item parameters from a response file, or from a program's exams
(``--program``: the calibration the writer's page runs, recorded for them to accept)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from calibration import ENGINES, MODELS, Priors, calibrate, read_responses
from calibration.mml import A_FLOAT_SIGMA, default_priors
from cat_engine.irt import load_bank
from item_bank.cli_support import add_db_option, cli_session


def register(sub, groups) -> None:
    parser = sub.add_parser(
        "calibrate",
        help="estimate item parameters (Rasch/1PL/2PL/3PL) from response data",
        description="Marginal maximum likelihood calibration of dichotomous items. Response "
        "FILE: CSV in long form (person,item,response) or wide form (one row a person, one "
        "column an item, empty = not answered).",
    )
    parser.add_argument("--responses", metavar="FILE", help="response CSV")
    parser.add_argument("--program", metavar="CODE",
                        help="instead of --responses: calibrate the program's logged answers "
                        "(its pretest items, the operational ones as anchors) and record the "
                        "run for the writers to accept at /writer/calibration; with --db")
    parser.add_argument("--materi", metavar="CODE", help="with --program: only this materi")
    parser.add_argument("--when-ready", action="store_true",
                        help="with --program (for cron): calibrate each materi whose pretest "
                        "items have become ready since its last run, and say where the others "
                        "stand")
    # model and engine are checked by the handler (not argparse choices) so that a wrong value
    # gives the usual one-line error
    parser.add_argument("--model", required=True, help=f"one of {', '.join(MODELS)}")
    parser.add_argument("--engine", default="native", help="native (default) or girth")
    parser.add_argument("--anchors", metavar="BANK.json",
                        help="bank items held at their values (fixed-parameter linking)")
    parser.add_argument("--out", metavar="PARAMS.json",
                        help="output parameters (with --responses)")
    parser.add_argument("--report", metavar="DIR", help="write an HTML report with plots here")
    parser.add_argument("--no-priors", action="store_true",
                        help="no prior on any parameter: plain maximum likelihood, as ltm/mirt "
                        "(not with --a-prior, --a-float or --c-prior)")
    parser.add_argument("--a-prior", metavar="MU,SIGMA",
                        help="log-normal prior on a: log a ~ N(MU, SIGMA^2), in place of the "
                        "2PL/3PL floating prior on log a (1PL: on the common slope)")
    parser.add_argument("--a-float", metavar="SIGMA", type=float,
                        help="SD of the 2PL/3PL floating prior on log a, centred on the mean "
                        f"log a (default {A_FLOAT_SIGMA}); 0 = no prior on a (the 3PL keeps its "
                        "prior on c: --no-priors drops both)")
    parser.add_argument("--c-prior", metavar="ALPHA,BETA",
                        help="beta prior on c (3PL only; default 5,17)")
    parser.add_argument("--max-iter", type=int, default=500, help="EM cycle limit")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    add_db_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.program is not None:
        return _from_program(args)
    if args.responses is None or args.out is None:
        raise ValueError("give --responses FILE and --out PARAMS.json, or --program CODE")
    if args.materi is not None or args.when_ready:
        raise ValueError(f"{'--materi' if args.materi is not None else '--when-ready'} goes "
                         "with --program")
    model = args.model.lower()
    engine = args.engine.lower()
    if model not in MODELS:
        raise ValueError(f"unknown model {args.model!r}: choose one of {', '.join(MODELS)}")
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {args.engine!r}: choose one of {', '.join(ENGINES)}")
    priors = _priors(model, engine, args)
    anchors = load_bank(args.anchors) if args.anchors else None
    say = (lambda _msg: None) if args.quiet else (lambda msg: print(msg, file=sys.stderr))

    data = read_responses(args.responses)
    say(f"read {data.n_answers} responses: {data.n_persons} persons, {data.n_items} items")

    def progress(iteration: int, loglik: float, change: float) -> None:
        say(f"  EM cycle {iteration:4d}  log-likelihood {loglik:14.3f}  max change {change:.2e}")

    result = calibrate(
        data, model, engine=engine, anchors=anchors, priors=priors, max_iter=args.max_iter,
        progress=progress,
    )
    for item, reason in result.excluded.items():
        say(f"left out item {item}: {reason}")
    if result.converged is False:
        say(f"warning: EM did not converge in {result.iterations} cycles")

    if args.report:
        from calibration.report import write_report

        write_report(result, args.report)
        say(f"report written to {args.report}")
    _write_json(Path(args.out), result.to_records())
    summary = result.summary()
    print(
        f"calibrated {len(result.item_ids)} items ({model}, {engine}): log-likelihood "
        f"{summary['loglik']:.3f}, {len(summary['flagged'])} flagged, "
        f"{len(result.excluded)} left out -> {args.out}"
    )
    if result.drift is not None:
        for row in result.drift.to_records():
            if row["drifting"]:
                print(f"anchor {row['id']} drifts: b {row['bank_b']:.3f} -> {row['new_b']:.3f}")
    return 0


_NAMES = {"rasch": "Rasch model", "1pl": "1PL", "2pl": "2PL", "3pl": "3PL"}


def _priors(model: str, engine: str, args: argparse.Namespace) -> Priors | None:
    """The priors the options ask for: the model's default (:func:`default_priors`) changed
    by --a-float, --a-prior, --c-prior, or none at all with --no-priors; None for girth, which
    takes no priors.  Contradictory or inapplicable combinations raise ValueError."""
    given = [name for name, value in (("--a-prior", args.a_prior), ("--a-float", args.a_float),
                                      ("--c-prior", args.c_prior)) if value is not None]
    if engine == "girth":
        chosen = given + (["--no-priors"] if args.no_priors else [])
        if chosen:
            raise ValueError(f"--engine girth takes no prior options: leave out "
                             f"{', '.join(chosen)}")
        return None
    if args.no_priors:
        if given:
            raise ValueError(f"--no-priors means no prior at all: leave out {', '.join(given)}")
        return Priors()
    if args.a_prior is not None and args.a_float is not None:
        raise ValueError("--a-prior replaces the floating prior on log a: give --a-prior or "
                         "--a-float, not both")
    if args.a_float is not None and model in ("rasch", "1pl"):
        raise ValueError(f"--a-float applies to the 2PL and 3PL only (the {_NAMES[model]} "
                         "has no slope per item)")
    if args.a_prior is not None and model == "rasch":
        raise ValueError("--a-prior does not apply to the rasch model (a = 1)")
    if args.c_prior is not None and model != "3pl":
        raise ValueError(f"--c-prior applies to the 3PL only (the {_NAMES[model]} has c = 0)")
    base = default_priors(model)
    if args.a_float is not None:
        if args.a_float < 0:
            raise ValueError(f"--a-float needs a SD >= 0 (0 = no prior), got {args.a_float}")
        base = replace(base, a_float_sigma=args.a_float or None)
    if args.a_prior is not None:
        base = replace(base, a_lognormal=_pair("--a-prior", args.a_prior), a_float_sigma=None)
    if args.c_prior is not None:
        base = replace(base, c_beta=_pair("--c-prior", args.c_prior))
    return base


def _pair(option: str, text: str) -> tuple[float, float]:
    try:
        first, second = (float(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"{option} needs two numbers separated by a comma, got {text!r}") from None
    return first, second


def _write_json(path: Path, payload) -> None:
    """Write atomically: a half-written parameter file is never left behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, indent=1)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _from_program(args: argparse.Namespace) -> int:
    """The writers' calibration from the command line (cron): queue it as their page does,
    run the waiting jobs here, and name the run they can accept."""
    given = [flag for flag, value in (("--responses", args.responses), ("--out", args.out),
                                      ("--anchors", args.anchors), ("--report", args.report),
                                      ("--a-prior", args.a_prior), ("--a-float", args.a_float),
                                      ("--c-prior", args.c_prior)) if value is not None]
    if args.no_priors:
        given.append("--no-priors")
    if args.engine.lower() != "native":
        given.append("--engine")
    if given:
        raise ValueError(f"--program calibrates as the writer's page does (native engine, "
                         f"the model's priors, the bank's anchors): leave out "
                         f"{', '.join(given)}")
    from sqlalchemy import select

    from item_bank.admin import get_program
    from item_bank.models import Materi
    from server import bank

    with cli_session(args.db) as session:
        program = get_program(session, args.program)
        materi_id = None
        if args.materi is not None:
            materi_id = session.scalar(select(Materi.id).where(
                Materi.program_id == program.id, Materi.code == args.materi))
            if materi_id is None:
                raise ValueError(f"program {program.code} has no materi {args.materi!r}")
        code = program.code
        if args.when_ready:
            return _when_ready(session, bank, program, args)
        run_id = _calibrate(session, bank, program.id, materi_id, args)
    print(f"calibration run {run_id} of program {code} recorded; accept its estimates at "
          f"/writer/calibration/{run_id}")
    return 0


def _calibrate(session, bank, program_id: int, materi_id: int | None,
               args: argparse.Namespace) -> int:
    """Queue the calibration as the writer's page does and run it here; its run id
    (ValueError with the job's reason when it failed)."""
    from item_bank.messages import Notice
    from server.jobs import run_pending

    job_id = bank.queue_calibration(session, program_id=program_id, materi_id=materi_id,
                                    model=args.model.lower(), actor="smartcat calibrate")
    run_pending(session)
    job = bank.calibration_job(session, job_id)
    if job.state != bank.JobState.DONE:
        failure = json.loads(job.error) if job.error else {
            "code": "calibration_failed", "params": {"detail": job.state.value}}
        raise ValueError(Notice(failure["code"], failure["params"]).text())
    return job.run_id


def _when_ready(session, bank, program, args: argparse.Namespace) -> int:
    """Each materi of the program (``--materi``: that one) with pretest items: calibrated
    when due (item_bank.calibration_source.calibration_due), else where it stands."""
    from item_bank.db import db_now

    due = bank.calibration_due(session, program_id=program.id, now=db_now(session))
    if args.materi is not None:
        due = [d for d in due if d.materi == args.materi]
    if not due:
        print(f"program {program.code}: no pretest items")
    for materi in due:
        where = (f"program {program.code}, materi {materi.materi}: {materi.ready} of "
                 f"{materi.pretest} pretest items ready")
        if materi.due:
            run_id = _calibrate(session, bank, program.id, materi.materi_id, args)
            print(f"{where}; calibration run {run_id} recorded, accept its estimates at "
                  f"/writer/calibration/{run_id}")
        elif materi.waiting_run is not None:
            print(f"{where}; run {materi.waiting_run} has estimated them and waits for a "
                  f"writer at /writer/calibration/{materi.waiting_run}")
        else:
            print(f"{where}; nothing to calibrate yet")
    return 0
