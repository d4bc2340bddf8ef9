"""The delta-rs path of DeltaStore, checked with delta-rs itself as the independent reader."""

import datetime as dt
from collections import Counter
from pathlib import Path

import pytest
from deltalake import DeltaTable
from pyspark.sql import functions as F
from pyspark.sql.types import LongType, MapType, StringType, StructField, StructType, TimestampType

from curate.errors import StorageError

SCHEMA = StructType([
    StructField("k", StringType(), False),
    StructField("v", LongType()),
    StructField("p", StringType()),
    StructField("m", MapType(StringType(), StringType())),
    StructField("ts", TimestampType()),
])
TS = dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.timezone.utc)


def frame(spark, n, *, start=0, p=None):
    rows = [(f"k{i}", i, p or ("a" if i % 2 else "b"), {"i": str(i)}, TS) for i in range(start, start + n)]
    return spark.createDataFrame(rows, SCHEMA)


def delta_rows(store, name):
    return sorted(DeltaTable(store.path(name)).to_pyarrow_table().to_pylist(), key=lambda r: r["k"])


def test_the_store_runs_on_the_engine_asked_for(spark, store, delta_engine):
    from curate.delta.store import resolve_engine

    assert store.engine == delta_engine
    assert resolve_engine(spark, "auto") == "native"  # the session has Spark's Delta


def test_written_table_reads_back_in_delta_rs_with_types(spark, store):
    store.append(frame(spark, 50), "t", schema=SCHEMA)
    rows = delta_rows(store, "t")
    assert len(rows) == 50
    first = next(r for r in rows if r["k"] == "k3")
    assert first["v"] == 3 and first["p"] == "a" and dict(first["m"]) == {"i": "3"}
    assert first["ts"] == TS
    # and Spark reads what delta-rs reads
    assert sorted(r.k for r in store.read("t").collect()) == [r["k"] for r in rows]
    assert store.table_id("t") == DeltaTable(store.path("t")).metadata().id


def test_delta_rs_data_source_writes_the_same_table_as_the_store(spark, tmp_path):
    """`df.write.format("delta")` without the jar (the registered data source, for users' own Spark
    code) and the store's direct write (`write_frame`) share one writer: same rows, types, partitions
    and log. This session has the jar, so the source is registered under another name here."""
    from curate.delta.datasource import DeltaRsDataSource, write_frame

    class Named(DeltaRsDataSource):
        @classmethod
        def name(cls) -> str:
            return "delta_rs_test"

    spark.dataSource.register(Named)
    t, u = str(tmp_path / "t"), str(tmp_path / "u")
    write_frame(frame(spark, 30).repartition(3), {"path": t, "partition_by": "p"}, overwrite=False)
    frame(spark, 30).repartition(3).write.format("delta_rs_test").mode("append").option("partition_by", "p").save(u)
    rows = [sorted(DeltaTable(x).to_pyarrow_table().to_pylist(), key=lambda r: r["k"]) for x in (t, u)]
    assert rows[0] == rows[1] and len(rows[0]) == 30
    for x in (t, u):
        table = DeltaTable(x)
        assert table.metadata().partition_columns == ["p"] and len(table.history()) == 1
        assert table.schema() == DeltaTable(t).schema()


def test_one_version_per_job_write(spark, store):
    for i in range(3):
        store.append(frame(spark, 10, start=10 * i), "t", schema=SCHEMA)
    history = store.history("t")
    assert [h["version"] for h in history] == [2, 1, 0] and store.version("t") == 2
    assert len(DeltaTable(store.path("t")).history()) == 3
    # a multi-partition frame still commits once
    store.append(frame(spark, 40).repartition(4), "t", schema=SCHEMA)
    assert len(DeltaTable(store.path("t")).history()) == 4


def test_failed_write_leaves_previous_version_intact(spark, store):
    store.append(frame(spark, 10), "t", schema=SCHEMA)
    before = delta_rows(store, "t")

    @F.udf("long")
    def explode(v):
        if v == 7:
            raise ValueError("boom")
        return v

    bad = frame(spark, 10, start=100).withColumn("v", explode(F.col("v") - 100)).repartition(3)
    with pytest.raises(StorageError, match="boom"):
        store.append(bad, "t", schema=SCHEMA)
    assert store.version("t") == 0
    assert delta_rows(store, "t") == before


def test_merge_insert_adds_only_absent_keys(spark, store):
    store.append(frame(spark, 10), "t", schema=SCHEMA)
    store.merge_insert(frame(spark, 10, start=5), "t", schema=SCHEMA, keys=["k"])
    assert [r["k"] for r in delta_rows(store, "t")] == sorted(f"k{i}" for i in range(15))
    assert store.version("t") == 1


def test_overwrite_replaces_every_row(spark, store):
    store.append(frame(spark, 10), "t", schema=SCHEMA)
    store.overwrite(frame(spark, 1, start=70), "t", schema=SCHEMA)
    assert [r["k"] for r in delta_rows(store, "t")] == ["k70"]
    assert store.rows("t") == 1 and store.rows("t", version=0) == 10


def test_delete_removes_the_matching_rows_in_one_commit(spark, store):
    store.append(frame(spark, 10), "t", schema=SCHEMA)
    assert store.delete("t", where="k IN ('k3', 'k7')") == 1
    assert [r["k"] for r in delta_rows(store, "t")] == sorted(f"k{i}" for i in range(10) if i not in (3, 7))
    assert store.rows("t") == 8 and DeltaTable(store.path("t")).protocol().reader_features in (None, [])


def test_delete_and_append_rewrites_only_the_files_holding_a_removed_row(spark, store):
    store.append(frame(spark, 5).coalesce(1), "t", schema=SCHEMA)
    store.append(frame(spark, 5, start=5).coalesce(1), "t", schema=SCHEMA)
    (first,) = store.data_files("t", version=0)
    (second,) = store.data_files("t", version=1) - {first}
    version = store.delete_and_append(frame(spark, 2, start=20), "t", schema=SCHEMA, key="k",
                                      remove=["k1", "k3", "k'absent"], read_version=1)
    assert [r["k"] for r in delta_rows(store, "t")] == sorted(f"k{i}" for i in (0, 2, 4, 5, 6, 7, 8, 9, 20, 21))
    files = store.data_files("t", version=version)
    assert second in files and first not in files  # the second file holds no removed row: kept as it is
    with pytest.raises(StorageError, match="changed by another writer"):
        store.delete_and_append(frame(spark, 1, start=30), "t", schema=SCHEMA, key="k", remove=[], read_version=1)
    assert store.version("t") == version
    # Nothing removed: an append, every file kept.
    appended = store.delete_and_append(frame(spark, 1, start=30), "t", schema=SCHEMA, key="k", remove=[],
                                       read_version=version)
    assert store.data_files("t", version=appended) > files and store.rows("t", version=appended) == 11


def test_delete_and_append_of_every_row_of_a_file_leaves_no_file_for_it(spark, store):
    store.append(frame(spark, 3).coalesce(1), "t", schema=SCHEMA)
    store.append(frame(spark, 3, start=3).coalesce(1), "t", schema=SCHEMA)
    version = store.delete_and_append(frame(spark, 0), "t", schema=SCHEMA, key="k", remove=["k0", "k1", "k2"],
                                      read_version=1)
    assert [r["k"] for r in delta_rows(store, "t")] == ["k3", "k4", "k5"]
    assert len(store.data_files("t", version=version)) == 1 and store.rows("t", version=version) == 3


def test_replace_rows_writes_from_the_driver_and_replaces(store):
    rows = [("a", 1, "p", {"x": "1"}, TS), ("b", None, None, None, TS)]
    assert store.replace_rows(rows, "t", schema=SCHEMA) == 0
    assert store.replace_rows(rows[1:], "t", schema=SCHEMA) == 1
    assert [(r["k"], r["v"]) for r in delta_rows(store, "t")] == [("b", None)]
    assert store.rows("t") == 1 and store.rows("t", version=0) == 2


def test_missing_column_is_refused(spark, store):
    with pytest.raises(StorageError, match=r"columns \['ts'\] are missing"):
        store.append(frame(spark, 1).drop("ts"), "t", schema=SCHEMA)


def test_absent_table(store, spark):
    assert store.version("nope") is None and not store.exists("nope")
    assert store.history("nope") == [] and store.table_id("nope") is None
    assert store.read("nope", schema=SCHEMA).count() == 0
    assert store.read_arrow("nope") is None
    with pytest.raises(StorageError, match="run the stage that writes it"):
        store.read("nope")


def test_add_actions_carry_statistics(spark, store):
    import pyarrow as pa

    store.append(frame(spark, 30).coalesce(1), "t", schema=SCHEMA)
    adds = pa.table(DeltaTable(store.path("t")).get_add_actions(flatten=True)).to_pylist()
    assert len(adds) == 1
    a = adds[0]
    assert a["num_records"] == 30 and a["min.v"] == 0 and a["max.v"] == 29
    assert a["min.k"] == "k0" and a["max.k"] == "k9" and a["null_count.v"] == 0


@pytest.fixture
def double_v():
    def fn(batches):  # defined here so Spark pickles it by value: workers cannot import test modules
        import pyarrow.compute as pc

        for b in batches:
            yield b.set_column(b.schema.get_field_index("v"), "v", pc.multiply(b.column("v"), 2))
    return fn


def test_rewrite_replaces_every_file_in_one_commit(spark, store, double_v):
    store.append(frame(spark, 40).repartition(4), "t", schema=SCHEMA)
    before = delta_rows(store, "t")
    old_files = set(DeltaTable(store.path("t")).file_uris())

    def tally(batch):  # what was written, counted in the tasks
        return Counter(rows=batch.num_rows, v=sum(v or 0 for v in batch.column("v").to_pylist()))

    version, counts = store.rewrite("t", double_v, schema=SCHEMA, version=0, tally=tally)
    assert version == 1 and len(DeltaTable(store.path("t")).history()) == 2
    after = delta_rows(store, "t")
    assert counts == Counter(rows=40, v=sum(r["v"] or 0 for r in after))
    assert [r["v"] for r in after] == [2 * r["v"] for r in before]
    assert [{**r, "v": 0} for r in after] == [{**r, "v": 0} for r in before]  # nothing else changed
    new_files = set(DeltaTable(store.path("t")).file_uris())
    assert not new_files & old_files
    if store.engine == "delta-rs":  # a task per file, each writing its file again
        assert len(new_files) == len(old_files)
    assert store.rows("t") == 40 and store.rows("t", version=0) == 40  # from the new files' statistics


def test_rewrite_against_a_stale_version_commits_nothing(spark, store, double_v):
    store.append(frame(spark, 10), "t", schema=SCHEMA)
    store.rewrite("t", double_v, schema=SCHEMA, version=0)  # another writer, after version 0 was read
    once = delta_rows(store, "t")
    with pytest.raises(StorageError, match="changed by another writer"):
        store.rewrite("t", double_v, schema=SCHEMA, version=0)
    assert store.version("t") == 1 and delta_rows(store, "t") == once
    on_disk = {p.name for p in Path(store.path("t")).glob("*.parquet")}
    in_log = {Path(f).name for v in (0, 1) for f in DeltaTable(store.path("t"), version=v).file_uris()}
    assert on_disk == in_log  # the failed rewrite's files are gone


def test_rewrite_whose_function_fails_leaves_the_table(spark, store):
    store.append(frame(spark, 10), "t", schema=SCHEMA)

    def boom(batches):
        raise ValueError("boom")
        yield

    with pytest.raises(StorageError, match="boom"):
        store.rewrite("t", boom, schema=SCHEMA, version=0)
    assert store.version("t") == 0 and len(delta_rows(store, "t")) == 10


def test_append_rows_writes_from_the_driver(store):
    rows = [("a", 1, "p", {"x": "1"}, TS), ("b", None, None, None, TS)]
    assert store.append_rows(rows, "t", schema=SCHEMA) == 0
    assert store.append_rows(rows[:1], "t", schema=SCHEMA) == 1
    got = delta_rows(store, "t")
    assert [(r["k"], r["v"], r["m"] and dict(r["m"]), r["ts"]) for r in got] == [
        ("a", 1, {"x": "1"}, TS), ("a", 1, {"x": "1"}, TS), ("b", None, None, TS)]
    assert store.rows("t") == 3 and store.read("t").count() == 3


def test_append_rows_adds_the_columns_a_newer_schema_has(store):
    """A newer curate's `runs` has a column the table written by an older one lacks."""

    old = StructType(SCHEMA.fields[:2])
    store.append_rows([("a", 1)], "t", schema=old)
    store.append_rows([("b", 2, "p", None, TS)], "t", schema=SCHEMA)
    got = delta_rows(store, "t")
    assert [(r["k"], r["v"], r["p"]) for r in got] == [("a", 1, None), ("b", 2, "p")]
    assert store.column_names("t") == SCHEMA.names 


def test_rows_counts_with_spark_when_a_file_has_no_statistics(tmp_path, store):
    import pyarrow as pa
    import pyarrow.parquet as pq
    from deltalake import Schema
    from deltalake.transaction import AddAction, create_table_with_add_actions

    path = Path(store.path("nostats"))
    path.mkdir(parents=True)
    data = pa.table({"k": [f"k{i}" for i in range(7)]})
    pq.write_table(data, path / "part-0.parquet")
    add = AddAction(path="part-0.parquet", size=(path / "part-0.parquet").stat().st_size, partition_values={},
                    modification_time=0, data_change=True, stats="")
    create_table_with_add_actions(str(path), Schema.from_arrow(data.schema), [add], mode="append")
    assert pa.table(DeltaTable(str(path)).get_add_actions()).column("num_records").null_count == 1
    assert store.rows("nostats") == 7


def staged(store, name, keys):
    """Files a task would write into table `name`'s folder: one FileSink file of rows k<key>."""
    import pyarrow as pa

    from curate.delta.datasource import FileSink, delta_arrow_schema

    schema = delta_arrow_schema(SCHEMA)
    sink = FileSink(store.path(name), schema, storage=store.storage)
    sink.write(pa.Table.from_pylist([{"k": f"k{i}", "v": i, "p": "a", "m": None, "ts": TS} for i in keys],
                                    schema=schema))
    return sink.close()


def files_on_disk_are_the_logged_ones(store, name):
    on_disk = {p.name for p in Path(store.path(name)).glob("*.parquet")}
    return on_disk == {Path(f).name for f in DeltaTable(store.path(name)).file_uris()}


def test_insert_files_commits_new_keys(store):
    adds = staged(store, "t", range(5))
    assert store.insert_files(adds, "t", schema=SCHEMA, keys=["k"]) == 0
    more = staged(store, "t", range(5, 8))
    assert store.insert_files(more, "t", schema=SCHEMA, keys=["k"]) == 1
    assert [r["k"] for r in delta_rows(store, "t")] == sorted(f"k{i}" for i in range(8))
    assert store.rows("t") == 8
    logged = {Path(f).name for f in DeltaTable(store.path("t")).file_uris()}
    assert logged == {adds[0]["path"], more[0]["path"]}  # committed as written, not rewritten
    assert files_on_disk_are_the_logged_ones(store, "t")


def test_insert_files_merges_keys_already_there_or_repeated(store):
    store.insert_files(staged(store, "t", range(5)), "t", schema=SCHEMA, keys=["k"])
    # k3, k4 are in the table; k6 comes twice (two tasks read the same record)
    adds = staged(store, "t", [3, 4, 5, 6]) + staged(store, "t", [6, 7])
    assert store.insert_files(adds, "t", schema=SCHEMA, keys=["k"]) == 1
    assert [r["k"] for r in delta_rows(store, "t")] == sorted(f"k{i}" for i in range(8))
    assert files_on_disk_are_the_logged_ones(store, "t")  # the staged files were merged, then deleted


def test_insert_files_with_unique_keys_looks_up_the_tables_only(store):
    adds = staged(store, "t", range(3)) + staged(store, "t", range(3, 5))
    assert store.insert_files(adds, "t", schema=SCHEMA, keys=["k"], unique=True) == 0
    if store.engine == "delta-rs":
        assert {Path(f).name for f in DeltaTable(store.path("t")).file_uris()} == {a["path"] for a in adds}
    more = staged(store, "t", [4, 5])  # k4 is in the table already
    assert store.insert_files(more, "t", schema=SCHEMA, keys=["k"], unique=True) == 1
    assert [r["k"] for r in delta_rows(store, "t")] == sorted(f"k{i}" for i in range(6))
    assert files_on_disk_are_the_logged_ones(store, "t")


def test_insert_files_of_nothing_creates_the_table_then_commits_nothing(store):
    assert store.insert_files([], "t", schema=SCHEMA, keys=["k"]) == 0  # the table is created
    assert store.insert_files([], "t", schema=SCHEMA, keys=["k"]) == 0  # no empty commit
    assert [h["version"] for h in store.history("t")] == [0]
    assert store.rows("t") == 0 and delta_rows(store, "t") == []


def test_split_files_hold_one_value_and_readers_skip_the_others(spark, store, monkeypatch):
    import pyarrow as pa
    from pyspark.sql.types import BooleanType

    from curate.schemas import tables

    schema = StructType([StructField("k", StringType(), False), StructField("b", BooleanType())])
    rows = [(f"k{i}", i % 3 == 0) for i in range(30)]
    monkeypatch.setitem(tables.SPLIT_FILES_BY, "t", ("b",))
    monkeypatch.setitem(tables.SPLIT_FILES_BY, "u", ("b",))
    store.append(spark.createDataFrame(rows, schema).repartition(2), "t", schema=schema)
    # Only the files that hold true rows are read: the function sees no false row. Both engines'
    # writes split the files by b and keep its min and max in their statistics (which delta-rs shows
    # only where the table's dataSkippingStatsColumns, which cannot name a boolean, does not hide them).
    want = sorted(k for k, b in rows if b)
    if store.engine == "delta-rs":
        adds = pa.table(DeltaTable(store.path("t")).get_add_actions(flatten=True)).to_pylist()
        assert len(adds) == 4 and {(a["min.b"], a["max.b"]) for a in adds} == {(True, True), (False, False)}

    def same(batches):
        yield from batches

    seen = store.file_frame("t", same, "k string, b boolean", version=0, where_true="b").collect()
    assert sorted(r.k for r in seen) == want
    store.map_into("t", same, "u", schema=schema, version=0, where_true="b")
    assert sorted(r["k"] for r in delta_rows(store, "u")) == want
    everything = store.file_frame("t", same, "k string, b boolean", version=0).collect()
    assert len(everything) == 30
    with pytest.raises(StorageError, match="into itself"):
        store.map_into("t", same, "t", schema=schema, version=0, where_true="b")


def test_map_append_reads_only_the_files_asked_for_and_appends_once(spark, store):
    from collections import Counter

    import pyarrow.compute as pc

    def doubled(batches):  # defined here so Spark pickles it by value
        for b in batches:
            yield b.set_column(1, "v", pc.multiply(b.column("v"), 2))

    def tally(batch):
        return Counter(rows=batch.num_rows)

    store.append(frame(spark, 4).coalesce(1), "src", schema=SCHEMA)
    store.append(frame(spark, 3, start=4).coalesce(1), "src", schema=SCHEMA)
    store.append(frame(spark, 2, start=100).coalesce(1), "dst", schema=SCHEMA)
    second = store.data_files("src", version=1) - store.data_files("src", version=0)
    version, counts = store.map_append("src", doubled, "dst", schema=SCHEMA, version=1, tally=tally, only=second)
    assert version == 1 and counts == Counter(rows=3)
    assert [(r["k"], r["v"]) for r in delta_rows(store, "dst")] == [("k100", 100), ("k101", 101), ("k4", 8),
                                                                     ("k5", 10), ("k6", 12)]
    # Nothing to append (no file asked for): no commit.
    assert store.map_append("src", doubled, "dst", schema=SCHEMA, version=1, only=set()) == (1, Counter())
    with pytest.raises(StorageError, match="into itself"):
        store.map_append("src", doubled, "src", schema=SCHEMA, version=1)


def test_file_frame_where_in_gives_only_the_rows_holding_a_value(spark, store):
    import pyarrow as pa

    from curate.spark_tasks import same_batches

    store.append(frame(spark, 20).coalesce(1), "t", schema=SCHEMA)
    store.append(frame(spark, 20, start=20).coalesce(1), "t", schema=SCHEMA)
    store.delete("t", where="k = 'k5'")  # the engine's own rewrite of a file (delta-rs: string views)
    version = store.version("t")
    wanted = pa.array(["k3", "k5", "k27", "absent"], pa.string())
    rows = store.file_frame("t", same_batches, SCHEMA, version=version, where_in=("k", wanted)).collect()
    assert sorted((r.k, r.v) for r in rows) == [("k27", 27), ("k3", 3)]
    none = store.file_frame("t", same_batches, SCHEMA, version=version, where_in=("k", pa.array([], pa.string())))
    assert none.count() == 0
