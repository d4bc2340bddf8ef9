"""The Python worker daemon of sessions curate starts itself: `pyspark.daemon`, importing from
site-packages instead of Spark's zips.

Spark puts `pyspark.zip`, the py4j zip and the spark-core jar first on its Python workers' path.
Python caches no bytecode for modules read from a zip, so every forked worker compiled the pyspark
modules it imports from source again (about 1 s of CPU per worker, measured), and each task re-read
the zips' directories. A session curate starts runs the JVM of the pip-installed pyspark, whose
zip holds the same code as its package, so the zips leave the path and the cached bytecode is used.
"""

import os
import runpy
import sys

if __name__ == "__main__":  # run by Spark as `python -m curate.spark_daemon <worker module>`
    home = os.environ.get("SPARK_HOME")
    if home:
        sys.path[:] = [p for p in sys.path if not (p.startswith(home) and p.endswith((".zip", ".jar")))]
    runpy.run_module("pyspark.daemon", run_name="__main__", alter_sys=True)
