#!/usr/bin/env bash
# A Spark standalone cluster on 127.0.0.1 from the pip-installed pyspark: one master, two workers.
#   scripts/cluster.sh start|stop|status
# pip's pyspark has no start-master.sh, so each daemon is `spark-class <Main>` under setsid with its
# PID in $CLUSTER_DIR/pids; logs, worker and local dirs live under $CLUSTER_DIR too. `stop` ends the
# workers, then the master, by those PIDs (and their process groups).
# Settings (env): CLUSTER_DIR (default /tmp/curate-cluster), MASTER_PORT (7077), MASTER_UI_PORT (8080),
# WORKER_CORES (1), WORKER_MEMORY (2g), PYTHON (.venv/bin/python: its pyspark is the Spark used).
set -euo pipefail
cd "$(dirname "$0")/.."

CLUSTER_DIR=${CLUSTER_DIR:-/tmp/curate-cluster}
MASTER_PORT=${MASTER_PORT:-7077}
MASTER_UI_PORT=${MASTER_UI_PORT:-8080}
WORKER_CORES=${WORKER_CORES:-1}
WORKER_MEMORY=${WORKER_MEMORY:-2g}
PYTHON=${PYTHON:-.venv/bin/python}
MASTER_URL=spark://127.0.0.1:$MASTER_PORT
PIDS=$CLUSTER_DIR/pids
WORKERS=(worker1 worker2)

running() { [ -f "$PIDS/$1.pid" ] && kill -0 "$(cat "$PIDS/$1.pid")" 2>/dev/null; }

# Polls a daemon's log for a line; fails if the daemon died or the line did not come in time.
wait_for() {  # name pattern seconds
  local i
  for ((i = 0; i < $3 * 2; i++)); do
    grep -q "$2" "$CLUSTER_DIR/logs/$1.out" 2>/dev/null && return 0
    running "$1" || { echo "cluster: $1 exited; see $CLUSTER_DIR/logs/$1.out" >&2; tail -20 "$CLUSTER_DIR/logs/$1.out" >&2; return 1; }
    sleep 0.5
  done
  echo "cluster: $1 not ready after $3 s; see $CLUSTER_DIR/logs/$1.out" >&2
  return 1
}

launch() {  # name class args...
  local name=$1
  shift
  if running "$name"; then
    echo "cluster: $name already running (pid $(cat "$PIDS/$name.pid"))"
    return 0
  fi
  mkdir -p "$CLUSTER_DIR/work/$name" "$CLUSTER_DIR/local/$name"
  SPARK_WORKER_DIR=$CLUSTER_DIR/work/$name SPARK_LOCAL_DIRS=$CLUSTER_DIR/local/$name \
    setsid "$SPARK_HOME/bin/spark-class" "$@" >"$CLUSTER_DIR/logs/$name.out" 2>&1 </dev/null &
  echo $! >"$PIDS/$name.pid"
}

stop_one() {  # name
  local pid
  running "$1" || { rm -f "$PIDS/$1.pid"; return 0; }
  pid=$(cat "$PIDS/$1.pid")
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid"
  for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  kill -0 "$pid" 2>/dev/null && kill -KILL -- "-$pid" 2>/dev/null
  rm -f "$PIDS/$1.pid"
  echo "cluster: stopped $1 (pid $pid)"
}

case "${1:-}" in
  start)
    SPARK_HOME=$("$PYTHON" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')
    export SPARK_HOME SPARK_LOCAL_IP=127.0.0.1 SPARK_LOG_DIR=$CLUSTER_DIR/logs SPARK_PID_DIR=$PIDS
    mkdir -p "$PIDS" "$CLUSTER_DIR/logs"
    launch master org.apache.spark.deploy.master.Master \
      --host 127.0.0.1 --port "$MASTER_PORT" --webui-port "$MASTER_UI_PORT"
    wait_for master "Master: I have been elected leader" 60
    for w in "${WORKERS[@]}"; do
      launch "$w" org.apache.spark.deploy.worker.Worker --host 127.0.0.1 --webui-port 0 \
        --cores "$WORKER_CORES" --memory "$WORKER_MEMORY" --work-dir "$CLUSTER_DIR/work/$w" "$MASTER_URL"
    done
    for w in "${WORKERS[@]}"; do wait_for "$w" "Successfully registered with master" 60; done
    echo "cluster: $MASTER_URL up with ${#WORKERS[@]} workers ($WORKER_CORES cores, $WORKER_MEMORY each); state in $CLUSTER_DIR"
    ;;
  stop)
    for w in "${WORKERS[@]}"; do stop_one "$w"; done
    stop_one master
    ;;
  status)
    rc=0
    for name in master "${WORKERS[@]}"; do
      if running "$name"; then echo "$name: running (pid $(cat "$PIDS/$name.pid"))"; else echo "$name: stopped"; rc=3; fi
    done
    exit $rc
    ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
