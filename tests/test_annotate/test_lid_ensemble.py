"""The language-ID ensemble's columns in docs_annotated, on the bundled sample's translated man pages."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from curate.pipelines.annotate import annotate
from curate.quality.config import AnnotateConfig
from curate.quality.langid import LanguageIdentifier
from curate.quality.lid_ensemble import LinguaDetector, vote
from curate.schemas.tables import DOCS_RAW_SCHEMA

MANPAGES = Path(__file__).resolve().parents[2] / "examples" / "sample" / "web" / "manpages-00.jsonl.gz"
LID_COLUMNS = ["doc_id", "text", "lang", "lang_score", "lang_top", "lang_fasttext", "lang_fasttext_score",
               "lang_lingua", "lang_lingua_score"]


@pytest.fixture(scope="module")
def lid():
    return LanguageIdentifier()


@pytest.fixture(scope="module")
def docs(lid) -> list[dict]:
    """20 of the sample's pages lid.176 is unsure of, and a sure one per language (Spark time stays short)."""
    below = AnnotateConfig().langid.ensemble.below_score
    pages = [json.loads(line) for line in gzip.open(MANPAGES, "rt", encoding="utf-8")]
    unsure = [p for p in pages if lid.predict(p["text"]).score < below]
    sure = {p["lang_hint"]: p for p in reversed(pages) if p not in unsure}
    return unsure[:20] + list(sure.values())


@pytest.fixture(scope="module")
def raw_df(spark, docs):
    rows = [(d["id"], d["id"], "web", "text", d["text"], d["url"], 0, "manpages-00.jsonl.gz",
             len(d["text"].encode()), {}, "ingest-1") for d in docs]
    return spark.createDataFrame(rows, DOCS_RAW_SCHEMA).repartition(2)


def _lid_rows(raw_df, cfg: AnnotateConfig) -> dict[str, dict]:
    return {r["doc_id"]: r.asDict(recursive=True) for r in annotate(raw_df, cfg).select(LID_COLUMNS).collect()}


def test_each_detector_is_recorded_and_lingua_votes_only_where_lid176_is_unsure(raw_df, lid, docs):
    cfg = AnnotateConfig()
    below = cfg.langid.ensemble.below_score
    out = _lid_rows(raw_df, cfg)
    assert len(out) == len(docs)
    known = LinguaDetector().known
    asked = 0
    for doc in docs:
        row = out[doc["id"]]
        first = lid.predict(row["text"])  # the text as annotate identified it: PII redacted
        assert (row["lang_fasttext"], row["lang_fasttext_score"]) == (first.lang, pytest.approx(first.score))
        assert [(t["lang"], t["score"]) for t in row["lang_top"]] == [(k, pytest.approx(s)) for k, s in first.top]
        unsure = first.score < below and sum(k in known for k, _ in first.top) >= 2
        assert (row["lang_lingua"] is not None) == unsure, doc["id"]
        if unsure:
            asked += 1
            lingua = LinguaDetector().confidences(lid.normalize(row["text"]), [k for k, _ in first.top])
            assert (row["lang_lingua"], row["lang_lingua_score"]) == (lingua[0][0], pytest.approx(lingua[0][1]))
            assert (row["lang"], row["lang_score"]) == pytest.approx(vote(first, lingua))
        else:
            assert (row["lang"], row["lang_score"]) == (first.lang, pytest.approx(first.score))
            assert row["lang_lingua_score"] is None
    assert asked > 0  # the sample has documents lid.176 is unsure of
    assert any(r["lang"] != r["lang_fasttext"] for r in out.values())  # and some where lingua's vote won


def test_off_switch_gives_lid176_alone(raw_df, lid, docs):
    off = AnnotateConfig.model_validate({"langid": {"ensemble": {"enabled": False}}})
    out = _lid_rows(raw_df, off)
    for doc in docs:
        row = out[doc["id"]]
        first = lid.predict(row["text"])  # the text as annotate identified it: PII redacted
        assert (row["lang"], row["lang_score"]) == (first.lang, pytest.approx(first.score))
        assert (row["lang_fasttext"], row["lang_fasttext_score"]) == (row["lang"], row["lang_score"])
        assert [(t["lang"], t["score"]) for t in row["lang_top"]] == [(k, pytest.approx(s)) for k, s in first.top]
        assert row["lang_lingua"] is None and row["lang_lingua_score"] is None
