import pytest


@pytest.fixture(scope="session")
def spark():
    """The run's one local[2] session (reused when tests/conftest.py or another suite made it)."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    from curate.schemas.config import SparkConfig
    from curate.session import get_spark

    return get_spark(SparkConfig(master="local[2]", shuffle_partitions=2, driver_memory="2g"), app_name="curate-tests")
