"""`curate audit` after the end-to-end run on the bundled sample, then on copies with a tampered table."""

from __future__ import annotations

import shutil

import pytest
from pyspark.sql import functions as F

from curate.cli import main
from curate.delta.store import DeltaStore, open_store


@pytest.fixture(scope="module")
def sample_root(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("audit") / "root"
    assert main(["run", "--root", str(root)]) == 0
    return root


def audit(root, caplog) -> tuple[int, str]:
    caplog.clear()
    rc = main(["audit", "--root", str(root)])
    return rc, caplog.text


def test_sample_run_reconciles_and_every_record_has_one_fate(spark, sample_root, caplog, capsys):
    rc, log = audit(sample_root, caplog)
    out = capsys.readouterr().out
    assert rc == 0, log
    assert "reconciliation" in out and "MISMATCH" not in out
    store = open_store(spark, str(sample_root))
    fates = store.read("doc_fates")
    raw, quarantine = store.read("docs_raw"), store.read("quarantine")
    assert fates.count() == raw.count() + quarantine.count() == fates.select("record_key").distinct().count()
    by_fate = {r["fate"]: r["count"] for r in fates.groupBy("fate").count().collect()}
    annotated = store.read("docs_annotated")
    assert by_fate["dropped"] == annotated.where(~F.col("keep")).count()
    assert by_fate["duplicate"] == store.read("dup_clusters").where(~F.col("is_kept")).count() > 0
    assert by_fate["in_shards"] + by_fate.get("tokenized", 0) == store.read("docs_tokenized").count()
    assert by_fate["in_shards"] > 0
    assert by_fate["quarantined"] + by_fate["skipped"] == quarantine.count()
    # a dropped document carries its rules, a duplicate the kept document, a refusal its reason
    dropped = fates.where("fate = 'dropped'").join(annotated.select("doc_id", "drop_reasons"), "doc_id")
    assert dropped.where(F.col("reasons") != F.col("drop_reasons")).count() == 0
    dup = fates.where("fate = 'duplicate'").first()
    assert store.read("dup_clusters").where(F.col("doc_id") == dup["duplicate_of"]).first()["is_kept"]
    truncated = fates.where("fate = 'quarantined' AND input_file LIKE '%truncated.jsonl.gz'").first()
    assert truncated["reasons"] == ["truncated_file"] and "ended early" in truncated["detail"]


def tampered(sample_root, tmp_path, spark) -> tuple[str, DeltaStore]:
    root = tmp_path / "root"
    shutil.copytree(sample_root, root)
    return str(root), open_store(spark, str(root))


def test_a_deleted_curated_row_fails_the_audit_naming_it(spark, sample_root, tmp_path, caplog):
    root, store = tampered(sample_root, tmp_path, spark)
    curated = store.read("docs_curated")
    victim = curated.orderBy("doc_id").first()["doc_id"]
    store.overwrite(curated.where(F.col("doc_id") != victim), "docs_curated", schema=curated.schema)
    rc, log = audit(root, caplog)
    assert rc == 2
    assert f"kept documents neither curated nor removed as duplicates: expected 0, found 1 (e.g. doc_id {victim})" in log
    assert f"docs_tokenized documents not in docs_curated: expected 0, found 1 (e.g. doc_id {victim})" in log
    assert "kept by annotate = docs_curated + removed duplicates (rows)" in log


def test_a_duplicated_raw_row_fails_the_audit_naming_its_file(spark, sample_root, tmp_path, caplog):
    root, store = tampered(sample_root, tmp_path, spark)
    raw = store.read("docs_raw")
    row = raw.where(F.col("input_file").endswith("manpages-00.jsonl.gz")).orderBy("doc_id").limit(1)
    victim = row.first()["doc_id"]
    store.append(row, "docs_raw", schema=raw.schema)
    rc, log = audit(root, caplog)
    assert rc == 2
    assert f"docs_raw: doc_ids on more than one row: expected 0, found 1 (e.g. doc_id {victim})" in log
    assert "manpages-00.jsonl.gz [web]: read" in log and "but docs_raw has" in log
