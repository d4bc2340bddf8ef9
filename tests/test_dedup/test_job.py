"""The dedup job on Delta tables: outputs, counts, and incremental == from scratch on the union."""

from __future__ import annotations

from pyspark.sql import functions as F

from curate.dedup.schema import DEDUP_SIGNATURES
from curate.jobs.common import StageContext
from curate.jobs.dedup import run_dedup
from curate.quality.schema import DOCS_ANNOTATED_SCHEMA
from curate.schemas.config import PipelineConfig
from curate.schemas.tables import DOCS_ANNOTATED, DOCS_CURATED, DUP_CLUSTERS

from .test_pipeline import PATHS, make_docs
from .texts import paragraphs, stdlib_docstrings


def _annotated(spark, rows):
    docs = make_docs(spark, rows)
    defaults = {"source_id": None, "uri": F.col("doc_id"), "offset": F.lit(0), "input_file": F.lit("test"),
                "ingest_run_id": F.lit("ingest-1"), "annotate_run_id": F.lit("annotate-1")}
    cols = []
    for f in DOCS_ANNOTATED_SCHEMA.fields:
        if f.name in docs.columns:
            cols.append(F.col(f.name).cast(f.dataType))
        else:
            value = defaults.get(f.name)
            cols.append((value if value is not None else F.lit(None)).cast(f.dataType).alias(f.name))
    return docs.select(cols)


def _ctx(spark, store, run_id, mode=None, one_task_max_docs=500_000):
    cfg = PipelineConfig(root=store.root, dedup={"one_task_max_docs": one_task_max_docs})
    return StageContext(spark=spark, cfg=cfg, store=store, run_id=run_id, options={"mode": mode})


def _batches():
    p = paragraphs("GPL-3", min_words=40)
    shifted = [" ".join(p[i : i + 10]) for i in range(3)]  # A, X (bridges A and B), B
    doc = stdlib_docstrings()
    old = [
        ("doc-a", shifted[0], {"quality_score": 0.5}),
        ("doc-b", shifted[2], {"quality_score": 0.5}),
        ("doc-c", doc[0], {"quality_score": 0.4}),
        ("doc-c-copy", doc[0].replace("\n", " "), {"quality_score": 0.3}),
        ("doc-d", doc[1]),
        ("doc-e", doc[2], {"keep": False}),
    ]
    new = [
        ("new-x", shifted[1], {"quality_score": 0.6}),
        ("new-c", doc[0] + " Thanks for reading.", {"quality_score": 0.9}),  # beats the old kept doc-c
        ("new-f", doc[3]),
        ("new-e", doc[2]),  # same text as the dropped doc-e: not its duplicate
    ]
    return old, new


def _table(store, name, cols):
    return sorted(tuple(r) for r in store.read(name).select(*cols).collect())


CLUSTER_COLS = ["doc_id", "cluster_id", "cluster_size", "kind", "similarity", "is_kept", "duplicate_of"]


@PATHS
def test_incremental_equals_from_scratch_on_the_union(spark, tmp_path, one_task_max_docs, delta_engine):
    from curate.delta.store import open_store

    old, new = _batches()
    inc = open_store(spark, str(tmp_path / "incremental"), engine=delta_engine)
    inc.overwrite(_annotated(spark, old), DOCS_ANNOTATED, schema=DOCS_ANNOTATED_SCHEMA)
    first = run_dedup(_ctx(spark, inc, "run-1", one_task_max_docs=one_task_max_docs))
    assert first.counts["signed"] == 5 and first.counts["removed_exact"] == 1
    assert first.rows_out == 4  # doc-a, doc-b, doc-c, doc-d

    inc.overwrite(_annotated(spark, old + new), DOCS_ANNOTATED, schema=DOCS_ANNOTATED_SCHEMA)
    second = run_dedup(_ctx(spark, inc, "run-2", one_task_max_docs=one_task_max_docs))
    assert second.counts["signed"] == 4  # only the new documents were shingled and hashed
    assert inc.read(DEDUP_SIGNATURES).count() == 9

    full = open_store(spark, str(tmp_path / "full"), engine=delta_engine)
    full.overwrite(_annotated(spark, old + new), DOCS_ANNOTATED, schema=DOCS_ANNOTATED_SCHEMA)
    scratch = run_dedup(_ctx(spark, full, "run-full", mode="full"))
    assert scratch.counts["signed"] == 9

    assert _table(inc, DUP_CLUSTERS, CLUSTER_COLS) == _table(full, DUP_CLUSTERS, CLUSTER_COLS)
    assert _table(inc, DOCS_CURATED, ["doc_id"]) == _table(full, DOCS_CURATED, ["doc_id"])
    clusters = {r[0]: r for r in _table(inc, DUP_CLUSTERS, CLUSTER_COLS)}
    # The new, better-scored copy wins over the document kept in the first run.
    assert clusters["new-c"][5] and clusters["doc-c"][6] == "new-c"
    # The new document bridges the two old ones into one cluster.
    assert clusters["new-x"][1] == clusters["doc-a"][1] == clusters["doc-b"][1] == "doc-a"
    curated = {r[0] for r in _table(inc, DOCS_CURATED, ["doc_id"])}
    assert curated == {"new-x", "new-c", "doc-d", "new-f", "new-e"}


def _rows(store, name):
    return sorted((r.asDict(recursive=True) for r in store.read(name).collect()), key=lambda r: r["doc_id"])


def test_docs_appended_to_docs_annotated_update_docs_curated_in_place(spark, tmp_path, delta_engine):
    """Through `run_stage` (the runs record tells the second run what the first wrote): new documents
    appended to docs_annotated delete the kept documents they displace from docs_curated and append
    the ones that join; the rows equal a from-scratch run's. A docs_annotated rewritten since (a
    re-annotation) makes the next run replace docs_curated."""
    from curate.delta.store import open_store
    from curate.jobs.common import run_stage

    old, new = _batches()
    inc = open_store(spark, str(tmp_path / "incremental"), engine=delta_engine)
    inc.overwrite(_annotated(spark, old), DOCS_ANNOTATED, schema=DOCS_ANNOTATED_SCHEMA)
    first = run_stage(_ctx(spark, inc, "run-1"), "dedup", run_dedup)
    assert "curated_deleted" not in first.counts

    inc.append(_annotated(spark, new), DOCS_ANNOTATED, schema=DOCS_ANNOTATED_SCHEMA)
    second = run_stage(_ctx(spark, inc, "run-2"), "dedup", run_dedup)
    assert (second.counts["curated_deleted"], second.counts["curated_appended"]) == (3, 4)  # doc-a, -b, -c out

    full = open_store(spark, str(tmp_path / "full"), engine=delta_engine)
    full.overwrite(_annotated(spark, old + new), DOCS_ANNOTATED, schema=DOCS_ANNOTATED_SCHEMA)
    run_stage(_ctx(spark, full, "run-full", mode="full"), "dedup", run_dedup)
    assert [r["doc_id"] for r in _rows(inc, DOCS_CURATED)] == ["doc-d", "new-c", "new-e", "new-f", "new-x"]
    assert _rows(inc, DOCS_CURATED) == _rows(full, DOCS_CURATED)

    inc.overwrite(_annotated(spark, old + new), DOCS_ANNOTATED, schema=DOCS_ANNOTATED_SCHEMA)  # rows rewritten
    third = run_stage(_ctx(spark, inc, "run-3"), "dedup", run_dedup)
    assert "curated_deleted" not in third.counts and _rows(inc, DOCS_CURATED) == _rows(full, DOCS_CURATED)
