"""Model-based quality: a fastText classifier of good vs other text (DCLM-style).

`train_quality_model` writes fastText's `__label__<name> <text>` lines from positive and negative
examples, holds out a seeded fraction, trains with `train_supervised`, and reports held-out
precision and recall. `QualityScorer` returns the probability of the positive label.
"""

from __future__ import annotations

import logging
import random
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from curate.errors import InputError
from curate.quality.langid import load_fasttext

log = logging.getLogger(__name__)

_WHITESPACE = re.compile(r"\s+")
NEGATIVE_LABEL = "other"


def normalize_for_classifier(text: str, *, max_chars: int | None) -> str:
    """One lowercase line, as fastText trains and predicts on lines."""
    if max_chars is not None:
        text = text[: max_chars * 2]
    text = _WHITESPACE.sub(" ", text).strip().lower()
    return text if max_chars is None else text[:max_chars]


@dataclass(frozen=True)
class TrainReport:
    model_path: str
    n_train: int
    n_holdout: int
    precision: float
    recall: float
    accuracy: float


def train_quality_model(
    positives: list[str],
    negatives: list[str],
    *,
    out: str,
    positive_label: str = "hq",
    holdout: float = 0.1,
    seed: int = 0,
    epoch: int = 5,
    lr: float = 0.1,
    word_ngrams: int = 2,
    dim: int = 64,
    max_chars: int | None = 20_000,
    threads: int = 2,
) -> TrainReport:
    import fasttext

    if not positives or not negatives:
        raise InputError(
            f"training needs positive and negative examples (got {len(positives)} and {len(negatives)}); "
            "check the input paths"
        )
    rows = [(positive_label, t) for t in positives] + [(NEGATIVE_LABEL, t) for t in negatives]
    rows = [(label, normalize_for_classifier(t, max_chars=max_chars)) for label, t in rows]
    rows = [r for r in rows if r[1]]
    random.Random(seed).shuffle(rows)
    n_hold = max(1, int(len(rows) * holdout)) if holdout > 0 else 0
    held, train = rows[:n_hold], rows[n_hold:]
    with tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="utf-8", delete=False) as f:
        f.writelines(f"__label__{label} {text}\n" for label, text in train)
        train_file = f.name
    try:
        model = fasttext.train_supervised(
            input=train_file, epoch=epoch, lr=lr, wordNgrams=word_ngrams, dim=dim, seed=seed,
            thread=threads, verbose=0, minCount=1,
        )
    finally:
        Path(train_file).unlink()
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    model.save_model(out)
    tp = fp = fn = correct = 0
    for label, text in held:
        predicted = model.predict(text)[0][0].removeprefix("__label__")
        correct += predicted == label
        tp += predicted == positive_label and label == positive_label
        fp += predicted == positive_label and label != positive_label
        fn += predicted != positive_label and label == positive_label
    report = TrainReport(
        model_path=out,
        n_train=len(train),
        n_holdout=len(held),
        precision=tp / (tp + fp) if tp + fp else 0.0,
        recall=tp / (tp + fn) if tp + fn else 0.0,
        accuracy=correct / len(held) if held else 0.0,
    )
    log.info("quality model %s: %s", out, report)
    return report


class QualityScorer:
    def __init__(self, *, model_path: str, positive_label: str = "hq", max_chars: int | None = 20_000):
        self.model = load_fasttext(model_path)
        self.label = f"__label__{positive_label}"
        if self.label not in self.model.get_labels():
            raise InputError(
                f"quality model {model_path} has no label {positive_label!r} (it has {self.model.get_labels()}); "
                "fix annotate.quality_model.positive_label"
            )
        self.n_labels = len(self.model.get_labels())
        self.max_chars = max_chars

    def score(self, text: str) -> float:
        labels, probs = self.model.predict(normalize_for_classifier(text, max_chars=self.max_chars), k=self.n_labels)
        return next((min(float(p), 1.0) for lab, p in zip(labels, probs) if lab == self.label), 0.0)
