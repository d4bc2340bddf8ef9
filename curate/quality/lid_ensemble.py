"""Language ID beyond one model: lid.176 (fastText) first, lingua where lid.176 is unsure.

lid.176 answers every document. Where its top score is below `below_score` (calibrated on the
calibration split of tests/data/langid/labelled.jsonl by benchmarks/langid_quality.py, never on the
evaluation split), lingua-language-detector, whose n-gram models ship inside its wheel, is asked to
choose among lid.176's top candidates that it knows, and the two vote: each language's two scores
are averaged and the best average wins. They err on different paragraphs: lid.176 takes short
Swedish for Norwegian, Portuguese and German for Spanish; lingua, choosing only among
lid.176's candidates, settles most of those. Lingua is much slower than lid.176, so it only sees the
unsure minority, over `max_chars` characters spread across what lid.176 read, in its low-accuracy
(trigram) mode by default.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from curate.errors import DependencyError
from curate.quality.langid import LangPrediction, LanguageIdentifier

# lingua's ISO 639-1 code -> lid.176's, where they differ (lid.176's `no` is Norwegian Bokmål).
_TO_LID = {"nb": "no"}
_FROM_LID = {v: k for k, v in _TO_LID.items()}


@lru_cache(maxsize=1)
def _lingua_languages() -> dict:
    """lid.176 code -> lingua Language, for every language lingua knows."""
    try:
        from lingua import Language
    except ImportError:
        raise DependencyError(
            "the second language detector is lingua: `pip install lingua-language-detector`, "
            "or turn it off with annotate.langid.ensemble.enabled: false") from None
    return {_TO_LID.get(c, c): lang for lang in Language.all() if (c := lang.iso_code_639_1.name.lower())}


def lingua_version() -> str:
    from importlib.metadata import version

    return version("lingua-language-detector")


@lru_cache(maxsize=1024)
def _detector(langs: frozenset[str], low_accuracy: bool):
    """A lingua detector of these languages (lid.176 codes); they share the models lingua loaded."""
    from lingua import LanguageDetectorBuilder

    known = _lingua_languages()
    builder = LanguageDetectorBuilder.from_languages(*(known[c] for c in sorted(langs)))
    return (builder.with_low_accuracy_mode() if low_accuracy else builder).build()


def spread(text: str, max_chars: int, *, pieces: int = 4) -> str:
    """`max_chars` characters of `text` in `pieces` evenly spaced slices: a translated page's first
    lines (its title, synopsis, option names) are often English, and must not decide alone."""
    if len(text) <= max_chars:
        return text
    size = max_chars // pieces
    step = (len(text) - size) / (pieces - 1)
    return " ".join(text[round(i * step): round(i * step) + size] for i in range(pieces))


class LinguaDetector:
    """lingua restricted, document by document, to the candidate languages it is given."""

    def __init__(self, *, low_accuracy: bool = True, max_chars: int = 2_000):
        self.known = _lingua_languages()
        self.low_accuracy = low_accuracy
        self.max_chars = max_chars

    def confidences(self, norm: str, candidates: list[str]) -> list[tuple[str, float]] | None:
        """(lang, confidence) of a text `normalize_for_lid` gave over the `candidates` lingua knows,
        best first, from `max_chars` of its characters (`spread`); None when fewer than two
        candidates are known (there is nothing to choose) or the text is empty."""
        langs = frozenset(c for c in candidates if c in self.known)
        text = spread(norm, self.max_chars)
        if len(langs) < 2 or not text.strip():
            return None
        values = _detector(langs, self.low_accuracy).compute_language_confidence_values(text)
        return [(_TO_LID.get(c, c), v.value) for v in values if (c := v.language.iso_code_639_1.name.lower())]


@dataclass(frozen=True)
class EnsemblePrediction:
    lang: str | None  # the final language
    score: float  # its score: lid.176's, or the two detectors' average where they voted
    fasttext: LangPrediction
    lingua: tuple[str, float] | None  # lingua's answer and confidence; None where it was not asked

    @classmethod
    def first_only(cls, fasttext: LangPrediction) -> EnsemblePrediction:
        return cls(fasttext.lang, fasttext.score, fasttext, None)


def vote(fasttext: LangPrediction, lingua: list[tuple[str, float]]) -> tuple[str, float]:
    """The language whose lid.176 and lingua scores average highest, and that average."""
    total: Counter = Counter()
    for lang, score in (*fasttext.top, *lingua):
        total[lang] += score / 2
    return total.most_common(1)[0]


class LanguageEnsemble:
    def __init__(self, first: LanguageIdentifier, *, below_score: float, top_k: int,
                 low_accuracy: bool, max_chars: int):
        self.first = first
        self.second = LinguaDetector(low_accuracy=low_accuracy, max_chars=max_chars)
        self.below_score = below_score
        self.top_k = top_k

    def predict(self, text: str) -> EnsemblePrediction:
        norm = self.first.normalize(text)  # once, for both detectors
        ft = self.first.predict_normalized(norm, k=max(self.top_k, self.first.top_k))
        shown = LangPrediction(ft.lang, ft.score, ft.top[: self.first.top_k])
        if ft.lang is None or ft.score >= self.below_score:
            return EnsemblePrediction.first_only(shown)
        candidates = [lang for lang, _ in ft.top[: self.top_k]]
        lingua = self.second.confidences(norm, candidates)
        if lingua is None:
            return EnsemblePrediction.first_only(shown)
        lang, score = vote(LangPrediction(ft.lang, ft.score, ft.top[: self.top_k]), lingua)
        return EnsemblePrediction(lang, score, shown, lingua[0])
