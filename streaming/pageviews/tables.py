"""The Kafka tables of the streaming job: the page requests it reads and the dead letters it writes
(exactly-once, in Kafka transactions committed with each checkpoint); the settings of the window
topics' sink, which the JVM writes (streaming/jvm's WindowTopics).
"""

from __future__ import annotations

from core.config import Settings
from streaming.pageviews.sql import payload_field, plausible_ts

# The names the job registers its Kafka tables under (job.py reads them back from here).
PAGEVIEWS_RAW = "pageviews_raw"
DEAD_LETTER_SINK = "dead_letter_sink"


def kafka_options(settings: Settings, **options: str) -> str:
    """The WITH clause of a Kafka table on the configured brokers."""
    connection = {f"properties.{key}": value for key, value in settings.kafka.java_client.items()}
    merged = {"connector": "kafka", **connection, **options}
    return ",\n  ".join(f"'{key}' = '{value}'" for key, value in merged.items())


# Producer settings of the exactly-once sinks. The transaction timeout must stay under the broker's
# transaction.max.timeout.ms (1 h on the local stack). Window rows are many and small: fill large
# compressed batches instead of sending each.
EXACTLY_ONCE_PRODUCER = {
    "transaction.timeout.ms": "900000",
    "linger.ms": "50",
    "batch.size": str(512 * 1024),
    "compression.type": "lz4",
}


def transactional_id_prefix(name: str) -> str:
    """The Kafka transactions' id prefix of the job's sink ``name``."""
    return f"wikitrends-{name}"


def exactly_once(name: str) -> dict[str, str]:
    """SQL sink options for exactly-once delivery under the transactional id prefix ``wikitrends-<name>``."""
    return {
        "sink.delivery-guarantee": "exactly-once",
        "sink.transactional-id-prefix": transactional_id_prefix(name),
        **{f"properties.{key}": value for key, value in EXACTLY_ONCE_PRODUCER.items()},
    }


def window_topics_producer(settings: Settings) -> dict[str, str]:
    """The window topics' producer settings (the JVM sink, streaming/jvm's WindowTopics)."""
    return {**settings.kafka.java_client, **EXACTLY_ONCE_PRODUCER}


def source_table(settings: Settings, startup_mode: str, bounded: bool = False) -> str:
    """``pageviews`` as raw strings, with the event time read from the JSON's ``ts``.

    A missing, non-numeric or absurd ``ts`` gives event time 0 so that it
    cannot move the watermark; such events are sent to the dead-letter topic.
    """
    ts = f"TRY_CAST({payload_field('ts')} AS BIGINT)"
    s = settings.streaming
    options = kafka_options(
        settings,
        **{
            "topic": settings.kafka.pageviews_topic,
            "properties.group.id": s.group_id,
            "scan.startup.mode": startup_mode,
            # A new consumer group (no committed offsets) starts from the beginning.
            "properties.auto.offset.reset": "earliest",
            # The Wikipedia source commits page requests in transactions; an aborted one is never counted.
            "properties.isolation.level": "read_committed",
            "format": "raw",
            # Bounded: read up to the offsets of the job's start, then finish (benchmarks, backfills).
            **({"scan.bounded.mode": "latest-offset"} if bounded else {}),
        },
    )
    return f"""
CREATE TABLE {PAGEVIEWS_RAW} (
  payload STRING,
  ts AS {ts},
  project AS {payload_field("project")},
  title AS {payload_field("title")},
  access AS {payload_field("access")},
  event_time AS TO_TIMESTAMP_LTZ(CASE WHEN {plausible_ts(ts)} THEN {ts} ELSE 0 END, 3),
  WATERMARK FOR event_time AS event_time - INTERVAL '{s.watermark_delay_seconds}' SECOND
) WITH (
  {options}
)"""


def dead_letter_sink_table(settings: Settings) -> str:
    """The dead-letter topic: each bad or late page request with its reason and when it was seen."""
    options = kafka_options(
        settings,
        **{"topic": settings.kafka.dead_letter_topic, "format": "json", **exactly_once("dead-letters")},
    )
    return f"""
CREATE TABLE {DEAD_LETTER_SINK} (
  `reason` STRING,
  `payload` STRING,
  `seen_at` BIGINT
) WITH (
  {options}
)"""
