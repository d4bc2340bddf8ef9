"""Tables registered in Spark's catalog by name, over the Delta tables under the storage root."""

from __future__ import annotations

import logging
from typing import Iterable

from pyspark.sql import SparkSession

from curate.delta.store import DeltaStore, has_delta_classes
from curate.errors import ConfigError, StorageError
from curate.schemas.config import CatalogConfig

log = logging.getLogger(__name__)


def _normalized(location: str) -> str:
    return location.removeprefix("file:").rstrip("/")


def register_tables(spark: SparkSession, cfg: CatalogConfig, store: DeltaStore, names: Iterable[str]) -> None:
    """`CREATE TABLE IF NOT EXISTS` each table of `names` that exists. A name already registered over
    another location (another root) is refused rather than left pointing at other data."""
    if not has_delta_classes(spark):
        raise ConfigError("catalog: registering tables needs Spark's Delta Lake in the session (USING DELTA): "
                          "run with delta.engine: native or auto after scripts/setup.sh, or remove the catalog key")
    schema = ".".join(f"`{p}`" for p in (cfg.name, cfg.schema_name) if p)
    spark.sql(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    for name in names:
        if not store.exists(name):
            continue
        table, path = f"{schema}.`{name}`", store.path(name)
        spark.sql(f"CREATE TABLE IF NOT EXISTS {table} USING DELTA LOCATION '{path}'")
        location = spark.sql(f"DESCRIBE DETAIL {table}").select("location").first()[0]
        if _normalized(location) != _normalized(path):
            raise StorageError(f"catalog table {table} is registered over {location}, not over this root's {path}: "
                               f"drop it (DROP TABLE {table}) or configure another catalog.schema")
        log.debug("catalog: %s -> %s", table, path)
