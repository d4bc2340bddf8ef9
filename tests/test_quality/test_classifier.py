import gzip
import re
from pathlib import Path

import pytest

from curate.errors import InputError
from curate.quality.classifier import QualityScorer, train_quality_model


def _license_paragraphs() -> list[str]:
    out = []
    for f in sorted(Path("/usr/share/common-licenses").iterdir()):
        if f.is_file():
            out += [p for p in re.split(r"\n\s*\n", f.read_text(encoding="utf-8")) if len(p) > 200]
    return out


def _changelog_entries() -> list[str]:
    out = []
    for f in sorted(Path("/usr/share/doc").glob("*/changelog.Debian.gz"))[:80]:
        text = gzip.open(f, "rt", encoding="utf-8", errors="replace").read()
        out += [e for e in re.split(r"\n(?=\S)", text) if len(e) > 200][:10]
    return out


@pytest.fixture(scope="module")
def examples():
    pos, neg = _license_paragraphs(), _changelog_entries()
    assert len(pos) > 300 and len(neg) > 300
    return pos, neg


def test_trained_model_separates_held_out_examples(tmp_path, examples):
    pos, neg = examples
    # hold out the last fifth of each side entirely: the model never sees them
    cut_p, cut_n = len(pos) * 4 // 5, len(neg) * 4 // 5
    report = train_quality_model(pos[:cut_p], neg[:cut_n], out=str(tmp_path / "q.bin"), seed=1, threads=1)
    assert report.n_holdout > 0 and report.precision > 0.8 and report.recall > 0.8
    scorer = QualityScorer(model_path=report.model_path)
    pos_scores = [scorer.score(t) for t in pos[cut_p:]]
    neg_scores = [scorer.score(t) for t in neg[cut_n:]]
    # AUC: probability a held-out positive outscores a held-out negative (chance = 0.5)
    auc = sum(p > n for p in pos_scores for n in neg_scores) / (len(pos_scores) * len(neg_scores))
    assert auc > 0.9
    assert all(0.0 <= s <= 1.0 for s in pos_scores + neg_scores)


def test_training_without_examples_and_wrong_label_are_refused(tmp_path, examples):
    with pytest.raises(InputError, match="positive and negative"):
        train_quality_model([], ["x"], out=str(tmp_path / "q.bin"))
    pos, neg = examples
    report = train_quality_model(pos[:50], neg[:50], out=str(tmp_path / "q2.bin"), threads=1)
    with pytest.raises(InputError, match="no label 'good'"):
        QualityScorer(model_path=report.model_path, positive_label="good")
