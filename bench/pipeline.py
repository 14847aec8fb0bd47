"""What the streaming benchmarks share: a private copy of the pipeline, and reading its topics back."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from core.config import REPO_ROOT, Settings, load_settings, private_names
from core.contracts import pipeline_topics
from stores.clients import kafka_security, new_topic


@contextmanager
def private_pipeline(prefix: str) -> Iterator[tuple[str, dict[str, str], Settings]]:
    """A run tag, and the environment and settings that give it its own topics, Redis and S3 prefixes.

    The topics are created on entry and deleted on exit, so that a benchmark never touches the
    pipeline `make run` feeds, nor leaves its data behind.
    """
    tag = f"{prefix}{uuid.uuid4().hex[:6]}"
    env = {**os.environ, **private_names(tag)}
    settings = load_settings(env)
    topics = pipeline_topics(settings.kafka)
    admin = KafkaAdminClient(**kafka_security(), bootstrap_servers=settings.kafka.bootstrap)
    admin.create_topics([new_topic(settings.kafka, topic) for topic in topics])
    try:
        yield tag, env, settings
    finally:
        admin.delete_topics(topics)
        admin.close()


def fast_consumer(settings: Settings, topic: str, **options) -> KafkaConsumer:
    """A consumer of ``topic`` from its start in big fetches, committing nothing (``options`` add to
    or override kafka-python's)."""
    return KafkaConsumer(
        topic,
        **{
            "bootstrap_servers": settings.kafka.bootstrap,
            "auto_offset_reset": "earliest",
            "enable_auto_commit": False,
            "consumer_timeout_ms": 5000,
            "max_poll_records": 50_000,
            "fetch_max_bytes": 64 * 1024 * 1024,
            **options,
        },
    )


def topic_size(settings: Settings, topic: str) -> int:
    """How many records a topic holds (the sum of its partitions' end offsets)."""
    consumer = KafkaConsumer(**kafka_security(), bootstrap_servers=settings.kafka.bootstrap)
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        return sum(consumer.end_offsets(parts).values())
    finally:
        consumer.close()


def read_back(settings: Settings, topic: str):
    """Every committed record of a topic, from the start (transactional writers: read_committed)."""
    consumer = fast_consumer(settings, topic, consumer_timeout_ms=10_000, isolation_level="read_committed")
    try:
        yield from consumer
    finally:
        consumer.close()


def start_live_producer(env: dict[str, str], events_per_second: int, duration: str) -> subprocess.Popen:
    """The synthetic producer in real time (from now, for ``duration``), its output discarded."""
    return subprocess.Popen(
        [sys.executable, "-m", "producer", "synthetic", "--start", "now", "--duration", duration]
        + ["--speedup", "1", "--views-per-minute", str(events_per_second * 60)],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
