"""What a reader yields: one `Record` per input record, a document or a recorded refusal.

Every record read from an input becomes exactly one Record, so that per input file
records read = documents + quarantined + skipped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import xxhash

EXCERPT_CHARS = 256
_MAX_META_CHARS = 4096


@dataclass(frozen=True)
class FileTask:
    """One unit of ingest work: a file (or a byte range of a large uncompressed JSONL file)."""

    input_file: str
    uri: str  # path relative to the input's base folder
    format: str
    source: str
    kind: str
    text_field: str = "text"
    id_field: str | None = None
    start: int = 0
    end: int = -1  # -1: to the end of the file
    skip_code: str | None = None  # decided at listing time (vendored dir, lock file, symlink...)
    skip_reason: str | None = None


@dataclass
class Record:
    fate: str  # doc | quarantined | skipped
    offset: int
    text: str | None = None
    source_id: str | None = None
    uri: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    reason_code: str | None = None
    reason: str | None = None
    excerpt: str | None = None


def doc(text: str, offset: int, *, source_id: str | None = None, uri: str | None = None,
        metadata: dict[str, str] | None = None) -> Record:
    return Record("doc", offset, text=text, source_id=source_id, uri=uri, metadata=metadata or {})


def refuse(code: str, reason: str, offset: int, *, excerpt: str | bytes | None = None,
           uri: str | None = None, skipped: bool = False) -> Record:
    if isinstance(excerpt, bytes):
        excerpt = excerpt[: EXCERPT_CHARS * 4].decode("utf-8", errors="replace")
    if excerpt is not None:
        # Lone surrogates cannot be stored as UTF-8: show them escaped.
        excerpt = excerpt[:EXCERPT_CHARS].encode("utf-8", "backslashreplace").decode("utf-8")
    return Record("skipped" if skipped else "quarantined", offset, uri=uri, reason_code=code,
                  reason=reason, excerpt=excerpt)


def doc_id(source: str, uri: str, offset: int, text: bytes) -> str:
    """Stable id: the same record (`text`: its UTF-8 bytes) of the same input always gets the same id."""
    h = xxhash.xxh3_128()
    for part in (source, uri, str(offset)):
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    h.update(text)
    return h.hexdigest()


def metadata_value(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text[:_MAX_META_CHARS].encode("utf-8", "backslashreplace").decode("utf-8")


def check_text(value, offset: int, *, max_bytes: int, field_name: str, excerpt) -> Record | None:
    """The refusal for a text value that cannot be a document, or None when it can."""
    if value is None:
        return refuse("null_text", f"field {field_name!r} is null", offset, excerpt=excerpt)
    if not isinstance(value, str):
        return refuse("non_string_text", f"field {field_name!r} is a {type(value).__name__}, not a string",
                      offset, excerpt=excerpt)
    if not value.strip():
        return refuse("empty_text", f"field {field_name!r} is empty or whitespace only", offset, excerpt=excerpt)
    try:
        n = len(value.encode("utf-8"))
    except UnicodeEncodeError as err:
        return refuse("invalid_unicode", f"text is not valid Unicode ({err.reason} at {err.start})",
                      offset, excerpt=excerpt)
    if n > max_bytes:
        return refuse("too_large", f"text is {n} bytes, above ingest.max_doc_bytes={max_bytes}",
                      offset, excerpt=excerpt)
    return None
