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


def _verdicts(rules: RulesConfig, langid_rows: list[dict]) -> dict[str, tuple[bool, list[str]]]:
    """Each language's man-page paragraphs, joined into one document, decided under `rules`."""
    out = {}
    for lang in sorted({r["lang"] for r in langid_rows}):
        text = " ".join(r["text"] for r in langid_rows if r["lang"] == lang)
        out[lang] = decide(compute_signals(text, kind="text"),
                           rules.resolve(source="man", kind="text", lang=lang, code_lang=None))
    return out


def test_a_users_override_is_added_to_the_builtin_ones(langid_rows):
    # An override for another source must not bring back the English stop-word rule for French.
    cfg = parse_model(AnnotateConfig, {"rules": {"overrides": [
        {"sources": ["wiki"], "set": {"min_gopher_word_count": 10}}]}}, origin="test")
    verdicts = _verdicts(cfg.rules, langid_rows)
    assert verdicts == _verdicts(RULES, langid_rows)
    assert verdicts["fr"] == (True, [])
    assert cfg.rules.resolve(source="wiki", kind="text", lang="fr", code_lang=None)["min_gopher_word_count"] == 10


def test_a_users_override_wins_over_a_builtin_one(langid_rows):
    cfg = parse_model(AnnotateConfig, {"rules": {"overrides": [
        {"langs": ["fr"], "set": {"min_gopher_stop_words": 2}}]}}, origin="test")
    assert _verdicts(cfg.rules, langid_rows)["fr"] == (False, ["min_gopher_stop_words"])


def test_builtin_overrides_are_dropped_only_when_named(langid_rows):
    dropped = parse_model(AnnotateConfig, {"rules": {"builtin_overrides": []}}, origin="test").rules
    assert _verdicts(dropped, langid_rows)["fr"] == (False, ["min_gopher_stop_words"])
    one = parse_model(AnnotateConfig, {"rules": {"builtin_overrides": ["no_space_word_lengths"]}},
                      origin="test").rules
    assert one.resolve(source="s", kind="text", lang="fr", code_lang=None)["min_gopher_stop_words"] == 2
    assert one.resolve(source="s", kind="text", lang="ja", code_lang=None)["min_gopher_mean_word_length"] is None
    with pytest.raises(ConfigError, match=r"rules\.builtin_overrides\.0.*no_space_word_lengths"):
        parse_model(AnnotateConfig, {"rules": {"builtin_overrides": ["stop_words"]}}, origin="pipeline.yaml")


def test_partial_text_rules_are_merged_onto_the_defaults(changelog, gpl3):
    default_reasons = decide(compute_signals(changelog, kind="text"),
                             RULES.resolve(source="s", kind="text", lang="en", code_lang=None))[1]
    assert "min_fineweb_line_punct_ratio" in default_reasons and len(default_reasons) >= 3
    partial = parse_model(AnnotateConfig, {"rules": {"text": {"min_gopher_word_count": 20, "min_fineweb_line_punct_ratio": None}}},
                          origin="test").rules
    rules = partial.resolve(source="s", kind="text", lang="en", code_lang=None)
    assert rules["min_gopher_word_count"] == 20 and rules["min_fineweb_line_punct_ratio"] is None
    assert decide(compute_signals(changelog, kind="text"), rules) == (
        False, [r for r in default_reasons if r != "min_fineweb_line_punct_ratio"])
    assert decide(compute_signals(gpl3, kind="text"), rules) == (True, [])
    assert partial.resolve(source="s", kind="code", lang=None, code_lang="python") == RULES.resolve(
        source="s", kind="code", lang=None, code_lang="python")


def test_partial_code_rules_are_merged_onto_the_defaults(python_source):
    signals = compute_signals(python_source, kind="code", code_lang="python", uri="argparse.py")
    partial = parse_model(AnnotateConfig, {"rules": {"code": {"max_code_mean_line_length": 20}}}, origin="test").rules
    rules = partial.resolve(source="s", kind="code", lang=None, code_lang="python")
    assert decide(signals, rules) == (False, ["max_code_mean_line_length"])
    # The defaults the config did not name still decide: an alphanumeric share argparse fails.
    signals["code_alnum_frac"] = 0.1
    assert decide(signals, rules) == (False, ["max_code_mean_line_length", "min_code_alnum_frac"])


def test_merged_rules_survive_the_json_round_trip_executors_make():
    rules = parse_model(AnnotateConfig, {"rules": {
        "text": {"min_gopher_word_count": 20}, "builtin_overrides": ["non_english_stop_words"],
        "overrides": [{"sources": ["wiki"], "set": {"max_c4_curly_bracket": None}}]}}, origin="test").rules
    assert RulesConfig.model_validate_json(rules.model_dump_json()) == rules
