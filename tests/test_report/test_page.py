"""The page itself, without Spark: empty sections and hostile labels."""

from __future__ import annotations

import json
import re

from curate.report.page import render

EMPTY = {
    "run": {"run_id": "r1", "root": "/x", "config_hash": "h", "stages": "ingest (failed)", "versions": {},
            "generated_at": "2026-01-01T00:00:00+00:00"},
    "funnel": {}, "drops": [], "languages": {}, "signals": [], "clusters": [], "line_dedup": [], "mixture": [], "timings": [],
    "settings": {},
}


def embedded(html: str) -> dict:
    return json.loads(re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html, re.DOTALL)[1])


def test_a_run_without_data_says_so_instead_of_drawing_empty_charts():
    html = render(EMPTY)
    assert embedded(html) == {"charts": []}
    assert "documents through each stage: no data" in html and "no shard version under this root" in html
    assert "<figure" not in html


def test_labels_cannot_close_the_script_or_inject_markup():
    hostile = "</script><img src=x onerror=alert(1)>"
    data = {**EMPTY, "drops": [{"stage": "ingest", "reason": hostile, "documents": 3}],
            "timings": [{"stage": hostile, "status": "succeeded", "engine": "native", "started_at": "t", "seconds": 1.0, "rows_in": 1,
                         "rows_out": 1, "rows_per_s": 1.0, "tokens": None, "message": ""}]}
    html = render(data)
    assert "<img" not in html
    assert embedded(html)["charts"][0]["categories"] == [f"ingest {hostile}"]
