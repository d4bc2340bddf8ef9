"""Line and paragraph dedup (dedup.line_dedup): the kernels on real text, and the dedup job on
Delta tables: what is removed, per source, from old and new documents, and the fates it leaves."""

from __future__ import annotations

from pathlib import Path

import pyspark
import pytest
from pyspark.sql import functions as F

from curate.audit.checks import LINE_DROPPED, presence, stage_checks
from curate.audit.fates import doc_fates
from curate.dedup.config import DedupConfig
from curate.dedup.lines import REMOVED_FRAC, doc_units, header_end, strip_units
from curate.jobs.common import StageContext
from curate.jobs.dedup import run_dedup
from curate.quality.rules import TEXT_RULES
from curate.report.aggregate import drop_reasons, line_dedup
from curate.quality.schema import DOCS_ANNOTATED_SCHEMA
from curate.schemas.config import PipelineConfig
from curate.schemas.tables import (
    DOCS_ANNOTATED,
    DOCS_CURATED,
    DOCS_RAW_SCHEMA,
    LINE_DEDUP_DOCS,
    LINE_HASHES,
    QUARANTINE_SCHEMA,
)

from .test_job import _annotated
from .texts import license_text, stdlib_docstrings

PYSPARK_SQL = Path(pyspark.__file__).parent / "sql"
# Real lines: a licence's boilerplate, as a site footer would carry it.
BANNER = "Everyone is permitted to copy and distribute verbatim copies"  # GPL-3, line 5
RARE = "of this license document, but changing it is not allowed."  # GPL-3, line 6
MIN_DOCS = 3


def _cfg(root: str, **line_dedup) -> PipelineConfig:
    # Only the length rule: the stdlib docstrings fail Gopher's and C4's prose rules as they are.
    rules = {"text": {k: None for k in TEXT_RULES if k != "min_gopher_word_count"}, "builtin_overrides": []}
    return PipelineConfig(root=root, annotate={"rules": rules},
                          dedup={"line_dedup": {"enabled": True, "min_docs": MIN_DOCS, **line_dedup}})


def _ctx(spark, store, cfg, run_id, mode=None):
    return StageContext(spark=spark, cfg=cfg, store=store, run_id=run_id, options={"mode": mode})


def test_licence_lines_and_paragraphs_are_found_and_removed():
    gpl = license_text("GPL-3")
    assert BANNER in gpl and RARE in gpl
    doc = stdlib_docstrings()[0]
    text = f"{doc}\n{BANNER}\n\n{RARE}"
    cfg = DedupConfig(line_dedup={"unit": "both"})
    [(spans, hashes)] = doc_units([text], ["text"], cfg)
    # Normalization: case, punctuation and spacing do not make another line.
    [(_, loud)] = doc_units([BANNER.upper().replace(" ", "  ") + "!"], ["text"], cfg)
    banner = hashes[[text[s[1]:s[2]] == BANNER for s in spans].index(True)]
    assert loud[0] == banner
    out = strip_units(text, spans, hashes, {int(banner)})
    assert out == f"{doc}\n\n{RARE}"
    # The last paragraph (a one-line one) is a paragraph unit too, with its own hash.
    para = [h for s, h in zip(spans, hashes) if s[0] == 1 and text[s[1]:s[2]] == RARE]
    line = [h for s, h in zip(spans, hashes) if s[0] == 0 and text[s[1]:s[2]] == RARE]
    assert para and line and para != line
    assert strip_units(text, spans, hashes, {int(para[0])}) == f"{doc}\n{BANNER}\n\n"


def test_a_code_files_header_is_its_leading_comment_block():
    source = (PYSPARK_SQL / "window.py").read_text()
    end = header_end(source)
    header = source[:end]
    assert "Licensed to the Apache Software Foundation" in header and "limitations under the License." in header
    assert "import" not in header and source[end:].lstrip().startswith(("import", "from", '"""', "#"))
    c_file = "/*\n * Copyright (c) The Authors\n */\nint main(void) { return 0; }\n"
    assert header_end(c_file) == c_file.index("int main")


def _line_docs():
    docs = stdlib_docstrings()
    code = [(PYSPARK_SQL / f).read_text() for f in ("window.py", "group.py", "catalog.py")]
    rows = [(f"web-{i}", f"{docs[i]}\n{BANNER}", {"source": "web"}) for i in range(4)]  # BANNER: in 4 docs of web
    rows += [(f"web-{i}", f"{docs[i]}\n{RARE}", {"source": "web"}) for i in (4, 5)]  # RARE: in 2 of web ...
    rows += [(f"notes-{i}", f"{docs[i]}\n{RARE}", {"source": "notes"}) for i in (6, 7)]  # ... and 2 of notes
    rows += [("web-banner-only", f"{BANNER}\n{BANNER}", {"source": "web"})]  # nothing left once BANNER goes
    rows += [(f"code-{i}", text, {"source": "code", "kind": "code"}) for i, text in enumerate(code)]
    return rows


def _curated(store) -> dict[str, str]:
    return {r["doc_id"]: r["text"] for r in store.read(DOCS_CURATED).select("doc_id", "text").collect()}


def test_lines_in_min_docs_documents_of_a_source_are_removed(spark, store):
    rows = _line_docs()
    texts = {r[0]: r[1] for r in rows}
    store.overwrite(_annotated(spark, rows), DOCS_ANNOTATED, schema=DOCS_ANNOTATED_SCHEMA)
    result = run_dedup(_ctx(spark, store, _cfg(store.root), "run-1"))
    curated = _curated(store)

    for i in range(4):  # in 4 >= MIN_DOCS documents of web: gone from all of them
        assert curated[f"web-{i}"] == texts[f"web-{i}"].removesuffix(BANNER)
    for doc_id in ("web-4", "web-5", "notes-6", "notes-7"):  # 2 per source, 4 in all: kept
        assert curated[doc_id] == texts[doc_id]
    for i in range(3):  # code is left alone by default, licence header and all
        assert curated[f"code-{i}"] == texts[f"code-{i}"]
    assert "web-banner-only" not in curated

    changed = {r["doc_id"]: r for r in store.read(LINE_DEDUP_DOCS).collect()}
    assert set(changed) == {"web-0", "web-1", "web-2", "web-3", "web-banner-only"}
    dropped = changed["web-banner-only"]
    assert not dropped["keep"] and dropped["drop_reasons"] == ["min_gopher_word_count"] and dropped["text"] == ""
    assert dropped["removed_bytes"] == dropped["n_bytes_before"] and dropped["removed_frac"] == 1.0
    web0 = changed["web-0"]
    assert web0["removed_bytes"] == len(BANNER) and web0["n_bytes"] == len(curated["web-0"].encode())
    signals = {r["doc_id"]: dict(r["signals"]) for r in store.read(DOCS_CURATED).collect()}
    assert signals["web-0"][REMOVED_FRAC] == pytest.approx(len(BANNER) / len(texts["web-0"].encode()))
    assert signals["web-0"]["n_chars"] == len(curated["web-0"]) and signals["web-4"][REMOVED_FRAC] == 0.0

    # Counts reconcile: kept by annotate = curated + removed duplicates + dropped after line dedup.
    c = result.counts
    assert (c["line_dedup_changed"], c["line_dedup_dropped"]) == (5, 1)
    assert c["line_dedup_removed_bytes"] == 4 * len(BANNER) + len(texts["web-banner-only"])
    # The run report shows the same, per source, and the drop after line dedup among the reasons.
    versions = {name: store.version(name) for name in (LINE_DEDUP_DOCS, "dup_clusters")}
    assert line_dedup(store, versions) == [{
        "source": "web", "changed": 5, "bytes_before": sum(len(texts[d].encode()) for d in changed),
        "removed_bytes": c["line_dedup_removed_bytes"], "dropped": 1}]
    assert {"stage": "dedup", "reason": "after_line_dedup:min_gopher_word_count", "documents": 1} in drop_reasons(
        store, versions)
    assert result.rows_out == len(rows) - 1 == c["candidates"] - c.get("removed_exact", 0) - c.get("removed_near", 0) - 1

    raw = _annotated(spark, rows).select(*DOCS_RAW_SCHEMA.names)
    tables = {"docs_raw": raw, "docs_annotated": store.read(DOCS_ANNOTATED), "dup_clusters": store.read("dup_clusters"),
              "docs_curated": store.read(DOCS_CURATED),
              LINE_DROPPED: store.read(LINE_DEDUP_DOCS).where(~F.col("keep")).select("doc_id")}
    checks = stage_checks(presence(tables), ran=set(tables), tok_input="docs_curated")
    assert checks and all(ch.ok for ch in checks), [ch.message() for ch in checks if not ch.ok]
    fates = doc_fates(raw=raw, quarantine=spark.createDataFrame([], QUARANTINE_SCHEMA),
                      annotated=store.read(DOCS_ANNOTATED), clusters=store.read("dup_clusters"),
                      line_dedup=store.read(LINE_DEDUP_DOCS), curated=store.read(DOCS_CURATED),
                      tokenized=spark.createDataFrame([], "doc_id string"), members=None, shard_version=None)
    fate = {r["doc_id"]: r for r in fates.collect()}
    assert (fate["web-banner-only"]["fate"], fate["web-banner-only"]["stage"]) == ("dropped", "dedup")
    assert fate["web-banner-only"]["reasons"] == ["min_gopher_word_count"]
    assert {r["fate"] for d, r in fate.items() if d != "web-banner-only"} == {"curated"}


def test_code_licence_headers_are_removed_only_when_configured(spark, tmp_path):
    from curate.delta.store import open_store

    store = open_store(spark, str(tmp_path / "root"), engine="delta-rs")
    rows = _line_docs()
    texts = {r[0]: r[1] for r in rows}
    store.overwrite(_annotated(spark, rows), DOCS_ANNOTATED, schema=DOCS_ANNOTATED_SCHEMA)
    run_dedup(_ctx(spark, store, _cfg(store.root, code="header"), "run-1"))
    curated = _curated(store)
    for i in range(3):
        before, after = texts[f"code-{i}"], curated[f"code-{i}"]
        assert "Licensed to the Apache Software Foundation" in before
        assert "Licensed to the Apache Software Foundation" not in after
        # Only header lines went (bare "#" lines normalize to nothing and stay): the body, whose
        # lines (imports) the files share too, is intact.
        header, body = before[:header_end(before)], before[header_end(before):]
        assert after.endswith(body) and set(after[:-len(body)].splitlines()) < set(header.splitlines())


def test_incremental_counts_include_earlier_runs(spark, tmp_path, delta_engine):
    from curate.delta.store import open_store

    docs = stdlib_docstrings()
    old = [(f"old-{i}", f"{docs[i]}\n{BANNER}", {"source": "web"}) for i in range(MIN_DOCS - 1)]
    new = [("new-0", f"{docs[7]}\n{BANNER}", {"source": "web"}), ("new-1", docs[6], {"source": "web"})]
    inc = open_store(spark, str(tmp_path / "inc"), engine=delta_engine)
    inc.overwrite(_annotated(spark, old), DOCS_ANNOTATED, schema=DOCS_ANNOTATED_SCHEMA)
    first = run_dedup(_ctx(spark, inc, _cfg(inc.root), "run-1"))
    assert first.counts["line_dedup_changed"] == 0  # MIN_DOCS - 1 documents hold BANNER
    assert all(BANNER in t for t in _curated(inc).values())

    inc.overwrite(_annotated(spark, old + new), DOCS_ANNOTATED, schema=DOCS_ANNOTATED_SCHEMA)
    second = run_dedup(_ctx(spark, inc, _cfg(inc.root), "run-2"))
    assert inc.read(LINE_HASHES).where(F.col("dedup_run_id") == "run-2").count() == 2  # only new ones hashed
    assert second.counts["line_dedup_changed"] == MIN_DOCS  # the old ones lose BANNER too
    assert not any(BANNER in t for t in _curated(inc).values())

    assert _curated(inc) == {d: t.removesuffix(BANNER) for d, t, _ in old + new}  # as from scratch

    # Switched off: docs_curated has the annotated texts again and line_dedup_docs no rows.
    off = PipelineConfig(root=inc.root, annotate=_cfg(inc.root).annotate)
    run_dedup(_ctx(spark, inc, off, "run-3"))
    assert _curated(inc) == {r[0]: r[1] for r in old + new} and inc.read(LINE_DEDUP_DOCS).count() == 0
