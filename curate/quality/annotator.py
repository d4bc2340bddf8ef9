"""Annotate documents over Arrow batches: redact PII, identify language, compute signals, decide.

Plain Python (no pyspark): `spark.py` wraps `annotate_batch` and `redecide_batch` as
`mapInArrow`. One `Annotator` per process holds the models and the evaluation n-grams.
"""

from __future__ import annotations

import logging
from collections import Counter
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.quality.classifier import QualityScorer
from curate.quality.codelang import detect_code_lang
from curate.quality.codequality import comments
from curate.quality.config import AnnotateConfig
from curate.quality.decontam import count_matches, ngram_hashes
from curate.quality.langid import LanguageIdentifier
from curate.quality.lid_ensemble import EnsemblePrediction, LanguageEnsemble
from curate.quality.pii import PiiOptions, redact, redact_fields
from curate.quality.rules import RulesConfig, Thresholds, decide
from curate.quality.signals import compute_signals

log = logging.getLogger(__name__)

LANG_TOP_TYPE = pa.list_(pa.struct([("lang", pa.string()), ("score", pa.float64())]))
# Columns annotate adds to docs_raw's (text is replaced by its redacted form).
ANNOTATION_FIELDS = [
    pa.field("lang", pa.string()),
    pa.field("lang_score", pa.float64()),
    pa.field("lang_top", LANG_TOP_TYPE),
    pa.field("code_lang", pa.string()),
    pa.field("signals", pa.map_(pa.string(), pa.float64())),
    pa.field("pii_counts", pa.map_(pa.string(), pa.int64())),
    pa.field("quality_score", pa.float64()),
    pa.field("keep", pa.bool_()),
    pa.field("drop_reasons", pa.list_(pa.string())),
    # Each detector's answer (lang / lang_score are the final ones; lang_top is lid.176's top k).
    pa.field("lang_fasttext", pa.string()),
    pa.field("lang_fasttext_score", pa.float64()),
    pa.field("lang_lingua", pa.string()),  # null where lingua was not asked
    pa.field("lang_lingua_score", pa.float64()),
]
VERDICT_COLUMNS = ("keep", "drop_reasons")


class RuleBook:
    """Thresholds per (source, kind, lang, code_lang), resolved once per combination."""

    def __init__(self, rules: RulesConfig):
        self.rules = rules
        self.resolve = lru_cache(maxsize=4096)(self._resolve)

    def _resolve(self, source: str, kind: str, lang: str | None, code_lang: str | None) -> Thresholds:
        return self.rules.resolve(source=source, kind=kind, lang=lang, code_lang=code_lang)

    def verdict(self, row: dict, signals: dict[str, float]) -> tuple[bool, list[str]]:
        rules = self.resolve(row["source"], row["kind"], row["lang"], row["code_lang"])
        return decide({**signals, "lang_score": row["lang_score"], "quality_score": row["quality_score"]}, rules)


class Annotator:
    def __init__(self, cfg: AnnotateConfig, *, eval_ngrams: np.ndarray | None = None):
        self.cfg = cfg
        lid = cfg.langid
        self.lid = LanguageIdentifier(model_path=lid.model_path, top_k=lid.top_k, max_chars=lid.max_chars)
        e = lid.ensemble
        self.ensemble = (
            LanguageEnsemble(self.lid, below_score=e.below_score, top_k=e.top_k, low_accuracy=e.low_accuracy,
                             max_chars=e.max_chars)
            if e.enabled else None
        )
        qm = cfg.quality_model
        self.scorer = (
            QualityScorer(model_path=qm.model_path, positive_label=qm.positive_label, max_chars=qm.max_chars)
            if qm.model_path else None
        )
        p = cfg.pii
        self.pii = PiiOptions(**p.model_dump(exclude={"enabled"})) if p.enabled else None
        self.eval_ngrams = eval_ngrams if eval_ngrams is not None and len(eval_ngrams) else None
        self.rulebook = RuleBook(cfg.rules)

    def annotate(self, *, text: str, kind: str, source: str, uri: str, language_hint: str | None = None) -> dict:
        """The redacted text and every annotation column of one document."""
        text, pii_counts = redact(text, self.pii) if self.pii else (text, {})
        code_lang = detect_code_lang(uri, text, hint=language_hint) if kind == "code" else None
        pred = self._language(text, kind, code_lang)
        signals = compute_signals(text, kind=kind, code_lang=code_lang, uri=uri)
        if self.eval_ngrams is not None:
            signals["contam_ngram_matches"] = float(
                count_matches(ngram_hashes(text, self.cfg.decontam.ngram), self.eval_ngrams))
        row = {
            "text": text,
            "source": source,
            "kind": kind,
            "lang": pred.lang if pred else None,
            "lang_score": pred.score if pred else None,
            "lang_top": [{"lang": lang, "score": s} for lang, s in pred.fasttext.top] if pred else None,
            "lang_fasttext": pred.fasttext.lang if pred else None,
            "lang_fasttext_score": pred.fasttext.score if pred else None,
            "lang_lingua": pred.lingua[0] if pred and pred.lingua else None,
            "lang_lingua_score": pred.lingua[1] if pred and pred.lingua else None,
            "code_lang": code_lang,
            "signals": signals,
            "pii_counts": pii_counts,
            "quality_score": self.scorer.score(text) if self.scorer else None,
        }
        row["keep"], row["drop_reasons"] = self.rulebook.verdict(row, signals)
        return row

    def _language(self, text: str, kind: str, code_lang: str | None) -> EnsemblePrediction | None:
        if kind == "code":  # code keeps its own handling: lid.176 on its comments, where configured
            if not self.cfg.langid.code_comments:
                return None
            return EnsemblePrediction.first_only(self.lid.predict(comments(text, code_lang)))
        return self.ensemble.predict(text) if self.ensemble else EnsemblePrediction.first_only(self.lid.predict(text))

    def annotate_batch(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """docs_raw rows in, the same rows with the annotation columns out, and with their text,
        `metadata` values, `uri` and `source_id` redacted (what annotate writes reaches
        docs_curated, docs_tokenized and shards; docs_raw keeps the originals by `doc_id`)."""
        cols = batch.to_pydict()
        hints = [dict(m).get("language") if m else None for m in cols["metadata"]]
        rows = [
            self.annotate(text=t, kind=k, source=s, uri=u, language_hint=h)
            for t, k, s, u, h in zip(cols["text"], cols["kind"], cols["source"], cols["uri"], hints)
        ]
        arrays = dict(zip(batch.schema.names, batch.columns))
        if self.pii:
            fields = [self._redact_fields(row, meta, uri, sid)
                      for row, meta, uri, sid in zip(rows, cols["metadata"], cols["uri"], cols["source_id"])]
            arrays["metadata"] = pa.array([f["metadata"] for f in fields], batch.schema.field("metadata").type)
            arrays["uri"] = pa.array([f["uri"] for f in fields], pa.string())
            arrays["source_id"] = pa.array([f["source_id"] for f in fields], pa.string())
        arrays["text"] = pa.array([r["text"] for r in rows], pa.string())
        for f in ANNOTATION_FIELDS:
            values = [r[f.name] for r in rows]
            if pa.types.is_map(f.type):
                values = [list(v.items()) for v in values]
            arrays[f.name] = pa.array(values, f.type)
        return pa.RecordBatch.from_arrays(list(arrays.values()), names=list(arrays))

    def _redact_fields(self, row: dict, metadata: list[tuple[str, str]] | None, uri: str, source_id: str | None) -> dict:
        """A row's metadata (a list of pairs, as Arrow gives a map), uri and source_id redacted;
        what was found is added to the row's `pii_counts`."""
        meta = dict(metadata) if metadata else {}
        red, counts = redact_fields({**{f"metadata.{k}": v for k, v in meta.items()}, "uri": uri,
                                     "source_id": source_id}, self.pii)
        if counts:
            row["pii_counts"] = dict(Counter(row["pii_counts"]) + Counter(counts))
        return {"metadata": None if metadata is None else [(k, red[f"metadata.{k}"]) for k in meta],
                "uri": red["uri"], "source_id": red["source_id"]}


def redecide_batch(batch: pa.RecordBatch, rulebook: RuleBook) -> pa.RecordBatch:
    """docs_annotated rows with keep / drop_reasons recomputed from their stored signals."""
    cols = batch.select(["source", "kind", "lang", "code_lang", "lang_score", "quality_score", "signals"]).to_pylist()
    verdicts = [rulebook.verdict(row, dict(row["signals"] or ())) for row in cols]
    arrays = dict(zip(batch.schema.names, batch.columns))
    arrays["keep"] = pa.array([k for k, _ in verdicts], pa.bool_())
    arrays["drop_reasons"] = pa.array([r for _, r in verdicts], pa.list_(pa.string()))
    return pa.RecordBatch.from_arrays(list(arrays.values()), names=list(arrays))


def verdict_tally(batch: pa.RecordBatch) -> Counter:
    """Rows, kept, dropped and `dropped_<rule>` per failed rule of docs_annotated rows."""
    kept = pc.sum(batch.column("keep").cast(pa.int64())).as_py() or 0
    counts = Counter(rows=batch.num_rows, kept=kept, dropped=batch.num_rows - kept)
    for item in pc.value_counts(pc.list_flatten(batch.column("drop_reasons"))).to_pylist():
        counts[f"dropped_{item['values']}"] += item["counts"]
    return counts
