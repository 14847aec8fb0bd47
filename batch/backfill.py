"""Backfill: historical average views per article for each hour of day, from raw hourly data.

    deploy/local/spark-submit batch/backfill.py --input 's3a://wikitrends/dumps/pageviews-2026*.gz'

Inputs are Wikimedia pageview dumps (``pageviews-YYYYMMDD-HH0000[.gz]``) and
the streaming job's hourly counts (``…/date=YYYY-MM-DD/hour=HH/counts.parquet``),
local or on any Hadoop filesystem, mixed freely. Every day in the range must
have all 24 hours, or the job stops naming the missing ones. An hour in which
an article has no line counts as zero views: the average is over the days
covered, not over the days the article appears.

The averages (project, title, h00 … h23, days) are written as a new immutable
version under the averages prefix, then ``current.json`` is switched to it in
one PUT, so the anomaly job never reads a half-written version.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script by spark-submit: make core and batch importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from batch.anomalies import KEY
from batch.cli import EXIT_OK, iso_date, run_job, step
from batch.expressions import canberra_term, parse_dump_line, running_sums, wide_sum
from batch.spark import spark_session
from batch.storage import (
    ALL_HOURS,
    AveragesPointer,
    BatchError,
    InputFile,
    days_between,
    describe_input,
    list_paths,
    read_pointer,
    require_hours,
    write_pointer,
)
from core.anomalies import HOUR_COLUMNS, MIN_SCORED_DAYS, NOISE_COLUMNS, noise_column
from core.config import Settings, load_settings

log = logging.getLogger("batch.backfill")
TOTAL = "total_"  # prefix of an hour's views summed over the days
_COUNTS_HOUR = r"date=(\d{4}-\d{2}-\d{2})/hour=(\d{2})/"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="backfill.py",
        description="Build the historical averages (views per article per hour of day) from months of "
        "raw hourly data, and make them the current averages.",
    )
    parser.add_argument(
        "--input",
        action="append",
        required=True,
        metavar="GLOB",
        help="dump files or hourly counts, local or s3a://; a folder is walked; repeat for several",
    )
    parser.add_argument("--from", dest="first_day", type=iso_date, help="first day to include (YYYY-MM-DD)")
    parser.add_argument("--to", dest="last_day", type=iso_date, help="last day to include (YYYY-MM-DD)")
    parser.add_argument(
        "--file-time",
        choices=["end", "start"],
        default="end",
        help="the hour a dump file's name gives: its end (Wikimedia's rule, default) or start",
    )
    return parser


def find_inputs(spark: SparkSession, patterns: list[str], file_time: str) -> list[InputFile]:
    """Every input file the globs name, with its hour; files named like neither kind are skipped."""
    files: list[InputFile] = []
    for pattern in patterns:
        paths = list_paths(spark, pattern)
        if not paths:
            raise BatchError(f"--input {pattern} matches no file")
        described = [describe_input(path, file_time) for path in paths]  # type: ignore[arg-type]
        ignored = [
            p for p, d in zip(paths, described, strict=True) if d is None and not p.endswith("_SUCCESS")
        ]
        if ignored:
            log.warning(
                "%d file(s) under %s are neither dumps nor hourly counts, e.g. %s",
                len(ignored),
                pattern,
                ignored[0],
            )
        files += [d for d in described if d is not None]
    if not files:
        raise BatchError(f"no dump files or hourly counts match {', '.join(patterns)}")
    return sorted(set(files))


def select_days(files: list[InputFile], first_day: str | None, last_day: str | None) -> list[str]:
    """The days to average: the given range, or every day the inputs touch."""
    first = first_day or min(f.day for f in files)
    last = last_day or max(f.day for f in files)
    return days_between(first, last)


def hourly_rows(spark: SparkSession, files: list[InputFile]) -> DataFrame:
    """(project, title, views, problem, day, hour, line) for every input line; problem is null when good."""
    frames = []
    dumps = [f for f in files if f.kind == "dumps"]
    if dumps:
        hours = spark.createDataFrame(
            [(Path(f.path).name, f.day, f.hour) for f in dumps], "name string, day string, hour int"
        )
        lines = spark.read.text([f.path for f in dumps]).withColumn(
            "name", F.regexp_extract(F.input_file_name(), r"[^/]+$", 0)
        )
        frames.append(
            lines.join(F.broadcast(hours), "name").select(
                *parse_dump_line(F.col("value")), "day", "hour", F.col("value").alias("line")
            )
        )
    counts = [f for f in files if f.kind == "counts"]
    if counts:
        frames.append(
            spark.read.parquet(*[f.path for f in counts]).select(
                "project",
                "title",
                F.col("views").cast("long").alias("views"),
                F.lit(None).cast("string").alias("problem"),
                F.regexp_extract(F.input_file_name(), _COUNTS_HOUR, 1).alias("day"),
                F.regexp_extract(F.input_file_name(), _COUNTS_HOUR, 2).cast("int").alias("hour"),
                F.lit(None).cast("string").alias("line"),
            )
        )
    combined = frames[0]
    for frame in frames[1:]:
        combined = combined.unionByName(frame)
    return combined


def averages_and_noise(rows: DataFrame, days: int) -> DataFrame:
    """Per article: views per hour of day averaged over ``days`` days, and the noise (core.anomalies).

    Each day is scored against the average of the other days (leave one out). An article's days
    without any view need no rows: all their hours are 0, so each hour's term is 1 where the
    article has views on other days and 0 elsewhere; they are added by count.
    """
    per_day = rows.groupBy(*KEY, "day").agg(*wide_sum(F.col("hour"), F.col("views"), ALL_HOURS))
    totals = per_day.groupBy(*KEY).agg(
        *[F.sum(c).alias(TOTAL + c) for c in HOUR_COLUMNS], F.count("*").alias("present_days")
    )
    averages = [(F.col(TOTAL + c) / days).alias(c) for c in HOUR_COLUMNS]
    if days < 2:  # no other day to compare a day with
        return totals.select(*KEY, *averages, *[F.lit(0.0).alias(c) for c in NOISE_COLUMNS])
    others = [(F.col(TOTAL + c) - F.col(c)) / (days - 1) for c in HOUR_COLUMNS]
    terms = [canberra_term(F.col(c), other) for c, other in zip(HOUR_COLUMNS, others, strict=True)]
    scores = {"term": terms, "distance": running_sums(terms)}  # of one day, per hour
    day_scores = per_day.join(totals, KEY).select(
        *KEY,
        *[
            column.alias(f"{kind}_{h}")
            for kind, columns in scores.items()
            for h, column in enumerate(columns)
        ],
    )
    sums = day_scores.groupBy(*KEY).agg(
        *[F.sum(f"{kind}_{h}").alias(noise_column(f"{kind}_mean", h)) for kind in scores for h in ALL_HOURS],
        *[
            F.sum(F.col(f"{kind}_{h}") ** 2).alias(noise_column(f"{kind}_square", h))
            for kind in scores
            for h in ALL_HOURS
        ],
    )
    # A day without views scores 1 in each hour the article has views on other days.
    seen = [F.when(F.col(TOTAL + c) > 0, 1.0).otherwise(0.0) for c in HOUR_COLUMNS]
    silent_day = {"term": seen, "distance": running_sums(seen)}
    silent_days = F.lit(days) - F.col("present_days")

    def over_all_days(statistic: str, h: int, silent_value: Column) -> Column:
        name = noise_column(statistic, h)
        return ((F.col(name) + silent_days * silent_value) / days).alias(name)

    noise = [
        over_all_days(f"{kind}_{moment}", h, value if moment == "mean" else value * value)
        for kind, values in silent_day.items()
        for moment in ("mean", "square")
        for h, value in enumerate(values)
    ]
    return totals.join(sums, KEY).select(*KEY, *averages, *noise)


def malformed_lines(rows: DataFrame) -> tuple[int, str | None]:
    """How many input lines were malformed, and one of them with its problem."""
    problem = F.col("problem").isNotNull()
    found = rows.agg(
        F.count(F.when(problem, 1)).alias("malformed"),
        F.first(F.when(problem, F.concat_ws(": ", "problem", "line")), ignorenulls=True).alias("sample"),
    ).first()
    return found.malformed, found.sample


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings: Settings = load_settings()
    spark = spark_session("wikitrends-backfill", settings)
    try:
        with step("listing inputs"):
            files = find_inputs(spark, args.input, args.file_time)
        days = select_days(files, args.first_day, args.last_day)
        files = [f for f in files if days[0] <= f.day <= days[-1]]
        require_hours(files, days, ALL_HOURS, ", ".join(args.input))
        log.info("averaging %d days (%s to %s) from %d files", len(days), days[0], days[-1], len(files))

        # Leave-one-out needs another day to compare each day with.
        pointer = AveragesPointer.for_dates(
            days, scored_days=len(days) if len(days) >= MIN_SCORED_DAYS else 0
        )
        rows = hourly_rows(spark, files).persist()
        good = rows.filter(F.col("problem").isNull())
        with step(f"writing averages and their noise to {pointer.uri(settings)}"):
            (
                averages_and_noise(good, len(days))
                .select(*KEY, *HOUR_COLUMNS, *NOISE_COLUMNS, F.lit(len(days)).alias("days"))
                .write.mode("overwrite")
                .parquet(pointer.uri(settings))
            )
        malformed, sample = malformed_lines(rows)
        if malformed:
            log.warning("skipped %d malformed line(s); for example %s", malformed, sample)
        previous = read_pointer(settings)
        write_pointer(settings, pointer)
        log.info(
            "current averages are now %s (%d days)%s",
            pointer.version,
            pointer.days,
            f", replacing {previous.version}" if previous and previous != pointer else "",
        )
    finally:
        spark.stop()
    return EXIT_OK


if __name__ == "__main__":
    run_job(main)
