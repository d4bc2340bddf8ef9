"""What a reader yields: one `Record` per input record, a document or a recorded refusal.

Every record read from an input becomes exactly one Record, so that per input file
records read = documents + quarantined + skipped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import xxhash

from curate.quality.pii import PiiOptions, redact
from curate.storage import Storage

EXCERPT_CHARS = 256
_REDACTED_CHARS = EXCERPT_CHARS * 4  # redacted before the cut to EXCERPT_CHARS
_PII = PiiOptions()
MAX_META_CHARS = 4096


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
    storage: Storage = Storage()  # how an input on an object store is reached


@dataclass
class Record:
    fate: str  # doc | quarantined | skipped
    offset: int
    data: bytes | None = None  # a document's text as UTF-8, encoded once for the id, the size and Arrow
    source_id: str | None = None
    uri: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    reason_code: str | None = None
    reason: str | None = None
    excerpt: str | None = None

    @property
    def text(self) -> str | None:
        return None if self.data is None else self.data.decode("utf-8")


def doc(data: bytes, offset: int, *, source_id: str | None = None, uri: str | None = None,
        metadata: dict[str, str] | None = None) -> Record:
    """A document: `data` is its text's UTF-8 bytes."""
    return Record("doc", offset, data=data, source_id=source_id, uri=uri, metadata=metadata or {})


def refuse(code: str, reason: str, offset: int, *, excerpt: str | bytes | None = None,
           uri: str | None = None, skipped: bool = False) -> Record:
    """A refused record. Its excerpt and reason are redacted like annotate's texts (with the default
    detector: ingest runs before any annotate setting applies), the excerpt before it is cut, so
    that an item across the cut is not shown in part."""
    if isinstance(excerpt, bytes):
        excerpt = excerpt[:_REDACTED_CHARS].decode("utf-8", errors="replace")
    if excerpt is not None:
        # Lone surrogates cannot be stored as UTF-8: show them escaped.
        excerpt = excerpt[:_REDACTED_CHARS].encode("utf-8", "backslashreplace").decode("utf-8")
        excerpt = redact(excerpt, _PII)[0][:EXCERPT_CHARS]
    return Record("skipped" if skipped else "quarantined", offset, uri=uri, reason_code=code,
                  reason=redact(reason, _PII)[0], excerpt=excerpt)


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
    return text[:MAX_META_CHARS].encode("utf-8", "backslashreplace").decode("utf-8")


def text_doc(value, offset: int, *, max_bytes: int, field_name: str, excerpt, uri: str | None = None,
             **fields) -> Record:
    """The document of a text value (`fields`: doc's), or the refusal of one that cannot be a document."""
    def refused(code: str, reason: str) -> Record:
        return refuse(code, reason, offset, excerpt=excerpt, uri=uri)

    if value is None:
        return refused("null_text", f"field {field_name!r} is null")
    if not isinstance(value, str):
        return refused("non_string_text", f"field {field_name!r} is a {type(value).__name__}, not a string")
    if not value or value.isspace():
        return refused("empty_text", f"field {field_name!r} is empty or whitespace only")
    try:
        data = value.encode("utf-8")
    except UnicodeEncodeError as err:
        return refused("invalid_unicode", f"text is not valid Unicode ({err.reason} at {err.start})")
    if len(data) > max_bytes:
        return refused("too_large", f"text is {len(data)} bytes, above ingest.max_doc_bytes={max_bytes}")
    return doc(data, offset, uri=uri, **fields)
