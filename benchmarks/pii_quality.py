"""Measure PII redaction: plants redacted and look-alikes kept per class on the planted set
(scripts/build_pii_set.py), what is redacted in the same documents before planting, speed on real
code, and annotate's bare time with and without redaction; the same quality and speed figures for
detect-secrets (Yelp, Apache-2.0; `pip install detect-secrets`), the maintained detector we weighed.

    python benchmarks/pii_quality.py --corpus /tmp/corpus [--seed 1] [--per-class 40] [--code-mb 100]
Writes benchmarks/results/pii_quality.json (`--out` to write elsewhere). The figures of other code
come from the same script with that code first on the path: pii_quality_e195c30.json is

    git archive e195c30 curate | tar -x -C /tmp/before
    PYTHONPATH=/tmp/before python benchmarks/pii_quality.py --corpus /tmp/corpus --out ...

The corpus is a `scripts/build_corpus.py` output (real code and text from this machine). Speed is
CPU seconds of this one process (the machine is shared; wall time there measures the neighbours):
MB/s per core. detect-secrets is scored by what it flags (its findings
name a line and a value, not a span to replace): a plant counts as found when a finding on one of
its lines overlaps its value (a key block: any finding on its BEGIN line), a look-alike as flagged
when a finding's value overlaps it. curate's detector is scored by what is left after redaction.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.metadata
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pyarrow as pa
from pyspark.sql.pandas.types import to_arrow_schema

from bench_results import write_result  # benchmarks/ is on sys.path when run as a script
from curate.quality.annotator import Annotator
from curate.quality.config import AnnotateConfig, PiiConfig
from curate.quality.pii import PiiOptions, redact
from curate.schemas.tables import DOCS_RAW_SCHEMA

REPO = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results" / "pii_quality.json"
SUFFIX = {"prose": ".txt", "python": ".py", "c": ".h", "shell": ".sh", "yaml": ".yaml", "ini": ".ini", "env": ".env"}


def corpus_records(corpus: Path, kind: str, mb: float) -> list[dict]:
    """The first `mb` MB of `kind` (text or code) records of a build_corpus.py output."""
    records, size = [], 0
    for shard in sorted((corpus / kind).glob("*.jsonl.gz")):
        with gzip.open(shard, "rt", encoding="utf-8") as f:
            for line in f:
                records.append(json.loads(line))
                size += len(records[-1]["text"].encode())
                if size >= mb * 1e6:
                    return records
    return records


def corpus_docs(corpus: Path, kind: str, mb: float) -> list[str]:
    return [r["text"] for r in corpus_records(corpus, kind, mb)]


def _cpu(fn, repeat: int) -> float:
    """The fewest CPU seconds of this process `fn()` took in `repeat` runs."""
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def ours_quality(pii_set, rows: list[dict]) -> dict:
    opts = PiiOptions()
    result = pii_set.score(rows, lambda text: redact(text, opts)[0])
    background: dict[str, Counter] = {}
    size = Counter()
    for row in rows:  # what is redacted in the real documents before anything was planted
        size[row["type"]] += len(row["base"].encode())
        background.setdefault(row["type"], Counter()).update(redact(row["base"], opts)[1])
    result["unplanted_redactions"] = {t: {"mb": round(size[t] / 1e6, 3), **dict(c)} for t, c in background.items()}
    return result


def _detect_secrets_findings(paths: list[Path]) -> dict[Path, list[tuple[int, str]]]:
    from detect_secrets.core.scan import scan_file
    from detect_secrets.settings import default_settings

    with default_settings():
        return {p: [(s.line_number, s.secret_value or "") for s in scan_file(str(p))] for p in paths}


def detect_secrets_quality(pii_set, rows: list[dict], work: Path) -> dict:
    paths = []
    for row in rows:
        path = work / f"{row['doc']}{SUFFIX[row['type']]}"
        path.write_text(row["text"], encoding="utf-8")
        paths.append(path)
    findings = _detect_secrets_findings(paths)
    found, n, flagged, looks = Counter(), Counter(), Counter(), Counter()
    for row, path in zip(rows, paths):
        hits, text = findings[path], row["text"]
        for p in row["plants"]:
            n[p["class"]] += 1
            first = p["value"].splitlines()[0]
            start = text.find(first)
            line = text.count("\n", 0, start) + 1
            lines = range(line, line + max(1, p["value"].count("\n") + 1))
            if p["class"] == "private_key":
                found[p["class"]] += any(ln == line for ln, _ in hits)
            else:
                found[p["class"]] += any(ln in lines and v and (v in p["value"] or p["value"] in v) for ln, v in hits)
        for lk in row["lookalikes"]:
            looks[lk["class"]] += 1
            flagged[lk["class"]] += any(v and (v in lk["value"] or lk["value"] in v) for _, v in hits)
    return {
        "plants": {c: {"n": n[c], "found": found[c], "recall": found[c] / n[c]} for c in pii_set.PLANT_CLASSES if n[c]},
        "lookalikes": {c: {"n": looks[c], "kept": looks[c] - flagged[c], "kept_rate": 1 - flagged[c] / looks[c]}
                       for c in pii_set.LOOKALIKE_CLASSES if looks[c]},
    }


def ours_speed(texts: list[str], repeat: int) -> dict:
    opts = PiiOptions()
    mb = sum(len(t.encode()) for t in texts) / 1e6
    found = Counter()
    for text in texts:
        found.update(redact(text, opts)[1])
    s = _cpu(lambda: [redact(text, opts) for text in texts], repeat)
    return {"mb": round(mb, 1), "docs": len(texts), "s": s, "mb_per_s_per_core": mb / s, "redactions": dict(found)}


def detect_secrets_speed(texts: list[str], work: Path) -> dict:
    paths = []
    for i, text in enumerate(texts):
        path = work / f"code-{i}.py"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    mb = sum(len(t.encode()) for t in texts) / 1e6
    start = time.process_time()
    findings = _detect_secrets_findings(paths)
    s = time.process_time() - start
    return {"mb": round(mb, 1), "docs": len(texts), "s": s, "mb_per_s_per_core": mb / s,
            "findings": sum(len(f) for f in findings.values())}


def docs_raw_batch(records: list[tuple[dict, str]]) -> pa.RecordBatch:
    """docs_raw rows of corpus records (kind), their other fields as metadata, as ingest makes them."""
    rows = [{"doc_id": str(i), "source_id": r.get("id"), "source": r.get("source", "bench"), "kind": kind,
             "text": r["text"], "uri": r.get("url") or r.get("path") or str(i), "offset": 0, "input_file": "bench",
             "n_bytes": len(r["text"].encode()), "ingest_run_id": "bench",
             "metadata": [(k, v if isinstance(v, str) else json.dumps(v)) for k, v in r.items()
                          if k not in ("text", "id") and v is not None]}
            for i, (r, kind) in enumerate(records)]
    return pa.RecordBatch.from_pylist(rows, schema=to_arrow_schema(DOCS_RAW_SCHEMA))


def annotate_share(records: list[tuple[dict, str]], repeat: int) -> dict:
    """CPU seconds of the bare Annotator's `annotate_batch` (what Spark's tasks run) over the same
    docs_raw rows with PII redaction on and off, and of `redact` alone over their texts."""
    batches = [docs_raw_batch(records[i:i + 2000]) for i in range(0, len(records), 2000)]
    out = {}
    for label, pii in (("pii_on", PiiConfig()), ("pii_off", PiiConfig(enabled=False))):
        annotator = Annotator(AnnotateConfig(pii=pii))
        out[f"annotate_{label}_s"] = _cpu(lambda: [annotator.annotate_batch(b) for b in batches], repeat)
    opts = PiiOptions()
    out["redact_texts_s"] = _cpu(lambda: [redact(r["text"], opts) for r, _ in records], repeat)
    out["mb"] = round(sum(len(r["text"].encode()) for r, _ in records) / 1e6, 1)
    out["pii_share_of_annotate"] = 1 - out["annotate_pii_off_s"] / out["annotate_pii_on_s"]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", required=True, help="a scripts/build_corpus.py output")
    ap.add_argument("--seed", type=int, default=1, help="the planted set's seed (tests use 0)")
    ap.add_argument("--per-class", type=int, default=40)
    ap.add_argument("--code-mb", type=float, default=100, help="code timed with curate's detector")
    ap.add_argument("--ds-mb", type=float, default=10, help="code timed with detect-secrets (slower)")
    ap.add_argument("--annotate-mb", type=float, default=4, help="text and code each, for annotate's share")
    ap.add_argument("--repeat", type=int, default=3, help="timings are the fewest CPU seconds of this many runs")
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args(argv)
    sys.path.insert(0, str(REPO / "scripts"))
    import build_pii_set as pii_set

    rows = pii_set.build_set(seed=args.seed, per_class=args.per_class, lookalikes_per_class=args.per_class)
    corpus = Path(args.corpus)
    code = corpus_docs(corpus, "code", args.code_mb)
    result = {
        "planted_set": {"seed": args.seed, "documents": len(rows), "plants": sum(len(r["plants"]) for r in rows),
                        "lookalikes": sum(len(r["lookalikes"]) for r in rows)},
        "curate": {"quality": ours_quality(pii_set, rows), "speed_code": ours_speed(code, args.repeat)},
    }
    try:
        version = importlib.metadata.version("detect-secrets")
    except importlib.metadata.PackageNotFoundError:  # an optional peer (the `reference` extra)
        result["detect_secrets"] = None
    else:
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "set").mkdir()
            (Path(tmp) / "code").mkdir()
            ds_code = corpus_docs(corpus, "code", args.ds_mb)
            result["detect_secrets"] = {
                "version": version,
                "quality": detect_secrets_quality(pii_set, rows, Path(tmp) / "set"),
                "speed_code": detect_secrets_speed(ds_code, Path(tmp) / "code"),
                "curate_speed_same_code": ours_speed(ds_code, args.repeat),
            }
    mixed = [(r, "text") for r in corpus_records(corpus, "text", args.annotate_mb)]
    mixed += [(r, "code") for r in corpus_records(corpus, "code", args.annotate_mb)]
    result["annotate_bare"] = annotate_share(mixed, args.repeat)
    result["cpu_count"] = os.cpu_count()
    result["note"] = "CPU seconds of one process (fewest of --repeat runs); machine shared with other jobs"
    write_result(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
