"""Input safety: symbolic links in text folders and globs, bounds on WARC and Parquet inputs, I/O
errors that must fail the task instead of quarantining the file."""

from __future__ import annotations

import dataclasses
import json
import os
import time
import tracemalloc
from collections import Counter
from io import BytesIO
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from deltalake import DeltaTable
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from curate.delta.store import open_store
from curate.ingest.listing import list_tasks
from curate.ingest.readers import read_task
from curate.jobs.common import StageContext, run_stage
from curate.jobs.ingest import run_ingest
from curate.schemas.config import IngestConfig, InputConfig, PipelineConfig
from test_faults.harness import run_curate

CFG = IngestConfig()


def read_input(path, *, cfg: IngestConfig = CFG, **kw) -> dict[str, list]:
    inp = InputConfig(source="t", kind="text", path=str(path), **kw)
    return {t.uri: list(read_task(t, cfg)) for t in list_tasks([inp], cfg)}


def fates(recs: dict[str, list]) -> dict[str, tuple]:
    return {uri: tuple((r.fate, r.reason_code) for r in rs) for uri, rs in recs.items()}


def link_tree(tmp_path, paragraphs):
    """notes/ with real files, links within it, and links out of it to a file holding a planted secret."""
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = "AKIA-planted-outside-the-root " + paragraphs[0]
    (outside / "secret.txt").write_text(secret)
    notes = tmp_path / "notes"
    (notes / "sub").mkdir(parents=True)
    (notes / "a.txt").write_text(paragraphs[1])
    (notes / "sub" / "b.txt").write_text(paragraphs[2])
    os.symlink(outside / "secret.txt", notes / "escape.txt")  # absolute, out of the root
    os.symlink("../../outside/secret.txt", notes / "sub" / "up.txt")  # relative, out of the root
    os.symlink("a.txt", notes / "alias.txt")
    os.symlink("missing.txt", notes / "dangling.txt")
    os.symlink(outside, notes / "out_dir")
    os.symlink("sub", notes / "in_dir")
    return notes, secret


def test_links_in_a_text_folder_follow_the_code_tree_policy(tmp_path, paragraphs):
    notes, secret = link_tree(tmp_path, paragraphs)
    recs = read_input(notes)
    assert fates(recs) == {
        "a.txt": (("doc", None),),
        "alias.txt": (("skipped", "symlink"),),
        "dangling.txt": (("skipped", "symlink"),),
        "escape.txt": (("skipped", "path_escapes_root"),),
        "in_dir": (("skipped", "symlink"),),
        "out_dir": (("skipped", "symlink"),),
        "sub/b.txt": (("doc", None),),
        "sub/up.txt": (("skipped", "path_escapes_root"),),
    }
    assert str(tmp_path / "outside" / "secret.txt") in recs["escape.txt"][0].reason
    assert not any(secret in (r.text or "") + (r.excerpt or "") for rs in recs.values() for r in rs)


def test_links_matched_by_a_glob_follow_the_code_tree_policy(tmp_path, paragraphs):
    """glob.glob follows linked directories: what it finds through them is recorded, never read."""
    notes, secret = link_tree(tmp_path, paragraphs)
    recs = read_input(f"{notes}/**/*.txt")
    assert fates(recs) == {
        "a.txt": (("doc", None),),
        "alias.txt": (("skipped", "symlink"),),
        "dangling.txt": (("skipped", "symlink"),),
        "escape.txt": (("skipped", "path_escapes_root"),),
        "in_dir/b.txt": (("skipped", "symlink"),),
        "in_dir/up.txt": (("skipped", "path_escapes_root"),),
        "out_dir/secret.txt": (("skipped", "path_escapes_root"),),
        "sub/b.txt": (("doc", None),),
        "sub/up.txt": (("skipped", "path_escapes_root"),),
    }
    assert "in_dir" in recs["in_dir/b.txt"][0].reason
    assert not any(secret in (r.text or "") + (r.excerpt or "") for rs in recs.values() for r in rs)


def test_a_file_named_as_the_input_is_read_even_through_a_link(tmp_path, paragraphs):
    notes, secret = link_tree(tmp_path, paragraphs)
    assert [r.text for r in read_input(notes / "escape.txt")["escape.txt"]] == [secret]


# ---- I/O errors: the task fails (and Spark retries it), the file is not quarantined -------------------

def test_a_real_read_error_is_raised_not_quarantined():
    """Reading /proc/self/mem at offset 0 fails in the kernel with EIO (Input/output error), as a bad
    disk or a lost mount does: the storage failed, so the reader raises instead of recording the file."""
    (task,) = list_tasks([InputConfig(source="t", kind="text", path="/proc/self/mem", format="text")], CFG)
    with pytest.raises(Exception, match=r"/proc/self/mem: OSError: \[Errno 5\] Input/output error") as raised:
        list(read_task(task, CFG))  # before: one `unreadable_file` record
    assert type(raised.value).__name__ == "InputUnavailable"


def test_a_permission_error_is_raised_not_quarantined(tmp_path, paragraphs):
    if os.geteuid() == 0:
        pytest.skip("root reads files whatever their mode")
    locked = tmp_path / "locked.txt"
    locked.write_text(paragraphs[0])
    locked.chmod(0)
    (task,) = list_tasks([InputConfig(source="t", kind="text", path=str(locked))], CFG)
    with pytest.raises(Exception, match="PermissionError") as raised:
        list(read_task(task, CFG))
    assert type(raised.value).__name__ == "InputUnavailable"


def write_pipeline(tmp_path, paragraphs, *, master: str) -> str:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    (data / "docs.jsonl").write_text("".join(json.dumps({"text": p}) + "\n" for p in paragraphs[:10]))
    (data / "notes.txt").write_text(paragraphs[10])
    config = tmp_path / f"pipeline-{master}.yaml"
    config.write_text(yaml.safe_dump({"spark": {"master": master, "driver_memory": "1g", "shuffle_partitions": 2},
                                      "inputs": [{"source": "docs", "kind": "text", "path": str(data)}]}))
    return str(config)


def ingested(root) -> tuple[dict, list]:
    """(documents per input file, quarantine reason codes) as committed under `root`."""
    raw = DeltaTable(str(root / "tables" / "docs_raw")).to_pyarrow_table(columns=["uri"]).column("uri").to_pylist()
    quarantine = DeltaTable(str(root / "tables" / "quarantine")).to_pyarrow_table(columns=["reason_code"])
    return dict(Counter(raw)), quarantine.column("reason_code").to_pylist()


def test_a_read_timeout_fails_the_job_clearly_instead_of_quarantining_the_file(tmp_path, paragraphs):
    """local[2]: one attempt per task. The storage times out opening docs.jsonl: the job fails naming
    the file; neither table gets a row, no file is recorded as unreadable."""
    config = write_pipeline(tmp_path, paragraphs, master="local[2]")
    done = run_curate(["ingest", "--config", config, "--root", str(tmp_path / "root")], fault="open:docs.jsonl",
                      extra_env={"CURATE_FAULT_ACTION": "oserror"}, timeout=600)
    assert done.returncode == 2, done.stderr[-3000:]
    last = done.stderr.strip().splitlines()[-1]  # curate's one-line error, after Spark's own task log
    assert "ERROR curate: cannot read input file" in last and "docs.jsonl: TimeoutError: fault injected" in last
    assert not (tmp_path / "root" / "tables" / "docs_raw" / "_delta_log").exists()
    assert not (tmp_path / "root" / "tables" / "quarantine" / "_delta_log").exists()


def test_a_read_timeout_is_retried_by_spark(tmp_path, paragraphs):
    """local[2,3]: up to 3 attempts per task. The first open of docs.jsonl times out, the retried
    task reads it: every document ingested, nothing quarantined."""
    config = write_pipeline(tmp_path, paragraphs, master="local[2,3]")
    marker = tmp_path / "fault-fired"
    done = run_curate(["ingest", "--config", config, "--root", str(tmp_path / "root")], fault="open:docs.jsonl",
                      extra_env={"CURATE_FAULT_ACTION": "oserror", "CURATE_FAULT_ONCE": str(marker)}, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert marker.exists()  # the fault did fire once
    docs, refused = ingested(tmp_path / "root")
    assert docs == {"docs.jsonl": 10, "notes.txt": 1} and refused == []


# ---- a file quarantined as unreadable is read again by the next run ----------------------------------

def test_a_file_quarantined_as_unreadable_is_read_again_by_the_next_run(spark, tmp_path, paragraphs):
    """books.parquet is unreadable (a corrupt footer) in run 1 and readable again with the same size and
    mtime (a reader or library fixed meanwhile): `curate run` must not skip ingest as unchanged, and the
    file's `unreadable_file` row gives way to its documents (records read = documents + quarantine)."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "notes.txt").write_text(paragraphs[0])
    books = data / "books.parquet"
    pq.write_table(pa.table({"text": paragraphs[1:6]}), books)
    good, stat = books.read_bytes(), books.stat()
    books.write_bytes(good[:-40] + b"\xff" * 32 + good[-8:])  # the footer's metadata, same length
    os.utime(books, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    cfg = PipelineConfig(root=str(tmp_path / "root"), inputs=[{"source": "t", "kind": "text", "path": str(data)}])
    ctx = StageContext(spark=spark, cfg=cfg, store=open_store(spark, cfg.root), run_id="run1")

    def run(n: int):
        run_stage(dataclasses.replace(ctx, run_id=f"run{n}"), "ingest", run_ingest, skip_unchanged=True)
        (row,) = ctx.store.read("runs").where(f"run_id = 'run{n}'").collect()
        raw = ctx.store.read("docs_raw").groupBy("uri").count().collect()
        refused = [(r.uri, r.reason_code) for r in ctx.store.read("quarantine").collect()]
        return row.status, {r.uri: r["count"] for r in raw}, refused

    assert run(1) == ("succeeded", {"notes.txt": 1}, [("books.parquet", "unreadable_file")])
    books.write_bytes(good)
    os.utime(books, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert books.stat().st_size == stat.st_size and books.stat().st_mtime_ns == stat.st_mtime_ns
    assert run(2) == ("succeeded", {"notes.txt": 1, "books.parquet": 5}, [])
    assert run(3) == ("skipped", {"notes.txt": 1, "books.parquet": 5}, [])  # nothing left to read again


# ---- bounds on WARC and Parquet inputs ----------------------------------------------------------------

HTML_PAGES = sorted(Path("/usr/share/doc/python3-dev/html/library").glob("*.html"))


def write_warc(path, pages: list[bytes]) -> None:
    """A gzipped WARC (one member per record, as crawlers write) with one HTML response per page."""
    with open(path, "wb") as out:
        writer = WARCWriter(out, gzip=True)
        for i, page in enumerate(pages):
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(f"https://docs.python.org/3/library/{i}.html", "response",
                                                          payload=BytesIO(page), http_headers=http))


def test_a_warc_is_read_up_to_max_decompressed_bytes(tmp_path):
    """Real pages, 40 records: the records inflating past the bound are refused as one
    `decompression_limit` row where reading stopped; the records before it are documents."""
    pages = [p.read_bytes() for p in HTML_PAGES[:40]]
    write_warc(tmp_path / "crawl.warc.gz", pages)
    limit = sum(map(len, pages[:20]))
    recs = read_input(tmp_path, cfg=IngestConfig(max_decompressed_bytes=limit))["crawl.warc.gz"]
    *docs, stop = recs
    assert [r.fate for r in docs] == ["doc"] * len(docs) and 15 <= len(docs) < 20
    assert stop.reason_code == "decompression_limit" and f"max_decompressed_bytes={limit}" in stop.reason
    assert [r.fate for r in read_input(tmp_path)["crawl.warc.gz"]] == ["doc"] * 40  # the default bound


def test_a_warc_bomb_record_stops_at_the_bound(tmp_path):
    """A record of 200 MB of HTML inflating from 200 KB, between two real pages: reading stops once
    50 MB are inflated (warcio inflates a record to its end before it tells its offset), as one
    `decompression_limit` row after the page read before it."""
    page = HTML_PAGES[0].read_bytes()
    bomb = page[:-20] + b"<p>" + b"spam " * 40_000_000 + page[-20:]
    write_warc(tmp_path / "bomb.warc.gz", [HTML_PAGES[1].read_bytes(), bomb, HTML_PAGES[2].read_bytes()])
    assert (tmp_path / "bomb.warc.gz").stat().st_size < 2_000_000
    cfg = IngestConfig(max_doc_bytes=1_000_000, max_decompressed_bytes=50_000_000)
    started = time.monotonic()
    recs = read_input(tmp_path, cfg=cfg)["bomb.warc.gz"]
    assert [(r.fate, r.reason_code) for r in recs] == [("doc", None), ("quarantined", "decompression_limit")]
    assert time.monotonic() - started < 10


def test_an_oversized_warc_record_is_refused_and_the_rest_read(tmp_path):
    pages = [p.read_bytes() for p in HTML_PAGES[:5]]
    pages[2] = pages[2] * (1_000_000 // len(pages[2]) + 1)  # above 4 x max_doc_bytes=200,000
    write_warc(tmp_path / "crawl.warc.gz", pages)
    recs = read_input(tmp_path, cfg=IngestConfig(max_doc_bytes=200_000))["crawl.warc.gz"]
    assert [(r.fate, r.reason_code) for r in recs] == [("doc", None)] * 2 + [("quarantined", "too_large")] + [
        ("doc", None)] * 2


def test_a_parquet_file_is_read_up_to_max_decompressed_bytes(tmp_path):
    texts = [p.read_text(encoding="utf-8") for p in HTML_PAGES[:60]]
    pq.write_table(pa.table({"text": texts}), tmp_path / "pages.parquet", row_group_size=10, compression="zstd")
    meta = pq.ParquetFile(tmp_path / "pages.parquet").metadata
    limit = sum(meta.row_group(i).total_byte_size for i in range(3))  # the first three row groups
    recs = read_input(tmp_path, cfg=IngestConfig(max_decompressed_bytes=limit))["pages.parquet"]
    assert [r.fate for r in recs[:30]] == ["doc"] * 30 and [r.text for r in recs[:30]] == texts[:30]
    assert [(r.reason_code, r.offset) for r in recs[30:]] == [("decompression_limit", 30)]
    assert f"max_decompressed_bytes={limit}" in recs[30].reason
    assert len(read_input(tmp_path)["pages.parquet"]) == 60  # the default bound


def test_an_oversized_parquet_value_is_refused_from_its_length(tmp_path):
    """A 60 MB text among real pages: a `too_large` row with an excerpt, the other rows documents; the
    oversized value never becomes a Python string."""
    texts = [p.read_text(encoding="utf-8") for p in HTML_PAGES[:6]]
    texts[3] = texts[3] * (60_000_000 // len(texts[3]) + 1)
    titles = [p.stem * 2000 for p in HTML_PAGES[:6]]  # a long metadata value, cut to 4096 characters
    pq.write_table(pa.table({"text": texts, "title": titles}), tmp_path / "pages.parquet", compression="zstd")
    tracemalloc.start()  # Python's own allocations: a str or bytes of the 60 MB text would show
    try:
        recs = read_input(tmp_path)["pages.parquet"]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [(r.fate, r.reason_code, r.offset) for r in recs] == [
        ("doc", None, i) if i != 3 else ("quarantined", "too_large", 3) for i in range(6)]
    assert f"text is {len(texts[3].encode())} bytes, above ingest.max_doc_bytes=10000000" in recs[3].reason
    assert recs[3].excerpt == texts[3][:256]
    assert recs[0].text == texts[0] and recs[0].metadata == {"title": titles[0][:4096]}
    assert peak < 20_000_000, peak
