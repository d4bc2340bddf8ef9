"""CURATE_FAULT acts only under the test harness: a stray variable in production kills nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from test_faults.harness import REPO

FAULT_ENV, HARNESS_ENV = "CURATE_FAULT", "CURATE_FAULT_HARNESS"  # the contract, spelled out

_REACH_TWO_POINTS = ("from curate.faults import fault_point\n"
                     "fault_point('done:ingest')\nfault_point('done:ingest')\nprint('still running')\n")


def _python(env_extra: dict) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in (FAULT_ENV, HARNESS_ENV)}
    env.update(PYTHONPATH=str(REPO), **env_extra)
    return subprocess.run([sys.executable, "-c", _REACH_TWO_POINTS], env=env, capture_output=True, text=True,
                          timeout=60, start_new_session=True)


def test_a_stray_curate_fault_is_ignored_with_one_warning():
    done = _python({FAULT_ENV: "done:ingest"})
    assert done.returncode == 0, (done.returncode, done.stderr)
    assert done.stdout == "still running\n"
    assert done.stderr.count("is set but ignored") == 1 and "CURATE_FAULT=done:ingest" in done.stderr


def test_the_harness_marker_arms_the_fault():
    done = _python({FAULT_ENV: "done:ingest", HARNESS_ENV: "1"})
    assert done.returncode == -signal.SIGKILL and done.stdout == ""
    assert "fault injected at done:ingest" in done.stderr
