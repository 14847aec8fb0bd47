"""The Wikipedia source's ledger in Kafka: which hours' page requests are committed, and how many.

One partition, compacted on the hour's key; each record is written in the same transaction as the page
requests it counts (producer/sink.py ``send_transaction``), and read back with read_committed, so the
ledger never says more or less than what consumers of the page-request topic can read.
"""

from __future__ import annotations

import logging
import time

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.errors import TopicAlreadyExistsError

from core.dumps_site import HourSent
from core.settings import KafkaSettings
from stores.clients import kafka_security, new_topic

log = logging.getLogger("producer.ledger")
IDLE_POLL_MS = 500
READ_TIMEOUT_S = 60


def ensure_ledger_topic(kafka: KafkaSettings, bootstrap: str, topic: str) -> None:
    """Create the ledger topic (one partition, compacted) unless it exists."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000, **kafka.python_security)
    try:
        if topic in set(admin.list_topics()):
            return
        try:
            admin.create_topics(
                [new_topic(kafka, topic, 1, **{"cleanup.policy": "compact"})],
                timeout_ms=30_000,
            )
            log.info("created the ledger topic %s", topic)
        except TopicAlreadyExistsError:
            pass
    finally:
        admin.close()


def read_ledger(bootstrap: str, topic: str) -> list[HourSent]:
    """Every committed ledger record, oldest first (call after the producer's init_transactions)."""
    partition = TopicPartition(topic, 0)
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        **kafka_security(),
        isolation_level="read_committed",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        consumer_timeout_ms=IDLE_POLL_MS,
    )
    records: list[HourSent] = []
    try:
        consumer.assign([partition])
        consumer.seek_to_beginning(partition)
        end = consumer.end_offsets([partition])[partition]
        deadline = time.monotonic() + READ_TIMEOUT_S
        while consumer.position(partition) < end:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"could not read the ledger topic {topic} to its end (offset {end}) in "
                    f"{READ_TIMEOUT_S} s: is another transaction open on it?"
                )
            for batch in consumer.poll(timeout_ms=IDLE_POLL_MS).values():
                records += [HourSent.decode(message.value) for message in batch]
    finally:
        consumer.close()
    return records
