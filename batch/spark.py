"""The SparkSession every batch job uses, with s3a:// wired to the configured S3."""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from pyspark.sql import SparkSession

from core.config import Settings, load_settings

log = logging.getLogger("batch.spark")
REPO_ROOT = Path(__file__).resolve().parents[1]


def s3a_options(settings: Settings) -> dict[str, str]:
    """Hadoop s3a settings for the configured endpoint (path-style, as MinIO and most S3 clones need)."""
    s3 = settings.s3
    options = {
        "spark.hadoop.fs.s3a.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        "spark.hadoop.fs.s3a.endpoint.region": s3.region,
        "spark.hadoop.fs.s3a.path.style.access": "true",
        "spark.hadoop.fs.s3a.fast.upload": "true",
        # Parquet commits through the S3A committer would need extra setup; the
        # classic committer writes to a _temporary prefix then renames, which
        # is correct on a single-writer bucket like ours.
        "spark.hadoop.mapreduce.fileoutputcommitter.algorithm.version": "2",
    }
    if s3.endpoint_url:
        options["spark.hadoop.fs.s3a.endpoint"] = s3.endpoint_url
        options["spark.hadoop.fs.s3a.connection.ssl.enabled"] = str(
            s3.endpoint_url.startswith("https")
        ).lower()
    if s3.access_key:
        options["spark.hadoop.fs.s3a.aws.credentials.provider"] = (
            "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"
        )
        options["spark.hadoop.fs.s3a.access.key"] = s3.access_key
        options["spark.hadoop.fs.s3a.secret.key"] = s3.secret_key
    return options


S3A_SECRET_KEYS = ("spark.hadoop.fs.s3a.access.key", "spark.hadoop.fs.s3a.secret.key")


@contextmanager
def driver_secrets(settings: Settings, options: dict[str, str]) -> Iterator[dict[str, str]]:
    """``options`` without their secrets, which the driver PySpark starts now reads from an owner-only
    properties file (removed once it has started): PySpark would pass them as --conf on the driver's
    command line, which any local user can read. An authenticating master's secret joins them."""
    secrets = {key: options[key] for key in S3A_SECRET_KEYS if key in options}
    properties = settings.spark.secret_properties + "".join(f"{k} {v}\n" for k, v in secrets.items())
    if not properties or launched_by_spark_submit() or "PYSPARK_SUBMIT_ARGS" in os.environ:
        yield options  # the driver runs already (spark-submit): options are set in it, not on a command line
        return
    descriptor, path = tempfile.mkstemp(prefix="spark-driver-", suffix=".properties")  # mode 0600
    try:
        os.write(descriptor, properties.encode())
        os.close(descriptor)
        os.environ["PYSPARK_SUBMIT_ARGS"] = f"--properties-file {path} pyspark-shell"
        yield {key: value for key, value in options.items() if key not in secrets}
    finally:
        os.environ.pop("PYSPARK_SUBMIT_ARGS", None)
        os.unlink(path)


def launched_by_spark_submit() -> bool:
    """True inside spark-submit, whose --master, --jars and --driver-memory then decide."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def spark_session(app_name: str, settings: Settings | None = None) -> SparkSession:
    """A SparkSession with s3a wired to the configured S3.

    Under spark-submit its own options decide master, jars and memory (so
    ``--master`` reaches a cluster); run as plain Python, the configured
    master and the s3a jars fetched by deploy/local are used.
    """
    settings = settings or load_settings()
    builder = SparkSession.builder.appName(app_name)
    if not launched_by_spark_submit():
        jars = settings.stack.required_jars("spark")
        builder = (
            builder.master(settings.spark.master)
            .config("spark.driver.memory", settings.spark.driver_memory)
            .config("spark.jars", ",".join(str(jar) for jar in jars))
        )
        for key, value in {**settings.spark.loopback_conf, **settings.spark.executor_conf}.items():
            builder = builder.config(key, value)
        # Python code that runs in Spark's workers (pandas functions) needs this interpreter and the
        # repository, as spark-submit gives them (deploy/local/stack_manager/configs.py).
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        paths = [str(REPO_ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
        os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    builder = (
        builder.config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        # Small inputs are common (one hour, one day): 200 shuffle partitions would be mostly empty
        # tasks. Adaptive execution still splits big shuffles.
        .config("spark.sql.shuffle.partitions", "16")
        .config("spark.sql.adaptive.enabled", "true")
        # Wide tables (24 hour columns and more) are normal here; do not warn about their plans.
        .config("spark.sql.debug.maxToStringFields", "200")
        # Long stages show a progress line (tasks done of total) on the console.
        .config("spark.ui.showConsoleProgress", "true")
    )
    with driver_secrets(settings, s3a_options(settings)) as options:
        for key, value in options.items():
            builder = builder.config(key, value)
        session = builder.getOrCreate()
    session.sparkContext.setLogLevel("WARN")  # the jobs log what they do; Spark's INFO drowns it
    return session


@contextmanager
def job_session(
    app_name: str, settings: Settings, conf: Mapping[str, str] | None = None
) -> Iterator[SparkSession]:
    """A job's SparkSession (``spark_session``) with the job's own SQL settings ``conf``, for the job.

    A session the job started is stopped at its end. One that was already running in this process
    (a notebook, or the tests running several jobs in one session) is left running, with its SQL
    settings as they were.
    """
    running = SparkSession.getActiveSession()
    spark = spark_session(app_name, settings)
    before = {key: spark.conf.get(key, None) for key in conf or {}}
    for key, value in (conf or {}).items():
        spark.conf.set(key, value)
    try:
        yield spark
    finally:
        if running is None:
            spark.stop()
        else:
            for key, value in before.items():
                if value is None:
                    spark.conf.unset(key)
                else:
                    spark.conf.set(key, value)


@contextmanager
def stage_progress(spark: SparkSession, every_seconds: float = 30.0) -> Iterator[None]:
    """While the block runs, log every ``every_seconds`` how far each running Spark stage is: a long
    job shows progress in its log, not only on a terminal's progress bar."""
    tracker = spark.sparkContext.statusTracker()
    done = threading.Event()

    def report() -> None:
        while not done.wait(every_seconds):
            stages = [tracker.getStageInfo(stage) for stage in sorted(tracker.getActiveStageIds())]
            running = [
                f"stage {s.stageId}: {s.numCompletedTasks} of {s.numTasks} tasks done, {s.numActiveTasks} "
                "running"
                for s in stages
                if s is not None
            ]
            if running:
                log.info("still working (%s)", "; ".join(running))

    reporter = threading.Thread(target=report, name="stage-progress", daemon=True)
    reporter.start()
    try:
        yield
    finally:
        done.set()
        reporter.join()
