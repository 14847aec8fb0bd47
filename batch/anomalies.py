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
far, or its latest hour, is above what its past days produced, counted only
where its views are also unlikely as counting noise (``[batch]
anomaly_min_poisson_z``). Only articles scoring at least ``[batch]
anomaly_min_score`` are published, at most K, by score: an hour without a
real anomaly publishes an empty list.

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
from dataclasses import replace
from pathlib import Path

if __package__ in (None, ""):  # run as a script by spark-submit: make core and batch importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from batch.anomaly_scores import anomaly_distances, published_articles
from batch.cli import EXIT_OK, hour_of_day, iso_date, positive_int, run_job, step
from batch.spark import job_session
from batch.storage import (
    AveragesPointer,
    BatchError,
    hour_start_ms,
    hourly_counts_paths,
    read_access_counts,
    read_averages,
    read_hourly_counts,
    require_pointer,
)
from core.anomalies import (
    MIN_SCORED_DAYS,
)
from core.articles import article_condition_sql
from core.automated import mobile_share_up_to
from core.config import Settings, load_settings
from core.contracts import anomalies_key, anomaly_distances_uri
from core.snapshots import AnomalousArticle, AnomalySnapshot, encode

log = logging.getLogger("batch.anomalies")


def build_parser(settings: Settings) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="anomalies.py",
        description="Rank articles by the Canberra distance between today's hourly views (hours 0..H) and "
        "their historical averages; publish the top ones to Redis and keep the result on S3.",
    )
    parser.add_argument(
        "--date", required=True, nargs="+", type=iso_date, help="the day, YYYY-MM-DD (UTC); several: each"
    )
    parser.add_argument("--hour", required=True, type=hour_of_day, help="the last hour to include, 0..23")
    parser.add_argument(
        "--from-hour",
        type=hour_of_day,
        help="also publish the lists of this hour to --hour, each as its own hourly run would have "
        "(catching up missed hours; benchmarks); default: --hour only",
    )
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
    parser.add_argument(
        "--min-poisson-z",
        type=float,
        default=settings.batch.anomaly_min_poisson_z,
        help="... each part of the score counted only when the views are this many standard deviations of "
        f"counting noise from the average (default {settings.batch.anomaly_min_poisson_z:g})",
    )
    parser.add_argument("--no-publish", action="store_true", help="compute and store on S3, skip Redis")
    parser.add_argument(
        "--no-pruning",
        action="store_true",
        help="join every article instead of the volume rule's candidates (same result; for benchmarks)",
    )
    return parser


def require_noise(pointer: AveragesPointer) -> None:
    """The scores need the noise measured on at least MIN_SCORED_DAYS days."""
    if pointer.scored_days < MIN_SCORED_DAYS:
        raise BatchError(
            f"the averages {pointer.version} have their noise measured on {pointer.scored_days} day(s); "
            f"scoring anomalies needs {MIN_SCORED_DAYS}: backfill at least {MIN_SCORED_DAYS} days "
            "or fold more days with batch/update_averages.py"
        )


def publish(settings: Settings, snapshots: list[AnomalySnapshot]) -> None:
    """Each snapshot to S3 (its hour's top.json) and to Redis (what the site reads), in hour order, and
    the TRAFFIC_SPIKE alerts of watched articles new on it (stores/traffic_alerts.py)."""
    from stores.clients import redis_client, s3_client
    from stores.snapshots import SnapshotWriter
    from stores.traffic_alerts import AnomalyAlerts

    client = redis_client(settings)
    s3, writer = s3_client(settings), SnapshotWriter(client, settings.redis)
    alerts = AnomalyAlerts(client, settings)
    for snapshot in sorted(snapshots, key=lambda s: s.hour_start):
        key = anomalies_key(settings.s3, snapshot.date, snapshot.hour, "top.json")
        body = encode(snapshot).encode()
        s3.put_object(Bucket=settings.s3.bucket, Key=key, Body=body, ContentType="application/json")
        writer.write_anomalies(snapshot)
        for alert in alerts.publish(snapshot):
            log.info("TRAFFIC_SPIKE on %s %s (%s)", alert.project, alert.title, alert.entity)
    alerts.close()


def write_distances(settings: Settings, day: str, distances: DataFrame) -> None:
    """Every compared article's row under its date and hour; other hours' results stay as they are."""
    (
        distances.withColumn("date", F.lit(day))
        .withColumn("hour", F.format_string("%02d", "hour"))
        .repartition("hour")
        .write.partitionBy("date", "hour")
        .mode("overwrite")
        .option("partitionOverwriteMode", "dynamic")
        .parquet(anomaly_distances_uri(settings.s3))
    )


def with_mobile_share(article: AnomalousArticle, access: dict, hour: int) -> AnomalousArticle:
    """The item with the mobile site's share of its views of known access in hours 0..``hour``."""
    share = mobile_share_up_to(access.get((article.project, article.title), {}), hour)
    return replace(article, mobile_share=None if share is None else round(share, 4))


def score_day(
    settings: Settings,
    args: argparse.Namespace,
    day: str,
    today: DataFrame,
    history: DataFrame,
    paths: list[str],
) -> list[AnomalySnapshot]:
    """Score hours --from-hour..--hour of one day (``today``, read from ``paths``); the distances go to
    S3, the snapshots are returned."""
    scored_hours = list(range(args.from_hour, args.hour + 1))
    distances = anomaly_distances(
        today, history, scored_hours, args.min_hourly_views, args.min_poisson_z, prune=not args.no_pruning
    ).persist()
    hours = (
        f"{day} hour {args.hour:02d}"
        if len(scored_hours) == 1
        else f"{day} hours {args.from_hour:02d}-{args.hour:02d}"
    )
    with step(
        f"{hours}: computing distances and scores, writing them to {anomaly_distances_uri(settings.s3)}"
    ):
        write_distances(settings, day, distances)
    with step(f"{hours}: selecting the articles scoring at least {args.min_score:g}"):
        published = published_articles(distances, args.min_score, args.top)
        compared = dict(distances.groupBy("hour").count().collect())
    distances.unpersist()
    listed = {(a.project, a.title) for items in published.values() for a in items}
    access = read_access_counts(today.sparkSession, settings, paths, listed)
    snapshots = []
    for hour in scored_hours:
        articles = [
            with_mobile_share(a, access.get((a.project, a.title), {}), hour) for a in published.get(hour, [])
        ]
        snapshots.append(
            AnomalySnapshot(
                date=day,
                hour=hour,
                hour_start=hour_start_ms(day, hour),
                computed_at=int(time.time() * 1000),
                articles=articles,
                min_score=args.min_score,
                compared=compared.get(hour, 0),
                min_poisson_z=args.min_poisson_z,
            )
        )
        for a in articles:
            log.info(
                "%s %02d:00 #%d %s %s: distance %.3f (expected %.3f), score %.1f; "
                "counts %.1f sd of Poisson noise from the average this hour, up to %.1f today",
                day,
                hour,
                a.rank,
                a.project,
                a.title,
                a.distance,
                a.expected_distance,
                a.score,
                a.hour_poisson_z,
                a.day_poisson_z,
            )
        log.info(
            "%s %02d:00: %d of %d compared articles score at least %g",
            day,
            hour,
            len(articles),
            compared.get(hour, 0),
            args.min_score,
        )
    return snapshots


def main(argv: list[str] | None = None) -> int:
    settings: Settings = load_settings()
    parser = build_parser(settings)
    args = parser.parse_args(argv)
    if args.from_hour is None:
        args.from_hour = args.hour
    if args.from_hour > args.hour:
        parser.error(f"--from-hour {args.from_hour} is after --hour {args.hour}")
    pointer = require_pointer(settings)
    require_noise(pointer)
    # Every input is checked before Spark starts.
    paths = {day: hourly_counts_paths(settings, day, args.hour) for day in args.date}
    log.info(
        "comparing %s, hours 00-%02d, with averages %s (%d days, noise over %d); volume rule %g views/hour; "
        "publishing scores of at least %g (counts at least %g sd from the average) for hour(s) %02d-%02d",
        ", ".join(args.date),
        args.hour,
        pointer.version,
        pointer.days,
        pointer.scored_days,
        args.min_hourly_views,
        args.min_score,
        args.min_poisson_z,
        args.from_hour,
        args.hour,
    )
    with job_session("wikitrends-anomalies", settings) as spark:
        # Anomaly lists show articles: the rule the trending list uses (core/articles.py).
        articles_only = F.expr(article_condition_sql("title", settings.articles, dialect="spark"))
        history = read_averages(spark, settings, pointer).filter(articles_only)
        if len(args.date) > 1:
            history = history.persist()  # read once for all the days
        for day in args.date:
            today = read_hourly_counts(spark, settings, paths[day]).filter(articles_only)
            snapshots = score_day(settings, args, day, today, history, paths[day])
            if args.no_publish:
                log.info("%s: not published (--no-publish)", day)
            else:
                publish(settings, snapshots)
                log.info("%s: published %d hour(s) to Redis and S3", day, len(snapshots))
    return EXIT_OK


if __name__ == "__main__":
    run_job(main)
