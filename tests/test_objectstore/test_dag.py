"""The whole DAG with its storage root and its inputs in a bucket of a real S3-compatible server,
under each Delta engine: the same rows in every table as a run of the same files on local disk (but
`input_file`, which names where a file was read, and the quarantine's `record_id`, a hash of it), shards published in the bucket that
StreamingDataset reads from it (resumable, the mixture held), and the secret key nowhere in what the
run wrote or printed."""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import yaml

from curate.cli import main
from curate.schemas.config import EMBEDDED_DEFAULT
from curate.storage import Storage
from test_faults.harness import TABLE_KEYS, _canonical, sample_config

ENGINES = ("native", "delta-rs")


SAMPLE = EMBEDDED_DEFAULT.parent / "sample"


def table_digest(root: str, name: str) -> dict:
    """Rows and a hash of the sorted rows without run ids and input paths, read by delta-rs from
    wherever `root` is."""
    from deltalake import DeltaTable

    uri = f"{root}/tables/{name}"
    table = DeltaTable(uri, storage_options=Storage.from_config(None).delta_rs_options(uri)).to_pyarrow_table()
    cols = [c for c in table.column_names if not c.endswith("run_id") and c not in ("input_file", "record_id")]
    rows = sorted(json.dumps([_canonical(r[c]) for c in cols], default=str) for r in table.select(cols).to_pylist())
    keys = table.column(TABLE_KEYS[name]).to_pylist() if name in TABLE_KEYS else []  # no key twice
    return {"rows": len(rows), "duplicate_keys": len(keys) - len(set(keys)),
            "sha": hashlib.sha256("\n".join(rows).encode()).hexdigest()}


def samples(remote: str, cache: Path) -> list[tuple[bytes, str]]:
    from streaming import StreamingDataset

    ds = StreamingDataset(remote=remote, local=str(cache), shuffle=False, batch_size=1)
    return [(np.asarray(s["tokens"], dtype=np.int32).tobytes(), s["source"]) for s in ds]


def upload(folder: Path, uri: str) -> None:
    fs, path = Storage.from_config(None).filesystem(uri)
    for f in sorted(folder.rglob("*")):
        if f.is_file():
            with fs.open_output_stream(f"{path}/{f.relative_to(folder).as_posix()}", compression=None) as out:
                out.write(f.read_bytes())


@pytest.fixture(scope="module")
def runs(spark, objectstore, tmp_path_factory):
    """The bundled sample run on local disk, then with its inputs and root in the bucket, per engine."""
    base = tmp_path_factory.mktemp("objectstore-dag")
    raw = f"s3://{objectstore['bucket']}/raw/sample"
    upload(SAMPLE, raw)
    local_cfg = sample_config(base / "local.yaml")
    data = yaml.safe_load(local_cfg.read_text())
    data["tracking"] = {"mlflow_uri": (base / "mlruns").as_uri(), "experiment": "objectstore"}
    local_cfg.write_text(yaml.safe_dump(data))
    data["inputs"] = [{**i, "path": i["path"].replace(str(SAMPLE), raw)} for i in data["inputs"]]
    assert all(i["path"].startswith("s3://") for i in data["inputs"])
    cfg = base / "pipeline.yaml"
    cfg.write_text(yaml.safe_dump(data))
    roots = {"local": str(base / "local")}
    assert main(["run", "--config", str(local_cfg), "--root", roots["local"], "--delta-engine", "delta-rs"]) == 0
    for engine in ENGINES:
        roots[engine] = f"s3://{objectstore['bucket']}/dag-{engine}"
        assert main(["run", "--config", str(cfg), "--root", roots[engine], "--delta-engine", engine]) == 0
    return {"roots": roots, "base": base, "cfg": cfg}


def _published(root: str) -> str:
    fs, path = Storage.from_config(None).filesystem(f"{root}/shards/sample/versions.json")
    with fs.open_input_stream(path, compression=None) as f:
        return f"{root}/shards/sample/{json.loads(f.read())[-1]['version']}"


@pytest.mark.parametrize("engine", ENGINES)
def test_tables_in_the_bucket_equal_a_local_run(runs, engine):
    """Quarantine and skipped rows included: every fate as on disk."""
    for name in TABLE_KEYS:
        local = table_digest(runs["roots"]["local"], name)
        assert local["rows"] > 0 and table_digest(runs["roots"][engine], name) == local, name


@pytest.mark.parametrize("engine", ENGINES)
def test_shards_published_in_the_bucket_read_back_from_it(runs, engine, tmp_path):
    from streaming import StreamingDataset

    remote, local = _published(runs["roots"][engine]), _published(runs["roots"]["local"])
    assert remote.startswith("s3://")  # its version's name holds docs_tokenized's table id: its own
    for stage in ("pretrain", "anneal"):
        got = samples(f"{remote}/{stage}", tmp_path / stage)
        assert got and got == samples(f"{local}/{stage}", tmp_path / f"local-{stage}")
        manifest = _manifest(remote, stage)
        tokens = Counter()
        for ids, source in got:
            tokens[source] += len(ids) // 4
        for name, component in manifest["components"].items():
            assert abs(tokens[name] / sum(tokens.values()) - component["target_share"]) <= 0.005, name
        assert yaml.safe_load(manifest["train_loader"])["train_loader"]["dataset"]["remote"] == f"{remote}/{stage}"
    # resumed from a state_dict, from the bucket
    first = StreamingDataset(remote=f"{remote}/pretrain", local=str(tmp_path / "a"), shuffle=False, batch_size=1)
    it = iter(first)
    for _ in range(37):
        next(it)
    resumed = StreamingDataset(remote=f"{remote}/pretrain", local=str(tmp_path / "b"), shuffle=False, batch_size=1)
    resumed.load_state_dict(first.state_dict(37, True))
    rest = [np.asarray(s["tokens"], dtype=np.int32).tobytes() for s in resumed]
    assert rest == [ids for ids, _ in samples(f"{remote}/pretrain", tmp_path / "c")[37:]]


def _manifest(version_uri: str, stage: str) -> dict:
    fs, path = Storage.from_config(None).filesystem(f"{version_uri}/{stage}/manifest.json")
    with fs.open_input_stream(path, compression=None) as f:
        return json.loads(f.read())


def test_the_secret_key_is_in_nothing_the_runs_wrote(runs, objectstore, capfd, tmp_path):
    """Tables (every column), the report, MLflow's parameters, the exported workflows and the output."""
    secret = objectstore["env"]["AWS_SECRET_ACCESS_KEY"].encode()
    assert len(secret) >= 20
    for engine in ENGINES:
        root = runs["roots"][engine]
        for name in (*TABLE_KEYS, "runs"):
            assert table_digest(root, name)["rows"] >= 0
        assert main(["report", "--config", str(runs["cfg"]), "--root", root, "--out", str(tmp_path / f"{engine}.html"),
                     "--delta-engine", engine]) == 0
        assert main(["export", "airflow", "--out", str(tmp_path / "airflow"), "--root", root]) == 0
        assert main(["export", "databricks", "--out", str(tmp_path / "databricks"), "--root", root]) == 0
    written = [p for p in (*tmp_path.rglob("*"), *runs["base"].rglob("*")) if p.is_file()]
    assert len(written) > 20
    for path in written:
        assert secret not in path.read_bytes(), path
    fs, bucket = Storage.from_config(None).filesystem(f"s3://{objectstore['bucket']}/")
    import pyarrow.fs

    for info in fs.get_file_info(pyarrow.fs.FileSelector(bucket, recursive=True)):
        if info.is_file and not info.path.endswith((".mds", ".zstd", ".parquet")):  # binary: checked as tables
            with fs.open_input_stream(info.path, compression=None) as f:
                assert secret not in f.read(), info.path
    out, err = capfd.readouterr()
    assert secret.decode() not in out + err
    assert os.environ["AWS_SECRET_ACCESS_KEY"].encode() == secret  # the runs had it, from the environment
