"""Line and paragraph dedup as Spark transforms, one materializable step each (the dedup job writes
between them):

    unit_hashes(docs)                  documents -> (doc_id, source, distinct unit hashes): line_hashes
    frequent_units(hashes, survivors)  hash -> documents holding it per source, among the documents
                                       that reach docs_curated; those in >= min_docs
    strip(docs, hashes, frequent)      the documents holding a frequent unit, without those units,
                                       signals recomputed and re-decided by the rules: line_dedup_docs
    with_lines_removed(curated, ld)    docs_curated with the stripped texts, less the documents the
                                       rules now drop

Counting is a distributed group-by of (source, hash): no line reaches the driver.
"""

from __future__ import annotations

import functools
import hashlib
import json
from typing import TYPE_CHECKING

import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from curate.dedup.config import DedupConfig
from curate.dedup.lines import REMOVED_FRAC, stripped_batch, unit_hash_batch
from curate.dedup.schema import LINE_DEDUP_DOCS_SCHEMA, LINE_HASHES_SCHEMA
from curate.dedup.spark import _map_batches
from curate.quality.rules import RulesConfig

if TYPE_CHECKING:
    from curate.delta.datasource import BatchFn

# The docs_annotated columns the steps read.
HASHED_COLUMNS = ["doc_id", "source", "kind", "text"]
STRIPPED_COLUMNS = ["doc_id", "source", "kind", "text", "uri", "n_bytes", "lang", "lang_score", "code_lang",
                    "quality_score", "signals"]


def line_params(cfg: DedupConfig) -> str:
    """Hash of the settings a stored unit hash depends on (min_docs is applied after)."""
    parts = {"normalize": cfg.normalize.model_dump(), "lines": cfg.line_dedup.model_dump(include={"unit", "code"})}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def _with_params(batches, cfg_json: str, params: str, run_id: str | None):
    for batch in _map_batches(batches, unit_hash_batch, cfg_json=cfg_json):
        batch = batch.append_column("params", pa.array([params] * len(batch), pa.string()))
        if run_id is not None:
            batch = batch.append_column("dedup_run_id", pa.array([run_id] * len(batch), pa.string()))
        yield batch


def unit_hash_fn(cfg: DedupConfig, run_id: str | None = None) -> BatchFn:
    """Arrow batches of documents (HASHED_COLUMNS) -> their line_hashes rows (without dedup_run_id
    when `run_id` is None), for mapInArrow or map_into."""
    return functools.partial(_with_params, cfg_json=cfg.model_dump_json(), params=line_params(cfg), run_id=run_id)


def unit_hashes(docs: DataFrame, cfg: DedupConfig) -> DataFrame:
    """line_hashes rows (less dedup_run_id) of `docs`."""
    schema = StructType([f for f in LINE_HASHES_SCHEMA.fields if f.name != "dedup_run_id"])
    return docs.select(*HASHED_COLUMNS).mapInArrow(unit_hash_fn(cfg), schema)


def frequent_units(hashes: DataFrame, survivors: DataFrame, *, min_docs: int) -> DataFrame:
    """(source, hash, n_docs) of the units that `min_docs` or more of the `survivors` (doc_id) of
    one source hold (each document's hashes are distinct, so rows count documents)."""
    units = hashes.join(survivors.select("doc_id"), "doc_id").select("source", F.explode("hashes").alias("hash"))
    return units.groupBy("source", "hash").agg(F.count("*").alias("n_docs")).where(F.col("n_docs") >= min_docs)


def doc_frequent(hashes: DataFrame, frequent: DataFrame) -> DataFrame:
    """(doc_id, frequent): each document's hashes that are frequent in its source, for the
    documents that have one."""
    units = hashes.select("doc_id", "source", F.explode("hashes").alias("hash"))
    return units.join(frequent.select("source", "hash"), ["source", "hash"]).groupBy("doc_id").agg(
        F.collect_list("hash").alias("frequent"))


def strip(docs: DataFrame, frequent: DataFrame, cfg: DedupConfig, rules: RulesConfig) -> DataFrame:
    """line_dedup_docs rows (less dedup_run_id) of the `docs` (STRIPPED_COLUMNS) that hold a
    frequent unit (`doc_frequent`)."""
    schema = StructType([f for f in LINE_DEDUP_DOCS_SCHEMA.fields if f.name != "dedup_run_id"])
    fn = functools.partial(_map_batches, fn=stripped_batch, cfg_json=cfg.model_dump_json(),
                           rules_json=rules.model_dump_json())
    return docs.select(*STRIPPED_COLUMNS).join(frequent, "doc_id").mapInArrow(fn, schema)


def with_lines_removed(curated: DataFrame, stripped: DataFrame) -> DataFrame:
    """`curated` (docs_annotated rows) with the texts, byte counts and signals of `stripped`
    (line_dedup_docs) and the REMOVED_FRAC signal (0.0 where nothing was removed), less the
    documents the rules dropped after the removal."""
    changed = stripped.select("doc_id", *[F.col(c).alias(f"_ld_{c}") for c in ("text", "n_bytes", "signals", "keep")])
    untouched = F.map_concat(F.coalesce("signals", F.create_map().cast("map<string,double>")),
                             F.create_map(F.lit(REMOVED_FRAC), F.lit(0.0)))
    out = curated.join(changed, "doc_id", "left").where(F.coalesce("_ld_keep", F.lit(True)))
    replaced = {
        "text": F.coalesce("_ld_text", "text"),
        "n_bytes": F.coalesce("_ld_n_bytes", "n_bytes"),
        "signals": F.when(F.col("_ld_keep").isNull(), untouched).otherwise(F.col("_ld_signals")),
    }
    return out.select(*[replaced[c].alias(c) if c in replaced else F.col(c) for c in curated.columns])
