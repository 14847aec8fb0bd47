"""The page-view job: sliding window counts, ten rotating topics, trending to Redis, hourly counts to S3.

Submit it to a Flink cluster:

    deploy/local/flink run -d -py streaming/pageviews/job.py                 # the local stack
    flink run -m jobmanager:8081 -pyfs core,stores,streaming -py streaming/pageviews/job.py [options]

``build`` composes it as drawn here, each step a function taking and returning tables or streams:

    pageviews (Kafka, raw JSON strings; event time from ``ts``)
      -> parse_and_count       stage 1, SQL in the JVM: views per article and minute -> minute_counts
                                                         bad and late events         -> dead-letter topic
      -> sliding_windows       stage 2, streaming/jvm's SlidingWindowCounts:
                                 10-minute windows sliding every minute          -> pageviews-windows-{d}
                                 each trending candidate's hour (c1..c6, earlier) -> candidate_hours
      -> site_minutes          each wiki's views per minute (the rhythm articles are judged against)
      -> trending              candidates' hours beside their wikis' hours, a few blocks a minute
                                 -> publish_trending: core/trending.py's rule, the minute's list to Redis
                                 -> publish_traffic_alerts: watched articles' rises, TRAFFIC_SPIKE to the
                                    alerts topic and Redis (streaming/pageviews/traffic.py)
      -> hourly_counts         each article's hour, a few blocks an hour
                                 -> publish_hourly_counts: one Parquet object per hour to S3

All per-record work stays in the JVM; Python sees only the candidates (a few
thousand a minute) and a few blocks of each hour's counts. Three places cross
between SQL and DataStreams, each for a reason: stage 1's one stream is split
after a round trip so that the topic is read once; the minute counts go to the
JVM operator and its candidates come back to SQL with their event time; and the
two Python publishers take DataStreams. Why this shape, and its figures:
streaming/pageviews/sql.py and docs/streaming.md.

Guarantees: checkpoints (exactly-once mode) to the configured checkpoint
storage; Kafka sinks are transactional (exactly-once: consumers read with
isolation.level=read_committed); the Redis and S3 writes are idempotent per
minute and per hour, so a replay after a restart rewrites the same content.
"""

from __future__ import annotations

import argparse
import sys

from pyflink.common import Configuration
from pyflink.common.typeinfo import Types
from pyflink.datastream import CheckpointingMode, DataStream, StreamExecutionEnvironment
from pyflink.java_gateway import get_gateway
from pyflink.table import Schema, StreamTableEnvironment, Table

from core.config import Settings
from core.trending import EARLIER_MS
from core.windows import MINUTE_MS, WINDOW_MS, WINDOW_TOPIC_COUNT, WINDOWS_PER_HOUR
from streaming.flink_jobs import job_settings
from streaming.pageviews import sql, tables
from streaming.pageviews.publish import PublishHourlyCounts, PublishTrending
from streaming.pageviews.traffic import publish_traffic_alerts


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


def build(
    settings: Settings, args: argparse.Namespace
) -> tuple[StreamExecutionEnvironment, StreamTableEnvironment]:
    """Lay out the whole job as the module docstring draws it; nothing runs until execute()."""
    env, t_env = environments(settings, args)
    minute_counts, dead_letters = parse_and_count(t_env, pageviews(t_env, settings, args))
    windows, candidate_hours = sliding_windows(t_env, minute_counts, settings.streaming.trending_min_volume)
    write_window_topics(windows, settings)
    write_dead_letters(t_env, dead_letters, settings)
    wikis = site_minutes(t_env, minute_counts)
    listed = publish_trending(t_env, trending(t_env, candidate_hours, wikis, settings), settings)
    publish_traffic_alerts(listed, settings)
    publish_hourly_counts(t_env, hourly_counts(t_env, minute_counts), settings)
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
    t_env.create_java_temporary_system_function(sql.PAYLOAD_FIELD, sql.PAYLOAD_FIELD_CLASS)
    return env, t_env


def pageviews(t_env: StreamTableEnvironment, settings: Settings, args: argparse.Namespace) -> Table:
    """The ``pageviews`` topic as raw strings, with each event's time and watermarks."""
    t_env.execute_sql(tables.source_table(settings, args.startup, args.bounded))
    return t_env.from_path(tables.PAGEVIEWS_RAW)


def parse_and_count(t_env: StreamTableEnvironment, events: Table) -> tuple[Table, Table]:
    """Stage 1: views per article and minute, and the bad or late events, from one read of the topic.

    Both leave the SQL as one stream (``stage_one_query``) that is split after a DataStream round
    trip: planned separately, each would read the topic again. The minute counts keep their event
    time (``row_time``, the minute's last millisecond) and the upstream watermarks.
    """
    checked = t_env.sql_query(sql.checked_events_query(events))
    valid = t_env.sql_query(sql.valid_events_query(checked))
    stage_one = with_event_time(
        t_env, t_env.to_data_stream(t_env.sql_query(sql.stage_one_query(checked, valid))), "row_time"
    )
    minute_counts = t_env.sql_query(sql.minute_counts_query(stage_one))
    return minute_counts, t_env.sql_query(sql.dead_letters_query(stage_one))


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
    t_env: StreamTableEnvironment, minute_counts: Table, candidate_min_views: int
) -> tuple[DataStream, Table]:
    """Stage 2: the 10-minute windows sliding every minute, and the trending candidates' hours.

    From minute counts (project, title, minute_ms, view_count): window rows (project, title,
    window_start, window_end, topic_digit, count), one per article and window with views; and for
    each window with at least ``candidate_min_views`` views, its hour (project, title, minute_ms,
    c1..c6, earlier; core/trending.py) as a table whose event time (``w_time``) is the window's last
    millisecond. One JVM operator does both
    (streaming/jvm/src/main/java/wikitrends/streaming/SlidingWindowCounts.java, its jar shipped
    with the job): Flink SQL's HOP aggregation was the job's bottleneck, and a join for the
    candidates' hours kept a second copy of every minute count (docs/streaming.md).
    """
    counts = t_env.to_data_stream(t_env.sql_query(sql.without_time_query(minute_counts)))
    operators = get_gateway().jvm.wikitrends.streaming.SlidingWindowCounts
    hour = operators.CandidateHours(WINDOWS_PER_HOUR, EARLIER_MS, candidate_min_views)
    windows = operators.windows(counts._j_data_stream, WINDOW_MS, MINUTE_MS, WINDOW_TOPIC_COUNT, hour)
    candidate_hours = with_event_time(t_env, DataStream(operators.candidateHours(windows, hour)), "w_time")
    return DataStream(windows), candidate_hours


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


def write_dead_letters(t_env: StreamTableEnvironment, dead_letters: Table, settings: Settings) -> None:
    """The bad and late events to the dead-letter topic, exactly-once."""
    t_env.execute_sql(tables.dead_letter_sink_table(settings))
    sinks = t_env.create_statement_set()
    sinks.add_insert(tables.DEAD_LETTER_SINK, dead_letters)
    sinks.attach_as_datastream()


def site_minutes(t_env: StreamTableEnvironment, minute_counts: Table) -> Table:
    """Each wiki's total views per minute: the rhythm its articles are judged against."""
    return t_env.sql_query(sql.site_minutes_query(minute_counts))


def trending(
    t_env: StreamTableEnvironment, candidate_hours: Table, site_minutes: Table, settings: Settings
) -> Table:
    """What the trending publisher judges each minute: the candidates' hours beside their wikis' hours."""
    return t_env.sql_query(sql.trending_query(candidate_hours, site_minutes, settings))


def hourly_counts(t_env: StreamTableEnvironment, minute_counts: Table) -> Table:
    """Each article's views per hour, in a few blocks per hour (the S3 publisher's input)."""
    return t_env.sql_query(sql.hourly_counts_query(minute_counts))


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
    """Each hour's counts as one Parquet object on S3 once event time passes the hour."""
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
