"""Fault injection for the crash tests: `fault_point("name")` dies like a machine would.

When the environment variable CURATE_FAULT names the point, the process that reaches it kills the
whole run with SIGKILL: the driver's process group (driver Python and JVM), its own, and when the
driver leads a session of its own (as the tests start it), every process group of that session: each
Spark Python daemon moves its workers into a group of their own. No cleanup handler runs, as on a
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


def _session_groups(sid: int) -> set[int]:
    """Process groups of the session `sid` (Linux /proc; empty elsewhere)."""
    groups = set()
    pids = [p for p in os.listdir("/proc") if p.isdigit()] if os.path.isdir("/proc") else []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()  # after "(comm)": state ppid pgrp session
        except (OSError, IndexError, ValueError):  # ended meanwhile
            continue
        if int(state[3]) == sid:
            groups.add(int(state[2]))
    return groups


def armed(name: str) -> bool:
    """Whether the crash tests armed the point `name` (for code that must prepare to reach it)."""
    return os.environ.get(FAULT_ENV) == name


def fault_point(name: str) -> None:
    if not armed(name):
        return
    sys.stderr.write(f"curate: fault injected at {name}: killing the run (pid {os.getpid()})\n")
    sys.stderr.flush()
    own = os.getpgrp()
    driver = int(os.environ.get(_DRIVER_PGID_ENV, own))
    groups = {driver}
    if os.getsid(0) == driver:  # the run is a session of its own: each Spark daemon's group is in it
        groups |= _session_groups(driver)
    for group in groups - {own}:
        try:
            os.killpg(group, signal.SIGKILL)
        except ProcessLookupError:  # ended meanwhile
            pass
    os.killpg(own, signal.SIGKILL)
