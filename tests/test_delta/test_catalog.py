"""With `catalog:` configured, every table is registered in Spark's catalog: a new Spark application on
the same metastore (Spark's embedded Hive metastore, on Derby) queries them by name."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import yaml
from deltalake import DeltaTable

from test_faults.harness import REPO, sample_config

QUERY = """
import json, sys
from curate.schemas.config import load_pipeline_config
from curate.session import get_spark
spark = get_spark(load_pipeline_config(sys.argv[1]).spark)
rows = spark.sql("SELECT lang, count(*) AS n FROM curate.docs_curated GROUP BY lang").collect()
tables = sorted(r.tableName for r in spark.sql("SHOW TABLES IN curate").collect())
print(json.dumps({"counts": {str(r.lang): r.n for r in rows}, "tables": tables}))
"""


def test_tables_are_queried_by_name_from_a_new_application(tmp_path):
    cfg_path = sample_config(tmp_path / "pipeline.yaml")
    cfg = yaml.safe_load(cfg_path.read_text())
    cfg["spark"]["conf"] = {
        "spark.sql.catalogImplementation": "hive",
        "spark.sql.warehouse.dir": str(tmp_path / "warehouse"),
        "spark.hadoop.javax.jdo.option.ConnectionURL": f"jdbc:derby:;databaseName={tmp_path / 'metastore'};create=true",
    }
    cfg["catalog"] = {"schema": "curate"}
    cfg_path.write_text(yaml.safe_dump(cfg))
    root = tmp_path / "root"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for command in (["run"], ["audit"]):  # audit writes doc_fates: registered as well
        done = subprocess.run([sys.executable, "-m", "curate.cli", *command, "--config", str(cfg_path),
                               "--root", str(root), "--delta-engine", "native"],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1800)
        assert done.returncode == 0, done.stderr[-4000:]
    query = subprocess.run([sys.executable, "-c", QUERY, str(cfg_path)], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=600)
    assert query.returncode == 0, query.stderr[-4000:]
    got = json.loads(query.stdout.strip().splitlines()[-1])
    langs = DeltaTable(str(root / "tables" / "docs_curated")).to_pyarrow_table(columns=["lang"]).column("lang")
    assert got["counts"] == {str(k): v for k, v in Counter(langs.to_pylist()).items()}
    written = sorted(p.name for p in (root / "tables").iterdir() if (p / "_delta_log").is_dir())
    assert got["tables"] == written and "doc_fates" in written
    assert not (Path(cfg["spark"]["conf"]["spark.sql.warehouse.dir"]) / "curate.db" / "docs_curated").exists()
