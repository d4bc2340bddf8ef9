"""One local[2] SparkSession for the whole test run (starting Spark costs ~20 s)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def spark():
    from curate.schemas.config import SparkConfig
    from curate.session import get_spark

    session = get_spark(SparkConfig(master="local[2]", shuffle_partitions=2, driver_memory="4g"),
                        app_name="curate-tests")
    yield session
    session.stop()


@pytest.fixture()
def store(spark, tmp_path):
    from curate.delta.store import DeltaStore

    return DeltaStore(spark, str(tmp_path / "root"))


@pytest.fixture(scope="session")
def pii_set():
    """scripts/build_pii_set.py as a module: the planted PII set's builder and scorer."""
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "scripts" / "build_pii_set.py"
    spec = importlib.util.spec_from_file_location("build_pii_set", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module
