"""`curate` command line: `curate run` for the whole DAG, `curate <stage>` for one stage."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from curate.errors import CurateError
from curate.jobs import audit, quality_train, vacuum
from curate.jobs.common import add_common_args, add_lock_args, locked_context, make_context, run_stage
from curate.pipelines import export
from curate.pipelines.dag import STAGES

log = logging.getLogger("curate")


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    for noisy in ("py4j", "urllib3", "botocore", "numba", "streaming"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def cmd_run(args: argparse.Namespace) -> int:
    from curate.report.summary import print_run_summary
    from curate.tracking import log_run

    with locked_context(args, command="run") as ctx:
        results = {}
        for st in STAGES:
            results[st.name] = run_stage(ctx, st.name, st.load(), skip_unchanged=not args.force)
        print_run_summary(ctx, results)
        log_run(ctx)  # writes the report: still under the lock, so no other run changes the tables meanwhile
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


def cmd_report(args: argparse.Namespace) -> int:
    from curate.report.build import write_report

    print(write_report(make_context(args, app_name="curate-report"), run_id=args.run_id, out=args.out))
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    ctx = make_context(args, app_name="curate-audit", options=audit.options_from_args(args))
    run_stage(ctx, "audit", audit.run_audit)
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from curate.schemas.config import load_pipeline_config
    from curate.schemas.mixture import load_mixture
    from curate.storage import Storage
    from curate.tokenize.verify import verify_published

    cfg = load_pipeline_config(args.config, root=args.root, delta_engine=args.delta_engine)
    mixture = load_mixture(args.mixture or cfg.mix.mixture)
    version, checks = verify_published(cfg.root, mixture, storage=Storage.from_config(cfg.storage),
                                       version=args.version, cache=args.cache)
    print(f"shard version {version} of mixture {mixture.name!r}: "
          + "; ".join(f"{c.stage} {c.samples:,} samples, {c.tokens:,} tokens, {c.shards} shard{'s' * (c.shards != 1)}"
                     for c in checks)
          + ": every sample read with streaming.StreamingDataset, as in the manifests")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="curate", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="run the whole DAG")
    add_common_args(p)
    p.add_argument("--force", action="store_true",
                   help="run every stage, also those whose inputs and settings are unchanged since their last run")
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
    export.add_args(sub.add_parser("export", help="write the DAG as an Airflow DAG or a Databricks Asset Bundle"))
    p = sub.add_parser("audit", help="every ingested record's fate (doc_fates) and the counts reconciled; "
                       "exits 2 on a mismatch")
    add_common_args(p)
    audit.add_args(p)
    p.set_defaults(func=cmd_audit)
    p = sub.add_parser("verify", help="read a published shard version with streaming.StreamingDataset and check it "
                       "against its manifests; exits 2 on a mismatch (needs the `verify` extra)")
    add_common_args(p)
    p.add_argument("--mixture", help="mixture YAML (default: mix.mixture of the config, else examples/mixture.yaml)")
    p.add_argument("--version", help="the shard version to check (default: the latest published)")
    p.add_argument("--cache", help="folder the shards are read into, as a trainer's `local` (default: a temporary "
                   "folder, removed afterwards)")
    p.set_defaults(func=cmd_verify)
    p = sub.add_parser("vacuum", help="list (dry run) or delete (--apply) the files no table version or published "
                       "shard version needs any more: superseded and orphaned table files, unpublished shard staging")
    add_common_args(p)
    add_lock_args(p)
    vacuum.add_args(p)
    p.set_defaults(func=vacuum.run_vacuum)
    p = sub.add_parser("status", help="tables with versions, row counts and reclaimable bytes, shard versions, "
                       "and the last runs")
    add_common_args(p)
    p.set_defaults(func=cmd_status)
    p = sub.add_parser("report", help="a run's self-contained HTML report")
    add_common_args(p)
    p.add_argument("--run-id", help="the run to report (default: the latest)")
    p.add_argument("--out", help="the HTML file to write (default: <root>/reports/<run_id>.html)")
    p.set_defaults(func=cmd_report)
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
