"""Everything `spark-submit` ships to a cluster: the `curate` package as a zip for `--py-files`, and
copies of the tokenizer's BPE file and the language-ID model for `--files`.

    python -m curate.package --out dist [--delta]

writes dist/curate.zip, dist/cl100k_base.tiktoken and dist/lid.176.ftz and prints the spark-submit
flags that ship them. Executors then need no network and no curate install: only curate's
dependencies in their Python (the same venv on every node, or a venv-pack archive, see the README),
the native signal kernels `curate_kernels` among them (a compiled module, not in the zip; an executor
without it computes the same signals in Python).
`--delta` also copies the Delta Lake jars set-up installed into dist/jars and adds `--jars` and the
Delta session settings, for a cluster without them (Databricks has its own: leave it off there);
`--s3` likewise ships hadoop-aws's S3A jars, for an s3:// root or inputs on a cluster without them.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from curate.errors import DependencyError
from curate.session import DELTA_SESSION_CONF
from curate.shipped import BPE_ENV, LID_ENV

PACKAGE_DIR = Path(__file__).resolve().parent
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the same sources give the same zip, byte for byte


@dataclass(frozen=True)
class Bundle:
    zip_path: Path
    bpe_path: Path
    lid_path: Path
    jars: tuple[Path, ...] = ()
    delta: bool = False  # the jars include Spark's Delta: its session settings go with them

    def submit_args(self) -> list[str]:
        """spark-submit flags: the package on every Python path, the models in every working set,
        the environment that points curate at the shipped copies by file name, and the Delta jars
        with Delta's session settings when the bundle has them."""
        args = ["--py-files", str(self.zip_path), "--files", f"{self.bpe_path},{self.lid_path}"]
        for env, path in ((BPE_ENV, self.bpe_path), (LID_ENV, self.lid_path)):
            args += ["--conf", f"spark.executorEnv.{env}={path.name}"]
        if self.jars:
            args += ["--jars", ",".join(str(j) for j in self.jars)]
        if self.delta:
            for key, value in DELTA_SESSION_CONF.items():
                args += ["--conf", f"{key}={value}"]
        return args


def build_zip(out: Path) -> Path:
    """The `curate` package (sources and package data such as log4j2.properties) as a zip."""
    files = sorted(p for p in PACKAGE_DIR.rglob("*")
                   if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc")
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in files:
            info = zipfile.ZipInfo(str(Path("curate") / path.relative_to(PACKAGE_DIR)), _FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    return out


def build(out_dir: Path, *, delta: bool = False, s3: bool = False) -> Bundle:
    """Write curate.zip and the two model files into `out_dir`; the models are the ones this process
    would load (so $CURATE_BPE_FILE / $CURATE_LID_MODEL, when set, are honoured). `delta`, `s3`: copy
    the installed Delta / S3A jars into `out_dir/jars` too."""
    from curate.jars import installed
    from curate.quality.langid import default_model_path
    from curate.tokenize.encoder import bpe_file, get_encoding

    get_encoding()  # refuses a BPE file whose checksum is not the official one
    out_dir.mkdir(parents=True, exist_ok=True)
    models = [shutil.copyfile(src, out_dir / src.name) for src in (bpe_file(), default_model_path())]
    jars: list[Path] = []
    for feature in [f for f, wanted in (("delta", delta), ("s3", s3)) if wanted]:
        if not installed(feature):
            raise DependencyError(f"--{feature}: the {feature} jars are not installed; run scripts/setup.sh")
        (out_dir / "jars").mkdir(exist_ok=True)
        jars += [shutil.copyfile(j, out_dir / "jars" / j.name) for j in installed(feature)]
    return Bundle(build_zip(out_dir / "curate.zip"), *models, jars=tuple(jars), delta=delta)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m curate.package", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="dist", help="output folder (default: dist)")
    parser.add_argument("--delta", action="store_true",
                        help="ship the Delta Lake jars set-up installed, with Delta's session settings")
    parser.add_argument("--s3", action="store_true", help="ship hadoop-aws's S3A jars set-up installed")
    args = parser.parse_args(argv)
    bundle = build(Path(args.out).resolve(), delta=args.delta, s3=args.s3)
    print(" ".join(bundle.submit_args()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
