"""Reconciliation checks, computed in Spark as a few aggregates; only counts and example keys come back.

Per input file: records read = its docs_raw rows + its quarantine rows (quarantined and skipped).
Per stage: docs_raw = docs_annotated; kept by annotate = docs_curated + removed duplicates +
documents the rules dropped after line dedup (and nothing else); tokenize's input = docs_tokenized; shard documents are tokenized documents. No key
appears twice in any table, and doc_fates holds every record exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

_EXAMPLES = 5
LINE_DROPPED = "line_dedup_dropped"  # presence's name for line_dedup_docs rows with keep = false


@dataclass(frozen=True)
class Check:
    name: str
    expected: int
    actual: int
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.expected == self.actual

    def message(self) -> str:
        return f"{self.name}: expected {self.expected:,}, found {self.actual:,}" + (
            f" ({self.detail})" if self.detail else "")


def refused(quarantine: DataFrame) -> DataFrame:
    """The quarantine rows of records that never became documents."""
    return quarantine.where(F.col("doc_id").isNull() & (F.col("stage") == "ingest"))


def per_file(read: DataFrame, raw: DataFrame, quarantine: DataFrame) -> Check:
    """`read`: (source, input_file, fate) of every record the inputs hold now, re-read by ingest's readers."""
    keys = ["source", "input_file"]
    files = (
        read.groupBy(*keys).agg(F.count("*").alias("read"), F.sum((F.col("fate") == "doc").cast("long")).alias("docs"))
        .join(raw.groupBy(*keys).agg(F.count("*").alias("in_raw")), keys, "full")
        .join(refused(quarantine).groupBy(*keys).agg(F.count("*").alias("in_quarantine")), keys, "full")
        .fillna(0, subset=["read", "docs", "in_raw", "in_quarantine"])
        .withColumn("bad", (F.col("docs") != F.col("in_raw")) | (F.col("read") - F.col("docs") != F.col("in_quarantine")))
    ).persist()
    try:
        row = files.agg(F.count("*").alias("n"), F.sum(F.col("bad").cast("long")).alias("bad")).first()
        total, n_bad = row["n"], row["bad"] or 0
        examples = [
            f"{r['input_file']} [{r['source']}]: "
            + (f"read {r['read']} records ({r['docs']} documents, {r['read'] - r['docs']} refused)" if r["read"]
               else "not among the config's inputs now")
            + f" but docs_raw has {r['in_raw']} rows and quarantine {r['in_quarantine']}"
            for r in (files.where("bad").orderBy(*keys).limit(_EXAMPLES).collect() if n_bad else [])
        ]
    finally:
        files.unpersist()
    return Check("input files whose records read = docs_raw rows + quarantine rows", total, total - n_bad,
                 "; ".join(examples))


def presence(tables: dict[str, DataFrame]) -> DataFrame:
    """One row per doc_id of any table: `n_<table>` rows it has there, `keep`, `dup` (removed duplicate)."""
    parts = [df.select("doc_id", F.lit(name).alias("_t"),
                       (F.col("keep") if "keep" in df.columns else F.lit(None)).cast("boolean").alias("_keep"),
                       (~F.col("is_kept") if "is_kept" in df.columns else F.lit(None)).cast("boolean").alias("_dup"))
             for name, df in tables.items()]
    union = parts[0]
    for p in parts[1:]:
        union = union.unionByName(p)
    return union.groupBy("doc_id").agg(
        *[F.sum((F.col("_t") == name).cast("long")).alias(f"n_{name}") for name in tables],
        F.max("_keep").alias("keep"), F.max("_dup").alias("dup"),
    )


def _count(name: str, cond: Column) -> list[Column]:
    return [F.sum(cond.cast("long")).alias(f"{name}#n"), F.min(F.when(cond, F.col("doc_id"))).alias(f"{name}#e")]


def stage_checks(docs: DataFrame, *, ran: set[str], tok_input: str) -> list[Check]:
    """The per-stage reconciliations over `presence` rows, in one aggregate; `ran`: the tables that exist."""
    n = {c[2:]: F.col(c) for c in docs.columns if c.startswith("n_")}
    keep, dup = F.coalesce("keep", F.lit(False)), F.coalesce("dup", F.lit(False))
    line_dropped = n[LINE_DROPPED] > 0 if LINE_DROPPED in n else F.lit(False)
    or_dropped = " nor dropped after line dedup" if LINE_DROPPED in n else ""
    zero: dict[str, Column] = {}  # check name -> condition that must hold for no document
    for t in n:
        if t in ran and t != "shards":
            zero[f"{t}: doc_ids on more than one row"] = n[t] > 1
    if "docs_annotated" in ran:
        zero["docs_raw documents missing from docs_annotated"] = (n["docs_raw"] > 0) & (n["docs_annotated"] == 0)
        zero["docs_annotated documents not in docs_raw"] = (n["docs_annotated"] > 0) & (n["docs_raw"] == 0)
    if "docs_curated" in ran:
        zero[f"kept documents neither curated nor removed as duplicates{or_dropped}"] = (
            keep & (n["docs_curated"] == 0) & ~dup & ~line_dropped)
        if LINE_DROPPED in n:
            zero["documents both curated and dropped after line dedup"] = (n["docs_curated"] > 0) & line_dropped
        zero["docs_curated documents not kept by annotate"] = (n["docs_curated"] > 0) & ~keep
        zero["dup_clusters documents not kept by annotate"] = (n["dup_clusters"] > 0) & ~keep
        zero["documents both curated and removed as duplicates"] = (n["docs_curated"] > 0) & dup
    if "docs_tokenized" in ran:
        zero[f"{tok_input} documents missing from docs_tokenized"] = (n[tok_input] > 0) & (n["docs_tokenized"] == 0)
        zero[f"docs_tokenized documents not in {tok_input}"] = (n["docs_tokenized"] > 0) & (n[tok_input] == 0)
    if "shards" in n:
        zero["shard documents not in docs_tokenized"] = (n["shards"] > 0) & (n["docs_tokenized"] == 0)
    totals = {t: F.sum(n[t]).alias(f"{t}#rows") for t in n}
    row = docs.agg(*totals.values(), F.sum(dup.cast("long")).alias("dup#rows"), F.sum(keep.cast("long")).alias("keep#rows"),
                   *[c for name, cond in zero.items() for c in _count(name, cond)]).first()
    rows = {k.split("#")[0]: row[k] or 0 for k in row.asDict() if k.endswith("#rows")}
    checks = []
    if "docs_annotated" in ran:
        checks.append(Check("docs_raw = docs_annotated (rows)", rows["docs_raw"], rows["docs_annotated"]))
    if "docs_curated" in ran:
        plus_dropped = " + dropped after line dedup" if LINE_DROPPED in n else ""
        checks.append(Check(f"kept by annotate = docs_curated + removed duplicates{plus_dropped} (rows)",
                            rows["keep"], rows["docs_curated"] + rows["dup"] + rows.get(LINE_DROPPED, 0)))
    if "docs_tokenized" in ran:
        checks.append(Check(f"{tok_input} = docs_tokenized (rows)", rows[tok_input], rows["docs_tokenized"]))
    for name in zero:
        found = row[f"{name}#n"] or 0
        checks.append(Check(name, 0, found, f"e.g. doc_id {row[f'{name}#e']}" if found else ""))
    return checks


def dangling_duplicates(clusters: DataFrame) -> Check:
    """Every removed duplicate names a kept member of dup_clusters."""
    heads = clusters.where(F.col("is_kept")).select("doc_id")
    bad = clusters.where(~F.col("is_kept")).select(F.col("duplicate_of").alias("doc_id")).join(heads, "doc_id", "left_anti")
    row = bad.agg(F.count("*").alias("n"), F.min("doc_id").alias("e")).first()
    return Check("duplicates whose duplicate_of is not a kept cluster member", 0, row["n"],
                 f"e.g. duplicate_of {row['e']}" if row["n"] else "")


def unique(df: DataFrame, key: str, table: str) -> Check:
    row = df.agg(F.count("*").alias("n"), F.countDistinct(key).alias("d")).first()
    return Check(f"{table}: rows = distinct {key}", row["n"], row["d"])
