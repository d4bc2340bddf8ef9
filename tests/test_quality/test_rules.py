import pytest

from curate.errors import ConfigError
from curate.quality.config import AnnotateConfig
from curate.quality.rules import CODE_KIND_RULES, TEXT_RULES, RulesConfig, decide
from curate.quality.signals import compute_signals
from curate.schemas.config import parse_model

RULES = RulesConfig()


def _violate(name: str, threshold: float) -> float:
    return threshold - 1 if name.startswith("min_") else threshold + 1


@pytest.mark.parametrize("name", [n for n, t in TEXT_RULES.items() if t is not None])
def test_each_text_rule_is_its_own_drop_reason(name, gpl3):
    signals = compute_signals(gpl3, kind="text")
    rules = RULES.resolve(source="s", kind="text", lang="en", code_lang=None)
    assert decide(signals, rules) == (True, [])
    signals[name[4:]] = _violate(name, rules[name])
    assert decide(signals, rules) == (False, [name])


@pytest.mark.parametrize("name", [n for n, t in CODE_KIND_RULES.items() if t is not None])
def test_each_code_rule_is_its_own_drop_reason(name, python_source):
    signals = compute_signals(python_source, kind="code", code_lang="python", uri="argparse.py")
    rules = RULES.resolve(source="s", kind="code", lang=None, code_lang="python")
    assert decide(signals, rules) == (True, [])
    signals[name[4:]] = _violate(name, rules[name])
    assert decide(signals, rules) == (False, [name])


def test_every_failed_rule_is_reported_on_a_real_changelog(changelog):
    keep, reasons = decide(compute_signals(changelog, kind="text"),
                           RULES.resolve(source="s", kind="text", lang="en", code_lang=None))
    assert not keep
    assert len(reasons) >= 3
    assert reasons == [r for r in TEXT_RULES if r in reasons]  # rule order, no duplicates


def test_empty_and_one_word_documents_are_dropped_with_reasons():
    rules = RULES.resolve(source="s", kind="text", lang="en", code_lang=None)
    for text in ("", "word", "😀🎉🚀", " \n "):
        keep, reasons = decide(compute_signals(text, kind="text"), rules)
        assert not keep and "min_gopher_word_count" in reasons


def test_thresholds_boundaries_keep():
    assert decide({"gopher_word_count": 50.0}, {"min_gopher_word_count": 50}) == (True, [])
    assert decide({"rep_dup_line_frac": 0.3}, {"max_rep_dup_line_frac": 0.3}) == (True, [])


def test_none_disables_and_missing_signals_do_not_apply():
    assert decide({"gopher_word_count": 1.0}, {"min_gopher_word_count": None}) == (True, [])
    assert decide({"quality_score": None}, {"min_quality_score": 0.5}) == (True, [])
    assert decide({}, {"max_code_max_line_length": 1000}) == (True, [])


def test_overrides_by_language_source_and_code_language():
    cfg = parse_model(AnnotateConfig, {"rules": {"overrides": [
        {"sources": ["wiki"], "set": {"min_gopher_word_count": 10}},
        {"code_langs": ["json", "yaml"], "set": {"min_code_alnum_frac": 0.5}},
        {"kinds": ["text"], "except_langs": ["en"], "set": {"min_gopher_stop_words": None}},
    ]}}, origin="test")
    r = cfg.rules
    assert r.resolve(source="wiki", kind="text", lang="en", code_lang=None)["min_gopher_word_count"] == 10
    assert r.resolve(source="web", kind="text", lang="en", code_lang=None)["min_gopher_word_count"] == 50
    assert r.resolve(source="web", kind="code", lang=None, code_lang="json")["min_code_alnum_frac"] == 0.5
    assert r.resolve(source="web", kind="text", lang="de", code_lang=None)["min_gopher_stop_words"] is None
    assert r.resolve(source="web", kind="text", lang="en", code_lang=None)["min_gopher_stop_words"] == 2


def test_default_overrides_relax_english_and_length_rules_elsewhere():
    assert RULES.resolve(source="s", kind="text", lang="fr", code_lang=None)["min_gopher_stop_words"] is None
    ja = RULES.resolve(source="s", kind="text", lang="ja", code_lang=None)
    assert ja["min_gopher_mean_word_length"] is None and ja["min_gopher_word_count"] == 50


@pytest.mark.parametrize("bad", [
    {"rules": {"text": {"min_nonexistent": 1}}},
    {"rules": {"code": {"gopher_word_count": 1}}},
    {"rules": {"overrides": [{"langs": ["en"], "set": {}}]}},
    {"rules": {"overrides": [{"kinds": ["prose"], "set": {"min_n_chars": 1}}]}},
    {"langid": {"top_k": 0}},
])
def test_invalid_rules_are_refused_with_the_key(bad):
    with pytest.raises(ConfigError, match="rules|langid"):
        parse_model(AnnotateConfig, bad, origin="pipeline.yaml")
