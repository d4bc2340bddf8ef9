"""lid.176 + lingua on the labelled paragraph set (tests/data/langid/labelled.jsonl): the quality goal
on the evaluation split, which calibration never saw."""

from __future__ import annotations

import collections
import json
from pathlib import Path

import pytest

from curate.quality.config import EnsembleConfig
from curate.quality.langid import LangPrediction, LanguageIdentifier
from curate.quality.lid_ensemble import LanguageEnsemble, LinguaDetector, vote

LABELLED = Path(__file__).parents[1] / "data" / "langid" / "labelled.jsonl"
MIN_OVERALL = 0.98
MIN_PER_LANGUAGE = 0.95


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return [json.loads(line) for line in LABELLED.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def ensemble() -> LanguageEnsemble:
    cfg = EnsembleConfig()
    return LanguageEnsemble(LanguageIdentifier(), below_score=cfg.below_score, top_k=cfg.top_k,
                            low_accuracy=cfg.low_accuracy, max_chars=cfg.max_chars)


def accuracy(rows: list[dict], predict) -> dict[str, float]:
    total, correct = collections.Counter(), collections.Counter()
    for row in rows:
        total[row["lang"]] += 1
        correct[row["lang"]] += predict(row["text"]) == row["lang"]
    return {lang: correct[lang] / total[lang] for lang in total} | {"*": sum(correct.values()) / len(rows)}


def test_the_set_has_12_languages_of_250_paragraphs_and_splits_that_share_no_page(rows):
    evaluation = collections.Counter(r["lang"] for r in rows if r["split"] == "evaluation")
    assert len(evaluation) >= 12 and min(evaluation.values()) >= 250, evaluation
    assert {r["split"] for r in rows} == {"evaluation", "calibration"}
    pages = {split: {r["page"] for r in rows if r["split"] == split} for split in ("evaluation", "calibration")}
    assert not pages["evaluation"] & pages["calibration"]


def test_quality_goal_on_the_evaluation_split(rows, ensemble):
    evaluation = [r for r in rows if r["split"] == "evaluation"]
    alone = accuracy(evaluation, lambda text: ensemble.first.predict(text).lang)
    both = accuracy(evaluation, lambda text: ensemble.predict(text).lang)
    print("lid.176 alone:", {k: round(v, 3) for k, v in sorted(alone.items())})
    print("ensemble:", {k: round(v, 3) for k, v in sorted(both.items())})
    assert both["*"] >= MIN_OVERALL and both["*"] > alone["*"]
    assert min(both.values()) >= MIN_PER_LANGUAGE, both


def test_lingua_is_asked_only_where_lid176_is_unsure(rows, ensemble):
    for row in rows[::50]:
        pred, first = ensemble.predict(row["text"]), ensemble.first.predict(row["text"])
        assert pred.fasttext == first
        if first.score >= ensemble.below_score:
            assert pred.lingua is None and (pred.lang, pred.score) == (first.lang, first.score)


def test_lingua_chooses_only_among_two_or_more_languages_it_knows():
    lingua = LinguaDetector()
    text = "Dit is een Nederlandse zin over de handleiding van het programma."
    assert lingua.confidences(text, ["nl", "zz"]) is None  # `zz`: no language
    assert lingua.confidences(" \n", ["nl", "en"]) is None
    best, *_ = lingua.confidences(text, ["en", "nl", "af"])
    assert best[0] == "nl" and 0.5 < best[1] <= 1
    assert {lang for lang, _ in lingua.confidences("Det här är en mening på svenska om programmet.",
                                                   ["sv", "no"])} == {"sv", "no"}  # lid.176's Norwegian


def test_the_vote_averages_both_detectors_scores():
    first = LangPrediction("en", 0.5, (("en", 0.5), ("nl", 0.4)))
    assert vote(first, [("nl", 0.9), ("en", 0.1)]) == pytest.approx(("nl", 0.65))
    assert vote(first, [("en", 0.6), ("nl", 0.4)]) == pytest.approx(("en", 0.55))
