"""The committed sample matches the counts its generator recorded in SOURCES.md (no Spark)."""

from __future__ import annotations

import gzip
import io
import json
import re
import zlib
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import zstandard

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sample"


@pytest.fixture(scope="module")
def expected() -> dict:
    md = (SAMPLE / "SOURCES.md").read_text(encoding="utf-8")
    block = re.search(r"```json\n(.*?)\n```", md, flags=re.S)
    assert block, "SOURCES.md has no ```json block of expected counts"
    return json.loads(block.group(1))


def read_jsonl(path: Path) -> list[dict]:
    data = path.read_bytes()
    raw = gzip.decompress(data) if path.suffix == ".gz" else zstandard.ZstdDecompressor().stream_reader(
        io.BytesIO(data)).read()
    return [json.loads(line) for line in raw.decode("utf-8").splitlines()]


def test_every_file_has_the_recorded_size(expected):
    present = {p.relative_to(SAMPLE).as_posix(): p.stat().st_size for p in SAMPLE.rglob("*")
               if p.is_file() and p.name not in ("SOURCES.md", "PROVENANCE.tsv")}
    assert present == expected["sizes_bytes"]
    assert sum(present.values()) < 4_000_000  # the repo ships a few MB at most


def test_web_files_have_the_recorded_documents_fields_and_languages(expected):
    web = expected["web"]
    langs: Counter[str] = Counter()
    by_id: dict[str, dict] = {}
    for rel, n in web["docs_per_file"].items():
        rows = read_jsonl(SAMPLE / rel)
        assert len(rows) == n, rel
        for r in rows:
            assert set(r) == {"id", "text", "url", "lang_hint"}
            assert isinstance(r["text"], str) and r["text"]
            assert r["id"] not in by_id, f"id {r['id']} repeated"
            by_id[r["id"]] = r
            langs[r["lang_hint"]] += 1
    assert dict(langs) == web["lang_hint_counts"]
    assert len([lang for lang in langs if lang != "la"]) >= 6 and {"ja", "zh"} <= set(langs)
    for d in web["exact_duplicates"]:
        assert by_id[d["id"]]["text"] == by_id[d["duplicate_of"]]["text"]
    for d in web["near_duplicates"]:
        a, b = by_id[d["id"]]["text"], by_id[d["near_duplicate_of"]]["text"]
        assert a != b and d["jaccard_word_5grams"] >= 0.8
    assert {j["why"] for j in web["junk"]} >= {"only a few words", "navigation-like list of short lines"}
    assert all(len(by_id[j["id"]]["text"].split()) < 12 for j in web["junk"] if j["why"] == "only a few words")


def test_books_are_parquet_with_id_text_title(expected):
    for rel, n in expected["books"].items():
        table = pq.read_table(SAMPLE / rel)
        assert table.column_names == ["id", "text", "title"]
        assert table.num_rows == n
        assert min(len(t) for t in table.column("text").to_pylist()) > 5_000  # long prose


def test_notes_and_code_trees(expected):
    assert len(list((SAMPLE / "notes").glob("*.txt"))) == expected["notes"]["files"]
    a, b = (SAMPLE / p for p in expected["notes"]["exact_duplicate_files"])
    assert a.read_bytes() == b.read_bytes()
    code = [p for p in (SAMPLE / "code").rglob("*") if p.is_file()]
    assert len(code) == expected["code"]["files"]
    a, b = (SAMPLE / p for p in expected["code"]["exact_duplicate_files"])
    assert a.read_bytes() == b.read_bytes()
    a, b = (SAMPLE / p for p in expected["code"]["near_duplicate_files"])
    assert a.read_bytes() != b.read_bytes()
    (binary,) = expected["code"]["skip_binary"]
    assert b"\x00" in (SAMPLE / binary).read_bytes()
    assert all(("/third_party/" in p or "/node_modules/" in p) for p in expected["code"]["skip_vendored"])
    assert expected["code"]["skip_lock"] == ["code/Pipfile.lock"]
    assert json.loads((SAMPLE / "code/Pipfile.lock").read_text())["_meta"]


def test_warc_has_the_recorded_records(expected):
    from warcio.archiveiterator import ArchiveIterator

    (rel,) = [p for p in (SAMPLE / "warc").glob("*.warc.gz")]
    types: Counter[str] = Counter()
    html = 0
    with rel.open("rb") as f:
        for rec in ArchiveIterator(f):
            types[rec.rec_type] += 1
            if rec.rec_type == "response":
                body = rec.content_stream().read()
                if rec.http_headers.get_header("Content-Type").startswith("text/html"):
                    html += 1
                    assert b"</html>" in body
    want = expected["warc"][rel.relative_to(SAMPLE).as_posix()]
    assert types == {"warcinfo": want["warcinfo"], "request": want["request"], "response": want["response"]}
    assert html == want["html_responses"] and want["non_html_responses"] >= 1


def classify(line: bytes) -> str:
    """What a reader meets on each line of bad/broken.jsonl."""
    try:
        s = line.decode("utf-8")
    except UnicodeDecodeError:
        return "invalid_utf8"
    try:
        obj = json.loads(s)
    except json.JSONDecodeError:
        return "truncated_json"
    if not isinstance(obj, dict):
        return "not_an_object"
    if "text" not in obj:
        return "text_missing"
    text = obj["text"]
    if text is None:
        return "text_null"
    if not isinstance(text, str):
        return "text_number"
    if text == "":
        return "text_empty"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "lone_surrogate"
    return "good"


def test_bad_jsonl_has_each_recorded_kind_of_damage(expected):
    exp = expected["bad"]["bad/broken.jsonl"]
    lines = (SAMPLE / "bad/broken.jsonl").read_bytes().splitlines()
    assert [classify(line) for line in lines] == exp["line_kinds"]
    assert len(lines) == exp["lines"]
    assert set(exp["by_kind"]) == {"good", "truncated_json", "invalid_utf8", "text_null", "text_number",
                                   "text_empty", "text_missing", "lone_surrogate", "not_an_object"}


def test_truncated_gzip_breaks_after_the_recorded_lines(expected):
    exp = expected["bad"]["bad/truncated.jsonl.gz"]
    data = (SAMPLE / "bad/truncated.jsonl.gz").read_bytes()
    assert len(data) == exp["gz_bytes_kept"] < exp["gz_bytes_full"]
    with pytest.raises(EOFError):
        gzip.decompress(data)
    d = zlib.decompressobj(wbits=31)
    out = d.decompress(data)
    assert not d.eof and out.count(b"\n") == exp["complete_lines_recoverable"] > 0
    assert (SAMPLE / "bad/notes.xyz").stat().st_size > 0


def test_provenance_names_an_origin_for_every_document(expected):
    rows = (SAMPLE / "PROVENANCE.tsv").read_text(encoding="utf-8").splitlines()[1:]
    files = Counter(r.split("\t")[0] for r in rows)
    for rel, n in expected["web"]["docs_per_file"].items():
        assert files[rel] == n
    assert all(r.split("\t")[2] for r in rows)
