#!/usr/bin/env bash
# An S3-compatible server on 127.0.0.1 for tests and demos: s3proxy (org.gaul:s3proxy, Apache-2.0) with
# its filesystem backend, the objects as files under $OBJECTSTORE_DIR/data.
#   scripts/objectstore.sh install      fetch the server from Maven Central once (scripts/setup.sh runs it)
#   scripts/objectstore.sh check        exit 1 if it is not installed
#   scripts/objectstore.sh start BUCKET start it (or find it running), create BUCKET, print the environment
#   scripts/objectstore.sh env          print the environment of the running server
#   scripts/objectstore.sh stop         stop it by its PID
# `start` and `env` print `export NAME=value` lines (eval them) and nothing else on stdout. The access
# key and secret are generated once into $OBJECTSTORE_DIR/credentials (mode 600) and are printed only
# there; the server reads them from its properties file (mode 600), never from its command line.
# Settings (env): OBJECTSTORE_DIR (default /tmp/curate-objectstore), OBJECTSTORE_PORT (9000),
# PYTHON (.venv/bin/python: the server lives in its prefix, <venv>/share/curate/objectstore).
set -euo pipefail
cd "$(dirname "$0")/.."

# 4.0.0, not 2.7.0: 2.7.0 ignores If-None-Match on PUT, so two delta-rs writers both "create" the
# same commit file and one commit is lost; 4.0.0's filesystem backend answers it atomically (link(2)).
S3PROXY_VERSION=4.0.0
S3PROXY_ARTIFACT=org.gaul:s3proxy:$S3PROXY_VERSION:jar:jar-with-dependencies
OBJECTSTORE_DIR=${OBJECTSTORE_DIR:-/tmp/curate-objectstore}
OBJECTSTORE_PORT=${OBJECTSTORE_PORT:-9000}
PYTHON=${PYTHON:-.venv/bin/python}
ENDPOINT=http://127.0.0.1:$OBJECTSTORE_PORT
PID_FILE=$OBJECTSTORE_DIR/s3proxy.pid
LOG=$OBJECTSTORE_DIR/s3proxy.log
CREDENTIALS=$OBJECTSTORE_DIR/credentials
# SHA-256 of an empty body: curl 7.88's --aws-sigv4 does not send x-amz-content-sha256, which S3 needs.
EMPTY_SHA256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855

die() { echo "objectstore: $*" >&2; exit 1; }

jar_path() {
  local prefix
  prefix=$("$PYTHON" -c 'import sys; print(sys.prefix)') || die "no Python at $PYTHON; run scripts/setup.sh or set PYTHON"
  echo "$prefix/share/curate/objectstore/s3proxy-$S3PROXY_VERSION.jar"
}

install() {
  local jar scratch
  jar=$(jar_path)
  [ -s "$jar" ] && return 0
  command -v mvn >/dev/null 2>&1 || die "Maven (mvn) is needed once to fetch s3proxy: apt-get install maven"
  scratch=$(mktemp -d)
  # A scratch local repository: the 98 MB jar is kept once, in the venv, not also in ~/.m2.
  if ! mvn -q -B dependency:copy "-Dartifact=$S3PROXY_ARTIFACT" "-DoutputDirectory=$scratch/out" \
      "-Dmaven.repo.local=$scratch/repo" >"$scratch/mvn.log" 2>&1; then
    tail -20 "$scratch/mvn.log" >&2
    rm -rf "$scratch"
    die "could not fetch $S3PROXY_ARTIFACT from Maven Central"
  fi
  mkdir -p "$(dirname "$jar")"
  mv "$scratch/out/s3proxy-$S3PROXY_VERSION-jar-with-dependencies.jar" "$jar.tmp$$"
  mv "$jar.tmp$$" "$jar"
  rm -rf "$scratch"
  echo "objectstore: s3proxy $S3PROXY_VERSION in $jar" >&2
}

running() { [ -f "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; }

# Generated once: the same identity across restarts, so data and exported environments stay valid.
ensure_credentials() {
  [ -s "$CREDENTIALS" ] && return 0
  local key secret
  key=CURATE$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n' | tr a-f A-F)
  secret=$(od -An -N30 -tx1 /dev/urandom | tr -d ' \n')
  (umask 077 && printf 'AWS_ACCESS_KEY_ID=%s\nAWS_SECRET_ACCESS_KEY=%s\n' "$key" "$secret" >"$CREDENTIALS")
}

load_credentials() {
  AWS_ACCESS_KEY_ID=$(sed -n 's/^AWS_ACCESS_KEY_ID=//p' "$CREDENTIALS")
  AWS_SECRET_ACCESS_KEY=$(sed -n 's/^AWS_SECRET_ACCESS_KEY=//p' "$CREDENTIALS")
}

# A signed S3 request; the key and secret reach curl on stdin (a config), not on its command line.
s3_request() {  # method path -> prints the HTTP status
  printf 'user = "%s:%s"\n' "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" |
    curl -s -K - --aws-sigv4 "aws:amz:us-east-1:s3" -H "x-amz-content-sha256: $EMPTY_SHA256" \
      -X "$1" -o /dev/null -w '%{http_code}' "$ENDPOINT/$2" || true
}

print_env() {
  load_credentials
  # AWS_ALLOW_HTTP: delta-rs (object_store) refuses plain http otherwise. S3_ENDPOINT_URL: the endpoint
  # variable of mosaicml-streaming's S3 downloads. AWS_EC2_METADATA_DISABLED: no AWS SDK may look for
  # credentials or a region at the instance-metadata address (169.254.169.254), off this machine.
  cat <<EOF
export AWS_ENDPOINT_URL=$ENDPOINT
export AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID
export AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY
export AWS_REGION=us-east-1
export AWS_DEFAULT_REGION=us-east-1
export AWS_ALLOW_HTTP=true
export S3_ENDPOINT_URL=$ENDPOINT
export AWS_EC2_METADATA_DISABLED=true
EOF
}

start() {  # bucket
  local bucket=$1 jar status i
  [[ $bucket =~ ^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$ ]] \
    || die "bucket name '$bucket' is not valid: 3 to 63 lowercase letters, digits, dots or hyphens"
  mkdir -p "$OBJECTSTORE_DIR/data"
  ensure_credentials
  load_credentials
  if ! running; then
    jar=$(jar_path)
    [ -s "$jar" ] || die "s3proxy is not installed ($jar): run scripts/objectstore.sh install or scripts/setup.sh"
    (umask 077 && cat >"$OBJECTSTORE_DIR/s3proxy.properties" <<EOF
s3proxy.endpoint=$ENDPOINT
s3proxy.authorization=aws-v2-or-v4
s3proxy.identity=$AWS_ACCESS_KEY_ID
s3proxy.credential=$AWS_SECRET_ACCESS_KEY
jclouds.provider=filesystem-nio2
jclouds.filesystem.basedir=$OBJECTSTORE_DIR/data
EOF
    )
    setsid java -jar "$jar" --properties "$OBJECTSTORE_DIR/s3proxy.properties" >"$LOG" 2>&1 </dev/null &
    echo $! >"$PID_FILE"
    for ((i = 0; i < 120; i++)); do
      status=$(curl -s -o /dev/null -w '%{http_code}' "$ENDPOINT/" || true)
      [ "$status" != 000 ] && break
      running || { tail -20 "$LOG" >&2; die "s3proxy exited; see $LOG"; }
      sleep 0.25
    done
    [ "$status" != 000 ] || die "s3proxy does not answer on $ENDPOINT after 30 s; see $LOG"
  fi
  status=$(s3_request PUT "$bucket")
  # 409: BucketAlreadyOwnedByYou, the bucket of an earlier start.
  [ "$status" = 200 ] || [ "$status" = 409 ] || die "could not create bucket $bucket on $ENDPOINT (HTTP $status); see $LOG"
  print_env
}

stop() {
  local pid
  running || { rm -f "$PID_FILE"; return 0; }
  pid=$(cat "$PID_FILE")
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid"
  for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -0 "$pid" 2>/dev/null && kill -KILL -- "-$pid" 2>/dev/null
  rm -f "$PID_FILE"
  echo "objectstore: stopped s3proxy (pid $pid)" >&2
}

case "${1:-}" in
  install) install ;;
  check) [ -s "$(jar_path)" ] ;;
  start)
    [ $# = 2 ] || die "usage: $0 start BUCKET"
    start "$2"
    ;;
  env)
    running || die "no s3proxy running for $OBJECTSTORE_DIR: run $0 start BUCKET"
    print_env
    ;;
  stop) stop ;;
  *)
    echo "usage: $0 install | check | start BUCKET | env | stop" >&2
    exit 2
    ;;
esac
