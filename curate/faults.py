"""Fault injection for the crash tests: `fault_point("name")` dies like a machine would.

When the environment variable CURATE_FAULT names the point, the process that reaches it kills the
whole run with SIGKILL: the driver's process group (driver Python and JVM) and its own (Spark's
Python daemon moves executor workers into a group of their own). No cleanup handler runs, as on a
power cut. Unset, a point costs one environment lookup. Point names are listed in tests/test_faults.
"""

from __future__ import annotations

import os
import signal
import sys

FAULT_ENV = "CURATE_FAULT"
_DRIVER_PGID_ENV = "CURATE_FAULT_DRIVER_PGID"

if os.environ.get(FAULT_ENV):
    # Imported by the driver before Spark starts: the JVM and the Python workers inherit the variable,
    # so a point reached in a worker also knows the driver's process group.
    os.environ.setdefault(_DRIVER_PGID_ENV, str(os.getpgrp()))


def fault_point(name: str) -> None:
    if os.environ.get(FAULT_ENV) != name:
        return
    sys.stderr.write(f"curate: fault injected at {name}: killing the run (pid {os.getpid()})\n")
    sys.stderr.flush()
    own = os.getpgrp()
    driver = int(os.environ.get(_DRIVER_PGID_ENV, own))
    if driver != own:
        os.killpg(driver, signal.SIGKILL)
    os.killpg(own, signal.SIGKILL)
