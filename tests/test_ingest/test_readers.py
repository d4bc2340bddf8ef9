"""Readers without Spark: every record becomes exactly one Record with the right fate."""


from curate.ingest.listing import list_tasks
from curate.ingest.readers import read_task
from curate.schemas.config import IngestConfig, InputConfig

CFG = IngestConfig()


def read_all(path, **kw):
    inp = InputConfig(source="t", kind=kw.pop("kind", "text"), path=str(path), id_field="id", **kw)
    return {t.uri: list(read_task(t, CFG)) for t in list_tasks([inp], CFG)}


def test_each_bad_line_gets_its_reason(bad_inputs):
    d, _ = bad_inputs
    recs = read_all(d)["mixed.jsonl"]
    assert [r.fate for r in recs].count("doc") == 2
    codes = [r.reason_code for r in recs if r.fate != "doc"]
    assert codes == ["malformed_json", "invalid_utf8", "null_text", "non_string_text", "missing_text",
                     "empty_text", "invalid_unicode", "malformed_json", "blank_line", "malformed_json"]
    by_code = {r.reason_code: r for r in recs if r.fate != "doc"}
    assert by_code["blank_line"].fate == "skipped"
    assert "'text'" in by_code["missing_text"].reason and "text_field" in by_code["missing_text"].reason
    assert by_code["invalid_unicode"].excerpt == '{"id": 95, "text": "lone \\ud800 surrogate"}'
    assert all(len(r.excerpt or "") <= 256 for r in recs)


def test_records_read_reconcile_per_file(bad_inputs):
    d, expected = bad_inputs
    recs = read_all(d)
    for uri, n in expected.items():
        assert len(recs[uri]) == n, uri


def test_offsets_are_byte_offsets_of_lines(bad_inputs):
    d, _ = bad_inputs
    data = (d / "mixed.jsonl").read_bytes()
    starts = [0] + [i + 1 for i, b in enumerate(data) if b == ord("\n")][:-1]
    assert [r.offset for r in read_all(d)["mixed.jsonl"]] == starts


def test_oversized_document_is_quarantined_not_loaded(bad_inputs):
    d, _ = bad_inputs
    recs = read_all(d)["big.jsonl"]
    assert [r.reason_code for r in recs] == ["too_large", None]
    assert "max_doc_bytes=10000000" in recs[0].reason and len(recs[0].excerpt) == 256


def test_truncated_gzip_keeps_what_was_read_then_quarantines(bad_inputs):
    d, _ = bad_inputs
    recs = read_all(d)["cut.jsonl.gz"]
    assert recs[-1].reason_code == "truncated_file"
    assert len(recs) >= 2 and all(r.fate == "doc" for r in recs[:-1])  # lines before the cut are kept
    assert recs[-1].offset > recs[-2].offset
    assert read_all(d)["whole.jsonl.gz"][-1].fate == "doc"


def test_gzip_members_padding_and_corruption(tmp_path, paragraphs):
    """.gz as gzip writes it: several members, NUL padding; a bad checksum or a file that is not gzip
    keeps the documents inflated before it, then one refusal where reading stopped."""
    import gzip, json

    lines = [(json.dumps({"id": i, "text": p}) + "\n").encode() for i, p in enumerate(paragraphs[:40])]
    members = gzip.compress(b"".join(lines[:25])) + b"\0" * 7 + gzip.compress(b"".join(lines[25:])) + b"\0" * 3
    (tmp_path / "members.jsonl.gz").write_bytes(members)
    data = b"".join(lines) * 100
    whole = bytearray(gzip.compress(data))
    whole[-8] ^= 1  # the CRC-32 of the trailer
    (tmp_path / "crc.jsonl.gz").write_bytes(whole)
    (tmp_path / "plain.jsonl.gz").write_bytes(b"".join(lines))
    recs = read_all(tmp_path)
    assert [r.source_id for r in recs["members.jsonl.gz"]] == [str(i) for i in range(40)]
    *docs, refusal = recs["crc.jsonl.gz"]
    assert refusal.reason_code == "truncated_file" and "checksum" in refusal.reason
    assert [r.fate for r in docs] == ["doc"] * len(docs)
    assert refusal.offset == sum(len(lines[i % 40]) for i in range(len(docs)))  # where reading stopped
    assert refusal.offset >= len(data) - (1 << 18) - max(map(len, lines))  # all but the last read's lines
    assert [r.reason_code for r in recs["plain.jsonl.gz"]] == ["unreadable_file"]
    assert "not a gzipped file" in recs["plain.jsonl.gz"][0].reason


def test_unknown_extension_and_plain_text(bad_inputs):
    d, _ = bad_inputs
    recs = read_all(d)
    assert recs["notes.xyz"][0].reason_code == "unknown_format"
    assert recs["readme.txt"][0].fate == "doc" and recs["readme.txt"][0].source_id == "readme.txt"
    assert recs["latin1.txt"][0].reason_code == "invalid_utf8"


def test_zip_bomb_is_bounded(tmp_path, paragraphs):
    import gzip, json

    line = json.dumps({"text": paragraphs[0]}) + "\n"
    (tmp_path / "bomb.jsonl.gz").write_bytes(gzip.compress((line * 20_000).encode()))
    cfg = IngestConfig(max_decompressed_bytes=100_000)
    task = list_tasks([InputConfig(source="t", kind="text", path=str(tmp_path))], cfg)[0]
    recs = list(read_task(task, cfg))
    assert recs[-1].reason_code == "decompression_limit"
    assert sum(len(line) for _ in recs[:-1]) <= 100_000


def test_zstd_jsonl(tmp_path, paragraphs):
    import json, zstandard

    text = "".join(json.dumps({"id": i, "text": p}) + "\n" for i, p in enumerate(paragraphs[:7]))
    (tmp_path / "a.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(text.encode()))
    recs = read_all(tmp_path)["a.jsonl.zst"]
    assert [r.text for r in recs] == paragraphs[:7] and recs[3].source_id == "3"


def test_split_jsonl_ranges_read_each_line_once(tmp_path, paragraphs):
    import json

    lines = [json.dumps({"id": i, "text": paragraphs[i % len(paragraphs)]}) for i in range(3000)]
    (tmp_path / "big.jsonl").write_text("\n".join(lines) + "\n")
    cfg = IngestConfig(split_bytes=1_000_000)
    tasks = list_tasks([InputConfig(source="t", kind="text", path=str(tmp_path), id_field="id")], cfg)
    assert len(tasks) > 1
    ids = [r.source_id for t in tasks for r in read_task(t, cfg)]
    assert ids == [str(i) for i in range(3000)]


def test_parquet_rows_and_bad_column(tmp_path, paragraphs):
    import pyarrow as pa, pyarrow.parquet as pq

    pq.write_table(pa.table({"id": list(range(4)), "text": paragraphs[:3] + [None], "title": ["a"] * 4}),
                   tmp_path / "ok.parquet")
    pq.write_table(pa.table({"id": [1], "text": [5]}), tmp_path / "ints.parquet")
    recs = read_all(tmp_path)
    assert [r.fate for r in recs["ok.parquet"]] == ["doc", "doc", "doc", "quarantined"]
    assert recs["ok.parquet"][1].metadata == {"title": "a"} and recs["ok.parquet"][1].source_id == "1"
    assert recs["ints.parquet"][0].reason_code == "non_string_text"


def test_code_tree_policy_skips(tmp_path):
    import json as json_mod, os, shutil

    root = tmp_path / "tree"
    (root / "pkg").mkdir(parents=True)
    (root / "node_modules" / "dep").mkdir(parents=True)
    src = json_mod.__file__
    shutil.copy(src, root / "pkg" / "a.py")
    shutil.copy(src, root / "node_modules" / "dep" / "index.py")
    (root / "poetry.lock").write_text((root / "pkg" / "a.py").read_text())
    (root / "blob.py").write_bytes(open(os.__file__.replace(".py", ".py"), "rb").read()[:100] + b"\0\1\2")
    os.symlink("/etc/hostname", root / "escape.py")
    os.symlink("..", root / "pkg" / "loop")
    os.symlink("a.py", root / "pkg" / "alias.py")
    recs = read_all(root, kind="code")
    fates = {uri: (r[0].fate, r[0].reason_code) for uri, r in recs.items()}
    assert fates == {
        "pkg/a.py": ("doc", None),
        "node_modules": ("skipped", "vendored"),
        "poetry.lock": ("skipped", "lock_file"),
        "blob.py": ("skipped", "binary"),
        "escape.py": ("skipped", "path_escapes_root"),
        "pkg/loop": ("skipped", "symlink"),
        "pkg/alias.py": ("skipped", "symlink"),
    }
    assert recs["pkg/a.py"][0].metadata == {"language": "python"}


def test_wet_conversion_records_are_taken_as_is(tmp_path, paragraphs):
    from io import BytesIO

    from warcio.warcwriter import WARCWriter

    with open(tmp_path / "crawl.warc.wet.gz", "wb") as out:
        w = WARCWriter(out, gzip=True)
        w.write_record(w.create_warcinfo_record("crawl.warc.wet.gz", {"software": "test"}))
        for i, p in enumerate(paragraphs[:3]):
            w.write_record(w.create_warc_record(f"https://example.org/{i}", "conversion",
                                                payload=BytesIO(p.encode()),
                                                warc_content_type="text/plain"))
    recs = read_all(tmp_path)["crawl.warc.wet.gz"]
    assert [r.text for r in recs] == paragraphs[:3]
    assert [r.uri for r in recs] == [f"https://example.org/{i}" for i in range(3)]


def test_json_that_orjson_refuses_is_read_by_json(tmp_path):
    """orjson parses first and refuses what RFC 8259 does; Python's json decides those lines, so
    NaN, numbers beyond 64 bits or double range, lone surrogates and a BOM read as they always did."""
    lines = [
        '\ufeff{"id": 1, "text": "after a byte order mark", "x": NaN}',
        '{"id": 2, "text": "big numbers", "big": 1180591620717411303424, "inf": 1e400}',
        '{"id": 3, "text": "a lone \\udc80 surrogate"}',
        '{"id": 4, "text": "a pair \\ud83d\\ude00 is one character", "tags": ["a", {"b": null}]}',
        '{"id": 5, "text": "control \t character"}',
    ]
    (tmp_path / "x.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    recs = read_all(tmp_path)["x.jsonl"]
    assert [r.fate for r in recs] == ["doc", "doc", "quarantined", "doc", "quarantined"]
    assert recs[0].text == "after a byte order mark" and recs[0].metadata == {"x": "NaN"}
    assert recs[1].metadata == {"big": "1180591620717411303424", "inf": "Infinity"}
    assert recs[2].reason_code == "invalid_unicode"
    assert recs[3].text == "a pair \U0001F600 is one character"
    assert recs[3].metadata == {"tags": '["a", {"b": null}]'} and recs[3].source_id == "4"
    assert recs[4].reason_code == "malformed_json"
