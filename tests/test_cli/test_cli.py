"""The command line as users call it, in-process on the test session."""

import json

from curate.cli import build_parser, main


def test_every_stage_command_takes_root_and_config():
    parser = build_parser()
    for command in ("run", "ingest", "status", "vacuum"):
        args = parser.parse_args([command, "--root", "/x", "--config", "c.yaml"])
        assert args.root == "/x" and args.config == "c.yaml"


def test_adhoc_ingest_needs_source_and_kind(spark, tmp_path, capsys, caplog):
    rc = main(["ingest", "--root", str(tmp_path), "--input", str(tmp_path)])
    assert rc == 2 and "--input needs --source NAME and --kind text|code" in caplog.text


def test_invalid_config_is_refused_before_spark_work(tmp_path, caplog):
    bad = tmp_path / "p.yaml"
    bad.write_text("spark: {shuffle_partitions: -1}\n")
    assert main(["run", "--config", str(bad)]) == 2
    assert "spark.shuffle_partitions: got -1" in caplog.text


def test_run_on_the_embedded_default(spark, tmp_path, capsys):
    assert main(["run", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "docs_raw" in out and str(tmp_path / "tables" / "docs_raw") in out
    from curate.delta.store import open_store

    store = open_store(spark, str(tmp_path))
    runs = store.read("runs").collect()
    assert {r.stage for r in runs} >= {"ingest"} and all(r.status == "succeeded" for r in runs)
    assert store.read("docs_raw").count() > 500
    assert main(["status", "--root", str(tmp_path)]) == 0
    status = capsys.readouterr().out
    assert "last runs" in status and "shard versions" in status
    (listing,) = (tmp_path / "shards").glob("*/versions.json")
    assert json.loads(listing.read_text())[-1]["version"] in status


def test_job_modules_are_spark_submittable_without_shadowing_the_stdlib():
    """spark-submit puts curate/jobs/ first on sys.path: a job named like a stdlib module breaks Python."""
    import importlib
    import sys
    from pathlib import Path

    from curate.pipelines.dag import STAGES

    jobs = Path(importlib.import_module("curate.jobs").__file__).parent
    assert not {p.stem for p in jobs.glob("*.py")} & set(sys.stdlib_module_names)
    for st in STAGES:
        source = (jobs / f"{st.module.rsplit('.', 1)[1]}.py").read_text()
        assert f'sys.exit(stage_main("{st.name}"))' in source, st.name
