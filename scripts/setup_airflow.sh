#!/usr/bin/env bash
# Idempotent: Apache Airflow in its own venv (.venv-airflow), apart from curate's .venv (Airflow pins
# its own SQLAlchemy, pydantic and web stack). Used by the Airflow integration test; the exported DAG
# calls curate through curate's own venv, so Airflow never imports curate.
set -euo pipefail
cd "$(dirname "$0")/.."

# Airflow 3 installs on Python 3.11 from PyPI without a constraints file.
spec=${AIRFLOW_SPEC:-'apache-airflow==3.3.2'}
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
if [ ! -x .venv-airflow/bin/python ]; then
  echo "setup_airflow: creating .venv-airflow with $($PY --version)"
  "$PY" -m venv .venv-airflow
fi
stamp=.venv-airflow/.installed
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$spec" ]; then
  echo "setup_airflow: installing $spec into .venv-airflow (first time: a few minutes)"
  .venv-airflow/bin/pip install -q --upgrade pip
  .venv-airflow/bin/pip install -q "$spec"
  echo "$spec" > "$stamp"
fi
