"""Opening input files: local or remote (pyarrow.fs), with bounded decompression of .gz / .zst.

Reading an input file's stored bytes can fail for reasons outside the file (permission denied, a
timeout, a lost connection, a store's 5xx): those OSErrors are raised as `InputUnavailable`, so
that the reading task fails and Spark retries it. Whatever fails above that layer (gzip, JSON,
Parquet, WARC parsing) is the content's fault and becomes a quarantine row.
"""

from __future__ import annotations

import gzip
import io
import os
import posixpath

from isal import isal_zlib

from curate.errors import InputUnavailable
from curate.faults import fault_point
from curate.storage import Storage, is_remote

COMPRESSIONS = (".gz", ".zst")


# A .gz stream that ends early or holds corrupt deflate data.
STREAM_ERRORS = (EOFError, isal_zlib.error)


class DecompressionLimit(OSError):
    """A compressed file expands beyond ingest.max_decompressed_bytes (zip-bomb guard)."""


_GZIP_MAGIC = b"\x1f\x8b"


class _Gunzip:
    """A .gz stream inflated with ISA-L (about 2.5x zlib's speed), at most _OUT bytes per read1, so
    that what was inflated before a truncation or a corrupt block is returned before the error that
    reports it (isal's own GzipFile inflates 512 KB of input before it returns anything). A bad
    checksum is found with the member's last _OUT bytes, which are then not returned. Members may
    follow one another, with NUL padding between or after them, as gzip allows."""

    _CHUNK, _OUT = 1 << 16, 1 << 18

    def __init__(self, raw):
        self.raw, self.tail = raw, b""
        self._next_member()

    def _next_member(self) -> None:
        self.inflater, self.started = isal_zlib.decompressobj(16 + isal_zlib.MAX_WBITS), False

    def read1(self, size: int) -> bytes:
        while True:
            data = self.tail or self.raw.read(self._CHUNK)
            if not data:
                if self.started:
                    raise EOFError("compressed file ended before the end-of-stream marker was reached")
                return b""
            if not self.started:
                data = data.lstrip(b"\0")
                self.started = bool(data)
                if self.started and not _GZIP_MAGIC.startswith(data[:2]):
                    raise gzip.BadGzipFile(f"not a gzipped file (starts {data[:2]!r})")
            out = self.inflater.decompress(data, min(size, self._OUT))
            self.tail = self.inflater.unconsumed_tail
            if self.inflater.eof:
                self.tail = self.inflater.unused_data
                self._next_member()
            if out:
                return out

    def close(self) -> None:
        self.raw.close()


class _Bounded(io.RawIOBase):
    """Reads through `inner`, refusing to return more than `limit` bytes in total."""

    def __init__(self, inner, limit: int):
        self.inner, self.limit, self.count = inner, limit, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:
        # read1 returns what one decompression step produced, so the records before a truncation
        # point are delivered before the EOFError that reports it.
        data = self.inner.read1(len(buf))
        self.count += len(data)
        if self.count > self.limit:
            raise DecompressionLimit(f"decompressed size exceeds ingest.max_decompressed_bytes={self.limit}")
        buf[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self.inner.close()
        super().close()


def compression_of(path: str) -> str | None:
    lower = path.lower()
    return next((c for c in COMPRESSIONS if lower.endswith(c)), None)


def unavailable(path: str, err: OSError) -> InputUnavailable:
    return InputUnavailable(f"cannot read input file {path}: {type(err).__name__}: {err}. The storage failed, not "
                            "the file's content, so nothing was quarantined: Spark retries the task "
                            "(spark.task.maxFailures); if it persists, fix access to the file and rerun")


class _Stored(io.RawIOBase):
    """The file's bytes as the storage returns them; an OSError there is `InputUnavailable`."""

    def __init__(self, inner, path: str):
        self.inner, self.path = inner, path

    def _call(self, method, *args):
        try:
            return method(*args)
        except OSError as err:
            raise unavailable(self.path, err) from err

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._call(self.inner.seekable)

    def readinto(self, buf) -> int:
        return self._call(self.inner.readinto, buf)

    def seek(self, pos: int, whence: int = 0) -> int:
        return self._call(self.inner.seek, pos, whence)

    def tell(self) -> int:
        return self._call(self.inner.tell)

    def close(self) -> None:
        self.inner.close()
        super().close()


def open_raw(path: str, *, storage: Storage):
    """A buffered binary file object for a local path or an object-store URI (s3://, s3a://)."""
    try:
        fault_point(f"open:{posixpath.basename(path)}")
        if is_remote(path):
            filesystem, inner = storage.filesystem(path)
            raw = filesystem.open_input_file(inner)
        else:
            raw = io.FileIO(path.removeprefix("file://"), "rb")
    except OSError as err:
        raise unavailable(path, err) from err
    return io.BufferedReader(_Stored(raw, path), buffer_size=1 << 20)


def file_size(path: str, *, storage: Storage) -> int:
    try:
        if is_remote(path):
            filesystem, inner = storage.filesystem(path)
            return filesystem.get_file_info(inner).size
        return os.path.getsize(path.removeprefix("file://"))
    except OSError as err:
        raise unavailable(path, err) from err


def open_decompressed(path: str, *, max_bytes: int, storage: Storage):
    """A buffered binary stream of the file's content, decompressed and bounded if compressed."""
    raw = open_raw(path, storage=storage)
    kind = compression_of(path)
    if kind is None:
        return raw
    if kind == ".gz":
        inner = _Gunzip(raw)
    else:
        import zstandard

        inner = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True, closefd=True)
    return io.BufferedReader(_Bounded(inner, max_bytes), buffer_size=1 << 20)
