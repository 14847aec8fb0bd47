"""What the batch jobs find on storage: input hours, the averages pointer, clear errors when missing.

Input files are listed through Hadoop's FileSystem (so ``s3a://``, local
paths and any cluster filesystem work alike), and each file's hour comes from
its name: ``pageviews-YYYYMMDD-HH0000.gz`` (core.dumps) or the hourly counts
layout ``date=YYYY-MM-DD/hour=HH/counts.parquet`` (core.contracts).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from core.anomalies import HOURS_PER_DAY, NOISE_COLUMNS
from core.config import Settings
from core.contracts import averages_pointer_key, averages_uri, hourly_counts_day_key, hourly_counts_uri
from core.dumps import FileTime, dump_hour_start
from core.hourly_counts import ACCESS_COLUMNS

# An article's key in every batch DataFrame.
KEY = ["project", "title"]
_COUNTS_PATH = re.compile(r"date=(\d{4}-\d{2}-\d{2})/hour=(\d{2})/[^/]+\.parquet$")


class BatchError(RuntimeError):
    """A problem the operator must fix (missing input, no averages yet); the message says what."""


@dataclass(frozen=True, order=True)
class InputFile:
    day: str  # YYYY-MM-DD
    hour: int
    path: str
    kind: str  # "dumps" or "counts"


def describe_input(path: str, file_time: FileTime = "end") -> InputFile | None:
    """The day, hour and kind of an input file from its name; None for a file that is neither."""
    counts = _COUNTS_PATH.search(path)
    if counts:
        return InputFile(counts[1], int(counts[2]), path, "counts")
    try:
        start = dump_hour_start(path, file_time)
    except ValueError:
        return None
    return InputFile(f"{start:%Y-%m-%d}", start.hour, path, "dumps")


def list_paths(spark: SparkSession, pattern: str) -> list[str]:
    """Every file a glob names (local or any Hadoop filesystem), sorted; directories are walked."""
    jvm = spark.sparkContext._jvm
    hadoop_path = jvm.org.apache.hadoop.fs.Path(pattern)
    filesystem = hadoop_path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    statuses = filesystem.globStatus(hadoop_path) or []
    found: list[str] = []
    for status in statuses:
        if status.isDirectory():
            files = filesystem.listFiles(status.getPath(), True)
            while files.hasNext():
                found.append(files.next().getPath().toString())
        else:
            found.append(status.getPath().toString())
    return sorted(found)


def days_between(first: str, last: str) -> list[str]:
    """Every date from ``first`` to ``last`` inclusive, as YYYY-MM-DD."""
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    if end < start:
        raise BatchError(f"--to {last} is before --from {first}")
    return [(start + timedelta(days=n)).isoformat() for n in range((end - start).days + 1)]


def missing_hours(files: list[InputFile], days: list[str], hours: range) -> list[str]:
    """``YYYY-MM-DD HH:00`` for every hour of ``days`` × ``hours`` that no file covers."""
    present = {(f.day, f.hour) for f in files}
    return [f"{day} {hour:02d}:00" for day in days for hour in hours if (day, hour) not in present]


def require_hours(files: list[InputFile], days: list[str], hours: range, where: str) -> None:
    """Fail naming the missing hours (at most a dozen listed) if any hour has no file."""
    missing = missing_hours(files, days, hours)
    if missing:
        shown = ", ".join(missing[:12]) + (f" and {len(missing) - 12} more" if len(missing) > 12 else "")
        raise BatchError(f"{len(missing)} input hour(s) missing from {where}: {shown}")


def hourly_counts_files(settings: Settings, day: str, hours: range) -> list[InputFile]:
    """The hourly counts files of ``day`` for ``hours`` (existence is checked by the caller)."""
    bucket = settings.s3.bucket
    return [
        InputFile(day, h, f"s3a://{bucket}/{hourly_counts_day_key(settings.s3, day, h)}", "counts")
        for h in hours
    ]


def existing_hourly_counts(settings: Settings, day: str) -> list[InputFile]:
    """The hourly counts files present on S3 for ``day`` (one listing call: cheaper than a Hadoop glob)."""
    from stores.clients import list_keys, s3_client

    keys = list_keys(
        s3_client(settings), settings.s3.bucket, f"{settings.s3.hourly_counts_prefix}/date={day}/"
    )
    described = (describe_input(f"s3a://{settings.s3.bucket}/{key}") for key in keys)
    return [f for f in described if f is not None]


def hour_start_ms(day: str, hour: int) -> int:
    """Epoch ms of ``hour`` o'clock UTC on ``day``."""
    moment = datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)
    return int(moment.timestamp() * 1000)


@dataclass(frozen=True)
class AveragesPointer:
    """The current version of the historical averages, the days behind it, and how many of those days the
    noise beside the averages is measured on (core.anomalies)."""

    version: str
    dates: list[str] = field(default_factory=list)
    scored_days: int = 0  # 0 in pointers written before the noise was kept

    @property
    def days(self) -> int:
        return len(self.dates)

    def uri(self, settings: Settings) -> str:
        return averages_uri(settings.s3, self.version)

    @classmethod
    def for_dates(cls, dates: list[str], scored_days: int) -> AveragesPointer:
        """A pointer to the version built from exactly ``dates``; its name is derived from them."""
        ordered = sorted(set(dates))
        digest = hashlib.sha1(",".join(ordered).encode()).hexdigest()[:10]
        return cls(f"days={len(ordered)}-through={ordered[-1]}-{digest}", ordered, scored_days)


def read_pointer(settings: Settings) -> AveragesPointer | None:
    """The current averages pointer, or None when no averages were ever written."""
    from stores.clients import read_json_object, s3_client

    document = read_json_object(s3_client(settings), settings.s3.bucket, averages_pointer_key(settings.s3))
    return None if document is None else AveragesPointer(**document)


def write_pointer(settings: Settings, pointer: AveragesPointer) -> None:
    """Switch readers to ``pointer``'s version in one PUT (the version's files are written first)."""
    from stores.clients import s3_client, write_json_object

    write_json_object(
        s3_client(settings), settings.s3.bucket, averages_pointer_key(settings.s3), asdict(pointer)
    )


def require_pointer(settings: Settings) -> AveragesPointer:
    pointer = read_pointer(settings)
    if pointer is None:
        raise BatchError(
            f"no historical averages at s3://{settings.s3.bucket}/{averages_pointer_key(settings.s3)}; "
            "run batch/backfill.py (or batch/update_averages.py for a first day) first"
        )
    return pointer


ALL_HOURS = range(HOURS_PER_DAY)


def read_averages(spark: SparkSession, settings: Settings, pointer: AveragesPointer) -> DataFrame:
    """The averages ``pointer`` names, after checking they carry the noise the scores need."""
    averages = spark.read.parquet(pointer.uri(settings))
    missing = [c for c in NOISE_COLUMNS if c not in averages.columns]
    if missing:
        raise BatchError(
            f"the averages {pointer.version} have no noise statistics (written before they were kept; "
            f"missing {missing[0]} and {len(missing) - 1} more): run batch/backfill.py again"
        )
    return averages


def hourly_counts_paths(settings: Settings, day: str, last_hour: int) -> list[str]:
    """The hourly counts files of hours 0..last_hour of ``day``, after checking every one is there."""
    hours = range(last_hour + 1)
    require_hours(existing_hourly_counts(settings, day), [day], hours, hourly_counts_uri(settings.s3))
    return [f.path for f in hourly_counts_files(settings, day, hours)]


def read_access_counts(
    spark: SparkSession, settings: Settings, paths: list[str], articles: set[tuple[str, str]]
) -> dict[tuple[str, str], dict[int, tuple[int, int]]]:
    """(project, title) -> hour -> (desktop, mobile) views of ``articles`` in the given hourly counts files.

    Files written before the counts had their access have no such columns: their hours count 0.
    """
    if not articles:
        return {}
    wanted = spark.createDataFrame(sorted(articles), "project string, title string")
    rows = (
        spark.read.option("basePath", hourly_counts_uri(settings.s3))
        .option("mergeSchema", "true")
        .parquet(*paths)
        .join(F.broadcast(wanted), list(KEY))
        .select(
            *KEY,
            F.col("hour").cast("int").alias("hour"),
            *(F.coalesce(F.col(c), F.lit(0)).alias(c) for c in ACCESS_COLUMNS),
        )
        .collect()
    )
    found: dict[tuple[str, str], dict[int, tuple[int, int]]] = {}
    for row in rows:
        desktop, mobile = (row[c] for c in ACCESS_COLUMNS)
        found.setdefault((row.project, row.title), {})[row.hour] = (desktop, mobile)
    return found


def read_hourly_counts(spark: SparkSession, settings: Settings, paths: list[str]) -> DataFrame:
    """(project, title, hour, views) rows of the given hourly counts files."""
    return (
        spark.read.option("basePath", hourly_counts_uri(settings.s3))
        .parquet(*paths)
        .select(*KEY, F.col("hour").cast("int").alias("hour"), F.col("views").cast("double").alias("views"))
    )
