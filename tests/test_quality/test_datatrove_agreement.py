"""Verdicts agree with datatrove's filters at identical thresholds on real documents.

datatrove is a test-only dependency (`pip install "datatrove==0.9.0" spacy`: 0.10 needs
huggingface_hub >= 1.6, which conflicts with transformers here). Measured on 400 Debian doc files
(`/usr/share/doc`): C4, FineWeb, Gopher quality and Gopher repetition all 100% (Gopher was 96.75%
each before `words.py` replayed spaCy's tokenizer). Tokens equal datatrove's (spaCy's) in 396
documents; what is left differs without flipping a verdict here:
- CJK / Thai runs: per-character tokens here, one token per run in spaCy (ours, on purpose; in
  a corpus of Japanese and Chinese pages this is the one class that flips Gopher verdicts);
- duplicated n-grams: datatrove joins an n-gram's words without a separator, so ("ab", "c")
  repeats ("a", "bc"); we compare word tuples (datatrove's bug, not copied: 1 document's values).
"""

from __future__ import annotations

import gzip
import importlib.metadata  # noqa: F401  datatrove 0.9 uses importlib.metadata without importing it
from pathlib import Path

import pytest

from curate.quality.rules import (
    C4_RULES,
    FINEWEB_RULES,
    GOPHER_QUALITY_RULES,
    GOPHER_REPETITION_RULES,
    decide,
)
from curate.quality.signals import compute_signals

# Floors at the measured agreement: one more disagreeing document fails.
MIN_AGREEMENT = {"c4": 1.0, "fineweb": 1.0, "gopher_quality": 1.0, "gopher_repetition": 1.0}


def _corpus(limit: int = 400) -> list[tuple[str, str]]:
    docs = []
    for f in sorted(Path("/usr/share/doc").glob("*/*"))[::3]:
        if not f.is_file():
            continue
        try:
            text = gzip.open(f, "rt", encoding="utf-8").read() if f.suffix == ".gz" else f.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if text.strip():
            docs.append((str(f), text[:20_000]))
    return docs[:limit]


def _datatrove():
    """datatrove's filter module and Document (a slow test opted into needs the `reference` extra)."""
    try:
        import spacy  # noqa: F401  datatrove's word tokenizer
        from datatrove.data import Document
        from datatrove.pipeline import filters
    except ImportError as missing:
        pytest.fail(f"{missing}: install the peers with .venv/bin/pip install -e '.[reference]'")
    return filters, Document


@pytest.mark.slow
def test_verdicts_agree_with_datatrove():
    filters, Document = _datatrove()
    families = {
        "gopher_quality": (filters.GopherQualityFilter(), GOPHER_QUALITY_RULES),
        "gopher_repetition": (filters.GopherRepetitionFilter(), GOPHER_REPETITION_RULES),
        "fineweb": (filters.FineWebQualityFilter(), FINEWEB_RULES),
        "c4": (filters.C4QualityFilter(), C4_RULES),
    }
    docs = _corpus()
    assert len(docs) >= 300
    agree = dict.fromkeys(families, 0)
    for name, text in docs:
        signals = compute_signals(text, kind="text")
        for family, (flt, rules) in families.items():
            theirs = flt.filter(Document(text=text, id=name)) is True
            agree[family] += decide(signals, rules)[0] == theirs
    rates = {k: v / len(docs) for k, v in agree.items()}
    print("agreement with datatrove:", rates)
    for family, floor in MIN_AGREEMENT.items():
        assert rates[family] >= floor, (family, rates[family])
