"""The Kafka ends of the streaming job: the page requests it reads (streaming/jvm's PageRequests),
the dead letters it writes (a SQL table, exactly-once, in Kafka transactions committed with each
checkpoint) and the settings of the window topics' sink, which the JVM writes (WindowTopics).
"""

from __future__ import annotations

from pyflink.datastream import DataStream, StreamExecutionEnvironment
from pyflink.java_gateway import get_gateway
from pyflink.util.java_utils import to_jarray

from core.config import Settings
from core.events import (
    DESKTOP,
    FORBIDDEN_IN_TITLES,
    FORBIDDEN_IN_TITLES_REASON,
    MAX_FUTURE_MS,
    MAX_PROJECT_CHARS,
    MAX_TITLE_CHARS,
    MIN_PLAUSIBLE_TS_MS,
    MOBILE_ACCESS,
)

# The name the job registers its dead-letter sink under (job.py reads it back from here).
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


def pageviews_consumer(settings: Settings) -> dict[str, str]:
    """The page-request source's Kafka consumer settings (streaming/jvm's PageRequests)."""
    return {
        **settings.kafka.java_client,
        # The Wikipedia source commits page requests in transactions; an aborted one is never counted.
        "isolation.level": "read_committed",
    }


def read_page_requests(env: StreamExecutionEnvironment, settings: Settings, startup_mode: str, bounded: bool):
    """``pageviews`` as views of articles (the JVM's PageRequests.read), event time from each ``ts``.

    A missing, non-numeric or absurd ``ts`` gives event time 0 so that it cannot move the watermark;
    such events, and every other bad or late one, are its side output ``dead_letters``. Returns the
    JVM stream (its side outputs are reached from there).
    """
    gateway = get_gateway()
    consumer = gateway.jvm.java.util.Properties()
    for key, value in pageviews_consumer(settings).items():
        consumer.setProperty(key, value)
    operators = gateway.jvm.wikitrends.streaming
    checks = operators.PageRequestChecks(
        MIN_PLAUSIBLE_TS_MS,
        MAX_FUTURE_MS,
        MAX_PROJECT_CHARS,
        MAX_TITLE_CHARS,
        FORBIDDEN_IN_TITLES,
        FORBIDDEN_IN_TITLES_REASON,
        DESKTOP,
        to_jarray(gateway.jvm.String, list(MOBILE_ACCESS)),
    )
    s = settings.streaming
    return operators.PageRequests.read(
        env._j_stream_execution_environment,
        consumer,
        settings.kafka.pageviews_topic,
        s.group_id,
        startup_mode,
        bounded,
        s.watermark_delay_seconds * 1000,
        s.idle_timeout_seconds * 1000,
        checks,
    )


def dead_letters(page_requests) -> DataStream:
    """The bad and late page requests of ``read_page_requests``: rows (payload, reason)."""
    return DataStream(get_gateway().jvm.wikitrends.streaming.PageRequests.deadLetters(page_requests))


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
