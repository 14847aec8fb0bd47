"""Hourly anomalies: Canberra distance between today's hourly views and the historical averages.

    deploy/local/spark-submit batch/anomalies.py --date 2026-03-09 --hour 13 [--top 5]

For every article, today's vector is its views in hours 0..H of the date (the
streaming job's hourly counts on S3) and its history is the current averages
for the same hours. Only articles (core.articles: not Main_Page, ``-`` or a
page in another namespace) that pass the volume rule are compared: today or
history must average ``[batch] anomaly_min_hourly_views`` an hour. Since such
an article has at least one hour with that many views, the job first finds
those few candidates with cheap filters, then joins only their rows: the heavy
full join over millions of quiet articles never happens.

Each compared article's distance is then scored against its own noise, kept
beside the averages (core.anomalies): how many standard deviations the day so
far, or its latest hour, is above what its past days produced. Only articles
scoring at least ``[batch] anomaly_min_score`` are published, at most K, by
score: an hour without a real anomaly publishes an empty list.

Outputs: the published list to Redis as an anomaly snapshot (core.snapshots,
the format the site reads) and to S3 as ``anomalies/date=…/hour=HH/top.json``;
every compared article's distance and score to
``anomalies/date=…/hour=HH/distances/`` (Parquet). Re-running an hour
rewrites the same results.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script by spark-submit: make core and batch importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from batch.cli import EXIT_OK, hour_of_day, iso_date, positive_int, run_job, step
from batch.expressions import (
    canberra_distance,
    canberra_term,
    hour_floor,
    row_total,
    running_sums,
    wide_sum,
    z_score,
)
from batch.spark import spark_session
from batch.storage import (
    AveragesPointer,
    BatchError,
    existing_hourly_counts,
    hour_start_ms,
    hourly_counts_files,
    require_hours,
    require_pointer,
)
from core.anomalies import (
    MIN_SCORED_DAYS,
    NOISE_COLUMNS,
    NOISE_STATISTICS,
    hour_column,
    noise_column,
)
from core.articles import article_condition_sql
from core.config import Settings, load_settings
from core.contracts import anomalies_key, hourly_counts_uri
from core.snapshots import AnomalousArticle, AnomalySnapshot, encode

log = logging.getLogger("batch.anomalies")
KEY = ["project", "title"]
TODAY = "today_"  # prefix of today's hour columns after the join; history keeps h00 … hH


def build_parser(settings: Settings) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="anomalies.py",
        description="Rank articles by the Canberra distance between today's hourly views (hours 0..H) and "
        "their historical averages; publish the top ones to Redis and keep the result on S3.",
    )
    parser.add_argument("--date", required=True, type=iso_date, help="the day, YYYY-MM-DD (UTC)")
    parser.add_argument("--hour", required=True, type=hour_of_day, help="the last hour to include, 0..23")
    parser.add_argument(
        "--top",
        type=positive_int,
        default=settings.batch.anomaly_top,
        help=f"how many articles to publish (default {settings.batch.anomaly_top})",
    )
    parser.add_argument(
        "--min-hourly-views",
        type=float,
        default=settings.batch.anomaly_min_hourly_views,
        help="volume rule: today or history must average this many views an hour "
        f"(default {settings.batch.anomaly_min_hourly_views:g})",
    )
    parser.add_argument(
        "--min-score",
        type=float,
        default=settings.batch.anomaly_min_score,
        help="publish articles whose distance is at least this many standard deviations above their "
        f"normal variability (default {settings.batch.anomaly_min_score:g})",
    )
    parser.add_argument("--no-publish", action="store_true", help="compute and store on S3, skip Redis")
    parser.add_argument(
        "--no-pruning",
        action="store_true",
        help="join every article instead of the volume rule's candidates (same result; for benchmarks)",
    )
    return parser


def anomaly_distances(
    today: DataFrame, history: DataFrame, last_hour: int, min_hourly_views: float, prune: bool = True
) -> DataFrame:
    """Every eligible article with its two vectors, its distance and its score.

    ``today``: (project, title, hour, views) rows for hours 0..last_hour;
    ``history``: the averages (project, title, h00 … h23 and the noise columns).
    Articles missing on one side count as zeros there (a full outer join, done
    on the candidates only unless ``prune`` is False, which joins everything:
    same result, slower).
    """
    hours = range(last_hour + 1)
    columns = [hour_column(h) for h in hours]
    noise = [noise_column(statistic, last_hour) for statistic in NOISE_STATISTICS]
    threshold = min_hourly_views * len(hours)
    # Candidates: an eligible article has an hour >= min_hourly_views today, or its history sum passes.
    history = history.select(*KEY, *columns, *noise)
    if prune and min_hourly_views > 0:  # with no volume rule every article is a candidate
        busy_today = today.filter(F.col("views") >= min_hourly_views).select(*KEY).distinct()
        busy_history = history.filter(row_total(columns) >= threshold).select(*KEY)
        candidates = F.broadcast(busy_today.unionByName(busy_history).distinct())
        today, history = today.join(candidates, KEY, "left_semi"), history.join(candidates, KEY, "left_semi")
    today_wide = (
        today.groupBy(*KEY)
        .agg(*wide_sum(F.col("hour"), F.col("views"), hours))
        .select(*KEY, *[F.col(c).alias(TODAY + c) for c in columns])
    )
    joined = today_wide.join(history, KEY, "full_outer").fillna(0.0)
    today_cols = [F.col(TODAY + c) for c in columns]
    history_cols = [F.col(c) for c in columns]
    term_mean, term_square, distance_mean, distance_square = (F.col(c) for c in noise)
    latest_term = canberra_term(today_cols[-1], history_cols[-1])
    floors = [hour_floor(x, y) for x, y in zip(today_cols, history_cols, strict=True)]
    day_floor = F.sqrt(running_sums([f * f for f in floors])[-1])
    return (
        joined.withColumn("distance", canberra_distance(today_cols, history_cols))
        .withColumn("today_total", row_total([TODAY + c for c in columns]))
        .withColumn("history_total", row_total(columns))
        .filter(F.greatest("today_total", "history_total") >= threshold)
        .withColumn("day_score", z_score(F.col("distance"), distance_mean, distance_square, day_floor))
        .withColumn("hour_score", z_score(latest_term, term_mean, term_square, floors[-1]))
        .select(
            *KEY,
            "distance",
            distance_mean.alias("expected_distance"),
            F.greatest("day_score", "hour_score").alias("score"),
            "day_score",
            "hour_score",
            F.array(*today_cols).alias("today"),
            F.array(*history_cols).alias("history"),
        )
    )


def published_articles(distances: DataFrame, min_score: float, top: int) -> list[AnomalousArticle]:
    """At most ``top`` articles scoring at least ``min_score``, highest first, ties by project then title."""
    rows = distances.filter(F.col("score") >= min_score).orderBy(F.desc("score"), *KEY).limit(top).collect()
    return [
        AnomalousArticle(
            rank=rank,
            project=row.project,
            title=row.title,
            distance=float(row.distance),
            today=list(row.today),
            history=list(row.history),
            expected_distance=float(row.expected_distance),
            score=float(row.score),
            day_score=float(row.day_score),
            hour_score=float(row.hour_score),
        )
        for rank, row in enumerate(rows, start=1)
    ]


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


def require_noise(pointer: AveragesPointer) -> None:
    """The scores need the noise measured on at least MIN_SCORED_DAYS days."""
    if pointer.scored_days < MIN_SCORED_DAYS:
        raise BatchError(
            f"the averages {pointer.version} have their noise measured on {pointer.scored_days} day(s); "
            f"scoring anomalies needs {MIN_SCORED_DAYS}: backfill at least {MIN_SCORED_DAYS} days "
            "or fold more days with batch/update_averages.py"
        )


def hourly_counts_paths(settings: Settings, day: str, last_hour: int) -> list[str]:
    """The hourly counts files of hours 0..last_hour of ``day``, after checking every one is there."""
    hours = range(last_hour + 1)
    require_hours(existing_hourly_counts(settings, day), [day], hours, hourly_counts_uri(settings.s3))
    return [f.path for f in hourly_counts_files(settings, day, hours)]


def read_hourly_counts(spark: SparkSession, settings: Settings, paths: list[str]) -> DataFrame:
    """(project, title, hour, views) rows of the given hourly counts files."""
    return (
        spark.read.option("basePath", hourly_counts_uri(settings.s3))
        .parquet(*paths)
        .select(*KEY, F.col("hour").cast("int").alias("hour"), F.col("views").cast("double").alias("views"))
    )


def publish(settings: Settings, snapshot: AnomalySnapshot) -> None:
    """The snapshot to S3 (top.json) and to Redis (what the site reads)."""
    from core.clients import redis_client, s3_client
    from core.snapshots import SnapshotWriter

    key = anomalies_key(settings.s3, snapshot.date, snapshot.hour, "top.json")
    s3_client(settings).put_object(
        Bucket=settings.s3.bucket, Key=key, Body=encode(snapshot).encode(), ContentType="application/json"
    )
    SnapshotWriter(redis_client(settings), settings.redis).write_anomalies(snapshot)


def main(argv: list[str] | None = None) -> int:
    settings: Settings = load_settings()
    args = build_parser(settings).parse_args(argv)
    pointer = require_pointer(settings)
    require_noise(pointer)
    paths = hourly_counts_paths(settings, args.date, args.hour)
    log.info(
        "comparing %s hours 00-%02d with averages %s (%d days, noise over %d); volume rule %g views/hour; "
        "publishing scores of at least %g",
        args.date,
        args.hour,
        pointer.version,
        pointer.days,
        pointer.scored_days,
        args.min_hourly_views,
        args.min_score,
    )
    spark = spark_session("wikitrends-anomalies", settings)
    try:
        # Anomaly lists show articles: the rule the trending list uses (core/articles.py).
        articles_only = F.expr(article_condition_sql("title", settings.articles, dialect="spark"))
        today = read_hourly_counts(spark, settings, paths).filter(articles_only)
        history = read_averages(spark, settings, pointer).filter(articles_only)
        distances = anomaly_distances(
            today, history, args.hour, args.min_hourly_views, prune=not args.no_pruning
        ).persist()
        out = f"s3a://{settings.s3.bucket}/{anomalies_key(settings.s3, args.date, args.hour, 'distances')}"
        with step(f"computing distances and scores, writing them to {out}"):
            distances.coalesce(1).write.mode("overwrite").parquet(out)
        with step(f"selecting the articles scoring at least {args.min_score:g}"):
            articles = published_articles(distances, args.min_score, args.top)
            compared = distances.count()
        snapshot = AnomalySnapshot(
            date=args.date,
            hour=args.hour,
            hour_start=hour_start_ms(args.date, args.hour),
            computed_at=int(time.time() * 1000),
            articles=articles,
            min_score=args.min_score,
            compared=compared,
        )
        for a in articles:
            log.info(
                "#%d %s %s: distance %.3f (expected %.3f), score %.1f",
                a.rank,
                a.project,
                a.title,
                a.distance,
                a.expected_distance,
                a.score,
            )
        outcome = f"{len(articles)} of {compared} compared articles score at least {args.min_score:g}"
        if args.no_publish:
            log.info("%s; not published (--no-publish)", outcome)
        else:
            publish(settings, snapshot)
            log.info("%s; published them to Redis and S3", outcome)
    finally:
        spark.stop()
    return EXIT_OK


if __name__ == "__main__":
    run_job(main)
