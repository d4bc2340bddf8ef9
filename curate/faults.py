"""Fault injection for the crash tests: `fault_point("name")` dies like a machine would.

Only under the test harness: CURATE_FAULT names the point and CURATE_FAULT_HARNESS=1 (which only
tests/test_faults/harness.py sets) arms it. A CURATE_FAULT without the marker (a variable left in a
production environment) does nothing but log one warning per process.

Armed, the process that reaches the point kills the whole run with SIGKILL: the driver's process
group (driver Python and JVM), its own, and when the driver leads a session of its own (as the tests
start it), every process group of that session: each Spark Python daemon moves its workers into a
group of their own. No cleanup handler runs, as on a power cut. With CURATE_FAULT_ACTION=oserror the
point raises a TimeoutError instead, as a storage read that timed out; with CURATE_FAULT_ONCE=FILE
only the first process to create FILE meets the fault (a retried task then succeeds). Unset, a
point costs one environment lookup. Point names are listed in tests/test_faults.
"""

from __future__ import annotations

import logging
import os
import signal
import sys

FAULT_ENV = "CURATE_FAULT"
HARNESS_ENV = "CURATE_FAULT_HARNESS"
ACTION_ENV = "CURATE_FAULT_ACTION"
ONCE_ENV = "CURATE_FAULT_ONCE"
_DRIVER_PGID_ENV = "CURATE_FAULT_DRIVER_PGID"

log = logging.getLogger(__name__)
_warned = False


def _armed() -> bool:
    """Whether a set CURATE_FAULT may act here: only with the test harness's marker."""
    global _warned
    if os.environ.get(HARNESS_ENV) == "1":
        return True
    if not _warned:
        _warned = True
        log.warning("%s=%s is set but ignored: fault injection acts only under the test harness (%s=1); "
                    "unset %s", FAULT_ENV, os.environ.get(FAULT_ENV), HARNESS_ENV, FAULT_ENV)
    return False


if os.environ.get(FAULT_ENV) and os.environ.get(HARNESS_ENV) == "1":
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


def _first_time(marker: str) -> bool:
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


def armed(name: str) -> bool:
    """Whether the crash tests armed the point `name` (for code that must prepare to reach it)."""
    return os.environ.get(FAULT_ENV) == name and _armed()


def fault_point(name: str) -> None:
    if not armed(name):
        return
    if (marker := os.environ.get(ONCE_ENV)) and not _first_time(marker):
        return
    if os.environ.get(ACTION_ENV) == "oserror":
        raise TimeoutError(f"fault injected at {name}: a storage read timed out")
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
