"""The streaming job: sliding window counts, ten rotating topics, trending to Redis, hourly counts to S3.

Submit it to a Flink cluster:

    deploy/local/flink run -d -py streaming/job.py                   # the local stack
    flink run -m jobmanager:8081 -pyfs core,streaming -py streaming/job.py [options]

Stage 1 (per event, in the JVM): pageviews -> parse and validate -> views per
article and minute; bad and late events to the dead-letter topic.
Stage 2 (per minute count, in the JVM): 10-minute windows sliding every minute
to pageviews-windows-{d}, and from the same operator the trending candidates'
hours; each wiki's hour; hourly sums. Python sees only the candidates (a few thousand
a minute, judged by core/trending.py before each minute's list goes to Redis)
and a few blocks of each hour's counts (to S3). The two stages are
joined through a DataStream so that the topic is read once. Why this shape,
and its figures: streaming/sql.py and the README.

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

from core.config import ConfigError, Settings, load_settings
from core.trending import EARLIER_MS
from core.windows import MINUTE_MS, WINDOW_MS, WINDOW_TOPIC_COUNT, WINDOWS_PER_HOUR
from streaming import sql, tables
from streaming.publish import PublishHourlyCounts, PublishTrending


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="flink run -py streaming/job.py",
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
        "--explain", action="store_true", help="print the stage plans and exit without running"
    )
    return parser.parse_args(argv)


def build(
    settings: Settings, args: argparse.Namespace
) -> tuple[StreamExecutionEnvironment, StreamTableEnvironment]:
    """Lay out the whole job; nothing runs until execute()."""
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
    env.enable_checkpointing(s.checkpoint_interval_seconds * 1000, CheckpointingMode.EXACTLY_ONCE)
    checkpoints = env.get_checkpoint_config()
    checkpoints.set_min_pause_between_checkpoints(s.checkpoint_interval_seconds * 500)
    checkpoints.set_checkpoint_timeout(s.checkpoint_timeout_seconds * 1000)
    t_env = StreamTableEnvironment.create(env)
    table_config = t_env.get_config()
    table_config.set("table.local-time-zone", "UTC")
    table_config.set("table.exec.source.idle-timeout", f"{s.idle_timeout_seconds} s")
    table_config.set("pipeline.name", args.job_name)

    # Stage 1: the topic is read once; minute counts and dead letters leave as one stream.
    t_env.create_java_temporary_system_function(sql.PAYLOAD_FIELD, sql.PAYLOAD_FIELD_CLASS)
    t_env.execute_sql(tables.source_table(settings, args.startup, args.bounded))
    t_env.execute_sql(sql.checked_events_view())
    t_env.execute_sql(sql.valid_events_view())
    stage_one = t_env.to_data_stream(t_env.sql_query(sql.stage_one_query()))
    t_env.create_temporary_view(
        sql.STAGE_ONE,
        t_env.from_data_stream(
            stage_one,
            Schema.new_builder()
            .column_by_metadata("row_time", "TIMESTAMP_LTZ(3)", "rowtime")
            .watermark("row_time", "SOURCE_WATERMARK()")
            .build(),
        ),
    )
    t_env.execute_sql(sql.minute_counts_view())

    # Stage 2: window topics and dead letters (exactly-once Kafka), trending, hourly counts.
    write_window_topics(window_stage(t_env, settings), settings)
    trending = trending_table(t_env, settings)
    t_env.execute_sql(tables.dead_letter_sink_table(settings))
    sinks = t_env.create_statement_set()
    sinks.add_insert_sql(sql.insert_dead_letters())
    sinks.attach_as_datastream()

    (
        t_env.to_data_stream(trending)
        .key_by(lambda row: row.minute_ms, key_type=Types.LONG())
        .process(PublishTrending(settings))
        .name("publish trending lists to Redis")
        .uid("publish-trending")
    )
    (
        t_env.to_data_stream(t_env.sql_query(sql.hourly_counts_query()))
        .key_by(lambda row: row.hour_start_ms, key_type=Types.LONG())
        .process(PublishHourlyCounts(settings))
        .name("publish hourly counts to S3")
        .uid("publish-hourly-counts")
    )
    return env, t_env


def window_stage(t_env: StreamTableEnvironment, settings: Settings) -> DataStream:
    """The window rows from the registered ``minute_counts``; registers ``CANDIDATE_HOURS`` on the way.

    Both come from one JVM operator (streaming/jvm): the sliding windows, which the window topics
    take, and the trending candidates' hours, whose event time (the window's last millisecond) and
    the upstream watermarks come back to SQL through the DataStream.
    """
    minute_counts = t_env.to_data_stream(t_env.sql_query(sql.minute_counts_query()))
    windows, candidate_hours = sliding_windows(minute_counts, settings.streaming.trending_min_volume)
    t_env.create_temporary_view(
        sql.CANDIDATE_HOURS,
        t_env.from_data_stream(
            candidate_hours,
            Schema.new_builder()
            .column_by_metadata("w_time", "TIMESTAMP_LTZ(3)", "rowtime")
            .watermark("w_time", "SOURCE_WATERMARK()")
            .build(),
        ),
    )
    return windows


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


def trending_table(t_env: StreamTableEnvironment, settings: Settings) -> Table:
    """What the trending publisher judges, from ``CANDIDATE_HOURS`` and the wikis' minute totals."""
    t_env.execute_sql(sql.site_minutes_view())
    return t_env.sql_query(sql.trending_query(settings))


def sliding_windows(minute_counts: DataStream, candidate_min_views: int) -> tuple[DataStream, DataStream]:
    """The 10-minute windows sliding every minute, and the trending candidates' hours.

    From minute counts (project, title, minute_ms, view_count): window rows (project, title,
    window_start, window_end, topic_digit, count), one per article and window with views; and for
    each window with at least ``candidate_min_views`` views, its hour (project, title, minute_ms,
    c1..c6, earlier; core/trending.py). Each row's event time is its window's last millisecond. The
    work is done by streaming/jvm/src/main/java/wikitrends/streaming/SlidingWindowCounts.java (its
    jar ships with the job): Flink SQL's HOP aggregation was the job's bottleneck, and a join for
    the candidates' hours kept a second copy of every minute count (docs/streaming.md).
    """
    operators = get_gateway().jvm.wikitrends.streaming.SlidingWindowCounts
    hour = operators.CandidateHours(WINDOWS_PER_HOUR, EARLIER_MS, candidate_min_views)
    windows = operators.windows(minute_counts._j_data_stream, WINDOW_MS, MINUTE_MS, WINDOW_TOPIC_COUNT, hour)
    return DataStream(windows), DataStream(operators.candidateHours(windows, hour))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = load_settings()
    try:
        settings.stack.required_jars("flink")
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 2
    env, t_env = build(settings, args)
    if args.explain:
        print(t_env.explain_sql(sql.stage_one_query()))
        print(t_env.explain_sql(sql.trending_query(settings)))
        print(t_env.explain_sql(sql.hourly_counts_query()))
        return 0
    env.execute(args.job_name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
