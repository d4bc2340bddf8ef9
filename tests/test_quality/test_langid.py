import collections

import pytest

from curate.errors import DependencyError
from curate.quality.langid import LanguageIdentifier, default_model_path, normalize_for_lid

MIN_OVERALL = 0.97
MIN_PER_LANGUAGE = 0.97  # every language: the goal is per language, not only overall


@pytest.fixture(scope="module")
def lid():
    return LanguageIdentifier()


def test_accuracy_on_real_multilingual_paragraphs(lid, langid_rows):
    total, correct = collections.Counter(), collections.Counter()
    for row in langid_rows:
        assert len(row["text"]) >= 50
        total[row["lang"]] += 1
        correct[row["lang"]] += lid.predict(row["text"]).lang == row["lang"]
    per_lang = {lang: correct[lang] / total[lang] for lang in total}
    print("per-language accuracy:", {k: round(v, 3) for k, v in sorted(per_lang.items())})
    assert len(per_lang) >= 8
    assert sum(correct.values()) / sum(total.values()) >= MIN_OVERALL
    assert min(per_lang.values()) >= MIN_PER_LANGUAGE, per_lang


def test_top_k_alternatives_are_ranked(lid):
    pred = lid.predict("Der schnelle braune Fuchs springt über den faulen Hund.")
    assert pred.lang == "de" and len(pred.top) == 3
    assert pred.top[0] == ("de", pred.score)
    assert [s for _, s in pred.top] == sorted((s for _, s in pred.top), reverse=True)


def test_normalization_joins_lines_and_lowercases_shouting():
    assert normalize_for_lid("a\n b\t\tc\r\n", max_chars=None) == "a b c"
    assert normalize_for_lid("THIS IS SHOUTED TEXT", max_chars=None) == "this is shouted text"
    assert normalize_for_lid("x" * 500, max_chars=100) == "x" * 100
    # Only ASCII Latin letters count: shouted Greek stays, Latin shouting among others is lowered.
    assert normalize_for_lid("ΑΥΤΟ ΕΙΝΑΙ ΚΕΦΑΛΑΙΑ", max_chars=None) == "ΑΥΤΟ ΕΙΝΑΙ ΚΕΦΑΛΑΙΑ"
    assert normalize_for_lid("ÉCOLE NATIONALE ÉTÉ ß", max_chars=None) == "école nationale été ß"
    assert normalize_for_lid("Mostly lower TEXT", max_chars=None) == "Mostly lower TEXT"
    assert normalize_for_lid("ABCDE é", max_chars=None) == "ABCDE é"  # five capitals: not more than 5


def test_empty_and_whitespace_have_no_language(lid):
    for text in ("", " \n\t "):
        pred = lid.predict(text)
        assert pred.lang is None and pred.score == 0.0 and pred.top == ()


def test_configured_model_path(tmp_path):
    lid = LanguageIdentifier(model_path=str(default_model_path()), top_k=1)
    assert lid.predict("Ceci est une phrase en français.").lang == "fr"
    with pytest.raises(DependencyError, match="does not exist"):
        LanguageIdentifier(model_path=str(tmp_path / "missing.bin"))
