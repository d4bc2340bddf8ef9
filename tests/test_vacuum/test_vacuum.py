"""`curate vacuum` on real tables (the bundled sample), under each Delta engine: after two runs that
rewrite tables, a planted crash orphan and a planted stale shard staging folder, a dry run lists
exactly the files no current version needs and deletes nothing; `--apply` deletes them, every table
reads back the same rows through both engines, the published shards stay, and a rerun skips."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from pathlib import Path

from deltalake import DeltaTable

from curate.cli import main
from curate.delta.store import open_store
from curate.schemas.tables import RUNS
from curate.storage import local_path
from test_faults.harness import sample_config

ENGINES = ("native", "delta-rs")
_LISTED = re.compile(r"^(?:would delete|deleted) (\S+) \(([\d,]+) bytes\)$", re.M)
_OLD = time.time() - 200 * 3600  # older than Delta's default retention of 168 hours


def listed(out: str) -> dict[str, int]:
    return {uri: int(size.replace(",", "")) for uri, size in _LISTED.findall(out)}


def unreferenced(root: Path) -> set[str]:
    """Each table's data files on disk that its current snapshot (read by delta-rs) does not name."""
    found = set()
    for table in (root / "tables").iterdir():
        current = {local_path(uri) for uri in DeltaTable(str(table)).file_uris()}
        on_disk = {str(p) for p in table.rglob("*") if p.is_file()
                   and not any(part.startswith(("_", ".")) for part in p.relative_to(table).parts)}
        found |= on_disk - current
    return found


def rows_digest(store, name: str) -> tuple[int, str]:
    rows = sorted(json.dumps(r.asDict(recursive=True), sort_keys=True, default=str) for r in store.read(name).collect())
    return len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest()


def test_vacuum_deletes_superseded_orphaned_and_staged_files_only(spark, tmp_path, delta_engine, capsys, caplog):
    config = sample_config(tmp_path / "pipeline.yaml", sources={"web", "books", "code"})
    root = tmp_path / "root"
    base = ["--config", str(config), "--root", str(root), "--delta-engine", delta_engine]
    assert main(["run", *base]) == 0
    assert main(["run", "--force", *base]) == 0  # every stage again: rewritten tables supersede files
    superseded = unreferenced(root)
    assert superseded, "the second run superseded no file"

    # A crash orphan: a data file a killed write left, which no commit took.
    curated = root / "tables" / "docs_curated"
    orphan = curated / "part-00000-orphan-of-a-killed-task.snappy.parquet"
    shutil.copy(next(p for p in curated.glob("*.parquet")), orphan)
    # Stale shard staging: a version staged by a mix run killed before it published.
    shelf = root / "shards" / "sample"
    (published,) = [v["version"] for v in json.loads((shelf / "versions.json").read_text())]
    staging = shelf / ".tmp-0123456789ab-20261201T000000-dead00"
    shutil.copytree(shelf / published, staging)
    for p in (orphan, *staging.rglob("*"), staging):
        os.utime(p, (_OLD, _OLD))
    staging_bytes = sum(p.stat().st_size for p in staging.rglob("*") if p.is_file())
    store = open_store(spark, str(root), engine=delta_engine)
    tables = sorted(p.name for p in (root / "tables").iterdir())
    before = {name: rows_digest(store, name) for name in tables}
    capsys.readouterr()

    # The guard: a retention below Delta's 168 hours is refused without the flag.
    assert main(["vacuum", *base, "--retain-hours", "0", "--apply"]) == 2
    assert "--force-short-retention" in caplog.text and not listed(capsys.readouterr().out)

    # Default retention: only what is older than 168 hours (the superseded files were removed now).
    assert main(["vacuum", *base]) == 0
    assert listed(capsys.readouterr().out) == {str(orphan): orphan.stat().st_size, str(staging): staging_bytes}
    assert main(["status", *base]) == 0
    status = capsys.readouterr().out
    assert f"shards/sample {staging_bytes:,} bytes" in status
    assert f"total {orphan.stat().st_size + staging_bytes:,} bytes" in status

    # Retention 0: exactly the superseded files, the orphan and the staging; a dry run deletes nothing.
    short = ["--retain-hours", "0", "--force-short-retention"]
    assert main(["vacuum", *base, *short]) == 0
    dry = listed(capsys.readouterr().out)
    assert set(dry) == superseded | {str(orphan), str(staging)}
    assert all(Path(uri).exists() for uri in dry)

    assert main(["vacuum", *base, *short, "--apply"]) == 0
    assert listed(capsys.readouterr().out) == dry
    assert not any(Path(uri).exists() for uri in dry)
    assert not unreferenced(root) and (shelf / published).is_dir()
    for engine in ENGINES:
        other = open_store(spark, str(root), engine=engine)
        assert {name: rows_digest(other, name) for name in tables} == before, engine

    # Vacuum made no commit: a rerun skips every stage.
    assert main(["run", *base]) == 0
    runs = store.read(RUNS).orderBy("started_at", ascending=False)
    last = runs.first().run_id
    assert {r.status for r in runs.where(f"run_id = '{last}'").collect()} == {"skipped"}


def test_vacuum_in_a_bucket(spark, objectstore, delta_engine, capsys):
    """A table rewritten in a bucket of the S3-compatible server, a planted orphan and a version
    written in place without its pointer: listed, then deleted; the published version and the
    current rows stay, and no credential is printed."""
    from pyarrow.fs import FileSelector
    from pyspark.sql.types import StringType, StructField, StructType

    from curate.storage import Storage

    root = f"s3://{objectstore['bucket']}/vacuum-{delta_engine}"
    storage = Storage.from_config(None)
    store = open_store(spark, root, engine=delta_engine)
    schema = StructType([StructField("doc_id", StringType()), StructField("text", StringType())])
    notes = sorted((Path(__file__).resolve().parents[2] / "examples" / "sample" / "notes").iterdir())
    docs = [(p.name, p.read_text()) for p in notes]
    store.overwrite(spark.createDataFrame(docs[:3], schema), "notes", schema=schema)
    store.overwrite(spark.createDataFrame(docs[3:], schema), "notes", schema=schema)
    fs, table = storage.filesystem(store.path("notes"))
    current = {storage.filesystem(u)[1] for u in DeltaTable(store.path("notes"),
               storage_options=storage.delta_rs_options(store.path("notes"))).file_uris()}
    files = [i.path for i in fs.get_file_info(FileSelector(table, recursive=True))
             if i.is_file and "/_delta_log/" not in i.path]
    superseded = set(files) - current
    assert superseded and current
    fs.copy_file(sorted(current)[0], f"{table}/part-orphan-of-a-killed-task.parquet")
    _, shelf = storage.filesystem(f"{root}/shards/sample")
    for version in ("0123456789ab", "ba9876543210"):  # the second is published
        with fs.open_output_stream(f"{shelf}/{version}/pretrain/notes.txt") as f:
            f.write(docs[0][1].encode())
    with fs.open_output_stream(f"{shelf}/_versions/ba9876543210.json") as f:
        f.write(json.dumps({"version": "ba9876543210", "stages": []}).encode())
    capsys.readouterr()

    base = ["--root", root, "--delta-engine", delta_engine, "--retain-hours", "0", "--force-short-retention"]
    assert main(["vacuum", *base]) == 0
    out = capsys.readouterr().out
    expected = {f"s3://{p}" for p in superseded | {f"{table}/part-orphan-of-a-killed-task.parquet"}}
    assert set(listed(out)) == expected | {f"{root}/shards/sample/0123456789ab"}
    assert main(["vacuum", *base, "--apply"]) == 0
    out += capsys.readouterr().out
    left = {i.path for i in fs.get_file_info(FileSelector(objectstore["bucket"] + f"/vacuum-{delta_engine}",
                                                            recursive=True)) if i.is_file}
    assert not {p.removeprefix("s3://") for p in expected} & left
    assert current <= left and f"{shelf}/ba9876543210/pretrain/notes.txt" in left
    assert not any(p.startswith(f"{shelf}/0123456789ab/") for p in left)
    assert sorted(r.doc_id for r in store.read("notes").collect()) == [d for d, _ in docs[3:]]
    assert objectstore["env"]["AWS_SECRET_ACCESS_KEY"] not in out
