"""Benchmark: the backfill's averages with Spark's whole-stage code generation off (the configured
default, ``[spark] whole_stage_codegen``) against on, same rows, same run.

    .stack/venv/bin/python bench/spark_codegen.py [--articles 1000000] [--days 7] [--hours-viewed 6]

It generates, inside Spark (no S3), ``--hours-viewed`` hourly rows per article and day (random hour
of day, 0 to 19 views), runs the backfill's own transforms on them (``daily_views`` then
``averages_and_noise``, batch/backfill.py) into Spark's no-op sink, once with whole-stage code
generation on and once off, and prints both times and the ratio. The plans are wide (24 hour
columns, 96 noise columns): code generation compiles each of them into one Java method before it
runs, which is what the comparison weighs against the faster generated code.
Runs in a local Spark (``[spark] master``); the stack need not be up.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pyspark.sql import DataFrame, SparkSession  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402

from batch.backfill import averages_and_noise, daily_views  # noqa: E402
from batch.spark import spark_session  # noqa: E402
from bench.measure import log  # noqa: E402


def generated_hourly_rows(spark: SparkSession, articles: int, days: int, hours_viewed: int) -> DataFrame:
    """Rows shaped like batch.backfill.hourly_rows: every article viewed in a few hours of each day."""
    per_day = articles * hours_viewed
    ids = spark.range(articles * days * hours_viewed)
    return ids.select(
        F.lit("en.wikipedia").alias("project"),
        F.concat(F.lit("Article_"), (F.col("id") % articles).cast("string")).alias("title"),
        (F.rand(2) * 20).cast("long").alias("views"),
        F.lit(None).cast("string").alias("problem"),
        F.date_format(
            F.date_add(F.lit("2026-05-01"), (F.col("id") / per_day).cast("int")), "yyyy-MM-dd"
        ).alias("day"),
        (F.rand(1) * 24).cast("int").alias("hour"),
        F.lit(None).cast("string").alias("line"),
    )


def averages_seconds(spark: SparkSession, rows: DataFrame, days: int, codegen: bool) -> float:
    spark.conf.set("spark.sql.codegen.wholeStage", str(codegen).lower())
    began = time.monotonic()
    per_day = daily_views(rows).where(F.col("project").isNotNull())
    averages_and_noise(per_day, days).write.format("noop").mode("overwrite").save()
    return time.monotonic() - began


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--articles", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=7, help="days of history averaged (default 7)")
    parser.add_argument(
        "--hours-viewed", type=int, default=6, help="hourly rows per article and day (default 6)"
    )
    args = parser.parse_args(argv)

    spark = spark_session("bench-spark-codegen")
    rows = generated_hourly_rows(spark, args.articles, args.days, args.hours_viewed)
    total = args.articles * args.days * args.hours_viewed
    log(f"{args.articles:,} articles x {args.days} days, {total:,} hourly rows, the backfill's averages")
    seconds = {}
    for codegen in (False, True):
        name = "on" if codegen else "off"
        log(f"whole-stage code generation {name} …")
        seconds[name] = averages_seconds(spark, rows, args.days, codegen)
        rate = total / seconds[name]
        log(f"whole-stage code generation {name}: {seconds[name]:.1f} s ({rate:,.0f} rows/s)")
    spark.stop()
    print()
    print(f"{'articles':>12} {'days':>6} {'rows':>14} {'off s':>9} {'on s':>9} {'on / off':>9}")
    print(
        f"{args.articles:>12,} {args.days:>6} {total:>14,} {seconds['off']:>9.1f} {seconds['on']:>9.1f} "
        f"{seconds['on'] / seconds['off']:>8.2f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
