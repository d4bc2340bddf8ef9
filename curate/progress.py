"""Progress of a long stage: stage, Spark tasks, records read, elapsed time and rate.

A daemon thread polls Spark's status tracker while the stage runs. On a terminal (stderr is a TTY)
it redraws one line in place; otherwise it logs a plain line every `log_every` seconds, so CI logs
and redirected output stay short (a stage shorter than that logs nothing).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
import weakref
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator, TextIO

if TYPE_CHECKING:
    from pyspark import Accumulator
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

_RECORDS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # SparkContext -> its counter


def records_counter(spark: SparkSession) -> Accumulator | None:
    """The count that tasks reading their input themselves (ingest's files, map_files' Parquet) add
    their records to, which Spark's input metrics do not see; None without a SparkContext (Spark
    Connect). Like those metrics, a task's records arrive when it finishes."""
    try:
        sc = spark.sparkContext
    except Exception:
        return None
    if sc not in _RECORDS:
        _RECORDS[sc] = sc.accumulator(0)
    return _RECORDS[sc]


class SparkProgress:
    """Tasks and records of the Spark stages seen active since it was created."""

    def __init__(self, spark: SparkSession):
        self._tracker = spark.sparkContext.statusTracker()
        try:  # the JVM status store has record counts; absent under Spark Connect
            self._store = spark.sparkContext._jsc.sc().statusStore()  # noqa: SLF001
        except Exception:
            self._store = None
        self._stages: dict[int, tuple[int, int, int]] = {}  # id -> (tasks done, tasks, records read)
        self._running: set[int] = set()
        self._counter = records_counter(spark)
        self._counted = self._counter.value if self._counter is not None else 0

    def _records(self, stage_id: int, default: int) -> int:
        if self._store is None:
            return default
        try:  # counted as tasks finish
            s = self._store.lastStageAttempt(stage_id)
            return s.inputRecords() + s.shuffleReadRecords()
        except Exception:  # not in the store (yet) or the JVM is going away: keep the last number
            return default

    def poll(self) -> tuple[int, int, int]:
        """(tasks done, tasks, records read) summed over the stages seen so far."""
        active = set(self._tracker.getActiveStageIds())
        for sid in active | self._running:  # a stage that just finished is read once more, for its totals
            info = self._tracker.getStageInfo(sid)
            if info is not None:
                seen = self._stages.get(sid, (0, 0, 0))[2]
                self._stages[sid] = (info.numCompletedTasks, info.numTasks, self._records(sid, seen))
        self._running = active
        done, total, rows = (sum(v[i] for v in self._stages.values()) for i in range(3))
        if self._counter is not None:
            rows += self._counter.value - self._counted
        return done, total, rows


def _duration(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m}m{s:02d}s" if m else f"{s}s"


def progress_line(stage: str, *, tasks_done: int, tasks: int, records: int, elapsed: float) -> str:
    rate = records / elapsed if elapsed > 0 else 0.0
    return (f"{stage}: tasks {tasks_done:,}/{tasks:,}, {records:,} records read, "
            f"{_duration(elapsed)}, {rate:,.0f} records/s")


@contextmanager
def stage_progress(spark: SparkSession, stage: str, *, stream: TextIO | None = None,
                   refresh: float = 0.5, log_every: float = 30.0) -> Iterator[None]:
    try:
        progress = SparkProgress(spark)
    except Exception:  # no SparkContext on this client (Spark Connect): no progress to show
        yield
        return
    stream = stream or sys.stderr
    tty = stream.isatty()
    started, stop = time.time(), threading.Event()

    def loop() -> None:
        last_log = started
        while not stop.wait(refresh if tty else min(refresh * 10, log_every)):
            try:
                done, total, records = progress.poll()
            except Exception:  # the session is stopping: the stage's own error, if any, is what matters
                return
            line = progress_line(stage, tasks_done=done, tasks=total, records=records,
                                 elapsed=time.time() - started)
            if tty:
                stream.write("\r\x1b[K" + line)
                stream.flush()
            elif time.time() - last_log >= log_every:
                log.info("%s", line)
                last_log = time.time()

    thread = threading.Thread(target=loop, name=f"progress-{stage}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        if tty:
            stream.write("\r\x1b[K")
            stream.flush()
