import json

import numpy as np
import pytest

from curate.errors import InputError
from curate.quality.decontam import count_matches, eval_ngram_set, ngram_hashes, read_eval_texts


def test_hashes_ignore_case_and_punctuation_and_are_stable(gpl3):
    para = gpl3.split("\n\n")[5]
    a = ngram_hashes(para, 13)
    b = ngram_hashes(para.upper().replace(",", " ; "), 13)
    assert len(a) > 10 and np.array_equal(a, b)
    assert np.array_equal(a, ngram_hashes(para, 13))
    assert len(ngram_hashes("too few words here", 13)) == 0


def test_a_shared_13_gram_is_found_and_a_12_gram_is_not(gpl3, changelog):
    eval_example = " ".join(gpl3.split()[1000:1030])
    eval_set = eval_ngram_set([eval_example], 13)
    words = gpl3.split()
    contaminated = changelog + " " + " ".join(words[1005:1018])  # exactly 13 words of it
    near_miss = changelog + " " + " ".join(words[1005:1017])  # 12 words
    assert count_matches(ngram_hashes(contaminated, 13), eval_set) == 1
    assert count_matches(ngram_hashes(near_miss, 13), eval_set) == 0
    assert count_matches(ngram_hashes(gpl3, 13), eval_set) >= 18


def test_read_eval_sets(tmp_path):
    (tmp_path / "e.jsonl").write_text(json.dumps({"question": "What is two plus two?"}) + "\n\n")
    (tmp_path / "e.txt").write_text("one example\nanother example\n")
    texts = read_eval_texts([str(tmp_path / "e.jsonl"), str(tmp_path / "e.txt")], text_field="question")
    assert texts == ["What is two plus two?", "one example\n", "another example\n"]
    with pytest.raises(InputError, match="field 'text'"):
        read_eval_texts([str(tmp_path / "e.jsonl")], text_field="text")
    with pytest.raises(InputError, match="does not exist"):
        read_eval_texts([str(tmp_path / "missing.jsonl")], text_field="text")
