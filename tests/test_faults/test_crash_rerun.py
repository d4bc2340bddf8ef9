"""Kill a run with SIGKILL at a fault point, rerun it, and compare with an undisturbed run.

The killed run is `curate <stage>` or `curate run` in its own process session with CURATE_FAULT set
(curate/faults.py); the point kills the driver, the JVM and the Python workers at once. The rerun
and the undisturbed run go through the same CLI in this process. Equal means: every table's rows
equal without run ids, no key repeated, every file of each Delta snapshot present, the shards' sample
sequence and manifests equal, and no temporary shard folder listed as a version.
"""

from __future__ import annotations

import re
import shutil
import signal
from pathlib import Path

import pytest

from curate.cli import main
from curate.pipelines.dag import stage as dag_stage
from test_faults.harness import TABLE_KEYS, run_curate, sample_config, shards_digest, tables_digest


def assert_killed_at(died, point: str) -> None:
    assert died.returncode == -signal.SIGKILL, f"rc={died.returncode}\n{died.stderr[-4000:]}"
    assert f"fault injected at {point}" in died.stderr
    assert died.survivors == [], f"processes outlived the fault: {died.survivors}"


def assert_same_tables(got: Path, want: Path, *, names: set[str] | None = None) -> None:
    """The tables `names` (default: all of `want`'s) are equal in both roots."""
    g, w = tables_digest(got), tables_digest(want)
    names = set(w) if names is None else names
    assert names <= set(g), f"missing tables: {sorted(names - set(g))}"
    for name in sorted(names):
        assert g[name]["duplicate_keys"] == 0 and g[name]["missing_files"] == [], (name, g[name])
        assert g[name] == w[name], name


def test_ingest_killed_between_its_two_commits_reruns_to_the_undisturbed_tables(spark, tmp_path, delta_engine):
    """docs_raw committed, quarantine and `runs` not: the rerun adds the rest and duplicates nothing."""
    cfg = str(sample_config(tmp_path / "pipeline.yaml", sources={"notes", "bad"}))
    crashed, undisturbed = tmp_path / "crashed", tmp_path / "undisturbed"
    engine = ["--delta-engine", delta_engine]
    died = run_curate(["ingest", "--config", cfg, "--root", str(crashed), *engine], fault="committed:docs_raw")
    assert_killed_at(died, "committed:docs_raw")
    assert (crashed / "tables" / "docs_raw" / "_delta_log").is_dir()
    # The quarantine's files are written (by the reading tasks) but not committed: no table yet.
    assert list((crashed / "tables" / "quarantine").glob("*.parquet"))
    assert not (crashed / "tables" / "quarantine" / "_delta_log").exists() and not (crashed / "tables" / "runs").exists()

    assert main(["ingest", "--config", cfg, "--root", str(crashed), *engine]) == 0
    assert main(["ingest", "--config", cfg, "--root", str(undisturbed), *engine]) == 0
    assert_same_tables(crashed, undisturbed)
    assert tables_digest(crashed)["quarantine"]["rows"] > 0


# ---- every stage's points, on the whole bundled sample (slow: a full run plus one stage per point) ----

@pytest.fixture(scope="module", params=["native", "delta-rs"])
def undisturbed(spark, tmp_path_factory, request):
    engine = request.param
    base = tmp_path_factory.mktemp(f"undisturbed-{engine}")
    cfg = str(sample_config(base / "pipeline.yaml"))
    assert main(["run", "--config", cfg, "--root", str(base / "root"), "--delta-engine", engine]) == 0
    return {"cfg": cfg, "root": base / "root", "shards": shards_digest(base / "root", base / "cache"),
            "engine": ["--delta-engine", engine]}


def _inputs_of(stage: str, undisturbed: dict, root: Path) -> None:
    """The undisturbed run's tables as they were when `stage` started: all but the stage's outputs and later."""
    from curate.pipelines.dag import STAGES

    later = {t for st in STAGES[[s.name for s in STAGES].index(stage):] for t in st.outputs}
    for table in (undisturbed["root"] / "tables").iterdir():
        if table.name not in later and table.name != "runs":
            shutil.copytree(table, root / "tables" / table.name)


STAGE_POINTS = [
    ("ingest", "write:docs_raw"),  # in an executor task: files written, the task not reported
    ("ingest", "commit:docs_raw"),  # every task done, the Delta commit not made
    ("ingest", "committed:quarantine"),
    ("ingest", "done:ingest"),  # every commit made, the `runs` record not
    ("annotate", "write:docs_annotated"),
    ("annotate", "committed:docs_annotated"),
    ("dedup", "committed:dedup_signatures"),
    ("dedup", "commit:dup_clusters"),
    ("dedup", "committed:docs_curated"),
    ("tokenize", "write:docs_tokenized"),
    ("tokenize", "committed:docs_tokenized"),
    ("mix", "mix:shard_task"),  # shard files written, the task's index not
    ("mix", "mix:staged"),  # every stage staged, not renamed into place
    ("mix", "mix:renamed"),  # renamed into place, not listed in versions.json
]


@pytest.mark.slow
@pytest.mark.parametrize("stage,point", STAGE_POINTS, ids=[p for _, p in STAGE_POINTS])
def test_stage_killed_at_a_fault_point_reruns_to_the_undisturbed_output(stage, point, undisturbed, tmp_path):
    root = tmp_path / "root"
    _inputs_of(stage, undisturbed, root)
    args = [stage, "--config", undisturbed["cfg"], "--root", str(root), *undisturbed["engine"]]
    assert_killed_at(run_curate(args, fault=point), point)
    assert main(args) == 0
    # the stage's inputs as copied, its outputs as the undisturbed run wrote them
    assert_same_tables(root, undisturbed["root"], names={t.name for t in (root / "tables").iterdir()} - {"runs"}
                       | {t for t in dag_stage(stage).outputs if (undisturbed["root"] / "tables" / t).exists()})
    if stage == "mix":
        assert_same_shards(root, undisturbed, tmp_path / "cache")


def assert_same_shards(root: Path, undisturbed: dict, cache: Path) -> None:
    got, want = shards_digest(root, cache), undisturbed["shards"]
    for key in want:
        if "/" in key:
            assert got[key] == want[key], key
        else:  # a mixture: one listed version, whatever temporary folders a crash left
            assert got[key]["listed"] == 1
            assert _named(d for d in got[key]["dirs"] if not d.startswith(".tmp-")) == _named(want[key]["dirs"])


def _named(dirs) -> list[str]:
    """A mixture's folders, a version's name (which hashes its input tables' ids: each root's own)
    as <version>."""
    return sorted(re.sub(r"^[0-9a-f]{12}$", "<version>", d) for d in dirs)


@pytest.mark.slow
def test_whole_run_killed_before_recording_dedup_reruns_to_the_undisturbed_tables_and_shards(undisturbed, tmp_path):
    root = tmp_path / "root"
    args = ["run", "--config", undisturbed["cfg"], "--root", str(root), *undisturbed["engine"]]
    assert_killed_at(run_curate(args, fault="done:dedup"), "done:dedup")
    assert main(args) == 0
    assert_same_tables(root, undisturbed["root"])
    assert_same_shards(root, undisturbed, tmp_path / "cache")
    assert set(TABLE_KEYS) <= {p.name for p in (root / "tables").iterdir()}
