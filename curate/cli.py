"""`curate` command line: `curate run` for the whole DAG, `curate <stage>` for one stage."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from curate.errors import CurateError
from curate.jobs import quality_train
from curate.jobs.common import add_common_args, add_lock_args, locked_context, make_context, run_stage
from curate.pipelines.dag import STAGES

log = logging.getLogger("curate")


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    for noisy in ("py4j", "urllib3", "botocore", "numba"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def cmd_run(args: argparse.Namespace) -> int:
    from curate.report.summary import print_run_summary

    with locked_context(args, command="run") as ctx:
        results = {}
        for st in STAGES:
            results[st.name] = run_stage(ctx, st.name, st.load())
    print_run_summary(ctx, results)
    return 0


def cmd_stage(args: argparse.Namespace) -> int:
    from curate.report.summary import print_run_summary

    module = importlib.import_module(args.stage.module)
    options = module.options_from_args(args)
    with locked_context(args, command=args.stage.name, options=options) as ctx:
        result = run_stage(ctx, args.stage.name, args.stage.load())
    print_run_summary(ctx, {args.stage.name: result})
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from curate.report.summary import print_status

    print_status(make_context(args, app_name="curate-status"))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="curate", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="run the whole DAG")
    add_common_args(p)
    add_lock_args(p)
    p.set_defaults(func=cmd_run)
    for st in STAGES:
        module = importlib.import_module(st.module)
        p = sub.add_parser(st.name, help=st.summary)
        add_common_args(p)
        add_lock_args(p)
        module.add_args(p)
        p.set_defaults(func=cmd_stage, stage=st)
    p = sub.add_parser("quality", help="quality classifier tools")
    train = p.add_subparsers(dest="quality_command", required=True).add_parser(
        "train", help="train a fastText quality classifier from positive and negative examples")
    quality_train.add_args(train)
    train.set_defaults(func=quality_train.train, verbose=False)
    p = sub.add_parser("status", help="tables with versions and row counts, and the last runs")
    add_common_args(p)
    p.set_defaults(func=cmd_status)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    try:
        return args.func(args)
    except CurateError as err:
        log.error("%s", err)
        return 2


if __name__ == "__main__":
    sys.exit(main())
