"""Per-format readers: a FileTask in, one Record per input record out. Plain Python, no Spark.

A reader never raises for bad content: a bad record becomes a quarantine Record, a file that cannot
be read at all (or stops being readable half way, e.g. a truncated .gz) yields one quarantine Record
at the offset where reading failed, after the documents read before it. Only a storage failure
(`InputUnavailable`: permission denied, a timeout, a store's 5xx) is raised, to fail the task.
"""

from __future__ import annotations

import codecs
import json
from typing import Iterator

import orjson

from curate.errors import InputUnavailable
from curate.ingest.opening import STREAM_ERRORS, DecompressionLimit, file_size, open_decompressed, open_raw
from curate.ingest.records import (EXCERPT_CHARS, MAX_META_CHARS, FileTask, Record, doc, metadata_value, refuse,
                                   text_doc)
from curate.schemas.config import IngestConfig

_BINARY_SNIFF = 8192


def read_task(task: FileTask, cfg: IngestConfig) -> Iterator[Record]:
    if task.skip_code:
        yield refuse(task.skip_code, task.skip_reason or task.skip_code, -1, skipped=True)
        return
    reader = _READERS.get(task.format)
    if reader is None:
        yield refuse("unknown_format", f"no reader for file {task.uri!r}: unknown extension; set the input's "
                     "`format` (jsonl, parquet, text, code, warc, wet)", -1)
        return
    offset, records = task.start, 0
    try:
        for rec in reader(task, cfg):
            offset, records = rec.offset, records + 1
            yield rec
    except _STREAM_ERRORS as err:
        yield stream_error(err, offset)
    except InputUnavailable:  # the storage failed, not the content: the task fails, Spark retries it
        raise
    except Exception as err:  # noqa: BLE001 — any other failure of one file's content must not stop the job
        yield refuse("unreadable_file", f"{type(err).__name__}: {err}", offset)
    else:
        if not records and task.start == 0:  # so that every input file is accounted for
            yield refuse("empty_file", "file holds no records", 0, skipped=True)


_STREAM_ERRORS = (DecompressionLimit, *STREAM_ERRORS)


def stream_error(err: Exception, offset: int) -> Record:
    if isinstance(err, DecompressionLimit):
        return refuse("decompression_limit", str(err), offset)
    return refuse("truncated_file", f"compressed stream ended early or is corrupt at offset {offset}: {err}",
                  offset)


# ---- JSONL --------------------------------------------------------------------------------------
def read_jsonl(task: FileTask, cfg: IngestConfig) -> Iterator[Record]:
    # A line longer than this cannot hold a document within max_doc_bytes, even JSON-escaped.
    max_line = cfg.max_doc_bytes * 6 + 1024
    with open_decompressed(task.input_file, max_bytes=cfg.max_decompressed_bytes, storage=task.storage) as f:
        pos = task.start
        if pos > 0:  # a line belongs to the split in which it starts
            f.seek(pos - 1)
            pos += _read_line(f, max_line)[1] - 1
        blanks = _BlankRun()
        while task.end < 0 or pos < task.end:
            try:
                line, n = _read_line(f, max_line)
                budget = max(task.end - pos - n, 0) if task.end >= 0 else -1
                more, more_lines = _blank_lines(f, budget) if n and not line.strip() else (0, 0)
            except _STREAM_ERRORS as err:
                yield from blanks.flush()
                yield stream_error(err, pos)  # at the first byte that could not be read
                return
            if not n:
                break
            offset, pos = pos, pos + n + more
            line = line.rstrip(b"\r\n")
            if not line.strip():
                blanks.add(offset, 1 + more_lines)
                continue
            yield from blanks.flush()
            yield _jsonl_record(line, n, offset, task, cfg, max_line)
        yield from blanks.flush()


def _read_line(f, limit: int) -> tuple[bytes, int]:
    """The next line cut after `limit` + 1 bytes, and its full length: a longer line is skipped, not held."""
    line = f.readline(limit + 1)
    n = len(line)
    if n > limit and not line.endswith(b"\n"):
        while chunk := f.readline(1 << 20):
            n += len(chunk)
            if chunk.endswith(b"\n"):
                break
    return line, n


def _blank_lines(f, budget: int) -> tuple[int, int]:
    """Consume the blank lines that follow (up to `budget` bytes when >= 0) from the buffer at once:
    (bytes, lines). A zip bomb of newlines then takes seconds, not a Python loop per line."""
    size = lines = 0
    if not hasattr(f, "peek"):
        return 0, 0
    while (buf := f.peek(1 << 16)) and (budget < 0 or size < budget):
        if budget >= 0:
            buf = buf[: budget - size]
        ws = len(buf) - len(buf.lstrip(b" \t\r\n"))
        cut = buf.rfind(b"\n", 0, ws) + 1
        if not cut:
            break
        f.read(cut)
        size, lines = size + cut, lines + buf.count(b"\n", 0, cut)
        if ws < len(buf):
            break
    return size, lines


class _BlankRun:
    """Consecutive blank lines become one skipped record (a file of newlines is not millions of rows)."""

    def __init__(self):
        self.start, self.lines = 0, 0

    def add(self, offset: int, lines: int) -> None:
        if not self.lines:
            self.start = offset
        self.lines += lines

    def flush(self) -> Iterator[Record]:
        if self.lines:
            yield refuse("blank_line", "blank line" if self.lines == 1 else f"{self.lines} blank lines",
                         self.start, skipped=True)
        self.lines = 0


def _jsonl_record(line: bytes, n: int, offset: int, task: FileTask, cfg: IngestConfig, max_line: int) -> Record:
    """The record of one non-blank line (`line`: at most max_line + 1 bytes of its `n`)."""
    if len(line) > max_line:
        return refuse("too_large", f"line is {n} bytes, above what ingest.max_doc_bytes="
                      f"{cfg.max_doc_bytes} allows", offset, excerpt=line)
    s = None
    try:  # orjson: strict RFC 8259, several times faster; json.loads decides what it refuses
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        try:
            s = line.decode("utf-8")
        except UnicodeDecodeError as err:
            return refuse("invalid_utf8", f"line is not UTF-8 ({err.reason} at byte {err.start})", offset,
                          excerpt=line)
        if offset == 0:
            s = s.removeprefix("\ufeff")  # a byte order mark, as Windows tools write
        try:
            obj = json.loads(s)
        except RecursionError:
            return refuse("malformed_json", "JSON nested too deeply to parse", offset, excerpt=s)
        except ValueError as err:
            return refuse("malformed_json", f"not valid JSON: {err}", offset, excerpt=s)
    excerpt = line if s is None else s  # the same excerpt: orjson only reads valid UTF-8
    if not isinstance(obj, dict):
        return refuse("malformed_json", f"a JSON {type(obj).__name__}, not an object", offset, excerpt=excerpt)
    if task.text_field not in obj:
        return refuse("missing_text", f"no field {task.text_field!r} (fields: {sorted(obj)[:10]}); set the "
                      "input's text_field", offset, excerpt=excerpt)
    source_id = obj.get(task.id_field) if task.id_field else None
    meta = {k: metadata_value(v) for k, v in obj.items() if k not in (task.text_field, task.id_field)}
    return text_doc(obj[task.text_field], offset, max_bytes=cfg.max_doc_bytes, field_name=task.text_field,
                    excerpt=excerpt, source_id=None if source_id is None else metadata_value(source_id),
                    metadata=meta)


# ---- Parquet ------------------------------------------------------------------------------------
# Rows of one batch hold about this many bytes (from the row group's size), at most 1024 rows.
_PARQUET_BATCH_BYTES = 64 << 20


def read_parquet(task: FileTask, cfg: IngestConfig) -> Iterator[Record]:
    """Row by row, row group by row group. The row groups' uncompressed sizes (the file's metadata)
    count against ingest.max_decompressed_bytes; a text above ingest.max_doc_bytes is refused from
    its length, never turned into a Python string."""
    import pyarrow.parquet as pq
    import pyarrow as pa

    with open_raw(task.input_file, storage=task.storage) as raw:
        pf = pq.ParquetFile(raw)
        names = pf.schema_arrow.names
        if task.text_field not in names:
            yield refuse("missing_text", f"no column {task.text_field!r} (columns: {names[:10]}); set the "
                         "input's text_field", -1)
            return
        if not pa.types.is_string(pf.schema_arrow.field(task.text_field).type) and not pa.types.is_large_string(
                pf.schema_arrow.field(task.text_field).type):
            yield refuse("non_string_text", f"column {task.text_field!r} has type "
                         f"{pf.schema_arrow.field(task.text_field).type}, not string", -1)
            return
        row = inflated = 0
        for i in range(pf.num_row_groups):
            group = pf.metadata.row_group(i)
            inflated += group.total_byte_size
            if inflated > cfg.max_decompressed_bytes:
                yield refuse("decompression_limit", f"row groups 0-{i} decompress to {inflated} bytes, above "
                             f"ingest.max_decompressed_bytes={cfg.max_decompressed_bytes}", row)
                return
            rows = max(1, min(1024, _PARQUET_BATCH_BYTES * group.num_rows // max(group.total_byte_size, 1)))
            for batch in pf.iter_batches(batch_size=rows, row_groups=[i]):
                yield from _parquet_records(batch, row, task, cfg)
                row += batch.num_rows


def _parquet_records(batch, first_row: int, task: FileTask, cfg: IngestConfig) -> Iterator[Record]:
    import pyarrow as pa
    import pyarrow.compute as pc

    sizes = pc.binary_length(batch.column(task.text_field))
    columns = []
    for name, column in zip(batch.schema.names, batch.columns):
        # Cut in Arrow, and only when a value needs it (a cut copies the column): an oversized text to
        # its excerpt, a metadata string to what metadata keeps.
        if name == task.text_field and (pc.max(sizes).as_py() or 0) > cfg.max_doc_bytes:
            too_large = pc.fill_null(pc.greater(sizes, cfg.max_doc_bytes), False)
            column = pc.if_else(too_large, pc.utf8_slice_codeunits(column, 0, EXCERPT_CHARS), column)
        elif name != task.text_field and (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)) \
                and (pc.max(pc.binary_length(column)).as_py() or 0) > MAX_META_CHARS:
            column = pc.utf8_slice_codeunits(column, 0, MAX_META_CHARS)
        columns.append(column)
    rows = pa.RecordBatch.from_arrays(columns, names=batch.schema.names).to_pylist()
    for offset, (rec, size) in enumerate(zip(rows, sizes.to_pylist()), start=first_row):
        text = rec.get(task.text_field)
        if size is not None and size > cfg.max_doc_bytes:
            yield refuse("too_large", f"text is {size} bytes, above ingest.max_doc_bytes={cfg.max_doc_bytes}",
                         offset, excerpt=text)
            continue
        sid = rec.get(task.id_field) if task.id_field else None
        meta = {k: metadata_value(v) for k, v in rec.items()
                if k not in (task.text_field, task.id_field) and v is not None}
        yield text_doc(text, offset, max_bytes=cfg.max_doc_bytes, field_name=task.text_field,
                       excerpt=None if text is None else str(text),
                       source_id=None if sid is None else metadata_value(sid), metadata=meta)


# ---- whole files: plain text and source code ---------------------------------------------------------
def _read_whole(task: FileTask, limit: int, code: str) -> bytes | Record:
    size = file_size(task.input_file, storage=task.storage)
    if size > limit:
        return refuse(code, f"file is {size} bytes, above the limit of {limit}", 0,
                      skipped=task.kind == "code")
    with open_decompressed(task.input_file, max_bytes=limit, storage=task.storage) as f:
        return f.read()


def _binary(data: bytes) -> bool:
    return b"\0" in data[:_BINARY_SNIFF]


def read_text_file(task: FileTask, cfg: IngestConfig) -> Iterator[Record]:
    data = _read_whole(task, cfg.max_doc_bytes, "too_large")
    if isinstance(data, Record):
        yield data
        return
    if _binary(data):
        yield refuse("binary", "file holds NUL bytes: binary, not text", 0, skipped=True)
        return
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        yield refuse("invalid_utf8", f"file is not UTF-8 ({err.reason} at byte {err.start})", 0, excerpt=data)
        return
    text = text.removeprefix("\ufeff")
    yield text_doc(text, 0, max_bytes=cfg.max_doc_bytes, field_name="file content", excerpt=text,
                   source_id=task.uri)


def read_code_file(task: FileTask, cfg: IngestConfig) -> Iterator[Record]:
    from curate.quality.codelang import detect_code_lang

    data = _read_whole(task, cfg.max_code_file_bytes, "oversized")
    if isinstance(data, Record):
        yield data
        return
    if _binary(data):
        yield refuse("binary", "file holds NUL bytes: binary, not source code", 0, skipped=True)
        return
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        yield refuse("binary", f"file is not UTF-8 text ({err.reason} at byte {err.start})", 0, skipped=True)
        return
    if not text.strip():
        yield refuse("empty_text", "file is empty or whitespace only", 0, skipped=True)
        return
    lang = detect_code_lang(task.uri, text)
    yield doc(data, 0, source_id=task.uri, metadata={"language": lang} if lang else {})


# ---- web archives ------------------------------------------------------------------------------
def _html_text(payload: bytes, content_type: str) -> str:
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.encoding import bytes_to_str, detect_encoding
    from resiliparse.parse.html import HTMLTree

    charset = None
    if "charset=" in content_type:
        charset = content_type.split("charset=", 1)[1].split(";")[0].strip().strip("\"'") or None
        try:
            codecs.lookup(charset or "")
        except LookupError:  # an unknown label: detect the encoding as if none was given
            charset = None
    html = bytes_to_str(payload, charset or detect_encoding(payload))
    return extract_plain_text(HTMLTree.parse(html), main_content=True)


# A longer WARC or HTTP header line is no header: the rest of the file is refused (unreadable_file).
_MAX_WARC_LINE = 1 << 20


def _warc_records(raw, *, max_bytes: int):
    """warcio's record iterator over `raw`, bounded: its gzip members inflate to at most `max_bytes`
    in all (DecompressionLimit, as for .gz), and no header line is held beyond _MAX_WARC_LINE bytes."""
    from warcio.archiveiterator import ArchiveIterator
    from warcio.bufferedreaders import DecompressingBufferedReader

    class Bounded(DecompressingBufferedReader):
        def _process_read(self, data):  # each block warcio reads, inflated when the file is gzipped
            super()._process_read(data)
            if self.decompressor is not None and self.num_read > max_bytes:
                raise DecompressionLimit(f"decompressed size exceeds ingest.max_decompressed_bytes={max_bytes}")

        def readline(self, length=None):
            line = super().readline(_MAX_WARC_LINE + 1 if length is None else min(length, _MAX_WARC_LINE + 1))
            if len(line) > _MAX_WARC_LINE:
                raise ValueError(f"a header line above {_MAX_WARC_LINE} bytes: not a WARC record")
            return line

    records = ArchiveIterator(raw)
    records.reader = Bounded(records.fh, block_size=records.reader.block_size)  # before any record is read
    return records


def read_warc(task: FileTask, cfg: IngestConfig) -> Iterator[Record]:
    """WARC: HTTP responses with HTML become documents (main text); WET: conversion records as is."""
    wanted = "conversion" if task.format == "wet" else "response"
    with open_raw(task.input_file, storage=task.storage) as raw:
        records = _warc_records(raw, max_bytes=cfg.max_decompressed_bytes)
        for rec in records:
            if rec.rec_type != wanted:
                continue  # warcinfo, request, metadata records describe the crawl, not documents
            payload = rec.content_stream().read(cfg.max_doc_bytes * 4 + 1)
            # Only after reading: asking for the offset first empties the content stream.
            offset = records.get_record_offset()
            url = rec.rec_headers.get_header("WARC-Target-URI") or task.uri
            rid = rec.rec_headers.get_header("WARC-Record-ID")
            if len(payload) > cfg.max_doc_bytes * 4:
                yield refuse("too_large", "record payload above 4 x ingest.max_doc_bytes", offset, uri=url)
                continue
            meta = {"warc_record_id": rid or ""}
            if wanted == "conversion":
                text = payload.decode("utf-8", errors="replace")
            else:
                ctype = (rec.http_headers.get_header("Content-Type") or "") if rec.http_headers else ""
                status = rec.http_headers.get_statuscode() if rec.http_headers else None
                if "html" not in ctype.lower():
                    yield refuse("non_html_response", f"response is {ctype or 'untyped'}, not HTML", offset,
                                 uri=url, skipped=True)
                    continue
                if status and not str(status).startswith("2"):
                    yield refuse("http_status", f"HTTP status {status}", offset, uri=url, skipped=True)
                    continue
                text = _html_text(payload, ctype)
                meta["content_type"] = ctype
            yield text_doc(text, offset, max_bytes=cfg.max_doc_bytes, field_name="main text", excerpt=text,
                           uri=url, source_id=rid, metadata=meta)


_READERS = {
    "jsonl": read_jsonl,
    "parquet": read_parquet,
    "text": read_text_file,
    "code": read_code_file,
    "warc": read_warc,
    "wet": read_warc,
}
