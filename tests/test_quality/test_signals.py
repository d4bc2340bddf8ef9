"""One test per signal family, on real text and on tiny inputs whose values are worked by hand."""

import time

import pytest

from curate.quality.c4 import c4_signals, count_sentences
from curate.quality.codequality import alnum_alpha_counts, code_signals, comments
from curate.quality.codelang import detect_code_lang
from curate.quality.fineweb import fineweb_signals
from curate.quality.gopher import (
    duplicated_ngram_chars,
    gopher_quality_signals,
    gopher_repetition_signals,
    top_ngram_chars,
)
from curate.quality.signals import CODE_SIGNALS, TEXT_SIGNALS, compute_signals
from curate.quality.words import split_words, tokenize


def _gq(text):
    return gopher_quality_signals(text, tokenize(text), text.splitlines())


def test_gopher_quality_by_hand():
    text = "The cat sat on the mat.\n- and then ... #tag\n"
    s = _gq(text)
    # tokens: The cat sat on the mat . - and then ... # tag  (13); content words: 9
    assert s["gopher_word_count"] == 9
    assert s["gopher_mean_word_length"] == pytest.approx(len("Thecatsatonthematandthentag") / 9)
    assert s["gopher_hash_word_ratio"] == pytest.approx(1 / 13)
    assert s["gopher_ellipsis_word_ratio"] == pytest.approx(1 / 13)
    assert s["gopher_bullet_line_frac"] == 0.5
    assert s["gopher_ellipsis_line_frac"] == 0.0
    assert s["gopher_alpha_word_frac"] == pytest.approx(9 / 13)
    assert s["gopher_stop_words"] == 2  # "the", "and" ("The" is not lowercase, as in Gopher/datatrove)


def test_gopher_quality_on_real_prose(gpl3):
    s = _gq(gpl3)
    assert s["gopher_word_count"] > 5000
    assert 3 < s["gopher_mean_word_length"] < 10
    assert s["gopher_stop_words"] == 8
    assert s["gopher_alpha_word_frac"] > 0.8


def test_repetition_by_hand():
    text = "a b\n\na b\n\nc"
    s = gopher_repetition_signals(text, tokenize(text))
    assert s["rep_dup_para_frac"] == pytest.approx(1 / 3)
    assert s["rep_dup_para_char_frac"] == pytest.approx(3 / len(text))
    assert s["rep_dup_line_frac"] == pytest.approx(1 / 3)
    # most frequent 2-gram "a b" occurs twice: 3 characters x 2
    assert s["rep_top_2gram_char_frac"] == pytest.approx(6 / len(text))
    assert top_ngram_chars(tokenize("x"), 2) == 0


def test_duplicated_ngrams_do_not_double_count_overlaps():
    text = "one two three four five one two three four five one two three four five"
    # the second and third occurrences repeat the first: 2 x len("onetwothreefourfive")
    assert duplicated_ngram_chars(tokenize(text), 5) == 2 * 19
    assert duplicated_ngram_chars(tokenize("one two three four five"), 5) == 0
    # windows 0 and 5 and 11 are "a b c d e"; the scan counts 5 (jumps to 10), then 11: 2 x 5 chars
    assert duplicated_ngram_chars(tokenize("a b c d e a b c d e f a b c d e"), 5) == 10
    # seven equal words: window 1 repeats window 0, the jump then ends the scan
    assert duplicated_ngram_chars(tokenize("x x x x x x x"), 5) == 5


def test_repetition_on_real_text_repeated(gpl3):
    paragraph = gpl3.split("\n\n")[5].strip()
    clean = gopher_repetition_signals(gpl3, tokenize(gpl3))
    repeated_text = "\n\n".join([paragraph] * 5)
    repeated = gopher_repetition_signals(repeated_text, tokenize(repeated_text))
    assert clean["rep_dup_para_frac"] < 0.05
    assert repeated["rep_dup_para_frac"] == pytest.approx(0.8)
    assert repeated["rep_dup_10gram_char_frac"] > 0.5 > clean["rep_dup_10gram_char_frac"]


def test_c4_by_hand():
    text = "\n".join([
        "This line ends well. It has two sentences.",
        "no terminal punctuation here",
        "Too short.",
        "Enable JavaScript to view this page properly.",
        "We use cookies to improve your experience.",
        "Lorem ipsum dolor sit amet, consectetur.",
        "A curly { bracket in a kept line.",
    ])
    s = c4_signals(text.splitlines())
    assert s["c4_no_terminal_punct_line_frac"] == pytest.approx(1 / 7)
    assert s["c4_too_few_words_line_frac"] == pytest.approx(1 / 7)
    assert s["c4_javascript_line_frac"] == pytest.approx(1 / 7)
    assert s["c4_policy_line_frac"] == pytest.approx(1 / 7)
    assert s["c4_lorem_ipsum"] == 1.0
    assert s["c4_curly_bracket"] == 1.0
    assert s["c4_sentences"] == 2 + 1 + 1  # kept lines: the first, lorem ipsum, curly


def test_sentence_count_handles_cjk_and_quotes():
    assert count_sentences("今日は晴れ。明日は雨。") == 2
    assert count_sentences('He said "stop." Then he left. and more') == 3


def test_c4_on_real_prose_and_changelog(gpl3, changelog):
    assert c4_signals(gpl3.splitlines())["c4_sentences"] > 100
    assert c4_signals(changelog.splitlines())["c4_no_terminal_punct_line_frac"] > 0.5


def test_fineweb_by_hand():
    text = "A full line of text that ends with a stop.\nshort\nshort\n\n- item one"
    s = fineweb_signals(text, len(split_words(text)))
    assert s["fineweb_line_punct_ratio"] == pytest.approx(1 / 4)
    assert s["fineweb_short_line_ratio"] == pytest.approx(3 / 4)
    assert s["fineweb_dup_line_char_ratio"] == pytest.approx(5 / (len(text) - 4))
    assert s["fineweb_newline_ratio"] == pytest.approx(4 / len(split_words(text)))
    assert s["fineweb_list_line_ratio"] == pytest.approx(1 / 4)


def test_fineweb_terminal_punctuation_of_other_scripts():
    for line in ("日本語の文です。", "Это предложение.", "क्या यह सही है।", "هل هذا صحيح؟"):
        assert fineweb_signals(line, len(split_words(line)))["fineweb_line_punct_ratio"] == 1.0


def test_code_signals_on_real_source(python_source):
    s = code_signals(python_source, lang="python", uri="argparse.py")
    assert s["code_max_line_length"] < 200
    assert 20 < s["code_mean_line_length"] < 60
    assert s["code_alnum_frac"] > 0.5
    assert s["code_autogenerated"] == 0.0 and s["code_minified"] == 0.0 and s["code_data_file"] == 0.0
    assert 0.02 < s["code_comment_frac"] < 0.5
    assert "optparse" in comments(python_source, "python")


def test_alnum_alpha_counts_are_pythons_classification(python_source):
    """The ASCII byte-table path and the per-character path for the rest count what str.isalnum()
    and str.isalpha() say, on real code and on characters where the two classes differ."""
    mixed = "x_1 = '²½Ⅻ' # é ß 中文 ٣ \u0301 \U0001d400 \x00\x7f\x80 ǅ"
    every_bmp = "".join(chr(c) for c in range(0xD800)) + "".join(chr(c) for c in range(0xE000, 0x10000))
    for text in ("", "abc", python_source, python_source + mixed, mixed * 3, every_bmp):
        assert alnum_alpha_counts(text) == (sum(c.isalnum() for c in text), sum(c.isalpha() for c in text))


def test_code_markers():
    generated = "// Code generated by protoc-gen-go. DO NOT EDIT.\npackage pb\n"
    assert code_signals(generated, lang="go", uri="a.pb.go")["code_autogenerated"] == 1.0
    minified = "var a=1;" * 500
    assert code_signals(minified, lang="javascript", uri="x.js")["code_minified"] == 1.0
    assert code_signals("{}", lang="json", uri="x.json")["code_data_file"] == 1.0


@pytest.mark.parametrize(("uri", "text", "lang"), [
    ("a/b.py", "", "python"),
    ("x.h", "#include <vector>\nclass A { public: int x; };", "cpp"),
    ("x.h", "#include <stdio.h>\nint f(void);", "c"),
    ("x.h", "#import <Foundation/Foundation.h>\n@interface A : NSObject\n@end", "objective-c"),
    ("x.m", "function y = f(x)\n  y = x;\nend\n", "matlab"),
    ("x.pl", "use strict;\nmy $x = 1;\n", "perl"),
    ("x.ts", "<?xml version=\"1.0\"?>\n<!DOCTYPE TS>\n<TS version=\"2.1\">", "xml"),
    ("x.ts", "export const x: number = 1;", "typescript"),
    ("bin/tool", "#!/usr/bin/env python3\nprint(1)\n", "python"),
    ("Makefile", "all:\n\techo hi\n", "makefile"),
    ("x.unknownext", "hello", None),
])
def test_code_lang(uri, text, lang):
    assert detect_code_lang(uri, text) == lang


@pytest.mark.parametrize("text", ["", "word", "   \n\t\n  ", "😀🎉🚀", "東", "\n\n\n"])
def test_degenerate_documents_get_every_signal(text):
    for kind, names in (("text", TEXT_SIGNALS), ("code", CODE_SIGNALS)):
        s = compute_signals(text, kind=kind, code_lang="python", uri="x.py")
        assert set(names) <= set(s)
        assert all(v == v and v >= 0 for v in s.values())  # no NaN, no negatives


def test_five_megabyte_document_is_handled_in_seconds(gpl3):
    text = (gpl3 * (5_000_000 // len(gpl3) + 1))[:5_000_000]
    start = time.perf_counter()
    s = compute_signals(text, kind="text")
    assert time.perf_counter() - start < 60
    assert s["n_chars"] == 5_000_000
    assert s["rep_dup_para_frac"] > 0.9  # the license repeated ~150 times
