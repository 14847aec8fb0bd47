"""Stopping and starting the stack keeps what Kafka and S3 hold.

Marked ``disturbs_stack``: the conftest runs it after every other test, since
it takes the shared services down for a while.
"""

from __future__ import annotations

import uuid

import pytest
from kafka import KafkaProducer

from core.config import Settings
from stores.clients import kafka_security
from tests.integration.helpers import consume_all, run_stack


@pytest.mark.disturbs_stack
def test_kafka_and_s3_data_survive_a_restart(
    kafka_bootstrap: str, s3_client, redis_client, settings: Settings, new_topic
) -> None:
    topic = new_topic("restart")
    sent = [f"before restart {i}".encode() for i in range(100)]
    producer = KafkaProducer(**kafka_security(), bootstrap_servers=kafka_bootstrap, acks="all")
    for value in sent:
        producer.send(topic, value=value)
    producer.flush()
    producer.close()
    key = f"tests/restart-{uuid.uuid4().hex[:8]}.txt"
    s3_client.put_object(Bucket=settings.s3.bucket, Key=key, Body=b"kept across restarts")
    redis_key = f"{settings.redis.key_prefix}:test:restart:{uuid.uuid4().hex[:8]}"
    redis_client.set(redis_key, "kept", ex=600)

    run_stack("restart")
    run_stack("status")  # exit 1 if any service is down

    assert sorted(r.value for r in consume_all(kafka_bootstrap, topic, expected=len(sent))) == sorted(sent)
    assert s3_client.get_object(Bucket=settings.s3.bucket, Key=key)["Body"].read() == b"kept across restarts"
    assert redis_client.get(redis_key) == b"kept"
