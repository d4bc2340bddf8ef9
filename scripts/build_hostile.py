#!/usr/bin/env python3
"""Build a corpus of hostile inputs and the fate curate must give each of its records.

    python scripts/build_hostile.py --out DIR [--big-mb 50]

Writes DIR/text/ (an input of kind text: JSONL, plain text, WARC, Parquet), DIR/code/ (a source
tree) and DIR/cases.json: for every file, the outcome of each of its records as a count per
outcome, "doc" or a quarantine reason code. The documents inside are real text (the bundled
sample's notes) and real binaries (this Python interpreter); the damage is what is generated:
malformed JSON, invalid UTF-8 and lone surrogates, NUL bytes, a single line of --big-mb MB, deeply
nested JSON, zip bombs in .gz and .zst (run with ingest.max_decompressed_bytes below BOMB_BYTES),
empty files, symlink loops and links escaping the tree, a named pipe, file names that are not
UTF-8, mislabelled encodings in WARC, binaries with text extensions.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import struct
import sys
import zlib
from collections import Counter
from io import BytesIO
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NOTES = REPO / "examples" / "sample" / "notes"
CODE = REPO / "examples" / "sample" / "code" / "zlib-examples" / "zpipe.c"
BOMB_BYTES = 256 << 20  # what each zip bomb expands to


def paragraphs() -> list[str]:
    """Real prose paragraphs: the sample's notes (READMEs and copyright files of Debian packages)."""
    out = []
    for path in sorted(NOTES.glob("*.txt")):
        out += [p.strip() for p in path.read_text(encoding="utf-8").split("\n\n") if len(p.strip()) > 200]
    return out


def _line(obj) -> bytes:
    return json.dumps(obj).encode()


def _png() -> bytes:
    """A real 1x1 PNG image."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0\xff\0\0")) + chunk(b"IEND", b""))


def _zstd(data: bytes) -> bytes:
    import zstandard

    return zstandard.ZstdCompressor(level=3).compress(data)


def _bomb(path: Path, compress, unit: bytes) -> None:
    """`unit` repeated to BOMB_BYTES, compressed (a few hundred KB on disk)."""
    path.write_bytes(compress(unit * (BOMB_BYTES // len(unit))))


def _warc(path: Path, paras: list[str], japanese: str) -> Counter:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    def page(body: str) -> str:
        return f"<html><head><title>notes</title></head><body><article><p>{body}</p></article></body></html>"

    responses = [  # (url, status, headers, body, outcome)
        ("good", "200 OK", [("Content-Type", "text/html; charset=utf-8")], page(paras[20]).encode(), "doc"),
        ("latin1-labelled-utf8", "200 OK", [("Content-Type", "text/html; charset=utf-8")],
         page(paras[21] + " café déjà vu").encode("cp1252"), "doc"),
        ("unknown-charset", "200 OK", [("Content-Type", "text/html; charset=x-no-such-charset")],
         page(paras[22]).encode(), "doc"),
        ("shift-jis-unlabelled", "200 OK", [("Content-Type", "text/html")], page(japanese).encode("shift_jis"), "doc"),
        ("utf16-label-on-ascii", "200 OK", [("Content-Type", "text/html; charset=utf-16")],
         page(paras[23]).encode(), "doc"),
        ("nul-bytes", "200 OK", [("Content-Type", "text/html")],
         page(paras[24]).encode().replace(b"<p>", b"<p>\0\0", 1), "doc"),
        ("invalid-utf8", "200 OK", [("Content-Type", "text/html; charset=utf-8")],
         page(paras[25]).encode() + b"\xff\xfe\xc0\xaf", "doc"),
        ("fake-gzip", "200 OK", [("Content-Type", "text/html"), ("Content-Encoding", "gzip")],
         page(paras[26]).encode(), "doc"),
        ("empty-page", "200 OK", [("Content-Type", "text/html")], b"<html><body></body></html>", "empty_text"),
        ("image", "200 OK", [("Content-Type", "image/png")], _png(), "non_html_response"),
        ("missing", "404 Not Found", [("Content-Type", "text/html")], page("not found").encode(), "http_status"),
    ]
    with open(path, "wb") as out:
        writer = WARCWriter(out, gzip=True)
        for url, status, headers, body, _ in responses:
            http = StatusAndHeaders(status, headers, protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(f"https://hostile.example/{url}", "response",
                                                          payload=BytesIO(body), http_headers=http))
    return Counter(outcome for *_, outcome in responses)


def build(out: Path, *, big_mb: float = 50) -> dict[str, dict[str, int]]:
    """Write the corpus under `out`; returns {path relative to out: {outcome: records}}."""
    paras = paragraphs()
    japanese = (NOTES / "manpages-ja-README.txt").read_text(encoding="utf-8")[:2000]
    text, code = out / "text", out / "code"
    for d in (text, code):
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
    cases: dict[str, Counter] = {}

    def jsonl(name: str, lines: list[bytes], outcomes: Counter, *, eol: bytes = b"\n") -> None:
        (text / name).write_bytes(eol.join(lines) + eol)
        cases[f"text/{name}"] = outcomes

    good = [_line({"id": f"g{i}", "text": p}) for i, p in enumerate(paras[:20])]
    jsonl("malformed.jsonl", [
        good[0], good[1][:-25], b"[1, 2, 3]", good[2] + b" trailing", b"{'id': 1, 'text': 'single quotes'}",
        b'"just a string"', b'{"id": "x", "text": "unclosed', b"{}", b'{"id": "n", "text": null}',
        b'{"id": "d", "text": {"nested": "object"}}',
    ], Counter(doc=1, malformed_json=6, missing_text=1, null_text=1, non_string_text=1))
    jsonl("invalid_utf8.jsonl", [
        good[3], good[4].replace(b"e", b"\xff\xfe", 1), _line({"text": paras[5]}).replace(b"a", b"\xc0\xaf", 1),
        _line({"text": paras[6]})[:-3] + b"\xe2\x82" + b'"}',
    ], Counter(doc=1, invalid_utf8=3))
    jsonl("surrogates.jsonl", [
        _line({"id": "s1", "text": paras[7][:300] + "\ud800" + paras[7][300:]}),
        _line({"id": "s2", "text": "\udc00" + paras[8]}),
        _line({"id": "s3", "text": paras[9] + " \U0001F600"}),  # a valid pair: a real emoji
        _line({"id": "s4", "text": paras[10], "title": "lone \ud800 in metadata"}),
        _line({"id": "\udfff", "text": paras[11]}),
    ], Counter(doc=3, invalid_unicode=2))
    jsonl("nul.jsonl", [
        _line({"id": "n1", "text": paras[12] + "\u0000" + paras[13]}),  # escaped NUL: valid JSON text
        good[5].replace(b" ", b"\0", 1),  # a raw NUL inside a JSON string is invalid
        b"\0" * 4096,
    ], Counter(doc=1, malformed_json=2))
    deep = 100_000
    jsonl("nested.jsonl", [
        b'{"id": "deep", "text": ' + b"[" * deep + b"]" * deep + b"}",
        b'{"id": "deepmeta", "text": "x", "meta": ' + b'{"a":' * deep + b"1" + b"}" * deep + b"}",
        _line({"id": "nested-ok", "text": paras[14], "meta": json.loads("[" * 400 + "]" * 400)}),
        good[6],
    ], Counter(doc=2, malformed_json=2))
    jsonl("crlf_bom.jsonl", [b"\xef\xbb\xbf" + good[7], good[8], b"", b"", b"", good[9]],
          Counter(doc=3, blank_line=1), eol=b"\r\n")
    big = paras[15] + "\n"
    big_line = _line({"id": "big", "text": big * int(big_mb * 2**20 / len(big) + 1)})
    jsonl("big_line.jsonl", [big_line, good[10]], Counter(doc=1, too_large=1))
    (text / "big_line.txt").write_bytes(big_line)
    cases["text/big_line.txt"] = Counter(too_large=1)

    _bomb(text / "bomb_line.jsonl.gz", gzip.compress, b'{"text": "' + b"a" * 65536)
    cases["text/bomb_line.jsonl.gz"] = Counter(decompression_limit=1)
    _bomb(text / "bomb_newlines.jsonl.gz", gzip.compress, b"\n" * 65536)
    cases["text/bomb_newlines.jsonl.gz"] = Counter(decompression_limit=1)
    _bomb(text / "bomb_nul.jsonl.zst", _zstd, b"\0" * 65536)
    cases["text/bomb_nul.jsonl.zst"] = Counter(decompression_limit=1)
    gz = gzip.compress(b"\n".join(good[11:15]) + b"\n")
    (text / "truncated.jsonl.gz").write_bytes(gz[: len(gz) * 2 // 3])
    cases["text/truncated.jsonl.gz"] = None  # the documents before the cut, then truncated_file: counted by the test

    for name, data, outcome in [
        ("empty.jsonl", b"", "empty_file"), ("empty.jsonl.gz", b"", "empty_file"),
        ("empty_stream.jsonl.zst", _zstd(b""), "empty_file"), ("empty.txt", b"", "empty_text"),
        ("blank.txt", b" \n\t\n", "empty_text"), ("empty.warc.gz", b"", "empty_file"),
        ("interpreter.txt", Path(sys.executable).resolve().read_bytes()[:65536], "binary"),
        ("image.md", _png(), "binary"), ("image.parquet", _png(), "unreadable_file"),
        ("latin1.txt", paras[16].encode("utf-8") + " déjà".encode("latin-1"), "invalid_utf8"),
        ("note.unknown", paras[17].encode(), "unknown_format"),
        ("not_gzip.jsonl.gz", good[15], "unreadable_file"),
    ]:
        (text / name).write_bytes(data)
        cases[f"text/{name}"] = Counter({outcome: 1})
    os.mkfifo(text / "pipe.jsonl")
    cases["text/pipe.jsonl"] = Counter(special_file=1)
    cases["text/crawl.warc.gz"] = _warc(text / "crawl.warc.gz", paras, japanese)

    # A source tree: real code, binaries named as code, links that loop or leave the tree.
    (code / "src").mkdir()
    shutil.copy(CODE, code / "src" / "zpipe.c")
    cases["code/src/zpipe.c"] = Counter(doc=1)
    (code / "src" / "tool.py").write_bytes(Path(sys.executable).resolve().read_bytes()[:65536])
    (code / "src" / "logo.c").write_bytes(_png())
    (code / "src" / "empty.py").write_bytes(b"")
    for name, outcome in [("tool.py", "binary"), ("logo.c", "binary"), ("empty.py", "empty_text")]:
        cases[f"code/src/{name}"] = Counter({outcome: 1})
    links = {
        "src/loop": (".", "symlink"), "src/up": ("..", "symlink"), "src/etc": ("/etc", "symlink"),
        "src/passwd.py": ("/etc/passwd", "path_escapes_root"), "src/a.py": ("b.py", "symlink"),
        "src/b.py": ("a.py", "symlink"), "src/dangling.py": ("no-such-file.py", "symlink"),
        "src/alias.c": ("zpipe.c", "symlink"),
    }
    for rel, (target, outcome) in links.items():
        os.symlink(target, code / rel)
        cases[f"code/{rel}"] = Counter({outcome: 1})
    os.mkfifo(code / "src" / "fifo.py")
    cases["code/src/fifo.py"] = Counter(special_file=1)

    for rel in ("text/caf\xe9.txt", "code/src/caf\xe9.py"):  # names in Latin-1, not UTF-8
        name = rel.encode("latin-1")
        (Path(os.fsdecode(os.fsencode(str(out)) + b"/" + name))).write_bytes(paras[18].encode())
        cases[name.decode("utf-8", "backslashreplace")] = Counter(invalid_path=1)

    manifest = {k: dict(v) if v is not None else None for k, v in sorted(cases.items())}
    (out / "cases.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--big-mb", type=float, default=50, help="size of the single-line document (MB)")
    args = parser.parse_args()
    cases = build(args.out, big_mb=args.big_mb)
    print(f"{len(cases)} hostile files under {args.out} (expected outcomes in {args.out / 'cases.json'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
