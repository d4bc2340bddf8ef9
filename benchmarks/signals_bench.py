"""The quality-signal families, Python against the native kernels, per core, on the benchmark corpus.

    python benchmarks/signals_bench.py [--corpus /work/bench/corpus] [--mb 20] [--repeats 3] [--check]

Times each family on the first --mb MB of the corpus's text documents (code: of its code documents),
in this one process, as CPU seconds (the machine may be shared), best of --repeats; the Gopher
families include their word splitting on both sides. --check first compares every signal of every
document of the corpus (text documents: all text signals and the word lists; code documents: the code
statistics) and records how many were compared and which differed. Writes benchmarks/results/signals.json.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from pathlib import Path

from bench_results import write_result  # benchmarks/ is on sys.path when run as a script
from curate.quality import native, words
from curate.quality.c4 import c4_signals
from curate.quality.codelang import detect_code_lang
from curate.quality.codequality import _line_comment_prefix, code_stats
from curate.quality.fineweb import fineweb_signals
from curate.quality.gopher import gopher_quality_signals, gopher_repetition_signals
from curate.quality.signals import TEXT_SIGNALS, python_text_signals

RESULTS = Path(__file__).parent / "results" / "signals.json"


def load(corpus: Path, kind: str) -> list[tuple[str, str]]:
    """(text, path) of every document of one kind, in file order."""
    docs = []
    for f in sorted((corpus / kind).glob("*.jsonl.gz")):
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            docs += [(d["text"], d.get("path") or d.get("url") or "") for d in map(json.loads, fh)]
    return docs


def head(docs: list[tuple[str, str]], mb: float) -> list[tuple[str, str]]:
    out, size = [], 0
    for doc in docs:
        if size >= mb * 1e6:
            break
        out.append(doc)
        size += len(doc[0].encode())
    return out


def check(text_docs, code_docs, kernels, module) -> dict:
    """Every signal of every document, native against Python."""
    differ: list[str] = []
    for i, (text, _) in enumerate(text_docs):
        ours, theirs = kernels.text_signals(text), python_text_signals(text)
        differ += [f"text {i} {k}" for k, a, b in zip(TEXT_SIGNALS, ours, theirs.values()) if abs(a - b) > 1e-12]
        if kernels.split_words(text) != words.split_words(text):
            differ.append(f"text {i} words")
    for i, (text, path) in enumerate(code_docs):
        prefix = _line_comment_prefix(detect_code_lang(path, text))
        if module.code_stats(text, prefix) != code_stats(text, prefix):
            differ.append(f"code {i}")
    return {"text_docs": len(text_docs), "code_docs": len(code_docs), "differ": differ[:50],
            "n_differ": len(differ)}


def best_cpu_s(fn, items, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        for item in items:
            fn(item)
        best = min(best, time.process_time() - start)
    return best


def families(kernels, module) -> dict:
    """family -> (Python function, native function), each over one document's text."""
    def py_quality(t):
        return gopher_quality_signals(t, words.tokenize(t), t.splitlines())

    return {
        "words": (words.tokenize, kernels.word_count),
        "gopher_quality": (py_quality, kernels.gopher_quality),
        "gopher_repetition": (lambda t: gopher_repetition_signals(t, words.tokenize(t)), kernels.gopher_repetition),
        "c4": (lambda t: c4_signals(t.splitlines()), module.c4_signals),
        "fineweb": (lambda t: fineweb_signals(t, 1000), lambda t: module.fineweb_signals(t, 1000)),
        "all_text_signals": (python_text_signals, kernels.text_signals),
        "code": (lambda t: code_stats(t, "#"), lambda t: module.code_stats(t, "#")),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default="/work/bench/corpus")
    ap.add_argument("--mb", type=float, default=20, help="MB of text and of code documents timed")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--check", action="store_true", help="compare every document's signals first")
    args = ap.parse_args(argv)
    kernels, module = native.kernels(), native.module()
    if kernels is None:
        sys.exit("curate_kernels is not usable here: run scripts/setup.sh")
    corpus = Path(args.corpus)
    text_docs, code_docs = load(corpus, "text"), load(corpus, "code")
    result: dict = {"corpus": str(corpus)}
    if args.check:
        result["check"] = check(text_docs, code_docs, kernels, module)
    timed = {"text": [t for t, _ in head(text_docs, args.mb)], "code": [t for t, _ in head(code_docs, args.mb)]}
    mb = {kind: sum(len(t.encode()) for t in texts) / 1e6 for kind, texts in timed.items()}
    result["timed"] = {kind: {"docs": len(timed[kind]), "mb": round(mb[kind], 2)} for kind in timed}
    result["mb_per_s_per_core"] = {}
    for name, (python_fn, native_fn) in families(kernels, module).items():
        kind = "code" if name == "code" else "text"
        py_s = best_cpu_s(python_fn, timed[kind], args.repeats)
        native_s = best_cpu_s(native_fn, timed[kind], args.repeats)
        result["mb_per_s_per_core"][name] = {"python": round(mb[kind] / py_s, 2), "native": round(mb[kind] / native_s, 2),
                                             "speedup": round(py_s / native_s, 2)}
    result["note"] = "CPU seconds of this process (best of repeats) on a shared machine; Gopher families include word splitting"
    write_result(result, RESULTS)
    return 1 if result.get("check", {}).get("n_differ") else 0


if __name__ == "__main__":
    sys.exit(main())
