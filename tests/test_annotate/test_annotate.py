"""The annotate stage under Spark: pipeline transform, job, --rules-only, decontamination."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from curate.delta.store import open_store
from curate.jobs.annotate import run_annotate
from curate.jobs.common import StageContext
from curate.pipelines.annotate import annotate
from curate.quality.annotator import Annotator
from curate.quality.config import AnnotateConfig
from curate.quality.schema import DOCS_ANNOTATED_SCHEMA
from curate.schemas.config import PipelineConfig
from curate.schemas.tables import DOCS_ANNOTATED, DOCS_RAW, DOCS_RAW_SCHEMA

LANGID_SET = Path(__file__).parents[1] / "data" / "langid" / "manpages.jsonl"


Cfg = PipelineConfig


def _raw_rows() -> list[tuple]:
    import argparse

    gpl = Path("/usr/share/common-licenses/GPL-3").read_text(encoding="utf-8")
    changelog = gzip.open("/usr/share/doc/apt/changelog.gz", "rt", encoding="utf-8").read()[:8000]
    german = " ".join(json.loads(line)["text"] for line in LANGID_SET.read_text(encoding="utf-8").splitlines()
                      if json.loads(line)["lang"] == "de")
    code = Path(argparse.__file__).read_text(encoding="utf-8")
    docs = [
        ("gpl", "text", "licenses/GPL-3", gpl + "\nWrite to maintainer@fsf-mail.org from 8.8.4.4.\n"),
        ("changelog", "text", "apt/changelog", changelog),
        ("german", "text", "man/de", german),
        ("code", "code", "lib/argparse.py", code + '\nAPI_TOKEN = "q8Z3kLmN0pR7sT2vW9xY4"\n'),
        ("empty", "text", "empty.txt", ""),
        ("emoji", "text", "emoji.txt", "😀🎉🚀"),
    ]
    return [(f"id-{name}", name, "test", kind, text, uri, 0, uri, len(text.encode()), {}, "ingest-1")
            for name, kind, uri, text in docs]


@pytest.fixture(scope="module")
def raw_df(spark):
    return spark.createDataFrame(_raw_rows(), DOCS_RAW_SCHEMA).repartition(2)


def test_stage_under_spark_equals_plain_python(spark, raw_df):
    cfg = AnnotateConfig()
    out = {r["doc_id"]: r for r in annotate(raw_df, cfg).collect()}
    assert len(out) == len(_raw_rows())
    plain = Annotator(cfg)
    for raw in _raw_rows():
        doc_id, _, source, kind, text, uri = raw[:6]
        want = plain.annotate(text=text, kind=kind, source=source, uri=uri)
        got = out[doc_id]
        assert got["text"] == want["text"]
        assert dict(got["signals"]) == pytest.approx(want["signals"])
        assert (got["keep"], list(got["drop_reasons"])) == (want["keep"], want["drop_reasons"])
        assert got["lang"] == want["lang"]


def test_stage_outputs(spark, raw_df):
    out = {r["doc_id"]: r for r in annotate(raw_df, AnnotateConfig()).collect()}
    gpl, german, code = out["id-gpl"], out["id-german"], out["id-code"]
    assert gpl["lang"] == "en" and gpl["lang_score"] > 0.9 and len(gpl["lang_top"]) == 3
    assert "<EMAIL>" in gpl["text"] and "<IPV4>" in gpl["text"]
    assert dict(gpl["pii_counts"]) == {"EMAIL": 1, "IPV4": 1}
    assert gpl["keep"] and gpl["drop_reasons"] == []
    assert german["lang"] == "de"
    assert code["code_lang"] == "python" and code["lang"] is None and code["keep"]
    assert code["lang_fasttext"] is None and code["lang_lingua"] is None  # code keeps its own handling
    assert '"<SECRET_TOKEN>"' in code["text"]
    assert not out["id-changelog"]["keep"] and out["id-changelog"]["drop_reasons"]
    assert not out["id-empty"]["keep"] and out["id-empty"]["lang"] is None
    assert "min_gopher_word_count" in out["id-emoji"]["drop_reasons"]
    assert all(r["quality_score"] is None for r in out.values())


def _keep_per_file(store) -> list[tuple]:
    """(min, max) of keep in each docs_annotated data file, read from the file."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    from deltalake import DeltaTable

    from curate.storage import local_path

    keeps = [pq.read_table(local_path(f), columns=["keep"])["keep"]
             for f in DeltaTable(store.path(DOCS_ANNOTATED)).file_uris()]
    return sorted((pc.min(k).as_py(), pc.max(k).as_py()) for k in keeps)


def test_job_rules_only_and_decontamination(spark, tmp_path, delta_engine):
    store = open_store(spark, str(tmp_path / "root"), engine=delta_engine)
    # kept and dropped documents are written to separate files (readers of kept ones skip the others)
    split = {(False, False), (True, True)}
    store.append(spark.createDataFrame(_raw_rows(), DOCS_RAW_SCHEMA), DOCS_RAW, schema=DOCS_RAW_SCHEMA)
    ctx = StageContext(spark=spark, cfg=Cfg(root=str(tmp_path / "root")), store=store, run_id="r1")
    first = run_annotate(ctx)
    assert first.rows_in == first.rows_out == 6
    assert first.counts["kept"] == 2 and first.counts["dropped"] == 4
    assert first.counts["dropped_min_gopher_word_count"] >= 2
    assert set(_keep_per_file(store)) == split
    table = store.read(DOCS_ANNOTATED)
    assert table.columns == DOCS_ANNOTATED_SCHEMA.names
    assert table.filter(F.col("annotate_run_id") != "r1").count() == 0
    signals_before = {r["doc_id"]: dict(r["signals"]) for r in table.collect()}
    texts_before = {r["doc_id"]: r["text"] for r in table.collect()}

    # --rules-only with a stricter rule: verdicts change, signals do not
    strict = Cfg(root=str(tmp_path / "root"),
                 annotate=AnnotateConfig.model_validate({"rules": {"code": {"max_code_max_line_length": 10}}}))
    ctx2 = StageContext(spark=spark, cfg=strict, store=store, run_id="r2", options={"rules_only": True})
    second = run_annotate(ctx2)
    assert second.counts["kept"] == 1 and second.counts["dropped_max_code_max_line_length"] == 1
    after = {r["doc_id"]: r for r in store.read(DOCS_ANNOTATED).collect()}
    assert {k: dict(r["signals"]) for k, r in after.items()} == signals_before
    assert {k: r["text"] for k, r in after.items()} == texts_before
    assert store.version(DOCS_ANNOTATED) == 1  # one commit
    assert set(_keep_per_file(store)) == split
    assert after["id-code"]["drop_reasons"] == ["max_code_max_line_length"]
    assert after["id-code"]["annotate_run_id"] == "r1"  # the annotation itself is unchanged

    # decontamination: one GPL sentence in an evaluation set flags the GPL document only
    evals = tmp_path / "eval.jsonl"
    sentence = "The GNU General Public License is a free, copyleft license for software and other kinds of works."
    evals.write_text(json.dumps({"text": sentence}) + "\n")
    dec = Cfg(root=str(tmp_path / "root"),
              annotate=AnnotateConfig.model_validate({"decontam": {"eval_paths": [str(evals)]}}))
    third = run_annotate(StageContext(spark=spark, cfg=dec, store=store, run_id="r3"))
    rows = {r["doc_id"]: r for r in store.read(DOCS_ANNOTATED).collect()}
    assert rows["id-gpl"]["signals"]["contam_ngram_matches"] >= 1
    assert rows["id-gpl"]["drop_reasons"] == ["max_contam_ngram_matches"]
    assert rows["id-german"]["signals"]["contam_ngram_matches"] == 0
    assert third.counts["dropped_max_contam_ngram_matches"] == 1
