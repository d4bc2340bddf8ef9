"""`curate audit [--mixture FILE]`: every ingested record's fate, and the counts reconciled.

Also `spark-submit curate/jobs/audit.py`. Writes `<root>/tables/doc_fates` (see
`curate.audit.fates`), re-reads the config's inputs with ingest's readers to count the records each
file holds now (no writes), checks the reconciliations of `curate.audit.checks` on pinned table
versions, prints a summary, and fails with every mismatch named. Only counts and a few example
keys reach the driver.
"""

from __future__ import annotations

import argparse
import logging
import sys

from pyspark.sql import functions as F
from rich.console import Console
from rich.table import Table

from curate.audit.checks import LINE_DROPPED, Check, dangling_duplicates, per_file, presence, refused, stage_checks, unique
from curate.audit.fates import DOC_FATES, DOC_FATES_SCHEMA, doc_fates
from curate.audit.shards import ShardVersion, latest_shard_version
from curate.dedup.schema import DUP_CLUSTERS_SCHEMA, LINE_DEDUP_DOCS_SCHEMA
from curate.errors import AuditError, ConfigError, StorageError
from curate.ingest.listing import list_tasks
from curate.ingest.spark import read_records
from curate.jobs.common import StageContext, StageResult, stage_main
from curate.quality.schema import DOCS_ANNOTATED_SCHEMA
from curate.schemas import tables as t
from curate.schemas.mixture import load_mixture
from curate.tokenize.schema import DOCS_TOKENIZED_SCHEMA

log = logging.getLogger(__name__)

_SCHEMAS = {
    t.DOCS_RAW: t.DOCS_RAW_SCHEMA, t.QUARANTINE: t.QUARANTINE_SCHEMA, t.DOCS_ANNOTATED: DOCS_ANNOTATED_SCHEMA,
    t.DUP_CLUSTERS: DUP_CLUSTERS_SCHEMA, t.LINE_DEDUP_DOCS: LINE_DEDUP_DOCS_SCHEMA, t.DOCS_CURATED: DOCS_ANNOTATED_SCHEMA,
    t.DOCS_TOKENIZED: DOCS_TOKENIZED_SCHEMA,
}


def recount(ctx: StageContext):
    """(source, input_file, fate) of every record the configured inputs hold, read as ingest reads them."""
    if not ctx.cfg.inputs:
        raise ConfigError("audit re-reads the inputs to count their records, but the config has no `inputs`; "
                          "pass the --config that ingested the data")
    tasks = list_tasks(ctx.cfg.inputs, ctx.cfg.ingest, storage=ctx.store.storage)
    return read_records(ctx.spark, tasks, ctx.cfg.ingest).select("source", "input_file", "fate")


def shard_checks(ctx: StageContext, shard: ShardVersion, current_tokenized: int) -> list[Check]:
    """Shard documents counted per (stage, component) as in the manifests, and tokenized when drawn."""
    counts = {(r["stage"], r["component"]): r["count"]
              for r in shard.members.groupBy("stage", "component").count().collect()}
    wrong = [f"{s}/{c}: manifest {n}, recorded {counts.get((s, c), 0)}"
             for (s, c), n in sorted(shard.documents.items()) if counts.get((s, c), 0) != n]
    checks = [Check(f"shard version {shard.version}: documents per (stage, component) = manifest",
                    len(shard.documents), len(shard.documents) - len(wrong), "; ".join(wrong[:5]))]
    drawn_from = shard.input_versions[t.DOCS_TOKENIZED]
    if drawn_from != current_tokenized:  # the current version is checked with the other tables
        then = ctx.store.read(t.DOCS_TOKENIZED, version=drawn_from).select("doc_id")
        checks.append(Check(f"shard documents missing from docs_tokenized version {drawn_from}", 0,
                            shard.members.select("doc_id").join(then, "doc_id", "left_anti").count()))
    return checks


def run_audit(ctx: StageContext) -> StageResult:
    store = ctx.store
    versions = store.versions(list(_SCHEMAS))
    if t.DOCS_RAW not in versions:
        raise StorageError(f"nothing to audit: docs_raw does not exist under {ctx.cfg.root}; run `curate ingest` first")
    tables = {name: store.read(name, version=versions.get(name), schema=schema) if name in versions
              else ctx.spark.createDataFrame([], schema) for name, schema in _SCHEMAS.items()}
    raw, quarantine = tables[t.DOCS_RAW], tables[t.QUARANTINE]
    shard = None
    if "://" not in ctx.cfg.root:  # shards are only published on local or mounted filesystems
        mixture = load_mixture(ctx.options.get("mixture") or ctx.cfg.mix.mixture)
        shard = latest_shard_version(ctx.spark, ctx.cfg.root, mixture, storage=ctx.store.storage)
    if shard is not None and shard.members is None:
        log.warning("[%s] shard version %s records no documents (published before curate recorded them): its "
                    "documents count as tokenized", ctx.run_id, shard.version)
    members = shard.members if shard else None

    checks = [per_file(recount(ctx), raw, quarantine), unique(quarantine, "record_id", t.QUARANTINE)]
    ran = set(versions) - {t.QUARANTINE}
    docs = {name: tables[name] for name in _SCHEMAS if name in ran and name != t.LINE_DEDUP_DOCS}
    if t.LINE_DEDUP_DOCS in ran:  # the documents the rules dropped after line dedup
        docs[LINE_DROPPED] = tables[t.LINE_DEDUP_DOCS].where(~F.col("keep")).select("doc_id")
    if members is not None and shard.input_versions[t.DOCS_TOKENIZED] == versions.get(t.DOCS_TOKENIZED):
        docs["shards"], ran = members.select("doc_id").distinct(), ran | {"shards"}
    checks += stage_checks(presence(docs), ran=ran, tok_input=ctx.cfg.tokenize.input)
    if t.DUP_CLUSTERS in versions:
        checks.append(dangling_duplicates(tables[t.DUP_CLUSTERS]))
    if members is not None:
        checks += shard_checks(ctx, shard, versions.get(t.DOCS_TOKENIZED))

    fates = doc_fates(
        raw=raw, quarantine=quarantine, annotated=tables[t.DOCS_ANNOTATED], clusters=tables[t.DUP_CLUSTERS],
        line_dedup=tables[t.LINE_DEDUP_DOCS],
        curated=tables[t.DOCS_CURATED], tokenized=tables[t.DOCS_TOKENIZED],
        members=members, shard_version=shard.version if shard else None,
    )
    fates_version = store.overwrite(fates, DOC_FATES, schema=DOC_FATES_SCHEMA)
    fates = store.read(DOC_FATES, version=fates_version)
    by_fate = {r["fate"]: r["count"] for r in fates.groupBy("fate").count().orderBy("fate").collect()}
    records = raw.count() + refused(quarantine).count()
    checks += [Check("doc_fates rows = docs_raw rows + refused records", records, sum(by_fate.values())),
               unique(fates, "record_key", DOC_FATES)]

    print_audit(ctx, by_fate, checks, shard)
    failed = [c for c in checks if not c.ok]
    if failed:
        raise AuditError(f"audit of {ctx.cfg.root}: {len(failed)} of {len(checks)} checks do not reconcile:\n  "
                         + "\n  ".join(c.message() for c in failed))
    return StageResult(
        input_versions=versions, output_versions={DOC_FATES: fates_version}, rows_in=records,
        rows_out=sum(by_fate.values()), counts={**by_fate, "checks": len(checks)},
        message=f"shard version {shard.version}" if shard else "",
    )


def print_audit(ctx: StageContext, by_fate: dict[str, int], checks: list[Check], shard: ShardVersion | None) -> None:
    console = Console(width=140)
    fates = Table(title=f"record fates under {ctx.cfg.root}" + (f" (shard version {shard.version})" if shard else ""))
    fates.add_column("fate")
    fates.add_column("records", justify="right")
    for fate, n in by_fate.items():
        fates.add_row(fate, f"{n:,}")
    fates.add_row("total", f"{sum(by_fate.values()):,}")
    console.print(fates)
    table = Table(title="reconciliation")
    for col in ("check", "expected", "found", ""):
        table.add_column(col, justify="right" if col in ("expected", "found") else "left")
    for c in checks:
        table.add_row(c.name, f"{c.expected:,}", f"{c.actual:,}", "ok" if c.ok else f"MISMATCH {c.detail}")
    console.print(table)


def add_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mixture", help="mixture whose latest shard version the fates refer to "
                        "(default: mix.mixture of the config, else examples/mixture.yaml)")


def options_from_args(args: argparse.Namespace) -> dict:
    return {"mixture": args.mixture}


if __name__ == "__main__":
    sys.exit(stage_main("audit"))
