"""The ingest job on Spark: tables, per-file reconciliation, idempotent re-ingest, runs records."""

from pathlib import Path

from deltalake import DeltaTable

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
    again = ingest(store, spark, inputs)
    assert again.rows_out == 0 and again.counts["docs_already_ingested"] == first.counts["doc"]
    assert per_file(store, "docs_raw") == docs and per_file(store, "quarantine") == refused
    assert store.version("docs_raw") == v[0] + 1  # an empty commit: one version per job write
    for name in ("docs_raw", "quarantine"):  # the rerun's files, all duplicates, were deleted
        on_disk = {p.name for p in Path(store.path(name)).glob("*.parquet")}
        assert on_disk == {Path(f).name for f in DeltaTable(store.path(name)).file_uris()}, name

    runs = store.read("runs").orderBy("started_at").collect()
    assert [(r.stage, r.status) for r in runs] == [("ingest", "succeeded")] * 2
    assert runs[0].output_versions["docs_raw"] == 0 and runs[0].rows_out == first.rows_out


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
