"""`python -m curate.package`: the zip spark-submit ships with --py-files, and the model files for --files."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile

import pytest

from curate.package import PACKAGE_DIR, build, build_zip
from curate.tokenize.encoder import CL100K_SHA256


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return build(tmp_path_factory.mktemp("dist"))


def test_zip_holds_every_source_file_and_package_data(bundle):
    names = set(zipfile.ZipFile(bundle.zip_path).namelist())
    sources = {f"curate/{p.relative_to(PACKAGE_DIR).as_posix()}" for p in PACKAGE_DIR.rglob("*.py")}
    assert sources <= names
    data = {f"curate/{p.relative_to(PACKAGE_DIR).as_posix()}" for p in PACKAGE_DIR.rglob("*")
            if p.is_file() and p.suffix not in (".py", ".pyc")}
    assert {"curate/log4j2.properties", "curate/quality/spacy_en.json"} <= data <= names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_zip_is_reproducible(bundle, tmp_path):
    again = build_zip(tmp_path / "again.zip")
    assert again.read_bytes() == bundle.zip_path.read_bytes()


def test_package_imports_from_the_zip_alone(bundle, tmp_path):
    # Run from an empty folder with only the zip on the path ahead of site-packages, like an executor.
    # Every module is imported: one that reads package data by file path fails inside a zip.
    code = ("import importlib, pkgutil, curate\n"
            "names = [m.name for m in pkgutil.walk_packages(curate.__path__, 'curate.')\n"
            "         if not m.name.endswith('__main__')]\n"
            "for name in names: importlib.import_module(name)\n"
            "print(curate.__file__, len(names))")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(bundle.zip_path), "PATH": "/usr/bin:/bin"}).stdout.split()
    assert out[0].startswith(str(bundle.zip_path) + "/")
    # every source file but curate/__init__.py, the package itself, which walk_packages does not list
    assert int(out[1]) == len([p for p in PACKAGE_DIR.rglob("*.py") if p.name != "__main__.py"]) - 1


def test_models_are_the_checked_files_and_flags_name_them(bundle):
    assert hashlib.sha256(bundle.bpe_path.read_bytes()).hexdigest() == CL100K_SHA256
    assert bundle.lid_path.read_bytes()[:4] == b"\xba\x16O/"  # fastText's magic number
    args = bundle.submit_args()
    assert args[args.index("--py-files") + 1] == str(bundle.zip_path)
    assert args[args.index("--files") + 1].split(",") == [str(bundle.bpe_path), str(bundle.lid_path)]
    assert "spark.executorEnv.CURATE_BPE_FILE=cl100k_base.tiktoken" in args
    assert "spark.executorEnv.CURATE_LID_MODEL=lid.176.ftz" in args


def test_cli_prints_the_spark_submit_flags(tmp_path):
    out = subprocess.run([sys.executable, "-m", "curate.package", "--out", str(tmp_path / "d")],
                         capture_output=True, text=True, check=True).stdout
    assert out.split()[:2] == ["--py-files", str(tmp_path / "d" / "curate.zip")]
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["cl100k_base.tiktoken", "curate.zip", "lid.176.ftz"]
