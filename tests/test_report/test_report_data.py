"""The report's numbers against the tables read independently (delta-rs + pyarrow, no Spark)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from curate.cli import main
from curate.jobs.common import StageContext
from curate.report.aggregate import HISTOGRAM_BINS, versions_at_end
from curate.report.build import report_data
from curate.schemas.config import load_pipeline_config


def table(root: Path, name: str, columns: list[str]) -> list[dict]:
    return pa.table(DeltaTable(str(root / "tables" / name)).to_pyarrow_table(columns=columns)).to_pylist()


@pytest.fixture(scope="module")
def data(sample_run):
    cfg = load_pipeline_config(sample_run["config"])
    store = sample_run["store"]
    return report_data(StageContext(spark=store.spark, cfg=cfg, store=store, run_id="report-test"))


def test_funnel_matches_the_tables(data, sample_run):
    root = sample_run["root"]
    raw = table(root, "docs_raw", ["source", "n_bytes"])
    ann = table(root, "docs_annotated", ["source", "keep"])
    tok = table(root, "docs_tokenized", ["source", "n_tokens"])
    quarantine = table(root, "quarantine", ["source", "stage", "action"])
    for source, counts in data["funnel"].items():
        assert counts["raw"] == sum(r["source"] == source for r in raw)
        assert counts["raw_bytes"] == sum(r["n_bytes"] for r in raw if r["source"] == source)
        assert counts["kept"] == sum(r["source"] == source and r["keep"] for r in ann)
        assert counts.get("tokens", 0) == sum(r["n_tokens"] for r in tok if r["source"] == source)
        assert counts.get("quarantined", 0) == sum(
            r["source"] == source and r["stage"] == "ingest" and r["action"] == "quarantined" for r in quarantine)
    assert set(data["funnel"]) == {r["source"] for r in raw + quarantine}
    assert data["funnel"]["bad"].get("quarantined", 0) > 0


def test_drop_reasons_and_languages_match_the_tables(data, sample_run):
    ann = table(sample_run["root"], "docs_annotated", ["kind", "lang", "code_lang", "keep", "drop_reasons"])
    want = Counter(reason for r in ann for reason in r["drop_reasons"] or [])
    got = {d["reason"]: d["documents"] for d in data["drops"] if d["stage"] == "annotate"}
    assert got == dict(want) and got
    clusters = table(sample_run["root"], "dup_clusters", ["kind", "is_kept", "cluster_size"])
    dups = Counter(f"duplicate:{r['kind']}" for r in clusters if not r["is_kept"])
    assert {d["reason"]: d["documents"] for d in data["drops"] if d["stage"] == "dedup"} == dict(dups)
    text = Counter((r["lang"] or "unknown", r["keep"]) for r in ann if r["kind"] == "text")
    for x in data["languages"]["text"]:
        assert (x["kept"], x["dropped"]) == (text[(x["lang"], True)], text[(x["lang"], False)])
    # every cluster's members: sizes x clusters add up to the rows of dup_clusters
    assert sum(c["size"] * c["clusters"] for c in data["clusters"]) == len(clusters)


def test_signal_histograms_count_every_document_once(data, sample_run):
    ann = table(sample_run["root"], "docs_annotated", ["kind", "signals", "keep"])
    for h in data["signals"]:
        values = [dict(r["signals"])[h["signal"]] for r in ann
                  if r["kind"] == h["kind"] and dict(r["signals"] or []).get(h["signal"]) is not None]
        assert len(h["kept"]) == len(h["dropped"]) == HISTOGRAM_BINS
        assert sum(h["kept"]) + sum(h["dropped"]) == h["documents"] == len(values), h["signal"]
        assert h["lo"] < h["hi"] and (h["min"], h["max"]) == (min(values), max(values))
    alpha = next(h for h in data["signals"] if h["signal"] == "gopher_alpha_word_frac" and h["kind"] == "text")
    assert alpha["thresholds"] == {"min": 0.8} and alpha["lo"] <= 0.8 <= alpha["hi"]


def test_mixture_and_timings_come_from_the_run(data, sample_run):
    runs = table(sample_run["root"], "runs", ["run_id", "stage", "duration_s", "message"])
    mine = {r["stage"]: r for r in runs if r["run_id"] == sample_run["run_id"]}
    assert [t["stage"] for t in data["timings"]] == ["ingest", "annotate", "dedup", "tokenize", "mix"]
    assert all(t["seconds"] == mine[t["stage"]]["duration_s"] for t in data["timings"])
    version_dir = Path(mine["mix"]["message"])
    assert [m["stage"] for m in data["mixture"]] == ["pretrain", "anneal"]
    for m in data["mixture"]:
        manifest = json.loads((version_dir / m["stage"] / "manifest.json").read_text())
        assert m["tokens"] == manifest["tokens"]
        assert {c["name"]: c["realized_share"] for c in m["components"]} == {
            n: c["realized_share"] for n, c in manifest["components"].items()}


def test_tables_are_read_as_of_the_run(sample_run):
    store = sample_run["store"]
    long_ago = [{"started_at": datetime(2001, 1, 1), "duration_s": 1.0}]
    assert versions_at_end(store, long_ago, ("docs_raw", "runs")) == {}
    now = [{"started_at": datetime.now() + timedelta(minutes=1), "duration_s": 1.0}]
    assert versions_at_end(store, now, ("docs_raw",)) == {"docs_raw": store.version("docs_raw")}


def test_unknown_run_id_is_refused_with_the_recent_runs(sample_run, caplog):
    rc = main(["report", "--root", str(sample_run["root"]), "--run-id", "nope"])
    assert rc == 2 and "run 'nope' is not in the runs table" in caplog.text and sample_run["run_id"] in caplog.text
