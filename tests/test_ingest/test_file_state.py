"""The state ingest records per input file: size and mtime on a local disk, plus the ETag in a bucket,
where a rewrite of the same size within the same second changes only the ETag."""

from __future__ import annotations

import os

from curate.ingest.file_state import UNKNOWN, file_states
from curate.ingest.records import FileTask
from curate.storage import Storage
from test_objectstore.server import BUCKET


def task(path: str) -> FileTask:
    return FileTask(input_file=path, uri=path.rsplit("/", 1)[1], format="text", source="docs", kind="text")


def test_local_state_is_size_and_mtime(tmp_path, paragraphs):
    path = tmp_path / "a.txt"
    path.write_text(paragraphs[0])
    os.utime(path, ns=(1_700_000_000_000_000_000, 1_700_000_000_123_456_789))
    states = file_states([task(str(path)), task(str(tmp_path / "gone.txt"))], Storage())
    assert states[str(path)] == (len(paragraphs[0].encode()), 1_700_000_000_123_456_789, None)
    assert states[str(tmp_path / "gone.txt")] == UNKNOWN


def test_an_object_rewritten_with_the_same_size_changes_its_etag(objectstore, paragraphs):
    storage = Storage.from_config(None)
    uri = f"s3://{BUCKET}/file-state/a.txt"
    filesystem, path = storage.filesystem(uri)
    one, two = paragraphs[1].encode(), paragraphs[1].upper().encode()
    assert len(one) == len(two) and one != two

    def put_and_stat(data: bytes):
        with filesystem.open_output_stream(path) as out:
            out.write(data)
        return file_states([task(uri)], storage)[uri]

    first, second = put_and_stat(one), put_and_stat(two)
    assert first.size == second.size == len(one) and first.mtime_ns > 0
    assert first.etag and second.etag and first.etag != second.etag
    assert file_states([task(f"s3://{BUCKET}/file-state/missing.txt")], storage) == {
        f"s3://{BUCKET}/file-state/missing.txt": UNKNOWN}
