"""The kernels' replay of fastText's predict (`curate_kernels.FastText`) gives the library's labels
and probabilities to the bit: on the shipped lid.176 (quantized, hierarchical softmax) over real
documents in many languages and random text made of what its word splitting reacts to, and on
models trained here (dense, quantized). A model it does not replay is predicted by the library.
Every document of the 400 MB benchmark corpus was compared too (README, "lid.176's predictions")."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curate.quality import native
from curate.quality.langid import (
    LanguageIdentifier,
    _predictor,
    default_model_path,
    load_fasttext,
    load_predictor,
    normalize_for_lid,
)
from tests.test_quality.test_native import FRAGMENTS, REAL

kernels = native.module()
if kernels is None:
    pytest.fail("curate_kernels is not installed or not usable: run scripts/setup.sh", pytrace=False)

LID = str(default_model_path())
library = load_fasttext(LID)
replay = kernels.FastText(LID)


def assert_same(model, ours, text: str, ks=(1, 3, 10, 176)) -> None:
    for k in ks:
        labels, probs = model.predict(text, k=k)
        assert ours.predict(text, k, 0.0) == (list(labels), [float(p) for p in probs]), (k, text[:80])


def test_real_documents():
    assert len(REAL) >= 20
    for text in REAL:
        assert_same(library, replay, normalize_for_lid(text, max_chars=20_000))
        for line in text.splitlines()[:50]:
            assert_same(library, replay, line, ks=(3,))


# What fastText's word splitting reacts to: its separators (not \n: one line at a time), the
# end-of-sentence word, label words, multi-byte characters cut into n-grams.
FT_FRAGMENTS = [f for f in FRAGMENTS if "\n" not in f] + [
    "</s>", "__label__en", "__label__", "__label__xx", "\r", "\t", "\x0b", "\x0c", "\x00", "  ", "<", ">", "<s>",
]
any_char = st.characters(exclude_categories=("Cs",), exclude_characters="\n")
texts = st.lists(st.one_of(st.sampled_from(FT_FRAGMENTS), st.text(any_char, max_size=8)), max_size=40).map("".join)


@settings(max_examples=400, deadline=None)
@given(texts)
def test_random_text(text):
    assert_same(library, replay, text, ks=(1, 3, 176))


def test_one_line_at_a_time():
    with pytest.raises(ValueError, match="one line"):
        replay.predict("two\nlines", 1, 0.0)


def test_lone_surrogate_goes_to_the_library():
    text = "Ein Satz \udc80 auf Deutsch"
    with pytest.raises(UnicodeEncodeError):
        replay.predict(text, 1, 0.0)
    with pytest.raises(TypeError):  # the library's own answer to a text that is not UTF-8
        load_predictor(LID).predict(text, k=1)


def test_identifier_uses_the_replay():
    lid = LanguageIdentifier()
    assert lid.model.replay is not None
    text = normalize_for_lid(REAL[3], max_chars=20_000)
    assert lid.predict_normalized(text).top == tuple(
        (label.removeprefix("__label__"), min(p, 1.0)) for label, p in zip(*replay.predict(text, 3, 0.0)))


@pytest.fixture(scope="module")
def training(tmp_path_factory):
    path = tmp_path_factory.mktemp("ft") / "train.txt"
    lines = []
    for i, text in enumerate(REAL):
        for line in text.splitlines():
            if line.strip():
                lines.append(f"__label__c{i % 7} {line.strip()[:300]}")
    path.write_text("\n".join(lines))
    return path


def _trained(training, name: str, quantize: bool = False, **args) -> str:
    """A model trained on `training` and saved as `name`, in a process of its own: this fastText
    build's second training in one process can end in NaN."""
    path = str(training.parent / name)
    script = (
        "import fasttext, sys\n"
        f"m = fasttext.train_supervised({str(training)!r}, epoch=2, dim=10, minn=2, maxn=5, bucket=20000,"
        f" thread=1, seed=1, verbose=0, **{args!r})\n"
        + (f"m.quantize(input={str(training)!r}, qnorm=True, retrain=False, cutoff=5000, dsub=3)\n" if quantize else "")
        + f"m.save_model({path!r})\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True)
    return path


def test_trained_models(training):
    texts = [" ".join(t.split())[:5_000] for t in REAL[:12]] + ["", " ", "</s>", "__label__c1", "unseen wordsxyz"]
    for path in (_trained(training, "hs.bin", loss="hs"), _trained(training, "hs.ftz", quantize=True, loss="hs")):
        model, ours = load_fasttext(path), kernels.FastText(path)
        for text in texts:
            assert_same(model, ours, text, ks=(1, 2, 7))


def test_models_it_does_not_replay_go_to_the_library(training, tmp_path):
    for path in (_trained(training, "softmax.bin", loss="softmax"),
                 _trained(training, "bigrams.bin", loss="hs", wordNgrams=2)):
        with pytest.raises(ValueError, match="does not replay"):
            kernels.FastText(path)
        predictor = load_predictor(path)
        assert predictor.replay is None
        labels, probs = predictor.predict("some text here", k=2)
        expected = load_fasttext(path).predict("some text here", k=2)
        assert (labels, list(probs)) == (expected[0], list(expected[1]))
    not_a_model = tmp_path / "x.bin"
    not_a_model.write_bytes(b"\x00" * 64)
    with pytest.raises(ValueError, match="not a fastText model"):
        kernels.FastText(str(not_a_model))
    truncated = tmp_path / "t.ftz"
    truncated.write_bytes(open(LID, "rb").read()[:5_000])
    with pytest.raises(ValueError, match="ends early"):
        kernels.FastText(str(truncated))


def test_off_switch(monkeypatch):
    monkeypatch.setenv(native.ENV, "0")
    native.kernels.cache_clear()
    _predictor.cache_clear()
    try:
        assert load_predictor(LID).replay is None
        labels, probs = load_predictor(LID).predict("Das ist ein Satz.", k=3)
        assert list(labels) == list(library.predict("Das ist ein Satz.", k=3)[0])
    finally:
        monkeypatch.undo()
        native.kernels.cache_clear()
        _predictor.cache_clear()
