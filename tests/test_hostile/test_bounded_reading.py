"""Hostile JSONL read with bounded memory: a huge line is skipped, not held; a run of blank lines is one record."""

from __future__ import annotations

import gzip
import json
import tracemalloc

from curate.ingest.readers import read_task
from curate.ingest.records import FileTask
from curate.schemas.config import IngestConfig


def test_a_line_far_above_max_doc_bytes_is_refused_without_holding_it(tmp_path):
    text = open(json.__file__, encoding="utf-8").read()  # real prose and code: the json module's source
    path = tmp_path / "huge.jsonl.gz"
    huge = json.dumps({"text": text * (24_000_000 // len(text))})
    path.write_bytes(gzip.compress((huge + "\n" + json.dumps({"text": text}) + "\n").encode(), compresslevel=1))
    cfg = IngestConfig(max_doc_bytes=100_000)
    tracemalloc.start()
    recs = list(read_task(FileTask(str(path), "huge.jsonl.gz", "jsonl", "s", "text"), cfg))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert [(r.fate, r.reason_code) for r in recs] == [("quarantined", "too_large"), ("doc", None)]
    assert f"line is {len(huge) + 1} bytes" in recs[0].reason
    assert recs[1].offset == len(huge) + 1 and recs[1].text == text
    assert peak < 8_000_000, f"peak {peak} bytes while reading a {len(huge)}-byte line"


def test_blank_line_runs_are_one_record_at_their_first_offset(tmp_path):
    path = tmp_path / "blanks.jsonl"
    doc = json.dumps({"text": "Return a JSON string representation of a Python data structure."})
    path.write_text(doc + "\n" + "\n  \n\t\r\n" * 50_000 + doc + "\n\n")
    recs = list(read_task(FileTask(str(path), "blanks.jsonl", "jsonl", "s", "text"), IngestConfig()))
    assert [(r.fate, r.reason_code, r.offset) for r in recs] == [
        ("doc", None, 0), ("skipped", "blank_line", len(doc) + 1),
        ("doc", None, len(doc) + 1 + 7 * 50_000), ("skipped", "blank_line", 2 * len(doc) + 2 + 7 * 50_000)]
    assert recs[1].reason == "150000 blank lines" and recs[3].reason == "blank line"


def test_a_blank_run_stops_at_the_end_of_its_split(tmp_path):
    path = tmp_path / "split.jsonl"
    doc = json.dumps({"text": "Deserialize a str instance containing a JSON document to a Python object."})
    path.write_text(doc + "\n" + "\n" * 100 + doc + "\n")
    first = FileTask(str(path), "split.jsonl", "jsonl", "s", "text", start=0, end=len(doc) + 51)
    second = FileTask(str(path), "split.jsonl", "jsonl", "s", "text", start=len(doc) + 51, end=-1)
    recs = [r for t in (first, second) for r in read_task(t, IngestConfig())]
    assert [(r.reason_code, r.reason) for r in recs if r.fate != "doc"] == [("blank_line", "50 blank lines"),
                                                                          ("blank_line", "50 blank lines")]
    assert [r.offset for r in recs if r.fate == "doc"] == [0, len(doc) + 101]
