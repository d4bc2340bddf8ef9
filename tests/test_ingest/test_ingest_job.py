"""The ingest job on Spark: tables, per-file reconciliation, idempotent re-ingest, runs records."""

import json
import os
from pathlib import Path

import pytest
from deltalake import DeltaTable

from curate.ingest import spark as ingest_spark
from curate.jobs.common import StageContext, new_run_id, run_stage
from curate.jobs.ingest import run_ingest
from curate.schemas.config import PipelineConfig


def ingest(store, spark, inputs):
    cfg = PipelineConfig(root=store.root, inputs=inputs)
    ctx = StageContext(spark=spark, cfg=cfg, store=store, run_id=new_run_id())
    return run_stage(ctx, "ingest", run_ingest)


def per_file(store, table):
    rows = store.read(table).groupBy("input_file").count().collect()
    return {r.input_file.rsplit("/", 1)[1]: r["count"] for r in rows}


def test_ingest_reconciles_and_reingest_adds_nothing(spark, store, bad_inputs):
    d, expected = bad_inputs
    inputs = [{"source": "web", "kind": "text", "path": str(d), "id_field": "id"}]
    first = ingest(store, spark, inputs)
    docs, refused = per_file(store, "docs_raw"), per_file(store, "quarantine")
    for name, n in expected.items():
        assert docs.get(name, 0) + refused.get(name, 0) == n, name
    assert first.counts["doc"] == sum(docs.values()) == first.rows_out
    assert first.counts["quarantined:truncated_file"] == 1

    raw = DeltaTable(store.path("docs_raw")).to_pyarrow_table().to_pylist()
    by_sid = {r["source_id"]: r for r in raw if r["input_file"].endswith("mixed.jsonl")}
    assert set(by_sid) == {"0", "2"}
    assert dict(by_sid["0"]["metadata"]) == {"url": "https://docs.python.org/0"}
    assert len({r["doc_id"] for r in raw}) == len(raw)

    v = store.version("docs_raw"), store.version("quarantine")
    unchanged = ingest(store, spark, inputs)  # no file changed: none is read
    assert unchanged.counts["tasks_unchanged"] == len(list(d.iterdir())) and "doc" not in unchanged.counts
    assert (store.version("docs_raw"), store.version("quarantine")) == v

    for f in d.iterdir():  # every file touched: each is read again, and its records are already in
        os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 1_000_000_000))
    again = ingest(store, spark, inputs)
    assert again.counts["tasks_unchanged"] == 0
    assert again.rows_out == 0 and again.counts["docs_already_ingested"] == first.counts["doc"]
    assert per_file(store, "docs_raw") == docs and per_file(store, "quarantine") == refused
    # delta-rs makes an empty commit (one version per job write); Spark's MERGE of no rows makes none
    assert store.version("docs_raw") == v[0] + (store.engine == "delta-rs")
    for name in ("docs_raw", "quarantine"):  # the files the rerun's tasks wrote, all duplicates, were deleted
        on_disk = {p.name for p in Path(store.path(name)).glob("*.zstd.parquet")}  # FileSink's names
        assert on_disk <= {Path(f).name for f in DeltaTable(store.path(name)).file_uris()}, name

    runs = store.read("runs").orderBy("started_at").collect()
    assert [(r.stage, r.status) for r in runs] == [("ingest", "succeeded")] * 3
    assert runs[0].output_versions["docs_raw"] == 0 and runs[0].rows_out == first.rows_out


def write_jsonl(path: Path, texts: list[str]) -> None:
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))


def test_only_new_and_changed_files_are_read_again(spark, store, tmp_path, paragraphs):
    """ingest_files keeps each file task's size and mtime: a rerun reads a new file and a changed one
    only, whole. A record of it with the same text at the same offset keeps its doc_id (the id hashes
    both); an edited or added record is a new document, and the record it replaced stays in docs_raw.
    A removed file's documents stay."""
    data = tmp_path / "data"
    data.mkdir()
    write_jsonl(data / "a.jsonl", paragraphs[:6])
    write_jsonl(data / "b.jsonl", paragraphs[6:10])
    inputs = [{"source": "web", "kind": "text", "path": str(data)}]
    first = ingest(store, spark, inputs)
    assert first.counts["doc"] == first.rows_out == 10 and first.counts["tasks_unchanged"] == 0

    write_jsonl(data / "c.jsonl", paragraphs[10:13])
    added = ingest(store, spark, inputs)
    assert added.counts["doc"] == added.rows_out == 3 and added.counts["tasks_unchanged"] == 2

    write_jsonl(data / "a.jsonl", [*paragraphs[:5], *paragraphs[20:23]])  # the last record edited, 2 added
    changed = ingest(store, spark, inputs)
    assert changed.counts["doc"] == 8 and changed.rows_out == 3 and changed.counts["docs_already_ingested"] == 5
    assert changed.counts["tasks_unchanged"] == 2
    texts = {r.text for r in store.read("docs_raw").where("input_file LIKE '%a.jsonl'").collect()}
    assert texts == {*paragraphs[:6], *paragraphs[20:23]}  # paragraph 5, edited away, stays

    (data / "b.jsonl").unlink()
    removed = ingest(store, spark, inputs)
    assert "doc" not in removed.counts and removed.rows_out == 0 and removed.counts["tasks_unchanged"] == 2
    assert per_file(store, "docs_raw") == {"a.jsonl": 9, "b.jsonl": 4, "c.jsonl": 3}
    state = {Path(r.input_file).name: r for r in store.read("ingest_files").collect()}
    assert set(state) == {"a.jsonl", "c.jsonl"}
    for name, row in state.items():
        st = (data / name).stat()
        assert (row.size, row.mtime_ns, row.etag) == (st.st_size, st.st_mtime_ns, None)
    assert {r.ingest_run_id for r in state.values()} == {store.read("runs").orderBy("started_at").collect()[i].run_id
                                                          for i in (1, 2)}

    changed_settings = ingest(store, spark, [{**inputs[0], "source": "docs"}])  # other settings: all read again
    assert changed_settings.counts["tasks_unchanged"] == 0 and changed_settings.counts["doc"] == 11


@pytest.mark.parametrize("keys_bytes", [64 << 20, 0], ids=["ids-to-driver", "ids-checked-in-spark"])
def test_a_file_named_by_two_inputs_is_ingested_once(spark, store, tmp_path, paragraphs, monkeypatch, keys_bytes):
    """The folder and one of its files, under one source: that file's records get the same ids twice.
    The tasks' ids show it (or, over their budget, Spark's check does) and the repeats are merged."""
    monkeypatch.setattr(ingest_spark, "_DOC_KEYS_BYTES", keys_bytes)
    for name, part in (("a.jsonl", paragraphs[:6]), ("b.jsonl", paragraphs[6:10])):
        (tmp_path / name).write_text("".join(json.dumps({"text": p}) + "\n" for p in part))
    inputs = [{"source": "web", "kind": "text", "path": str(tmp_path)},
              {"source": "web", "kind": "text", "path": str(tmp_path / "a.jsonl")}]
    result = ingest(store, spark, inputs)
    assert result.counts["doc"] == 16 and result.rows_out == 10 and result.counts["docs_already_ingested"] == 6
    raw = DeltaTable(store.path("docs_raw")).to_pyarrow_table().to_pylist()
    assert sorted(r["text"] for r in raw) == sorted(paragraphs[:10])
    on_disk = {p.name for p in Path(store.path("docs_raw")).glob("*.parquet")}
    assert on_disk == {Path(f).name for f in DeltaTable(store.path("docs_raw")).file_uris()}


def test_doc_ids_unique_needs_every_id_once():
    ids = [bytes(range(i, i + 16)) for i in range(3)]
    rows = [{"doc_keys": ids[0] + ids[1]}, {"doc_keys": None}, {"doc_keys": ids[2]}]
    assert ingest_spark.doc_ids_unique(rows, 3)
    assert not ingest_spark.doc_ids_unique(rows, 4)  # a task over its budget sent none of its ids
    assert not ingest_spark.doc_ids_unique(rows + [{"doc_keys": ids[1]}], 4)


def test_warc_html_responses_become_main_text(spark, store, tmp_path, paragraphs):
    import html
    from io import BytesIO

    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    path = tmp_path / "crawl.warc.gz"
    with open(path, "wb") as out:
        w = WARCWriter(out, gzip=True)
        for i, p in enumerate(paragraphs[:3]):
            body = (f"<html><head><title>t{i}</title></head><body><nav><a href='/'>Home</a></nav>"
                    f"<article><h1>Doc {i}</h1><p>{html.escape(p)}</p></article></body></html>").encode()
            headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
            w.write_record(w.create_warc_record(f"https://example.org/{i}", "response",
                                                payload=BytesIO(body), http_headers=headers))
        png = StatusAndHeaders("200 OK", [("Content-Type", "image/png")], protocol="HTTP/1.1")
        w.write_record(w.create_warc_record("https://example.org/x.png", "response",
                                            payload=BytesIO(b"\x89PNG\r\n"), http_headers=png))
    result = ingest(store, spark, [{"source": "crawl", "kind": "text", "path": str(path)}])
    assert result.counts["doc"] == 3 and result.counts["skipped:non_html_response"] == 1
    docs = {r.uri: r for r in store.read("docs_raw").collect()}
    assert paragraphs[1].split()[0] in docs["https://example.org/1"].text
    assert docs["https://example.org/1"].source_id.startswith("<urn:uuid:")
