"""The edit job: Wikimedia edits -> per-article edit activity and watch-list alerts (issue 10).

Submit it beside the page-request job:

    deploy/local/flink run -d -py streaming/edits/job.py
    flink run -m jobmanager:8081 -pyfs core,stores,streaming -py streaming/edits/job.py [options]

    edits (Kafka, raw recentchange JSON)
      -> parse, match the watch list (normalised titles; changes made through the API are picked up
         within [edits] watchlist_poll_seconds), mark bots' edits: the flag, else the bot detector's
         newest lists on S3 (listed or detected; looked for every [bots] filter_poll_seconds)
                                                     -> malformed events: edits-dead-letter
      -> edits to watched entities, keyed by entity: LARGE_EDIT, BOT_EDIT, RAPID_EDIT (event time)
      -> reverts, keyed by article: EDIT_WAR
      -> alerts: edit-alerts (Kafka, exactly-once) and Redis
      -> every edit and alert, gathered per minute of event time: Redis (stores/edits.py)

Event time is the event's own (``meta.dt``), read with the watermarks by the source in the JVM
(streaming/jvm's EditTimes), so that the parse sends each edit to its branches itself and every
edit enters Python once before its publisher. Guarantees: checkpoints in
exactly-once mode; the Kafka sinks are transactional; the Redis writes are
idempotent (the same event gives the same member), so a replay after a
restart rewrites what is there.
"""

from __future__ import annotations

import argparse
import sys

from pyflink.common import Configuration, WatermarkStrategy
from pyflink.common.serialization import SimpleStringSchema
from pyflink.common.typeinfo import Types
from pyflink.datastream import (
    CheckpointingMode,
    StreamExecutionEnvironment,
)
from pyflink.datastream.connectors.kafka import KafkaOffsetsInitializer, KafkaSource
from pyflink.java_gateway import get_gateway

from core.config import Settings
from core.edit_rules import war_key
from stores.edits import encode_alert
from streaming.edits.operators import (
    DEAD_LETTERS,
    REVERTS,
    WATCHED,
    EditWarRules,
    EntityRules,
    ParseEdits,
    PublishEdits,
    minute_of,
)
from streaming.flink_jobs import job_settings
from streaming.gather import PICKLED
from streaming.kafka_sinks import kafka_sink


def committed_offsets_else_earliest() -> KafkaOffsetsInitializer:
    """The group's committed offsets, the earliest for a new group.

    PyFlink's own committed_offsets(strategy) names the strategy class of the shaded SQL connector
    jar; the stack ships the plain connector with kafka-clients, so the strategy is named here.
    """
    jvm = get_gateway().jvm
    initializer = jvm.org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer
    return KafkaOffsetsInitializer(
        initializer.committedOffsets(jvm.org.apache.kafka.clients.consumer.OffsetResetStrategy.EARLIEST)
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="flink run -py streaming/edits/job.py",
        description="Read Wikimedia recentchange edits from Kafka; publish each article's edit activity and "
        "the watch-list and edit-war alerts to Redis, alerts also to Kafka. Settings come from configs/ "
        "([edits], [kafka]; WIKITRENDS_* environment variables override).",
    )
    parser.add_argument(
        "--startup",
        choices=["group-offsets", "earliest-offset", "latest-offset"],
        default="group-offsets",
        help="where to start without a checkpoint; group-offsets falls back to the earliest (default)",
    )
    parser.add_argument(
        "--parallelism", type=int, default=1, help="default 1 (all of Wikimedia: ~30 edits/s)"
    )
    parser.add_argument(
        "--job-name", default="wikitrends-edits", help="name shown in Flink (default %(default)s)"
    )
    return parser.parse_args(argv)


def build(settings: Settings, args: argparse.Namespace) -> StreamExecutionEnvironment:
    """Lay out the job; nothing runs until execute()."""
    s = settings.streaming
    env = StreamExecutionEnvironment.get_execution_environment(
        Configuration()
        .set_string("pipeline.name", args.job_name)
        .set_string("state.backend.type", "hashmap")
        .set_string("execution.checkpointing.externalized-checkpoint-retention", "RETAIN_ON_CANCELLATION")
    )
    env.add_jars(*settings.stack.jar_uris("flink"))
    env.set_parallelism(args.parallelism)
    # Key groups: the most subtasks its state can ever be rescaled to (kept by every savepoint).
    env.set_max_parallelism(settings.flink.max_parallelism)
    env.enable_checkpointing(s.checkpoint_interval_seconds * 1000, CheckpointingMode.EXACTLY_ONCE)
    env.get_checkpoint_config().set_checkpoint_timeout(s.checkpoint_timeout_seconds * 1000)

    starting = {
        "group-offsets": committed_offsets_else_earliest,
        "earliest-offset": KafkaOffsetsInitializer.earliest,
        "latest-offset": KafkaOffsetsInitializer.latest,
    }[args.startup]()
    source = (
        KafkaSource.builder()
        .set_bootstrap_servers(settings.kafka.bootstrap)
        .set_topics(settings.kafka.edits_topic)
        .set_group_id(settings.edits.group_id)
        .set_starting_offsets(starting)
        .set_value_only_deserializer(SimpleStringSchema())
    )
    for key, value in settings.kafka.java_security.items():
        source.set_property(key, value)
    source = source.build()
    # Event time and watermarks from the source (the JVM reads each event's time): the parse's
    # outputs keep them, so it can choose each edit's branches itself.
    event_time = WatermarkStrategy(
        get_gateway().jvm.wikitrends.streaming.EditTimes.strategy(
            settings.edits.watermark_delay_seconds * 1000, s.idle_timeout_seconds * 1000
        )
    )
    raw = env.from_source(source, event_time, "edits").uid("edits-source")
    parsed = raw.process(ParseEdits(settings), output_type=PICKLED).name(
        "parse edits, match the watch list, branch"
    )
    parsed.get_side_output(DEAD_LETTERS).sink_to(
        kafka_sink(
            settings, settings.kafka.edits_dead_letter_topic, f"{settings.edits.group_id}-dead-letters"
        )
    ).name("dead letters to Kafka")

    entity_alerts = (
        parsed.get_side_output(WATCHED)
        .key_by(lambda row: row[1], key_type=Types.STRING())
        .process(EntityRules(settings, ttl_hours=2), output_type=PICKLED)
        .name("LARGE_EDIT, BOT_EDIT, RAPID_EDIT per watched entity")
        .uid("entity-alerts")
    )
    war_alerts = (
        parsed.get_side_output(REVERTS)
        .key_by(lambda row: war_key(row[0]), key_type=Types.STRING())
        .process(
            EditWarRules(settings, ttl_hours=2 * settings.edits.edit_war_minutes // 60 + 1),
            output_type=PICKLED,
        )
        .name("EDIT_WAR per article")
        .uid("edit-war-alerts")
    )
    alerts = entity_alerts.union(war_alerts)
    alerts.map(encode_alert, output_type=Types.STRING()).sink_to(
        kafka_sink(settings, settings.kafka.edit_alerts_topic, f"{settings.edits.group_id}-alerts")
    ).name("alerts to Kafka")

    (
        parsed.union(alerts.map(lambda alert: ("alert", alert), output_type=PICKLED))
        .key_by(minute_of, key_type=Types.LONG())
        .process(PublishEdits(settings))
        .name("edits and alerts to Redis")
        .uid("publish-edits")
    )
    return env


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    build(job_settings(), args).execute(args.job_name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
