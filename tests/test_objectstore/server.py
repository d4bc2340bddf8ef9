"""The S3-compatible server the tests run against (scripts/objectstore.sh: s3proxy on 127.0.0.1)."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "objectstore.sh"
BUCKET = "curate-test"


def objectstore(action: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPT), action, *args], env=env, capture_output=True, text=True, timeout=120)
