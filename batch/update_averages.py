"""Daily update: fold a finished day into the historical averages (cumulative moving average).

    deploy/local/spark-submit batch/update_averages.py --date 2026-03-09

Reads the day's 24 hourly counts files (all must be there), and for every
article and hour of day computes avg + (views - avg) / (n + 1) over the
current averages of n days (batch.expressions.fold_day); an article new today
had an average of 0, one absent today gets 0 views. The day's Canberra terms
against the averages before it are folded into the noise kept beside them
(core.anomalies), so the anomaly job knows each article's normal variability.
The result is a new version whose pointer lists the day, so folding the same
day again is refused as already done and changes nothing. Without any averages yet, the
day becomes the first one.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script by spark-submit: make core and batch importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from batch.cli import EXIT_OK, iso_date, run_job, step
from batch.expressions import canberra_term, day_noise, fold_day, wide_sum
from batch.spark import job_session
from batch.storage import (
    KEY,
    AveragesPointer,
    hourly_counts_paths,
    read_averages,
    read_hourly_counts,
    read_pointer,
    write_pointer,
)
from core.anomalies import HOUR_COLUMNS, HOURS_PER_DAY, NOISE_COLUMNS
from core.config import Settings, load_settings

log = logging.getLogger("batch.update_averages")
DAY = "day_"  # prefix of the folded day's hour columns


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="update_averages.py",
        description="Fold one finished day's hourly counts into the historical averages "
        "(cumulative moving average). A day already folded is left alone.",
    )
    parser.add_argument("--date", required=True, type=iso_date, help="the finished day, YYYY-MM-DD (UTC)")
    return parser


def folded(averages: DataFrame | None, day_rows: DataFrame, days: int, scored_days: int) -> DataFrame:
    """The averages and their noise after one more day: (project, title, h00 … h23, noise, days).

    The day is scored against the averages before it (core.anomalies); that score is folded into
    the noise's means over ``scored_days`` days. Without averages there is nothing to score against.
    """
    day_wide = day_rows.groupBy(*KEY).agg(*wide_sum(F.col("hour"), F.col("views"), range(HOURS_PER_DAY)))
    day_wide = day_wide.select(*KEY, *[F.col(c).alias(DAY + c) for c in HOUR_COLUMNS])
    if averages is None:
        return day_wide.select(
            *KEY,
            *[F.col(DAY + c).cast("double").alias(c) for c in HOUR_COLUMNS],
            *[F.lit(0.0).alias(c) for c in NOISE_COLUMNS],
            F.lit(days + 1).alias("days"),
        )
    joined = averages.select(*KEY, *HOUR_COLUMNS, *NOISE_COLUMNS).join(day_wide, KEY, "full_outer")
    terms = [canberra_term(F.col(DAY + c), F.col(c)) for c in HOUR_COLUMNS]
    noise = [
        fold_day(F.col(name), scored_days, value).alias(name) for name, value in day_noise(terms).items()
    ]
    return joined.select(
        *KEY,
        *[fold_day(F.col(c), days, F.col(DAY + c)).alias(c) for c in HOUR_COLUMNS],
        *noise,
        F.lit(days + 1).alias("days"),
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings: Settings = load_settings()
    current = read_pointer(settings)
    if current is not None and args.date in current.dates:
        log.info("%s is already folded into the averages (%s); nothing to do", args.date, current.version)
        return EXIT_OK
    paths = hourly_counts_paths(settings, args.date, HOURS_PER_DAY - 1)
    with job_session("wikitrends-update-averages", settings) as spark:
        day_rows = read_hourly_counts(spark, settings, paths)
        averages = read_averages(spark, settings, current) if current else None
        days = current.days if current else 0
        scored_days = current.scored_days if current else 0
        pointer = AveragesPointer.for_dates(
            [*(current.dates if current else []), args.date], scored_days=scored_days + 1 if current else 0
        )
        with step(f"folding {args.date} into {days} day(s) of averages -> {pointer.uri(settings)}"):
            folded(averages, day_rows, days, scored_days).write.mode("overwrite").parquet(
                pointer.uri(settings)
            )
        write_pointer(settings, pointer)
        log.info("current averages are now %s (%d days)", pointer.version, pointer.days)
    return EXIT_OK


if __name__ == "__main__":
    run_job(main)
