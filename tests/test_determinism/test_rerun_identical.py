"""Same config, same input, different partitioning: identical table contents and shard sample sequences.

Run A uses 2 shuffle partitions and reads each JSONL file in one task; run B uses 7 shuffle
partitions without adaptive coalescing, 64 KB file splits when reading the tables back, and
reads the uncompressed JSONL file in 1 MB byte ranges (several ingest tasks). Mix plans in hash
buckets of documents (mix.plan_bucket_docs) in both.
"""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest
import yaml
from pyspark.sql import functions as F
from pyspark.sql.types import MapType

from curate.cli import main
from curate.delta.store import DeltaStore, open_store

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sample"
TABLES = ("docs_raw", "quarantine", "docs_annotated", "dedup_signatures", "dup_clusters", "docs_curated",
          "docs_tokenized")
RUN_COLUMNS = {"ingest_run_id", "annotate_run_id", "dedup_run_id", "run_id"}
VARIED_CONF = ("spark.sql.shuffle.partitions", "spark.sql.files.maxPartitionBytes",
               "spark.sql.adaptive.coalescePartitions.enabled")


def table_digest(store: DeltaStore, name: str) -> tuple[int, str]:
    """(rows, sha256 of the sorted row hashes) of the table without run ids; computed in Spark."""
    df = store.read(name)
    cols = [F.array_sort(F.map_entries(f.name)).alias(f.name) if isinstance(f.dataType, MapType) else F.col(f.name)
            for f in df.schema.fields if f.name not in RUN_COLUMNS]
    row = df.select(F.sha2(F.to_json(F.struct(*cols)), 256).alias("h")).agg(
        F.count("*").alias("n"), F.sha2(F.concat_ws("", F.array_sort(F.collect_list("h"))), 256).alias("d")).first()
    return row["n"], row["d"]


def sample_digest(stage_dir: Path, cache: Path) -> tuple[int, str]:
    """(samples, sha256 over every sample's tokens in StreamingDataset order)."""
    from streaming import StreamingDataset

    h, n = hashlib.sha256(), 0
    for s in StreamingDataset(remote=str(stage_dir), local=str(cache), shuffle=False, batch_size=1):
        h.update(np.asarray(s["tokens"], dtype=np.int32).tobytes())
        h.update(s["source"].encode())
        n += 1
    return n, h.hexdigest()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("determinism")
    # An uncompressed JSONL file above split_bytes' minimum, so run B reads it in byte ranges.
    (d / "manpages.jsonl").write_bytes(gzip.decompress((SAMPLE / "web" / "manpages-00.jsonl.gz").read_bytes()))
    mixture = {
        "name": "determinism",
        "components": {"web": {"sources": ["web"]}},
        "stages": [{"name": "pretrain", "budget_tokens": 8192, "seq_len": 256, "seed": 3, "weights": {"web": 1}},
                   {"name": "anneal", "budget_tokens": 2048, "seq_len": 128, "seed": 4, "weights": {"web": 1}}],
    }
    (d / "mixture.yaml").write_text(yaml.safe_dump(mixture))
    return d


def run(corpus: Path, name: str, *, engine: str, shuffle: int, conf: dict, ingest: dict, caplog) -> Path:
    cfg = {
        "root": str(corpus / name),
        "delta": {"engine": engine},
        "spark": {"master": "local[2]", "driver_memory": "4g", "shuffle_partitions": shuffle, "conf": conf},
        "inputs": [
            {"source": "web", "kind": "text", "path": str(corpus / "manpages.jsonl"), "id_field": "id"},
            {"source": "web", "kind": "text", "path": str(SAMPLE / "web" / "python-docs-00.jsonl.gz"), "id_field": "id"},
            {"source": "notes", "kind": "text", "path": str(SAMPLE / "notes")},
            {"source": "crawl", "kind": "text", "path": str(SAMPLE / "warc")},
            {"source": "code", "kind": "code", "path": str(SAMPLE / "code")},
            {"source": "bad", "kind": "text", "path": str(SAMPLE / "bad"), "id_field": "id"},
        ],
        "ingest": ingest,
        # planned in hash buckets of about 16 documents (several tasks) in both runs
        "mix": {"mixture": str(corpus / "mixture.yaml"), "plan_bucket_docs": 16},
    }
    path = corpus / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["run", "--config", str(path)]) == 0, caplog.text
    return corpus / name


def test_two_runs_with_different_partitioning_are_identical(spark, corpus, caplog, tmp_path, delta_engine):
    before = {k: spark.conf.get(k, None) for k in VARIED_CONF}
    try:
        a = run(corpus, f"a-{delta_engine}", engine=delta_engine, shuffle=2, conf={}, ingest={}, caplog=caplog)
        b = run(corpus, f"b-{delta_engine}", engine=delta_engine, shuffle=7, caplog=caplog,
                ingest={"split_bytes": 1_000_000},
                conf={"spark.sql.files.maxPartitionBytes": 65536,
                      "spark.sql.adaptive.coalescePartitions.enabled": False})
        assert spark.conf.get("spark.sql.shuffle.partitions") == "7"
    finally:
        for k, v in before.items():
            spark.conf.unset(k) if v is None else spark.conf.set(k, v)

    sa, sb = open_store(spark, str(a), engine=delta_engine), open_store(spark, str(b), engine=delta_engine)
    for name in TABLES:
        da, db = table_digest(sa, name), table_digest(sb, name)
        assert da[0] > 0 and da == db, name

    va, vb = (sorted(p for p in (r / "shards" / "determinism").iterdir() if p.is_dir() and p.name[0] not in "._")
              for r in (a, b))
    # One version each; their names differ: a version hashes its input tables' Delta ids, which are
    # per table (a table written again elsewhere is another table), so only the content is compared.
    assert len(va) == len(vb) == 1
    for stage in ("pretrain", "anneal"):
        da = sample_digest(va[0] / stage, tmp_path / f"a_{stage}")
        db = sample_digest(vb[0] / stage, tmp_path / f"b_{stage}")
        assert da[0] > 0 and da == db, stage
        members = [(v[0] / stage / "documents.parquet").read_bytes() for v in (va, vb)]
        assert members[0] == members[1]
