"""One 50 MB document through every stage with bounded executor memory (slow).

The document is real text from this machine: the Python documentation's reStructuredText sources,
then standard-library and installed modules, concatenated in sorted order and cut at a line end past 50 MB. By
default ingest quarantines it (`too_large`: `ingest.max_doc_bytes` is 10 MB); with the limit
raised and the quality rules off it is annotated, MinHashed, tokenized and mixed into shards, and
the peak resident memory of the Python workers is recorded and bounded.
"""

from __future__ import annotations

import json
import sysconfig
from pathlib import Path

import pytest
import yaml
from deltalake import DeltaTable

from curate.quality.rules import CODE_KIND_RULES, TEXT_RULES

from test_faults.harness import run_curate

DOC_BYTES = 50_000_000
SOURCES = [("/usr/share/doc/python3.11/html/_sources", "*.rst.txt"), (sysconfig.get_paths()["stdlib"], "*.py"),
           (sysconfig.get_paths()["purelib"], "*.py")]
# Peak RSS allowed to one Python worker: the document's text, its UTF-8 and Arrow copies, its
# token ids as Python ints and as Arrow, with room for the interpreter and the models.
MAX_WORKER_RSS_MB = 3_000


def big_document(path: Path) -> int:
    """Write one real-text document of just over DOC_BYTES; its size in bytes."""
    size = 0
    with path.open("w", encoding="utf-8") as out:
        for folder, pattern in SOURCES:
            for f in sorted(Path(folder).rglob(pattern)):
                try:
                    text = f.read_text(encoding="utf-8")
                except (UnicodeDecodeError, OSError):
                    continue
                out.write(text + "\n\n")
                size += len((text + "\n\n").encode())
                if size > DOC_BYTES:
                    return size
    pytest.skip(f"this machine holds less than {DOC_BYTES} bytes of text under {[s for s, _ in SOURCES]}")


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    folder = tmp_path_factory.mktemp("big")
    (folder / "input").mkdir()
    size = big_document(folder / "input" / "python-docs-and-stdlib.txt")
    return folder, size


def write_config(folder: Path, *, max_doc_bytes: int | None) -> str:
    mixture = {
        "name": "big",
        "components": {"big": {"sources": ["big"], "max_epochs": 1}},
        "stages": [{"name": "only", "budget_tokens": 1 << 20, "seq_len": 2048, "seed": 1, "weights": {"big": 1}}],
    }
    (folder / "mixture.yaml").write_text(yaml.safe_dump(mixture))
    cfg = {
        "inputs": [{"source": "big", "kind": "text", "path": str(folder / "input")}],
        "spark": {"master": "local[2]", "driver_memory": "2g", "shuffle_partitions": 2},
        "mix": {"mixture": str(folder / "mixture.yaml")},
        # Every document kept (every rule null): the point is to push the big one through every stage.
        "annotate": {"rules": {"text": dict.fromkeys(TEXT_RULES), "code": dict.fromkeys(CODE_KIND_RULES)}},
    }
    if max_doc_bytes:
        cfg["ingest"] = {"max_doc_bytes": max_doc_bytes}
    path = folder / f"pipeline-{max_doc_bytes}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


@pytest.mark.slow
def test_by_default_a_50_mb_document_is_quarantined_as_too_large(big, tmp_path):
    folder, size = big
    done = run_curate(["ingest", "--config", write_config(folder, max_doc_bytes=None), "--root", str(tmp_path)])
    assert done.returncode == 0, done.stderr[-3000:]
    q = DeltaTable(str(tmp_path / "tables" / "quarantine")).to_pyarrow_table().to_pylist()
    assert [(r["reason_code"], r["uri"]) for r in q] == [("too_large", "python-docs-and-stdlib.txt")]
    assert not (tmp_path / "tables" / "docs_raw").exists() or DeltaTable(
        str(tmp_path / "tables" / "docs_raw")).to_pyarrow_table().num_rows == 0


@pytest.mark.slow
def test_a_50_mb_document_goes_through_every_stage_in_bounded_memory(big, tmp_path):
    folder, size = big
    done = run_curate(["run", "--config", write_config(folder, max_doc_bytes=64_000_000), "--root", str(tmp_path)])
    print(f"50 MB document, peak RSS (MB): {done.peak_rss_mb}")
    assert done.returncode == 0, done.stderr[-3000:]
    tok = DeltaTable(str(tmp_path / "tables" / "docs_tokenized")).to_pyarrow_table(
        columns=["n_bytes", "n_tokens"]).to_pylist()
    assert len(tok) == 1 and tok[0]["n_bytes"] == size and tok[0]["n_tokens"] > size // 8
    sig = DeltaTable(str(tmp_path / "tables" / "dedup_signatures")).to_pyarrow_table()
    assert sig.num_rows == 1
    (manifest,) = (tmp_path / "shards" / "big").glob("*/only/manifest.json")
    assert json.loads(manifest.read_text())["samples"] == (1 << 20) // 2048
    assert 0 < done.peak_rss_mb["python_worker"] < MAX_WORKER_RSS_MB, done.peak_rss_mb
