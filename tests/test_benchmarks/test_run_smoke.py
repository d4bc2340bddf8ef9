"""The end-to-end benchmark's smoke run: the whole pipeline, every limit and the chart on 2 MB."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_benchmark_smoke_writes_every_stage_and_limit(tmp_path):
    out = tmp_path / "run.json"
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "run.py"), "--smoke", "--no-peers", "--delta-engine", "native,delta-rs",
         "--work", str(tmp_path / "work"), "--out", str(out)],
        capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(out.read_text())
    (size,) = result["sizes"]
    stages = size["curate"]["stages"]
    assert set(stages) == {"ingest", "annotate", "dedup", "tokenize", "mix"}
    assert all(s["status"] == "succeeded" for s in stages.values())
    for name in ("ingest", "annotate", "dedup", "tokenize"):
        assert stages[name]["mb_in"] > 0
        assert stages[name]["ratio_to_limit"] > 0
        assert size["limits"][name]["mb_per_s_per_core"] > 0
    assert stages["annotate"]["rules_only"]["wall_s"] > 0
    assert size["curate"]["peak_driver_rss_mb"] > 100  # the JVM alone is larger
    assert size["curate"]["peak_executor_workers_rss_mb"] > 0
    assert out.with_suffix(".png").stat().st_size > 10_000
    # both engines ran the same corpus: every stage's seconds on delta-rs over those on Spark's Delta
    assert set(size["engines"]) == {"native", "delta-rs"}
    assert set(size["engine_ratio"]["delta-rs"]) == {*stages, "end_to_end"}
    assert all(r > 0 for r in size["engine_ratio"]["delta-rs"].values())
