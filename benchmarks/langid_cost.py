"""Language ID's cost on the benchmark corpus: lid.176 alone (annotate before the ensemble) vs
lid.176 + lingua (annotate.langid.ensemble), over the same text documents, in one process.

Each text document of the corpus (scripts/build_corpus.py output: text/*.jsonl.gz) goes through
`LanguageIdentifier.predict` and `LanguageEnsemble.predict` as annotate calls them; code documents
keep their own handling (no language ID unless annotate.langid.code_comments) and are not timed.
Times are CPU seconds of this process (the machine is shared: wall time measures the neighbours);
lingua's own share is timed around its calls. Also reported: how many documents reached lingua and
how often the final language differs from lid.176's, and per source how often each agrees with the
document's `lang_hint` (the package or locale directory it came from: a label no model gave, but a
translated man page keeps untranslated English, so it is a bound, not ground truth).

    python benchmarks/langid_cost.py --corpus /work/bench/corpus
Writes benchmarks/results/langid_cost.json.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from collections import Counter
from pathlib import Path

from bench_results import write_result  # benchmarks/ is on sys.path when run as a script
from curate.quality.config import EnsembleConfig
from curate.quality.langid import LanguageIdentifier
from curate.quality.lid_ensemble import LanguageEnsemble, LinguaDetector, lingua_version

RESULTS = Path(__file__).parent / "results" / "langid_cost.json"


class TimedLingua(LinguaDetector):
    """lingua with the CPU seconds of its calls counted."""

    cpu_s = 0.0

    def confidences(self, norm: str, candidates: list[str]) -> list[tuple[str, float]] | None:
        start = time.process_time()
        try:
            return super().confidences(norm, candidates)
        finally:
            self.cpu_s += time.process_time() - start


def corpus_docs(corpus: Path) -> list[dict]:
    docs = []
    for path in sorted((corpus / "text").glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            docs += [json.loads(line) for line in f]
    return docs


def hint_agreement(docs: list[dict], langs: list[str | None]) -> dict[str, float]:
    total, agree = Counter(), Counter()
    for doc, lang in zip(docs, langs):
        if doc.get("lang_hint"):
            total[doc["source"]] += 1
            agree[doc["source"]] += lang == doc["lang_hint"]
    return {src: round(agree[src] / total[src], 4) for src in sorted(total)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default="/work/bench/corpus")
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args(argv)
    docs = corpus_docs(Path(args.corpus))
    texts = [d["text"] for d in docs]
    cfg = EnsembleConfig()
    first = LanguageIdentifier()
    ens = LanguageEnsemble(first, below_score=cfg.below_score, top_k=cfg.top_k, low_accuracy=cfg.low_accuracy,
                           max_chars=cfg.max_chars)
    ens.second = TimedLingua(low_accuracy=cfg.low_accuracy, max_chars=cfg.max_chars)
    ens.predict(texts[0])  # lingua loads its models on first use: not a per-document cost
    ens.second.cpu_s = 0.0

    alone, preds = [], []
    alone_s = ensemble_s = 0.0
    for text in texts:  # interleaved: the neighbours' load falls on both alike
        start = time.process_time()
        alone.append(first.predict(text).lang)
        middle = time.process_time()
        preds.append(ens.predict(text))
        alone_s += middle - start
        ensemble_s += time.process_time() - middle

    changed = Counter(f"{a}->{p.lang}" for a, p in zip(alone, preds) if a != p.lang)
    write_result({
        "corpus": {"path": args.corpus, "text_docs": len(texts), "text_mb": round(sum(len(t.encode()) for t in texts) / 1e6, 1)},
        "lingua": lingua_version(),
        "ensemble": cfg.model_dump(),
        "lid176_alone_cpu_s": round(alone_s, 2),
        "ensemble_cpu_s": round(ensemble_s, 2),
        "of_which_lingua_cpu_s": round(ens.second.cpu_s, 2),
        "ratio": round(ensemble_s / alone_s, 3),
        "docs_to_lingua": sum(p.lingua is not None for p in preds),
        "docs_below_score": sum(p.fasttext.lang is not None and p.fasttext.score < cfg.below_score for p in preds),
        "final_lang_changed": sum(changed.values()),
        "changes": dict(changed.most_common(15)),
        "agrees_with_lang_hint": {"lid176_alone": hint_agreement(docs, alone),
                                  "ensemble": hint_agreement(docs, [p.lang for p in preds])},
    }, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
