"""Line and paragraph dedup kernels, plain Python over Arrow batches (curate.pipelines.line_dedup
runs them in Spark).

A document's units are its lines and/or paragraphs (blocks separated by blank lines), each
normalized as dedup.normalize says (curate.dedup.normalize) and hashed with 64-bit xxh3, seeded
per unit kind so a one-line paragraph and the same line count apart. A unit whose normalized form
is empty (a blank or punctuation-only line) is never counted or removed. Removing a unit removes
its characters and the separator after it.
"""

from __future__ import annotations

import functools
import re
import numpy as np
import pyarrow as pa
import xxhash

from curate.dedup.config import DedupConfig, LineDedupConfig
from curate.dedup.normalize import normalize
from curate.quality.annotator import RuleBook
from curate.quality.rules import RulesConfig
from curate.quality.signals import compute_signals

UNIT_SEEDS = {"line": 0, "paragraph": 1}
REMOVED_FRAC = "line_dedup_removed_frac"  # the signal: UTF-8 bytes removed / bytes before
_PARAGRAPH_BREAK = re.compile(r"\n[^\S\n]*\n\s*")
# A line of a code file's leading comment block starts with one of these (after indentation).
_COMMENT_STARTS = ("#", "//", "/*", "*", "--", ";", "%", "<!--", "-->", "'''", '"""', "rem ", "::")


def header_end(text: str) -> int:
    """Characters of a code file's leading block of comment and blank lines (its licence header);
    a block comment (/* */) or a leading docstring counts to its closing line."""
    pos, closer = 0, None
    for line in text.splitlines(keepends=True):
        s = line.strip()
        if closer is not None:
            if closer in s:
                closer = None
        elif s and not s.lower().startswith(_COMMENT_STARTS):
            break
        elif s.startswith("/*") and "*/" not in s[2:]:
            closer = "*/"
        elif s[:3] in ('"""', "'''") and s[:3] not in s[3:]:
            closer = s[:3]
        pos += len(line)
    return pos


def unit_spans(text: str, *, unit: str, limit: int | None = None) -> list[tuple[int, int, int, int]]:
    """(seed, start, end, removal end) of each unit ending by `limit` (characters; None: all):
    text[start:end] is the unit, text[start:removal end] the unit and its separator."""
    spans = []
    if unit in ("line", "both"):
        start = 0
        for line in text.split("\n"):
            end = start + len(line)
            spans.append((UNIT_SEEDS["line"], start, end, min(end + 1, len(text))))
            start = end + 1
    if unit in ("paragraph", "both"):
        start = 0
        for m in [*_PARAGRAPH_BREAK.finditer(text), None]:
            end = m.start() if m else len(text)
            spans.append((UNIT_SEEDS["paragraph"], start, end, m.end() if m else end))
            start = m.end() if m else end
    if limit is not None:
        spans = [s for s in spans if s[3] <= limit]
    return spans


def _eligible_limit(kind: str, cfg: LineDedupConfig, text: str) -> int | None:
    """How far into a document units count: 0 (none), its header, or all of it (None)."""
    if kind != "code" or cfg.code == "all":
        return None
    return header_end(text) if cfg.code == "header" else 0


def doc_units(texts: list[str], kinds: list[str], cfg: DedupConfig) -> list[tuple[list, np.ndarray]]:
    """Per document: its eligible unit spans (`unit_spans`) and their hashes (int64; 0 for a unit
    whose normalized form is empty, which never counts)."""
    lines = cfg.line_dedup
    spans = [unit_spans(t, unit=lines.unit, limit=_eligible_limit(k, lines, t)) for t, k in zip(texts, kinds)]
    flat = [t[s[1]:s[2]] for t, doc in zip(texts, spans) for s in doc]
    seeds = [s[0] for doc in spans for s in doc]
    norm = normalize(pa.array(flat, pa.large_string()), cfg.normalize).to_pylist() if flat else []
    digests = np.array([xxhash.xxh3_64_intdigest(n.encode("utf-8"), seed) if n else 0 for n, seed in zip(norm, seeds)],
                       np.uint64).view(np.int64)
    out, at = [], 0
    for doc in spans:
        out.append((doc, digests[at:at + len(doc)]))
        at += len(doc)
    return out


def unit_hash_batch(batch: pa.RecordBatch, cfg_json: str) -> pa.RecordBatch:
    """(doc_id, source, hashes): each document's distinct unit hashes, sorted."""
    cfg = DedupConfig.model_validate_json(cfg_json)
    units = doc_units(batch.column("text").to_pylist(), batch.column("kind").to_pylist(), cfg)
    hashes = [np.unique(h[h != 0]) for _, h in units]
    return pa.RecordBatch.from_arrays(
        [batch.column("doc_id"), batch.column("source"), pa.array([h.tolist() for h in hashes], pa.list_(pa.int64()))],
        names=["doc_id", "source", "hashes"])


def strip_units(text: str, spans: list, hashes: np.ndarray, frequent: set[int]) -> str:
    """`text` without the spans whose hash is in `frequent` (each with its separator)."""
    gone = sorted((s[1], s[3]) for s, h in zip(spans, hashes.tolist()) if h in frequent)
    if not gone:
        return text
    pieces, pos = [], 0
    for start, end in gone:
        if start > pos:
            pieces.append(text[pos:start])
        pos = max(pos, end)
    pieces.append(text[pos:])
    return "".join(pieces)


@functools.lru_cache(maxsize=4)
def _rulebook(rules_json: str) -> RuleBook:
    return RuleBook(RulesConfig.model_validate_json(rules_json))


def stripped_batch(batch: pa.RecordBatch, cfg_json: str, rules_json: str) -> pa.RecordBatch:
    """docs_annotated rows with `frequent` (their units' hashes found in min_docs documents) ->
    their line_dedup_docs rows: the text without those units, its signals recomputed (with
    REMOVED_FRAC), and the rules' verdict on them."""
    cfg, rulebook = DedupConfig.model_validate_json(cfg_json), _rulebook(rules_json)
    rows = batch.to_pylist()
    units = doc_units([r["text"] for r in rows], [r["kind"] for r in rows], cfg)
    out = []
    for row, (spans, hashes) in zip(rows, units):
        text = strip_units(row["text"], spans, hashes, set(row["frequent"]))
        n_bytes = len(text.encode("utf-8"))
        removed = row["n_bytes"] - n_bytes
        signals = {**dict(row["signals"] or ()),
                   **compute_signals(text, kind=row["kind"], code_lang=row["code_lang"], uri=row["uri"]),
                   REMOVED_FRAC: removed / row["n_bytes"] if row["n_bytes"] else 0.0}
        keep, reasons = rulebook.verdict(row, signals)
        out.append({"doc_id": row["doc_id"], "source": row["source"], "kind": row["kind"],
                    "n_bytes_before": row["n_bytes"], "removed_bytes": removed,
                    "removed_frac": signals[REMOVED_FRAC], "text": text, "n_bytes": n_bytes,
                    "signals": list(signals.items()), "keep": keep, "drop_reasons": reasons})
    return pa.RecordBatch.from_pylist(out, schema=LINE_DEDUP_DOCS_ARROW)


LINE_DEDUP_DOCS_ARROW = pa.schema([
    ("doc_id", pa.string()), ("source", pa.string()), ("kind", pa.string()), ("n_bytes_before", pa.int64()),
    ("removed_bytes", pa.int64()), ("removed_frac", pa.float64()), ("text", pa.string()), ("n_bytes", pa.int64()),
    ("signals", pa.map_(pa.string(), pa.float64())), ("keep", pa.bool_()), ("drop_reasons", pa.list_(pa.string())),
])
