"""The DAG: stages in the order they run, with the tables each reads and writes.

Defined once here; `curate run`, the per-stage commands and the workflow exports all read it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

from curate.schemas import tables as t


@dataclass(frozen=True)
class Stage:
    name: str
    job: str  # "module:function" taking a StageContext, returning a StageResult
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]

    def load(self) -> Callable:
        module, func = self.job.split(":")
        return getattr(importlib.import_module(module), func)

    @property
    def module(self) -> str:
        return self.job.split(":")[0]


STAGES: tuple[Stage, ...] = (
    Stage("ingest", "curate.jobs.ingest:run_ingest", (), (t.DOCS_RAW, t.QUARANTINE)),
)


def stage(name: str) -> Stage:
    for s in STAGES:
        if s.name == name:
            return s
    raise KeyError(name)
