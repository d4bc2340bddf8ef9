"""Workflow exports of the DAG in `curate/pipelines/dag.py`: an Apache Airflow DAG file and a
Databricks Asset Bundle. Both have one task per stage, wired by the tables the stages exchange.

    curate export airflow --out DIR [--schedule CRON] [--retries N] [--config FILE] [--root DIR]
    curate export databricks --out DIR [--schedule CRON] [--retries N] [--config FILE] [--root URI]

No secret is written into an exported file: the value of a Spark setting or environment variable
whose name looks secret (`settings.looks_secret`) is replaced by a reference to an Airflow Variable
or a Databricks secret named `secret_name(key)`, which the user creates once.
"""

from __future__ import annotations

import argparse
import os
import pprint
import re
import shlex
import sys
from pathlib import Path

import yaml

from curate.errors import ConfigError
from curate.pipelines.dag import STAGES, Stage
from curate.settings import looks_secret
from curate.shipped import BPE_ENV, LID_ENV

JOBS_DIR = Path(__file__).resolve().parents[1] / "jobs"
PROJECT_DIR = Path(__file__).resolve().parents[2]  # holds pyproject.toml in a source checkout

_PRESETS = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *"}


def upstream(st: Stage) -> list[str]:
    """Stages that write a table `st` reads: its dependencies."""
    return [other.name for other in STAGES if set(other.outputs) & set(st.inputs)]


def stage_args(*, config: str | None, root: str | None, delta_engine: str | None) -> list[str]:
    return [*(["--config", config] if config else []), *(["--root", root] if root else []),
            *(["--delta-engine", delta_engine] if delta_engine else [])]


def cron_to_quartz(cron: str) -> str:
    """A 5-field cron expression (or @hourly/@daily/@weekly/@monthly) as Databricks' Quartz cron:
    a seconds field first, `?` for the unused day field, days of week 1-7 from Sunday."""
    fields = _PRESETS.get(cron, cron).split()
    if len(fields) != 5:
        raise ConfigError(f"--schedule {cron!r}: expected 5 cron fields (minute hour day month weekday) "
                          f"or one of {', '.join(_PRESETS)}")
    minute, hour, dom, month, dow = fields
    if dow == "*":
        dow = "?"
    elif dom == "*":
        dom = "?"
        dow = re.sub(r"\d+", lambda m: str(int(m.group()) % 7 + 1), dow)
    else:
        raise ConfigError(f"--schedule {cron!r}: Quartz cron cannot restrict both day of month and day of week")
    return f"0 {minute} {hour} {dom} {month} {dow}"


# ---- secrets ------------------------------------------------------------------------------------

def secret_name(key: str) -> str:
    """The Airflow Variable / Databricks secret that holds the value of setting `key`: its runs of
    other characters than letters and digits as `_`, upper-cased (`spark.hadoop.fs.s3a.secret.key` ->
    `SPARK_HADOOP_FS_S3A_SECRET_KEY`; `AWS_SECRET_ACCESS_KEY` stays)."""
    return re.sub(r"[^A-Za-z0-9]+", "_", key).strip("_").upper()


def _kept_literal(key: str, value: str) -> bool:
    """Values written as given: not secret-looking, or already a reference (`{{ ... }}` templating)."""
    return not looks_secret(key) or "{{" in value


def _secret_refs(settings: dict[str, str], ref) -> tuple[dict[str, str], set[str]]:
    """`settings` with each secret-looking value replaced by `ref(secret_name(key))`, and those names."""
    out, names = {}, set()
    for key, value in settings.items():
        if _kept_literal(key, value):
            out[key] = value
        else:
            names.add(secret_name(key))
            out[key] = ref(secret_name(key))
    return out, names


def _airflow_variable(name: str) -> str:
    return f"{{{{ var.value.{name} }}}}"  # BashOperator renders its env with Jinja at run time


def spark_submit_secrets(prefix: str) -> tuple[str, dict[str, str]]:
    """The `--spark-submit` prefix with each secret-looking `--conf K=V` (or `-c K=V`, `--conf=K=V`)
    value replaced by `"${NAME}"`, and the task environment entries that set NAME from an Airflow
    Variable. The rest of the prefix stays as written (its own `$VARS` and quoting)."""
    lexer = shlex.shlex(prefix, posix=True)  # as the shell splits words; positions give each word's text
    lexer.whitespace_split, lexer.commenters = True, ""
    edits, env = [], {}
    after_flag = False
    while True:
        start = lexer.instream.tell()
        if (token := lexer.get_token()) is None:
            break
        raw = prefix[start:lexer.instream.tell()]
        begin = start + len(raw) - len(raw.lstrip())
        lead = "--conf=" if token.startswith("--conf=") and not after_flag else ""
        conf = token[len(lead):] if after_flag or lead else None
        after_flag = token in ("--conf", "-c")
        key, sep, value = (conf or "").partition("=")
        if sep and not _kept_literal(key, value):
            name = secret_name(key)
            env[name] = _airflow_variable(name)
            edits.append((begin, begin + len(raw.strip()), f'{lead}{shlex.quote(key + "=")}"${{{name}}}"'))
    for begin, end, text in reversed(edits):
        prefix = prefix[:begin] + text + prefix[end:]
    return prefix, env


# ---- Airflow -------------------------------------------------------------------------------------

_AIRFLOW_TEMPLATE = '''"""curate as an Airflow DAG: one task per stage of curate/pipelines/dag.py.

Generated by `curate export airflow`; regenerate it rather than editing it.
"""

from datetime import datetime, timedelta, timezone

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG
try:
    from airflow.providers.standard.operators.bash import BashOperator
except ImportError:  # Airflow 2
    from airflow.operators.bash import BashOperator

TASKS = {tasks}
ENV = {env}

with DAG(
    dag_id={dag_id!r},
    description="curate: ingest -> annotate -> dedup -> tokenize -> mix",
    schedule={schedule!r},
    start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    default_args={{"retries": {retries}, "retry_delay": timedelta(minutes={retry_delay_min})}},
    tags=["curate"],
) as dag:
    ops = {{
        t["task_id"]: BashOperator(task_id=t["task_id"], bash_command=t["bash_command"], doc=t["doc"],
                                   env=ENV or None, append_env=True)
        for t in TASKS
    }}
    for t in TASKS:
        for up in t["upstream"]:
            ops[up] >> ops[t["task_id"]]
'''


def airflow_command(st: Stage, *, args: list[str], curate: str, spark_submit: str | None) -> str:
    """The shell command of one task: `curate <stage> ...`, or `<spark-submit ...> curate/jobs/<module>.py ...`."""
    if spark_submit:
        job = JOBS_DIR / (st.module.rsplit(".", 1)[1] + ".py")
        return " ".join([spark_submit, shlex.quote(str(job)), *map(shlex.quote, args)])
    return shlex.join([curate, st.name, *args])


def airflow_dag(*, dag_id: str, schedule: str | None, retries: int, retry_delay_min: int, args: list[str],
                curate: str, spark_submit: str | None, env: dict[str, str]) -> tuple[str, set[str]]:
    """Source of an Airflow DAG file (Airflow 2.4+ and 3), and the Airflow Variables it reads secrets from."""
    env, names = _secret_refs(env, _airflow_variable)
    if spark_submit:
        spark_submit, conf_env = spark_submit_secrets(spark_submit)
        env, names = {**env, **conf_env}, names | set(conf_env)
    tasks = [
        {"task_id": st.name, "doc": st.summary, "upstream": upstream(st),
         "bash_command": airflow_command(st, args=args, curate=curate, spark_submit=spark_submit)}
        for st in STAGES
    ]
    source = _AIRFLOW_TEMPLATE.format(tasks=pprint.pformat(tasks, width=100, sort_dicts=False),
                                      env=pprint.pformat(env, width=100), dag_id=dag_id, schedule=schedule,
                                      retries=retries, retry_delay_min=retry_delay_min)
    return source, names


# ---- Databricks ----------------------------------------------------------------------------------

def databricks_bundle(*, name: str, schedule: str | None, retries: int, retry_delay_min: int, args: list[str],
                      spark_version: str, node_type_id: str, num_workers: int, models_dir: str,
                      project_dir: str, spark_conf: dict[str, str], env: dict[str, str],
                      secret_scope: str) -> tuple[dict, set[str]]:
    """databricks.yml: the curate and curate_kernels wheels built from `project_dir`, one python_wheel_task per stage
    running the `curate` entry point on a shared job cluster, the models read from `models_dir`.
    Secret-looking `spark_conf` and `env` values are read from the secret scope `secret_scope`;
    returns the bundle and the names of those secrets."""
    def scoped(key: str) -> str:
        return f"{{{{secrets/{secret_scope}/{key}}}}}"

    spark_conf, conf_names = _secret_refs(spark_conf, scoped)
    env, env_names = _secret_refs(env, scoped)
    tasks = [
        {
            "task_key": st.name,
            "description": st.summary,
            **({"depends_on": [{"task_key": up} for up in upstream(st)]} if upstream(st) else {}),
            "job_cluster_key": "curate",
            "python_wheel_task": {"package_name": "curate", "entry_point": "curate",
                                  "parameters": [st.name, *args]},
            "libraries": [{"whl": f"{project_dir}/dist/curate-*.whl"},
                          {"whl": f"{project_dir}/dist/curate_kernels-*.whl"}],
            "max_retries": retries,
            "min_retry_interval_millis": retry_delay_min * 60_000,
        }
        for st in STAGES
    ]
    job = {
        "name": name,
        "max_concurrent_runs": 1,
        "job_clusters": [{
            "job_cluster_key": "curate",
            "new_cluster": {
                "spark_version": spark_version,
                "node_type_id": node_type_id,
                "num_workers": num_workers,
                **({"spark_conf": spark_conf} if spark_conf else {}),
                "spark_env_vars": {BPE_ENV: f"{models_dir}/cl100k_base.tiktoken",
                                   LID_ENV: f"{models_dir}/lid.176.ftz", **env},
            },
        }],
        "tasks": tasks,
    }
    if schedule:
        job["schedule"] = {"quartz_cron_expression": cron_to_quartz(schedule), "timezone_id": "UTC",
                           "pause_status": "UNPAUSED"}
    return {
        "bundle": {"name": name},
        "artifacts": {"curate": {"type": "whl", "path": project_dir,
                                 "build": "python -m pip wheel --no-deps --wheel-dir dist ."},
                      # the native signal kernels (a Rust toolchain on the deploying machine builds them)
                      "curate_kernels": {"type": "whl", "path": f"{project_dir}/native",
                                         "build": "python -m pip wheel --no-deps --wheel-dir ../dist ."}},
        "resources": {"jobs": {name: job}},
        "targets": {"dev": {"mode": "development", "default": True}, "prod": {"mode": "production"}},
    }, conf_names | env_names


# ---- command line --------------------------------------------------------------------------------

def add_args(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="target", required=True)
    for target, help_ in (("airflow", "an Airflow DAG file (BashOperator tasks)"),
                          ("databricks", "a Databricks Asset Bundle (databricks.yml)")):
        p = sub.add_parser(target, help=help_)
        p.add_argument("--out", required=True, help="output folder")
        p.add_argument("--name", default="curate", help="DAG id / job name (default: curate)")
        p.add_argument("--schedule", default="@daily",
                       help="cron (5 fields) or @hourly/@daily/@weekly/@monthly; 'none' for manual runs only")
        p.add_argument("--retries", type=int, default=2, help="retries per task (default: 2)")
        p.add_argument("--retry-delay-min", type=int, default=5, help="minutes between retries (default: 5)")
        p.add_argument("--config", help="pipeline YAML the tasks run with (default: the embedded one)")
        p.add_argument("--root", help="storage root the tasks run with")
        p.add_argument("--delta-engine", choices=("auto", "native", "delta-rs"),
                       help="Delta engine the tasks run with (Databricks: its runtime's own Delta, by auto)")
        p.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                       help="environment variable for every task (repeatable); a secret-looking one (its name "
                            "holds password, secret, token, key or credential) is read from an Airflow Variable "
                            "/ a Databricks secret instead of written")
        p.set_defaults(func=main_from_args, verbose=False)
    p = sub.choices["airflow"]
    p.add_argument("--curate", default=str(Path(sys.executable).with_name("curate")),
                   help="the curate executable the tasks call (default: this environment's)")
    p.add_argument("--spark-submit", help="run tasks as `<this prefix> curate/jobs/<stage>.py ...` instead, "
                                          "e.g. \"spark-submit --master yarn --py-files dist/curate.zip\"")
    p = sub.choices["databricks"]
    p.add_argument("--spark-conf", action="append", default=[], metavar="KEY=VALUE",
                   help="Spark setting of the job cluster (repeatable)")
    p.add_argument("--secret-scope", default="curate",
                   help="Databricks secret scope of the secret-looking --spark-conf/--env values (default: curate)")
    p.add_argument("--spark-version", default="17.3.x-scala2.13", help="Databricks runtime (Spark 4)")
    p.add_argument("--node-type-id", default="i3.xlarge")
    p.add_argument("--num-workers", type=int, default=2)
    p.add_argument("--models-dir", default="/Volumes/main/curate/models",
                   help="where cl100k_base.tiktoken and lid.176.ftz are on the cluster (`python -m curate.package`)")


def _pairs(flag: str, pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"{flag} {pair!r}: expected KEY=VALUE")
        out[key] = value
    return out


def main_from_args(args: argparse.Namespace) -> int:
    if args.retries < 0 or args.retry_delay_min < 0:
        raise ConfigError(f"--retries {args.retries} / --retry-delay-min {args.retry_delay_min}: must be >= 0")
    schedule = None if args.schedule.lower() == "none" else args.schedule
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.target == "airflow":
        from curate.schemas.config import load_pipeline_config

        config = str(Path(args.config).resolve()) if args.config else None
        root = args.root if not args.root or "://" in args.root else str(Path(args.root).resolve())
        load_pipeline_config(config, root=root, delta_engine=args.delta_engine)  # refuse a bad config now, not at 3 am
        path = out / f"{args.name}_dag.py"
        source, secrets = airflow_dag(
            dag_id=args.name, schedule=schedule, retries=args.retries, retry_delay_min=args.retry_delay_min,
            args=stage_args(config=config, root=root, delta_engine=args.delta_engine), curate=args.curate,
            spark_submit=args.spark_submit,
            env=_pairs("--env", args.env))
        path.write_text(source)
        where = "Airflow Variables"
    else:
        bundle, secrets = databricks_bundle(
            name=args.name, schedule=schedule, retries=args.retries, retry_delay_min=args.retry_delay_min,
            args=stage_args(config=args.config, root=args.root, delta_engine=args.delta_engine),
            spark_version=args.spark_version,
            node_type_id=args.node_type_id, num_workers=args.num_workers, models_dir=args.models_dir,
            project_dir=str(Path(os.path.relpath(PROJECT_DIR, out.resolve())).as_posix()),
            spark_conf=_pairs("--spark-conf", args.spark_conf), env=_pairs("--env", args.env),
            secret_scope=args.secret_scope)
        path = out / "databricks.yml"
        path.write_text(yaml.safe_dump(bundle, sort_keys=False))
        where = f"Databricks secrets of scope {args.secret_scope!r}"
    if secrets:
        print(f"secret-looking values are not written; the tasks read them from the {where} "
              f"{', '.join(sorted(secrets))}: create them before the first run", file=sys.stderr)
    print(path)
    return 0
