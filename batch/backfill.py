"""Backfill: historical average views per article for each hour of day, from raw hourly data.

    deploy/local/spark-submit batch/backfill.py --input 's3a://wikitrends/dumps/pageviews-2026*.gz'
    deploy/local/spark-submit batch/backfill.py --from-site --days 7 --wikis en,de

Inputs are Wikimedia pageview dumps (``pageviews-YYYYMMDD-HH0000[.gz]``) and
the streaming job's hourly counts (``…/date=YYYY-MM-DD/hour=HH/counts.parquet``),
local or on any Hadoop filesystem, mixed freely. Every day in the range must
have all 24 hours, or the job stops naming the missing ones. An hour in which
an article has no line counts as zero views: the average is over the days
covered, not over the days the article appears.

``--from-site`` fetches the days' hourly files from Wikimedia's dumps site (or a mirror) into S3 first,
only those S3 lacks (batch/dumps_fetch.py), and reads them from there. ``--wikis`` keeps those wikis'
articles only, as the Wikipedia source sends them.

The averages (project, title, h00 … h23, days) are written as a new immutable
version under the averages prefix, then ``current.json`` is switched to it in
one PUT, so the anomaly job never reads a half-written version.
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):  # run as a script by spark-submit: make core and batch importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from batch.cli import EXIT_OK, input_globs, iso_date, run_job, step
from batch.dumps_fetch import fetch_days, last_whole_days
from batch.expressions import canberra_term, day_noise, parse_dump_line, wide_sum
from batch.spark import job_session
from batch.storage import (
    ALL_HOURS,
    KEY,
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
from core.anomalies import HOUR_COLUMNS, MIN_SCORED_DAYS, NOISE_COLUMNS
from core.articles import article_condition_sql
from core.config import Settings, load_settings
from core.dumps import parse_projects

log = logging.getLogger("batch.backfill")
TOTAL = "total_"  # prefix of an hour's views summed over the days
_COUNTS_HOUR = r"date=(\d{4}-\d{2}-\d{2})/hour=(\d{2})/"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="backfill.py",
        description="Build the historical averages (views per article per hour of day) from months of "
        "raw hourly data, and make them the current averages.",
    )
    input_globs(parser, "dump files or hourly counts (not with --from-site)", required=False)
    parser.add_argument("--from", dest="first_day", type=iso_date, help="first day to include (YYYY-MM-DD)")
    parser.add_argument("--to", dest="last_day", type=iso_date, help="last day to include (YYYY-MM-DD)")
    parser.add_argument("--days", type=int, help="the N whole UTC days before today (instead of --from/--to)")
    parser.add_argument(
        "--from-site",
        action="store_true",
        help="fetch the days' hourly files from the dumps site into S3 first (what S3 lacks); needs the days",
    )
    parser.add_argument("--base-url", help="the dumps site or a mirror (default: [wikipedia] base_url)")
    parser.add_argument(
        "--wikis",
        help="keep only these wikis' articles, e.g. en,de (default: every page of every wiki; with "
        "--from-site, [wikipedia] projects)",
    )
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


def resolve_inputs(args: argparse.Namespace, settings: Settings) -> tuple[list[str], frozenset[str]]:
    """The input globs (fetching from the dumps site with --from-site) and the wikis to keep (empty: all)."""
    if args.days:
        args.first_day, args.last_day = last_whole_days(args.days, datetime.now(UTC))
    wikis = args.wikis or (",".join(settings.wikipedia.projects) if args.from_site else "")
    projects = parse_projects(wikis)
    if not args.from_site:
        if not args.input:
            raise BatchError("name the inputs with --input, or fetch them with --from-site")
        return args.input, projects
    if args.input or not (args.first_day and args.last_day):
        raise BatchError("--from-site takes the days (--days N, or --from and --to), not --input")
    base_url = args.base_url or settings.wikipedia.base_url
    with step(f"fetching {args.first_day} to {args.last_day} from {base_url} into S3 (what S3 lacks)"):
        return fetch_days(settings, base_url, args.first_day, args.last_day), projects


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


def kept_wikis(projects: frozenset[str], settings: Settings) -> Column:
    """True for the articles of ``projects``, and for malformed rows (counted, not averaged)."""
    article = F.expr(article_condition_sql("title", settings.articles, dialect="spark"))
    return F.col("project").isNull() | (F.col("project").isin(sorted(projects)) & article)


def daily_views(rows: DataFrame) -> DataFrame:
    """(project, title, day, h00 … h23, malformed, sample): views per article, day and hour of day.

    Malformed lines (a null project) are grouped per day with their count and one sample.
    """
    problem = F.col("problem").isNotNull()
    return rows.groupBy(*KEY, "day").agg(
        *wide_sum(F.col("hour"), F.col("views"), ALL_HOURS),
        F.count(F.when(problem, 1)).alias("malformed"),
        F.first(F.when(problem, F.concat_ws(": ", "problem", "line")), ignorenulls=True).alias("sample"),
    )


def averages_and_noise(per_day: DataFrame, days: int) -> DataFrame:
    """Per article: views per hour of day averaged over ``days`` days, and the noise (core.anomalies).

    ``per_day``: good rows of daily_views. Each day is scored against the average of the other days
    (leave one out). An article's days without any view need no rows: all their hours are 0, so each
    hour's term is 1 where the article has views on other days and 0 elsewhere; they are added by count.
    """
    totals = per_day.groupBy(*KEY).agg(
        *[F.sum(c).alias(TOTAL + c) for c in HOUR_COLUMNS], F.count("*").alias("present_days")
    )
    averages = [(F.col(TOTAL + c) / days).alias(c) for c in HOUR_COLUMNS]
    if days < MIN_SCORED_DAYS:  # no other day to compare a day with
        return totals.select(*KEY, *averages, *[F.lit(0.0).alias(c) for c in NOISE_COLUMNS])
    others = [(F.col(TOTAL + c) - F.col(c)) / (days - 1) for c in HOUR_COLUMNS]
    terms = [canberra_term(F.col(c), other) for c, other in zip(HOUR_COLUMNS, others, strict=True)]
    scored = per_day.join(totals, KEY).select(
        *KEY, *[value.alias(name) for name, value in day_noise(terms).items()]
    )
    sums = scored.groupBy(*KEY).agg(*[F.sum(name).alias(name) for name in NOISE_COLUMNS])
    # A day without views scores 1 in each hour the article has views on other days.
    silent_day = day_noise([F.when(F.col(TOTAL + c) > 0, 1.0).otherwise(0.0) for c in HOUR_COLUMNS])
    silent_days = F.lit(days) - F.col("present_days")
    noise = [((F.col(name) + silent_days * silent_day[name]) / days).alias(name) for name in NOISE_COLUMNS]
    return totals.join(sums, KEY).select(*KEY, *averages, *noise)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings: Settings = load_settings()
    # Compiling these wide plans (24 hours, 96 noise columns) into one Java method each costs more
    # than the generated code saves: bench/spark_codegen.py, docs/batch.md "Speed".
    interpreted = {"spark.sql.codegen.wholeStage": "false"}
    with job_session("wikitrends-backfill", settings, conf=interpreted) as spark:
        inputs, projects = resolve_inputs(args, settings)
        with step("listing inputs"):
            files = find_inputs(spark, inputs, args.file_time)
        days = select_days(files, args.first_day, args.last_day)
        files = [f for f in files if days[0] <= f.day <= days[-1]]
        require_hours(files, days, ALL_HOURS, ", ".join(inputs))
        log.info("averaging %d days (%s to %s) from %d files", len(days), days[0], days[-1], len(files))

        # Leave-one-out needs another day to compare each day with.
        pointer = AveragesPointer.for_dates(
            days, scored_days=len(days) if len(days) >= MIN_SCORED_DAYS else 0
        )
        rows = hourly_rows(spark, files)
        if projects:
            log.info("keeping the articles of %s", ", ".join(sorted(projects)))
            rows = rows.filter(kept_wikis(projects, settings))
        per_day = daily_views(rows).persist()  # read twice, the input scanned once
        good = per_day.filter(F.col("project").isNotNull())
        with step(f"writing averages and their noise to {pointer.uri(settings)}"):
            (
                averages_and_noise(good, len(days))
                .select(*KEY, *HOUR_COLUMNS, *NOISE_COLUMNS, F.lit(len(days)).alias("days"))
                .write.mode("overwrite")
                .parquet(pointer.uri(settings))
            )
        bad = (
            per_day.filter(F.col("project").isNull())
            .agg(F.sum("malformed").alias("lines"), F.first("sample", ignorenulls=True).alias("sample"))
            .first()
        )
        if bad and bad.lines:
            log.warning("skipped %d malformed line(s); for example %s", bad.lines, bad.sample)
        previous = read_pointer(settings)
        write_pointer(settings, pointer)
        log.info(
            "current averages are now %s (%d days)%s",
            pointer.version,
            pointer.days,
            f", replacing {previous.version}" if previous and previous != pointer else "",
        )
    return EXIT_OK


if __name__ == "__main__":
    run_job(main)
