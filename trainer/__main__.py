"""``python -m trainer fit|evaluate|promote|backtest|schedule|fetch``."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from flarecore.errors import FlareError
from flarecore.logs import configure
from trainer import sets
from trainer.settings import DEFAULT_MODEL_DIR, TrainerSettings

logger = logging.getLogger("trainer")

EXIT_OK, EXIT_FAILED, EXIT_MISUSE = 0, 1, 2


def main(argv: list[str] | None = None) -> int:
    """Run one command; exit code 0 ok, 1 failed, 2 misuse."""
    args = _parser().parse_args(argv)
    configure("DEBUG" if args.verbose else "INFO")
    settings = TrainerSettings()
    from threadpoolctl import threadpool_limits

    try:
        with threadpool_limits(limits=settings.threads, user_api="openmp"):
            return int(_COMMANDS[args.command](settings, args))
    except (FlareError, FileNotFoundError, OSError) as exc:
        if args.verbose:
            logger.exception("trainer %s failed", args.command)
        print(f"trainer {args.command}: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_FAILED


def _paths(settings: TrainerSettings, args: argparse.Namespace) -> list[Path]:
    from flarecore.readers import expand_paths

    if args.paths:
        return expand_paths(args.paths)
    return sets.resolve(args.set, args.data_root or settings.data_root)


def _fit(settings: TrainerSettings, args: argparse.Namespace) -> int:
    from trainer.training import train

    out = args.out or settings.work_dir / "latest"
    result = train(_paths(settings, args), out, settings.horizon_minutes,
                   random_state=settings.random_state)
    if args.record_reproduction:
        from trainer.settings import REPO_ROOT
        from trainer.training import record_reproduction

        record_reproduction(out, REPO_ROOT, settings.random_state)
    if args.register:
        from trainer.registry import Registry

        registry = Registry(settings)
        version = registry.log(result)
        if args.promote:
            registry.promote(version, result)
    print(json.dumps(_summary(result.info.metrics["cross_validated"]), indent=2))
    return EXIT_OK


def _evaluate(settings: TrainerSettings, args: argparse.Namespace) -> int:
    from trainer.scoring import evaluate_bundle

    report = evaluate_bundle(args.model, _paths(settings, args),
                             settings.horizon_minutes, settings.tracking_uri)
    text = json.dumps(report, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)
    return EXIT_OK


def _promote(settings: TrainerSettings, args: argparse.Namespace) -> int:
    from trainer.registry import Registry

    decision = Registry(settings).promote_version(args.version)
    print(decision.model_dump_json(indent=2))
    return EXIT_OK if decision.promoted else EXIT_FAILED


def _backtest(settings: TrainerSettings, args: argparse.Namespace) -> int:
    from flarecore.readers import expand_paths
    from trainer.backtest import run_backtest

    report = run_backtest(expand_paths(args.paths), args.model, args.out,
                          settings.horizon_minutes, settings.tracking_uri)
    print(json.dumps({k: report[k] for k in ("m1", "x1", "tss_m", "hss_m")}, indent=2))
    return EXIT_OK


def _schedule(settings: TrainerSettings, args: argparse.Namespace) -> int:
    from trainer.schedule import run_forever, run_once

    if args.once:
        return EXIT_OK if run_once(settings).trained else EXIT_FAILED
    run_forever(settings)
    return EXIT_OK


def _fetch(settings: TrainerSettings, args: argparse.Namespace) -> int:
    from trainer.schedule import fetch

    return EXIT_OK if fetch(settings).ok else EXIT_FAILED


def _summary(report: dict[str, object]) -> dict[str, object]:
    """The headline numbers of a comparison report."""
    def one(part: dict[str, dict[str, object]]) -> dict[str, object]:
        return {"tss_m": part["ge_m"]["tss"], "hss_m": part["ge_m"]["hss"],
                "m1": part["m1"], "x1": part["x1"]}

    baselines = report["baselines"]
    assert isinstance(baselines, dict)
    return {"model": one(report["model"]),  # type: ignore[arg-type]
            **{name: one(part) for name, part in baselines.items()}}


_COMMANDS = {"fit": _fit, "evaluate": _evaluate, "promote": _promote,
             "backtest": _backtest, "schedule": _schedule, "fetch": _fetch}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m trainer",
                                     description="Train, evaluate, register and "
                                     "backtest the flare forecast model.")
    parser.add_argument("--verbose", action="store_true", help="debug logs")
    commands = parser.add_subparsers(dest="command", required=True)

    fit = commands.add_parser("fit", help="build the dataset, cross-validate, fit")
    _data_args(fit)
    fit.add_argument("--out", type=Path, help="bundle directory "
                     "(default FLARE_TRAINER_WORK_DIR/latest)")
    fit.add_argument("--register", action=argparse.BooleanOptionalAction,
                     default=True, help="log and register in MLflow (default on)")
    fit.add_argument("--promote", action="store_true",
                     help="promote to the serving alias if the gates pass")
    fit.add_argument("--record-reproduction", action="store_true",
                     help="also record the small in-repo reproduction run "
                     "(for the shipped default model)")

    evaluate = commands.add_parser("evaluate", help="score a model and the baselines")
    _data_args(evaluate)
    evaluate.add_argument("--model", default=str(DEFAULT_MODEL_DIR),
                          help="bundle directory or MLflow URI")
    evaluate.add_argument("--out", type=Path, help="also write the JSON here")

    promote = commands.add_parser("promote", help="gate a registered version")
    promote.add_argument("version", help="registered model version number")

    backtest = commands.add_parser("backtest", help="replay files through the "
                                   "stream engine and score the alerts")
    backtest.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    backtest.add_argument("--model", default=str(DEFAULT_MODEL_DIR),
                          help="bundle directory or MLflow URI (default: shipped)")
    backtest.add_argument("--out", type=Path, required=True)

    schedule = commands.add_parser("schedule", help="fetch + fit + promote every "
                                   "FLARE_TRAINER_SCHEDULE_HOURS (12)")
    schedule.add_argument("--once", action="store_true", help="one run, then exit")
    commands.add_parser("fetch", help="download recent NCEI files (needs network)")
    return parser


def _data_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                        help="archive files or directories (default: --set)")
    parser.add_argument("--set", default="training", choices=sorted(sets.NAMED),
                        help="named file set under the data root")
    parser.add_argument("--data-root", type=Path,
                        help="default FLARE_TRAINER_DATA_ROOT (../shared/data)")


if __name__ == "__main__":
    sys.exit(main())
