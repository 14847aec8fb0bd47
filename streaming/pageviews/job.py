"""The page-view job: sliding window counts, ten rotating topics, trending to Redis, hourly counts to S3.

Submit it to a Flink cluster:

    deploy/local/flink run -d -py streaming/pageviews/job.py                 # the local stack
    flink run -m jobmanager:8081 -pyfs core,stores,streaming -py streaming/pageviews/job.py [options]

``build`` composes it as drawn here, each step a function taking and returning tables or streams:

    pageviews (Kafka)
      -> page_requests         streaming/jvm's PageRequests: each event parsed and checked once, its
                                 event time and watermarks from the source -> one view of its article
                                 bad and late events                       -> dead-letter topic
      -> sliding_windows       streaming/jvm's SlidingWindowCounts, keyed by article, counting minutes:
                                 10-minute windows sliding every minute          -> pageviews-windows-{d}
                                 each trending candidate's hour (c1..c6, earlier) -> candidate_hours
                                 each wiki's views per minute                     -> site_minutes
                                 each article's hour, once it has passed, in blocks -> hourly_counts
      -> trending              candidates' hours beside their wikis' hours, a few blocks a minute
                                 -> publish_trending: core/trending.py's rule, the minute's list to Redis
                                 -> publish_traffic_alerts: watched articles' rises, TRAFFIC_SPIKE to the
                                    alerts topic and Redis (streaming/pageviews/traffic.py)
      -> publish_hourly_counts  the hour's blocks: one Parquet object per hour to S3

All per-record work stays in the JVM, in DataStream operators of our own up to the window
operator: no SQL rows between the source and the windows (docs/streaming.md "Throughput"). What
comes out of the window operator beside the windows is a few rows a minute (candidates, wikis) or
one per article an hour, and crosses into SQL once with its event time; the two Python publishers
see only a few blocks of them.

Guarantees: checkpoints (exactly-once mode) to the configured checkpoint
storage; Kafka sinks are transactional (exactly-once: consumers read with
isolation.level=read_committed); the Redis and S3 writes are idempotent per
minute and per hour, so a replay after a restart rewrites the same content.
"""

from __future__ import annotations

import argparse
import sys
from typing import NamedTuple

from pyflink.common import Configuration
from pyflink.common.typeinfo import Types
from pyflink.datastream import CheckpointingMode, DataStream, StreamExecutionEnvironment
from pyflink.java_gateway import get_gateway
from pyflink.table import Schema, StreamTableEnvironment, Table

from core.config import Settings
from core.trending import EARLIER_MS
from core.windows import HOUR_MS, MINUTE_MS, WINDOW_MS, WINDOW_TOPIC_COUNT, WINDOWS_PER_HOUR
from streaming.flink_jobs import job_settings
from streaming.pageviews import sql, tables
from streaming.pageviews.publish import PublishHourlyCounts, PublishTrending
from streaming.pageviews.traffic import publish_traffic_alerts

# An hour's counts reach the S3 publisher as at most this many text blocks per window subtask (JSON
# arrays, one per article): a few large rows an hour instead of millions.
HOURLY_BLOCKS = 64


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="flink run -py streaming/pageviews/job.py",
        description="Count Wikipedia page requests in 10-minute windows sliding every minute, write each "
        "window to pageviews-windows-{d}, publish trending articles to Redis every minute and hourly "
        "counts to S3. Settings come from configs/ (WIKITRENDS_* environment variables override).",
    )
    parser.add_argument(
        "--startup",
        choices=["group-offsets", "earliest-offset", "latest-offset"],
        default="group-offsets",
        help="where to start reading pageviews when there is no checkpoint; group-offsets "
        "falls back to the earliest offset for a new group (default)",
    )
    parser.add_argument("--parallelism", type=int, help="default: [flink] parallelism")
    parser.add_argument(
        "--job-name", default="wikitrends-streaming", help="name shown in Flink (default %(default)s)"
    )
    parser.add_argument(
        "--bounded",
        action="store_true",
        help="read only what the topic holds at start, then finish (benchmarks, backfills)",
    )
    parser.add_argument(
        "--explain", action="store_true", help="print the job's plan (JSON of its operators) and exit"
    )
    return parser.parse_args(argv)


class WindowStage(NamedTuple):
    """What the window operator gives: its window rows and, with their event time, its side outputs."""

    windows: DataStream
    candidate_hours: Table
    site_minutes: Table
    hourly_counts: Table


def build(
    settings: Settings, args: argparse.Namespace
) -> tuple[StreamExecutionEnvironment, StreamTableEnvironment]:
    """Lay out the whole job as the module docstring draws it; nothing runs until execute()."""
    env, t_env = environments(settings, args)
    views = tables.read_page_requests(env, settings, args.startup, args.bounded)
    stage = sliding_windows(t_env, DataStream(views), settings.streaming.trending_min_volume)
    write_window_topics(stage.windows, settings)
    write_dead_letters(t_env, tables.dead_letters(views), settings)
    listed = publish_trending(t_env, trending(t_env, stage, settings), settings)
    publish_traffic_alerts(listed, settings)
    publish_hourly_counts(t_env, stage.hourly_counts, settings)
    return env, t_env


def environments(
    settings: Settings, args: argparse.Namespace
) -> tuple[StreamExecutionEnvironment, StreamTableEnvironment]:
    """The job's environments: state backend, exactly-once checkpoints, UTC, the JVM jars."""
    s = settings.streaming
    env = StreamExecutionEnvironment.get_execution_environment(
        Configuration()
        .set_string("pipeline.name", args.job_name)
        # State is counters of the last hour: on the heap ~5x faster than RocksDB (docs/streaming.md).
        .set_string("state.backend.type", s.state_backend)
        .set_string("pipeline.object-reuse", "true")
        # A cancelled or failed job keeps its newest checkpoint: `make run` resumes from it.
        .set_string("execution.checkpointing.externalized-checkpoint-retention", "RETAIN_ON_CANCELLATION")
    )
    env.add_jars(*settings.stack.jar_uris("flink"))
    env.set_parallelism(args.parallelism or settings.flink.parallelism)
    # Key groups: the most subtasks its state can ever be rescaled to (kept by every savepoint).
    env.set_max_parallelism(settings.flink.max_parallelism)
    env.enable_checkpointing(s.checkpoint_interval_seconds * 1000, CheckpointingMode.EXACTLY_ONCE)
    checkpoints = env.get_checkpoint_config()
    checkpoints.set_min_pause_between_checkpoints(s.checkpoint_interval_seconds * 500)
    checkpoints.set_checkpoint_timeout(s.checkpoint_timeout_seconds * 1000)
    t_env = StreamTableEnvironment.create(env)
    table_config = t_env.get_config()
    table_config.set("table.local-time-zone", "UTC")
    table_config.set("table.exec.source.idle-timeout", f"{s.idle_timeout_seconds} s")
    table_config.set("pipeline.name", args.job_name)
    return env, t_env


def with_event_time(t_env: StreamTableEnvironment, stream: DataStream, column: str) -> Table:
    """``stream`` back in SQL with its records' timestamps as the event-time column ``column`` and the
    watermarks it carries from upstream."""
    return t_env.from_data_stream(
        stream,
        Schema.new_builder()
        .column_by_metadata(column, "TIMESTAMP_LTZ(3)", "rowtime")
        .watermark(column, "SOURCE_WATERMARK()")
        .build(),
    )


def sliding_windows(
    t_env: StreamTableEnvironment, views: DataStream, candidate_min_views: int
) -> WindowStage:
    """The 10-minute windows sliding every minute, the trending candidates' hours, each wiki's
    minutes and each article's hours, from views (project, title, minute_ms, view_count,
    desktop_count, mobile_count; a minute count of any size, before the watermark passes its event
    time).

    Window rows (project, title, window_start, window_end, topic_digit, count): one per article and
    window with views. For each window with at least ``candidate_min_views`` views, its hour
    (project, title, minute_ms, c1..c6, earlier, desktop, mobile; core/trending.py) with event time
    ``w_time``, the window's last millisecond. One JVM operator does it all
    (streaming/jvm/src/main/java/wikitrends/streaming/SlidingWindowCounts.java, its jar shipped
    with the job): Flink SQL's HOP aggregation was the job's bottleneck, a join for the candidates'
    hours kept a second copy of every minute count, and minute counts in SQL cost more in row
    conversions than they saved (docs/streaming.md).
    """
    operators = get_gateway().jvm.wikitrends.streaming.SlidingWindowCounts
    hour = get_gateway().jvm.wikitrends.streaming.CandidateHours(
        WINDOWS_PER_HOUR, EARLIER_MS, candidate_min_views
    )
    windows = operators.windows(
        views._j_data_stream, WINDOW_MS, MINUTE_MS, WINDOW_TOPIC_COUNT, hour, HOUR_MS, HOURLY_BLOCKS
    )
    return WindowStage(
        windows=DataStream(windows),
        candidate_hours=with_event_time(t_env, DataStream(operators.candidateHours(windows, hour)), "w_time"),
        site_minutes=with_event_time(t_env, DataStream(operators.siteMinutes(windows)), "row_time"),
        hourly_counts=with_event_time(t_env, DataStream(operators.hourlyCounts(windows)), "rowtime"),
    )


def write_window_topics(windows: DataStream, settings: Settings) -> None:
    """The window rows to pageviews-windows-{d}, exactly-once, by streaming/jvm's WindowTopics.

    JSON of the topic contract (docs/architecture.md) written in the JVM from the operator's rows:
    a SQL sink cost two row conversions and Flink's JSON format per row (docs/streaming.md).
    """
    gateway = get_gateway()
    producer = gateway.jvm.java.util.Properties()
    for key, value in tables.window_topics_producer(settings).items():
        producer.setProperty(key, value)
    gateway.jvm.wikitrends.streaming.WindowTopics.write(
        windows._j_data_stream,
        settings.kafka.windows_topic_prefix,
        tables.transactional_id_prefix("windows"),
        producer,
    )


def write_dead_letters(t_env: StreamTableEnvironment, dead_letters: DataStream, settings: Settings) -> None:
    """The bad and late events (payload, reason) to the dead-letter topic, cut to size, exactly-once."""
    t_env.execute_sql(tables.dead_letter_sink_table(settings))
    sinks = t_env.create_statement_set()
    sinks.add_insert(
        tables.DEAD_LETTER_SINK, t_env.sql_query(sql.dead_letters_query(t_env.from_data_stream(dead_letters)))
    )
    sinks.attach_as_datastream()


def trending(t_env: StreamTableEnvironment, stage: WindowStage, settings: Settings) -> Table:
    """What the trending publisher judges each minute: the candidates' hours beside their wikis' hours."""
    site_minutes = t_env.sql_query(sql.site_minutes_query(stage.site_minutes))
    return t_env.sql_query(sql.trending_query(stage.candidate_hours, site_minutes, settings))


def publish_trending(t_env: StreamTableEnvironment, trending: Table, settings: Settings) -> DataStream:
    """Each minute's list, judged by core/trending.py, to Redis once event time passes the minute; the
    articles of each list written, as (minute, TrendingArticle).

    One subtask: the minutes are then published, and their articles sent on, in event-time order, so
    each article's listings reach its TRAFFIC_SPIKE state in order (a rise starts where it starts).
    A minute's list is a few thousand candidates judged once; one subtask keeps up with ease.
    """
    published = publish(
        t_env,
        trending,
        "minute_ms",
        PublishTrending(settings),
        "publish trending lists to Redis",
        "publish-trending",
    )
    return published.set_parallelism(1)


def publish_hourly_counts(t_env: StreamTableEnvironment, hourly_counts: Table, settings: Settings) -> None:
    """Each hour's counts (hour_start_ms, block, lines) as one Parquet object on S3 once event time
    passes the hour."""
    publish(
        t_env,
        hourly_counts,
        "hour_start_ms",
        PublishHourlyCounts(settings),
        "publish hourly counts to S3",
        "publish-hourly-counts",
    )


def publish(
    t_env: StreamTableEnvironment, rows: Table, key: str, publisher, name: str, uid: str
) -> DataStream:
    """``rows`` keyed by their ``key`` column (a minute or an hour) into a gathering Python publisher
    (streaming/gather.py); ``uid`` keeps its state across savepoints. What it publishes, downstream."""
    return (
        t_env.to_data_stream(rows)
        .key_by(lambda row: row[key], key_type=Types.LONG())
        .process(publisher)
        .name(name)
        .uid(uid)
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    env, _ = build(job_settings(), args)
    if args.explain:
        print(env.get_execution_plan())
        return 0
    env.execute(args.job_name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
