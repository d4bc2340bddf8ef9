"""Model files found by name among the files Spark shipped (`spark-submit --files` / `addFile`)."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest

from curate.errors import DependencyError
from curate.quality.langid import LanguageIdentifier, default_model_path
from curate.shipped import BPE_ENV, LID_ENV, locate
from curate.tokenize.encoder import bpe_file


def ship(spark, src: Path, tmp_path: Path) -> str:
    """Ship a copy of `src` under a fresh name (Spark refuses a name shipped twice with other contents)."""
    name = f"{uuid.uuid4().hex[:8]}-{src.name}"
    shutil.copyfile(src, tmp_path / name)
    spark.sparkContext.addFile(str(tmp_path / name))
    return name


def test_existing_path_is_used_as_is(tmp_path):
    f = tmp_path / "model.bin"
    f.write_bytes(b"x")
    assert locate(str(f)) == f


def test_missing_file_stays_unresolved_without_spark(tmp_path):
    assert locate(str(tmp_path / "nope.bin")) == tmp_path / "nope.bin"


def test_shipped_file_is_found_by_name_on_driver_and_executors(spark, tmp_path):
    src = tmp_path / "src.txt"
    src.write_text("shipped")
    name = ship(spark, src, tmp_path)
    on_driver = locate(f"/no/such/dir/{name}")
    assert on_driver != Path(f"/no/such/dir/{name}") and on_driver.read_text() == "shipped"

    def on_executor(_):
        from curate.shipped import locate

        path = locate(name)
        yield path.read_text() if path.is_file() else f"missing: {path}"

    assert spark.sparkContext.parallelize([0], 1).mapPartitions(on_executor).collect() == ["shipped"]


def test_bpe_env_names_a_shipped_file(spark, tmp_path, monkeypatch):
    name = ship(spark, bpe_file(), tmp_path)
    monkeypatch.setenv(BPE_ENV, name)
    assert bpe_file().name == name and bpe_file().stat().st_size > 1_000_000
    monkeypatch.setenv(BPE_ENV, "not-shipped.tiktoken")
    with pytest.raises(DependencyError, match="CURATE_BPE_FILE=not-shipped.tiktoken"):
        bpe_file()


def test_lid_env_names_a_shipped_model(spark, tmp_path, monkeypatch):
    name = ship(spark, default_model_path(), tmp_path)
    monkeypatch.setenv(LID_ENV, name)
    lid = LanguageIdentifier()
    assert lid.predict("Dies ist ein ganz normaler deutscher Satz über das Wetter.").lang == "de"
    monkeypatch.setenv(LID_ENV, str(tmp_path / "missing.ftz"))
    with pytest.raises(DependencyError, match="missing.ftz does not exist"):
        LanguageIdentifier()
