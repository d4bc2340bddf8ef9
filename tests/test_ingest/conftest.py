"""Real documents for ingest tests: paragraphs of the Python standard library's own docs."""

from __future__ import annotations

import gzip
import json
import pydoc
from pathlib import Path

import pytest


def real_paragraphs(n: int) -> list[str]:
    import collections, email, json as json_mod, logging, textwrap, unittest

    paras: list[str] = []
    for mod in (logging, unittest, collections, email, textwrap, json_mod):
        text = pydoc.getdoc(mod) or ""
        for obj in vars(mod).values():
            text += "\n\n" + (pydoc.getdoc(obj) or "")
        paras.extend(p.strip() for p in text.split("\n\n") if len(p.strip()) > 80)
    seen, out = set(), []
    for p in paras:
        if p not in seen:
            seen.add(p)
            out.append(p)
    if len(out) < n:
        raise RuntimeError(f"only {len(out)} real paragraphs available")
    return out[:n]


@pytest.fixture(scope="session")
def paragraphs() -> list[str]:
    return real_paragraphs(40)


@pytest.fixture(scope="session")
def bad_inputs(tmp_path_factory, paragraphs) -> tuple[Path, dict[str, int]]:
    """A folder with one file per bad-input case; returns it and the record count of each file."""
    d = tmp_path_factory.mktemp("bad_inputs")
    good = [json.dumps({"id": i, "text": p, "url": f"https://docs.python.org/{i}"}) for i, p in enumerate(paragraphs[:5])]
    raw = [
        good[0].encode(),
        good[1][:-20].encode(),  # truncated JSON
        json.dumps({"id": 90, "text": paragraphs[5]}).encode().replace(b"e", b"\xe9", 1),  # invalid UTF-8
        b'{"id": 91, "text": null}',
        b'{"id": 92, "text": 123}',
        b'{"id": 93, "body": "no text field"}',
        b'{"id": 94, "text": "   "}',
        b'{"id": 95, "text": "lone \\ud800 surrogate"}',
        b"[1, 2, 3]",
        b"",
        b"[" * 100_000 + b"]" * 100_000,  # deeply nested
        good[2].encode(),
    ]
    (d / "mixed.jsonl").write_bytes(b"\n".join(raw) + b"\n")
    # a 50 MB single document, above the default ingest.max_doc_bytes (10 MB)
    big = json.dumps({"id": 99, "text": (paragraphs[6] + "\n") * (50_000_000 // len(paragraphs[6]))})
    (d / "big.jsonl").write_text(big + "\n" + good[3] + "\n")
    gz = gzip.compress(("\n".join(good) + "\n").encode())
    (d / "cut.jsonl.gz").write_bytes(gz[: len(gz) // 2])
    (d / "whole.jsonl.gz").write_bytes(gz)
    (d / "empty.jsonl").write_bytes(b"")
    (d / "notes.xyz").write_text(paragraphs[7])
    (d / "readme.txt").write_text(paragraphs[8])
    (d / "latin1.txt").write_bytes(paragraphs[9].encode("utf-8") + "é".encode("latin-1"))
    # records per file: lines (a run of blank lines is one) for JSONL; 1 for a whole-file document, a
    # refused file or a file without records (empty_file)
    expected = {"mixed.jsonl": len(raw), "big.jsonl": 2, "whole.jsonl.gz": 5, "empty.jsonl": 1,
                "notes.xyz": 1, "readme.txt": 1, "latin1.txt": 1}
    return d, expected
